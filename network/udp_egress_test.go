package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// udpEcho serves a real host UDP echo server on addr until the test ends.
func udpEcho(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1<<16)
		for {
			k, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			c.WriteToUDPAddrPort([]byte("echo:"+string(buf[:k])), from)
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return c
}

// redirectPC is a host UDP socket that sends what goes to ext to real
// instead and reports real's datagrams as coming from ext, so tests use a
// TEST-NET address and never touch a real network.
type redirectPC struct {
	net.PacketConn
	ext, real netip.AddrPort
}

func (r *redirectPC) WriteTo(p []byte, a net.Addr) (int, error) {
	ap, _ := addrPortOf(a)
	if ap != r.ext {
		return 0, &net.OpError{Op: "write", Net: "udp", Err: os.NewSyscallError("sendto", syscall.ENETUNREACH)}
	}
	return r.PacketConn.WriteTo(p, net.UDPAddrFromAddrPort(r.real))
}

func (r *redirectPC) ReadFrom(p []byte) (int, net.Addr, error) {
	k, a, err := r.PacketConn.ReadFrom(p)
	if ap, ok := addrPortOf(a); ok && ap == r.real {
		a = net.UDPAddrFromAddrPort(r.ext)
	}
	return k, a, err
}

// recvDgram waits for a datagram on a fabric socket.
func recvDgram(t *testing.T, s Socket) (string, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 1<<16)
	for {
		k, from, err := s.RecvFrom(buf, false)
		if err == nil {
			return string(buf[:k]), from
		}
		wantErr(t, "recvfrom", err, syscall.EAGAIN)
		waitFor(t, s, Readable)
	}
}

// readHost reads one datagram from a host socket (the deadline only keeps
// a broken test from hanging).
func readHost(t *testing.T, c *net.UDPConn) (string, netip.AddrPort) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1<<16)
	k, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("host read: %v", err)
	}
	return string(buf[:k]), netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
}

func TestUDPEgress(t *testing.T) {
	echo := udpEcho(t, "127.0.0.1:0")
	real := echo.LocalAddr().(*net.UDPAddr).AddrPort()
	external := netip.MustParseAddrPort("203.0.113.7:53") // TEST-NET-3, redirected to the echo server
	var (
		mu     sync.Mutex
		opened []string
		hostPC = make(chan net.PacketConn, 16)
	)
	cfg := Config{ListenPacket: func(ctx context.Context, network, address string) (net.PacketConn, error) {
		mu.Lock()
		opened = append(opened, network+" "+address)
		mu.Unlock()
		pc, err := (&net.ListenConfig{}).ListenPacket(ctx, network, address) // as the default does (dual-stack)
		if err != nil {
			return nil, err
		}
		hostPC <- pc
		return &redirectPC{PacketConn: pc, ext: external, real: real}, nil
	}}
	base := runtime.NumGoroutine()
	n := New(cfg)
	p := addPod(t, n, "default", "a", ipA)

	// sendto / recvfrom
	s := mustSock(t, p, Datagram)
	if k, err := s.SendTo([]byte("ping"), external); err != nil || k != 4 {
		t.Fatalf("egress sendto: %d %v", k, err)
	}
	if msg, from := recvDgram(t, s); msg != "echo:ping" || from != external {
		t.Fatalf("egress reply %q from %v", msg, from)
	}
	if la := s.LocalAddr(); la.Port() == 0 {
		t.Errorf("egress socket not bound: %v", la)
	}
	pc1 := <-hostPC
	// a second send reuses the host socket
	s.SendTo([]byte("again"), external)
	if msg, _ := recvDgram(t, s); msg != "echo:again" {
		t.Fatalf("second reply %q", msg)
	}
	// an unconnected socket takes datagrams from any host sender, from its real address
	stray, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer stray.Close()
	pc1Port := pc1.LocalAddr().(*net.UDPAddr).Port
	if _, err := stray.WriteTo([]byte("stray"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: pc1Port}); err != nil {
		t.Fatal(err)
	}
	if msg, from := recvDgram(t, s); msg != "stray" || from != stray.LocalAddr().(*net.UDPAddr).AddrPort() {
		t.Fatalf("stray %q from %v", msg, from)
	}

	// connected socket: write / read, only the peer's datagrams
	c := mustSock(t, p, Datagram)
	if err := c.Connect(external); err != nil {
		t.Fatalf("egress connect: %v", err)
	}
	if r, err := c.RemoteAddr(); r != external || err != nil {
		t.Errorf("remote %v %v", r, err)
	}
	if la := c.LocalAddr(); la.Addr() != ipA {
		t.Errorf("connected egress local address %v", la)
	}
	pc2 := <-hostPC // opened at connect
	stray.WriteTo([]byte("not the peer"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: pc2.LocalAddr().(*net.UDPAddr).Port})
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if msg, from := recvDgram(t, c); msg != "echo:hello" || from != external {
		t.Fatalf("connected reply %q from %v", msg, from)
	}
	if _, _, err := c.RecvFrom(make([]byte, 10), false); err != syscall.EAGAIN {
		t.Errorf("the stray datagram reached a connected socket: %v", err)
	}
	// host errors are errnos
	if _, err := s.SendTo([]byte("x"), netip.MustParseAddrPort("203.0.113.9:53")); err != syscall.ENETUNREACH {
		t.Errorf("host send error: %v", err)
	}
	// a socket bound to loopback has no route out
	lb := mustSock(t, p, Datagram)
	if err := lb.Bind(ap(lo, 0)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "sendto from loopback", func() error { _, err := lb.SendTo([]byte("x"), external); return err }(), syscall.EINVAL)
	mu.Lock()
	if fmt.Sprint(opened) != "[udp :0 udp :0]" {
		t.Errorf("host sockets opened: %v", opened)
	}
	mu.Unlock()

	// closing the fabric socket closes its host socket and ends its reader
	s.Close()
	if _, err := pc1.WriteTo([]byte("x"), stray.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("host socket of a closed fabric socket: %v", err)
	}
	// Network.Close closes the rest
	n.Close()
	if _, err := pc2.WriteTo([]byte("x"), stray.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("host socket after Network.Close: %v", err)
	}
	checkGoroutines(t, base)
}

