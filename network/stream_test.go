package network

import (
	"bytes"
	"io"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

func TestBindPortSpace(t *testing.T) {
	n := newNet(t, Config{})
	a := addPod(t, n, "default", "a", ipA)
	s1 := mustSock(t, a, Stream)
	if err := s1.Bind(ap(netip.IPv4Unspecified(), 80)); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []netip.AddrPort{ap(ipA, 80), ap(lo, 80), ap(netip.IPv4Unspecified(), 80)} {
		s := mustSock(t, a, Stream)
		wantErr(t, "second bind "+addr.String(), s.Bind(addr), syscall.EADDRINUSE)
		s.Close()
	}
	// another pod has its own port space; UDP has its own.
	b := addPod(t, n, "default", "b", ipB)
	if err := mustSock(t, b, Stream).Bind(ap(ipB, 80)); err != nil {
		t.Fatal(err)
	}
	if err := mustSock(t, a, Datagram).Bind(ap(ipA, 80)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "bind foreign address", mustSock(t, a, Stream).Bind(ap(ipB, 81)), syscall.EADDRNOTAVAIL)
	s1.Close()
	s2 := mustSock(t, a, Stream)
	if err := s2.Bind(ap(ipA, 80)); err != nil {
		t.Fatalf("bind after close: %v", err)
	}
	wantErr(t, "bind twice", s2.Bind(ap(ipA, 81)), syscall.EINVAL)
}

func TestLocalhostBetweenContainers(t *testing.T) {
	n := newNet(t, Config{})
	a := addPod(t, n, "default", "a", ipA)
	b := addPod(t, n, "default", "b", ipB)
	l := listen(t, a, ap(lo, 8080))
	c := dial(t, a, ap(lo, 8080)) // "another container" of pod a
	s := accept(t, l)
	if got := s.LocalAddr(); got != ap(lo, 8080) {
		t.Errorf("server local %v", got)
	}
	if r, _ := s.RemoteAddr(); r.Addr() != lo || r != c.LocalAddr() {
		t.Errorf("server remote %v, client local %v", r, c.LocalAddr())
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	waitFor(t, s, Readable)
	if k, err := s.Read(buf); err != nil || string(buf[:k]) != "ping" {
		t.Fatalf("read %q %v", buf[:k], err)
	}
	// a loopback-bound listener is not reachable from another pod, nor via the pod IP
	wantErr(t, "connect from other pod", mustSock(t, b, Stream).Connect(ap(ipA, 8080)), syscall.ECONNREFUSED)
	wantErr(t, "connect via pod IP", mustSock(t, a, Stream).Connect(ap(ipA, 8080)), syscall.ECONNREFUSED)
	// localhost by name
	addrs, err := a.Lookup(t.Context(), "localhost")
	if err != nil || len(addrs) != 1 || addrs[0] != lo {
		t.Fatalf("lookup localhost: %v %v", addrs, err)
	}
}

func TestPodToPodStream(t *testing.T) {
	n := newNet(t, Config{})
	a := addPod(t, n, "default", "a", ipA)
	b := addPod(t, n, "default", "b", ipC)
	l := listen(t, a, ap(netip.IPv4Unspecified(), 80))
	c := mustSock(t, b, Stream)
	wantErr(t, "remote before connect", func() error { _, err := c.RemoteAddr(); return err }(), syscall.ENOTCONN)
	if err := c.Connect(ap(ipA, 80)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "connect twice", c.Connect(ap(ipA, 80)), syscall.EISCONN)
	s := accept(t, l)
	if r, _ := c.RemoteAddr(); r != ap(ipA, 80) {
		t.Errorf("client remote %v", r)
	}
	if c.LocalAddr().Addr() != ipC {
		t.Errorf("client local %v", c.LocalAddr())
	}
	if r, _ := s.RemoteAddr(); r != c.LocalAddr() {
		t.Errorf("server remote %v, want %v", r, c.LocalAddr())
	}
	if s.LocalAddr() != ap(ipA, 80) {
		t.Errorf("server local %v", s.LocalAddr())
	}
	if _, err := s.Accept(); err != syscall.EINVAL {
		t.Errorf("accept on a connection: %v", err)
	}
	buf := make([]byte, 64)
	wantErr(t, "read empty", func() error { _, err := s.Read(buf); return err }(), syscall.EAGAIN)

	cc, sc := conn(c), conn(s)
	go cc.Write([]byte("hello"))
	if _, err := io.ReadFull(sc, buf[:5]); err != nil || string(buf[:5]) != "hello" {
		t.Fatalf("server got %q %v", buf[:5], err)
	}
	// peek does not consume
	c.Write([]byte("xy"))
	waitFor(t, s, Readable)
	if k, _, _ := s.RecvFrom(buf, true); string(buf[:k]) != "xy" {
		t.Fatalf("peek %q", buf[:k])
	}
	if k, from, _ := s.RecvFrom(buf, false); string(buf[:k]) != "xy" || from != c.LocalAddr() {
		t.Fatalf("recvfrom %q %v", buf[:k], from)
	}
	// half close: client shuts write; server reads EOF, still writes back
	if err := c.Shutdown(false, true); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "write after shutdown", func() error { _, err := c.Write([]byte("x")); return err }(), syscall.EPIPE)
	waitFor(t, s, Readable)
	if k, err := s.Read(buf); k != 0 || err != nil {
		t.Fatalf("want EOF, got %d %v", k, err)
	}
	if ev, _ := s.Poll(); ev&Hangup != 0 {
		t.Fatalf("hangup too early: %b", ev)
	}
	if _, err := s.Write([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(cc, buf[:3]); err != nil || string(buf[:3]) != "bye" {
		t.Fatalf("client got %q %v", buf[:3], err)
	}
	s.Close()
	ev := waitFor(t, c, Hangup)
	if ev&Readable == 0 {
		t.Errorf("hangup without readable: %b", ev)
	}
	if k, err := c.Read(buf); k != 0 || err != nil {
		t.Fatalf("client want EOF, got %d %v", k, err)
	}
	c.Close()
	wantErr(t, "read closed", func() error { _, err := c.Read(buf); return err }(), syscall.EBADF)
}

func TestPeerCloseEPIPEAndReset(t *testing.T) {
	n := newNet(t, Config{})
	a := addPod(t, n, "default", "a", ipA)
	b := addPod(t, n, "default", "b", ipB)
	l := listen(t, a, ap(ipA, 80))

	// orderly close: writes to the closed peer fail with EPIPE
	c := dial(t, b, ap(ipA, 80))
	s := accept(t, l)
	s.Close()
	waitFor(t, c, Writable)
	wantErr(t, "write to closed peer", func() error { _, err := c.Write([]byte("x")); return err }(), syscall.EPIPE)
	c.Close()

	// close with unread data resets the peer
	c = dial(t, b, ap(ipA, 80))
	s = accept(t, l)
	c.Write([]byte("unread"))
	waitFor(t, s, Readable)
	s.Close()
	waitFor(t, c, Hangup)
	wantErr(t, "read after reset", func() error { _, err := c.Read(make([]byte, 4)); return err }(), syscall.ECONNRESET)
	c.Close()

	// RemovePod resets peers, and the pod's address becomes unreachable
	c = dial(t, b, ap(ipA, 80))
	s = accept(t, l)
	done := make(chan error, 1)
	go func() { _, err := conn(c).Read(make([]byte, 4)); done <- err }()
	n.RemovePod(ipA)
	select {
	case err := <-done:
		wantErr(t, "blocked read after RemovePod", err, syscall.ECONNRESET)
	case <-time.After(5 * time.Second):
		t.Fatal("reader not woken by RemovePod")
	}
	wantErr(t, "connect to removed pod", mustSock(t, b, Stream).Connect(ap(ipA, 80)), syscall.EHOSTUNREACH)
	if _, err := s.Read(make([]byte, 1)); err != syscall.EBADF {
		t.Errorf("socket of removed pod: %v", err)
	}
}

func TestBacklogAndRefused(t *testing.T) {
	n := newNet(t, Config{})
	a := addPod(t, n, "default", "a", ipA)
	b := addPod(t, n, "default", "b", ipB)
	wantErr(t, "no listener", mustSock(t, b, Stream).Connect(ap(ipA, 80)), syscall.ECONNREFUSED)
	l := mustSock(t, a, Stream)
	l.Bind(ap(ipA, 80))
	if err := l.Listen(1); err != nil {
		t.Fatal(err)
	}
	dial(t, b, ap(ipA, 80))
	// A full backlog delays a connect (as Linux's SYN retries do) until an
	// accept makes room; then it completes and becomes writable.
	waiting := mustSock(t, b, Stream)
	wantErr(t, "backlog full", waiting.Connect(ap(ipA, 80)), syscall.EINPROGRESS)
	if ev, _ := waiting.Poll(); ev&Writable != 0 {
		t.Fatalf("waiting connect is writable: %v", ev)
	}
	accept(t, l)
	waitFor(t, waiting, Writable)
	if v, err := waiting.GetOption(SolSocket, SoError); err != nil || v != 0 {
		t.Fatalf("SO_ERROR after a delayed connect: %v %v", v, err)
	}
	accept(t, l)
	// Closing a listener resets its queued connections and refuses the
	// connects still waiting.
	c := dial(t, b, ap(ipA, 80))
	refused := mustSock(t, b, Stream)
	wantErr(t, "backlog full again", refused.Connect(ap(ipA, 80)), syscall.EINPROGRESS)
	l.Close()
	waitFor(t, c, Hangup)
	wantErr(t, "pending connection of a closed listener", func() error { _, err := c.Read(make([]byte, 1)); return err }(), syscall.ECONNRESET)
	waitFor(t, refused, Writable)
	if v, err := refused.GetOption(SolSocket, SoError); err != nil || syscall.Errno(v) != syscall.ECONNREFUSED {
		t.Fatalf("SO_ERROR of a refused delayed connect: %v %v", v, err)
	}
	wantErr(t, "unknown pod IP", mustSock(t, b, Stream).Connect(ap(netip.MustParseAddr("10.244.9.9"), 80)), syscall.EHOSTUNREACH)
	wantErr(t, "port 0", mustSock(t, b, Stream).Connect(ap(ipA, 0)), syscall.ECONNREFUSED)
}

func TestPollWakesWaiters(t *testing.T) {
	n := newNet(t, Config{BufferSize: 1024})
	a := addPod(t, n, "default", "a", ipA)
	b := addPod(t, n, "default", "b", ipB)
	l := listen(t, a, ap(ipA, 80))

	ev, ch := l.Poll()
	if ev&Readable != 0 {
		t.Fatalf("idle listener readable: %b", ev)
	}
	woke := make(chan struct{})
	go func() { <-ch; close(woke) }()
	select {
	case <-woke:
		t.Fatal("woken without a change")
	case <-time.After(20 * time.Millisecond):
	}
	c := dial(t, b, ap(ipA, 80))
	select {
	case <-woke:
	case <-time.After(5 * time.Second):
		t.Fatal("listener waiter not woken by connect")
	}
	if ev, _ := l.Poll(); ev&Readable == 0 {
		t.Fatalf("listener with pending connection not readable: %b", ev)
	}
	s := accept(t, l)

	ev, ch = s.Poll()
	if ev != Writable {
		t.Fatalf("fresh connection events %b, want Writable only", ev)
	}
	go func() { time.Sleep(10 * time.Millisecond); c.Write([]byte("x")) }()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("reader not woken by write")
	}
	if ev, _ := s.Poll(); ev&Readable == 0 {
		t.Fatalf("not readable after write: %b", ev)
	}

	// fill the buffer: not writable, then woken by the reader draining it
	big := make([]byte, 4096)
	total := 1 // the "x"
	for {
		k, err := c.Write(big)
		total += k
		if err == syscall.EAGAIN {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if total != 1024 {
		t.Fatalf("buffered %d bytes, want 1024", total)
	}
	ev, ch = c.Poll()
	if ev&Writable != 0 {
		t.Fatalf("full buffer still writable: %b", ev)
	}
	go func() { s.Read(make([]byte, 100)) }()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("writer not woken by read")
	}
	if ev, _ := c.Poll(); ev&Writable == 0 {
		t.Fatalf("not writable after drain: %b", ev)
	}
}

func TestBoundsAndBadInput(t *testing.T) {
	n := newNet(t, Config{BufferSize: 64 << 10, MaxSocketsPerPod: 4})
	a := addPod(t, n, "default", "a", ipA)
	b := addPod(t, n, "default", "b", ipB)
	if _, err := a.Socket(99, Stream); err != syscall.EAFNOSUPPORT {
		t.Errorf("bad family: %v", err)
	}
	if _, err := a.Socket(syscall.AF_INET, 7); err != syscall.EPROTONOSUPPORT {
		t.Errorf("bad type: %v", err)
	}
	l := listen(t, a, ap(ipA, 80))
	c := dial(t, b, ap(ipA, 80))
	s := accept(t, l)
	// huge writes are partial
	k, err := c.Write(make([]byte, 10<<20))
	if err != nil || k != 64<<10 {
		t.Fatalf("huge write: %d %v", k, err)
	}
	x := mustSock(t, b, Stream)
	wantErr(t, "bind zero addr", x.Bind(netip.AddrPort{}), syscall.EINVAL)
	wantErr(t, "connect zero addr", x.Connect(netip.AddrPort{}), syscall.EINVAL)
	wantErr(t, "v6 on AF_INET", x.Connect(netip.MustParseAddrPort("[fd00::1]:80")), syscall.EAFNOSUPPORT)
	x.Close()
	wantErr(t, "unknown option", s.SetOption(SolSocket, 999, 1), syscall.ENOPROTOOPT)
	wantErr(t, "negative option", s.SetOption(SolSocket, SoKeepalive, -1), syscall.EINVAL)
	if err := s.SetOption(IPProtoTCP, TCPNodelay, 1); err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetOption(IPProtoTCP, TCPNodelay); v != 1 || err != nil {
		t.Errorf("TCP_NODELAY = %d %v", v, err)
	}
	if v, _ := s.GetOption(SolSocket, SoType); v != int(Stream) {
		t.Errorf("SO_TYPE = %d", v)
	}
	if v, _ := l.GetOption(SolSocket, SoAcceptconn); v != 1 {
		t.Errorf("SO_ACCEPTCONN = %d", v)
	}
	// socket limit: a has l, s, and two more
	mustSock(t, a, Stream)
	mustSock(t, a, Datagram)
	if _, err := a.Socket(syscall.AF_INET, Stream); err != syscall.EMFILE {
		t.Fatalf("past the limit: %v", err)
	}
	dial(t, b, ap(ipA, 80))
	waitFor(t, l, Readable)
	if _, err := l.Accept(); err != syscall.EMFILE {
		t.Fatalf("accept past the limit: %v", err)
	}
	s.Close()
	if _, err := l.Accept(); err != nil {
		t.Fatalf("accept after a close: %v", err)
	}
	// datagram too big
	u := mustSock(t, b, Datagram)
	if _, err := u.SendTo(make([]byte, 70000), ap(ipA, 53)); err != syscall.EMSGSIZE {
		t.Errorf("huge datagram: %v", err)
	}
	if _, err := n.AddPod(PodInfo{Name: "dup", IP: ipA}); err == nil {
		t.Error("duplicate pod IP accepted")
	}
	if _, err := n.AddPod(PodInfo{Name: "vip", IP: netip.MustParseAddr("10.96.0.5")}); err == nil {
		t.Error("pod IP in the service CIDR accepted")
	}
	if _, err := n.AddPod(PodInfo{Name: "zero"}); err == nil {
		t.Error("invalid pod IP accepted")
	}
}

func TestBlockingConnLargeTransfer(t *testing.T) {
	n := newNet(t, Config{BufferSize: 4096})
	a := addPod(t, n, "default", "a", ipA)
	b := addPod(t, n, "default", "b", ipB)
	l := listen(t, a, ap(ipA, 80))
	c := conn(dial(t, b, ap(ipA, 80)))
	s := conn(accept(t, l))
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	go func() { c.Write(data); c.(*sockConn).CloseWrite() }()
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("transfer: %d bytes, %v", len(got), err)
	}
	// deadlines
	s.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	c2 := conn(dial(t, b, ap(ipA, 80)))
	s2 := conn(accept(t, l))
	s2.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := s2.Read(make([]byte, 1)); err == nil || !isTimeout(err) {
		t.Fatalf("read deadline: %v", err)
	}
	done := make(chan error, 1)
	s2.SetReadDeadline(time.Time{})
	go func() { _, err := s2.Read(make([]byte, 1)); done <- err }()
	time.Sleep(10 * time.Millisecond)
	s2.SetReadDeadline(time.Now()) // wakes the blocked reader
	select {
	case err := <-done:
		if !isTimeout(err) {
			t.Fatalf("want timeout, got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SetReadDeadline did not wake the reader")
	}
	c2.Close()
}

func isTimeout(err error) bool {
	type timeout interface{ Timeout() bool }
	te, ok := err.(timeout)
	return ok && te.Timeout()
}