func TestUDPEgressReaderEndsWithSocket(t *testing.T) {
	n := newNet(t, Config{ListenPacket: func(ctx context.Context, _, _ string) (net.PacketConn, error) {
		return (&net.ListenConfig{}).ListenPacket(ctx, "udp4", "127.0.0.1:0")
	}})
	p := addPod(t, n, "default", "a", ipA)
	base := runtime.NumGoroutine()
	for range 5 {
		s := mustSock(t, p, Datagram)
		if err := s.Connect(netip.MustParseAddrPort("203.0.113.7:53")); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	checkGoroutines(t, base)
	// RemovePod closes them too
	for range 5 {
		if err := mustSock(t, p, Datagram).Connect(netip.MustParseAddrPort("203.0.113.7:53")); err != nil {
			t.Fatal(err)
		}
	}
	n.RemovePod(ipA)
	checkGoroutines(t, base)
}

func TestUDPEgressDeniedAndDocumentation(t *testing.T) {
	ext := netip.MustParseAddrPort("203.0.113.7:53")
	deny := newNet(t, Config{DenyEgress: true})
	p := addPod(t, deny, "default", "a", ipA)
	if _, err := mustSock(t, p, Datagram).SendTo([]byte("x"), ext); err != syscall.EACCES {
		t.Errorf("denied sendto: %v", err)
	}
	wantErr(t, "denied connect", mustSock(t, p, Datagram).Connect(ext), syscall.EACCES)
	// pod CIDR addresses no pod holds stay unreachable, never egress
	if _, err := mustSock(t, p, Datagram).SendTo([]byte("x"), ap(ipB, 53)); err != syscall.EHOSTUNREACH {
		t.Errorf("unknown pod: %v", err)
	}

	// with real host sockets, documentation addresses never leave
	n := newNet(t, Config{})
	q := addPod(t, n, "default", "a", ipA)
	if _, err := mustSock(t, q, Datagram).SendTo([]byte("x"), ext); err != syscall.ENETUNREACH {
		t.Errorf("sendto TEST-NET: %v", err)
	}
	wantErr(t, "connect TEST-NET", mustSock(t, q, Datagram).Connect(netip.MustParseAddrPort("192.0.2.1:53")), syscall.ENETUNREACH)
}

// TestUDPEgressRealSocket uses the default host sockets, towards an echo
// server on a non-loopback address of this machine (IPv4 or IPv6).
func TestUDPEgressRealSocket(t *testing.T) {
	hosts := hostAddrs(t)
	if len(hosts) == 0 {
		t.Skip("no non-loopback address outside the documentation ranges")
	}
	n := newNet(t, Config{})
	p := addPod(t, n, "default", "a", ipA)
	for _, host := range hosts {
		echo := udpEcho(t, netip.AddrPortFrom(host, 0).String())
		dst := echo.LocalAddr().(*net.UDPAddr).AddrPort()
		dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
		family := syscall.AF_INET
		if host.Is6() {
			family = syscall.AF_INET6
		}
		s, err := p.Socket(family, Datagram)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SendTo([]byte("real"), dst); err != nil {
			t.Fatalf("sendto %v: %v", dst, err)
		}
		if msg, from := recvDgram(t, s); msg != "echo:real" || from != dst {
			t.Fatalf("reply %q from %v, want from %v", msg, from, dst)
		}
		s.Close()
	}
}

// hostAddrs returns this machine's first usable non-loopback IPv4 and IPv6
// addresses (none in the documentation ranges or the default pod CIDR).
func hostAddrs(t *testing.T) []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skip(err)
	}
	var v4, v6 netip.Addr
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		ip := p.Addr()
		if ip.IsLoopback() || ip.IsLinkLocalUnicast() || isDocumentation(ip) || netip.MustParsePrefix("10.244.0.0/16").Contains(ip) {
			continue
		}
		if ip.Is4() && !v4.IsValid() {
			v4 = ip
		}
		if ip.Is6() && !v6.IsValid() {
			v6 = ip
		}
	}
	var out []netip.Addr
	for _, ip := range []netip.Addr{v4, v6} {
		if ip.IsValid() {
			out = append(out, ip)
		}
	}
	return out
}
