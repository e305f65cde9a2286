package overlay

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/wasmpod/wasmpod/network"
)

// Two agents' networks joined by a tunnel over loopback TLS: TCP flows go
// both ways between pods by pod IP, each side sees the other pod's IP, and
// both directions close cleanly.
func TestOverlayTCPBothWays(t *testing.T) {
	ca := newCA(t, "cluster")
	a, b := startNode(t, ca, "a", "", nil), startNode(t, ca, "b", "", nil)
	link(t, a, b)
	pa, pb := addPod(t, a, "pa", ipA1), addPod(t, b, "pb", ipB1)
	la, lb := listen(t, pa, 8080), listen(t, pb, 9090)

	c := mustConnect(t, pa, netip.AddrPortFrom(ipB1, 9090)) // a → b
	s := accept(t, lb)
	if got := s.RemoteAddr().String(); !strings.HasPrefix(got, ipA1.String()+":") {
		t.Errorf("b's pod sees the flow from %s, want pod a's IP %s", got, ipA1)
	}
	if got := c.RemoteAddr().String(); got != "10.244.2.10:9090" {
		t.Errorf("a's pod sees its peer as %s", got)
	}
	c.Write([]byte("ping"))
	if got := readN(t, s, 4); got != "ping" {
		t.Errorf("b read %q", got)
	}
	s.Write([]byte("pong"))
	if got := readN(t, c, 4); got != "pong" {
		t.Errorf("a read %q", got)
	}
	// a large transfer crosses the yamux windows and the pipes' budgets
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	go func() { c.Write([]byte(big)); c.Close() }()
	s.SetReadDeadline(time.Now().Add(20 * time.Second))
	all, err := io.ReadAll(s)
	if err != nil || string(all) != big {
		t.Fatalf("1 MiB across the tunnel: %d bytes, %v", len(all), err)
	}

	c2 := mustConnect(t, pb, netip.AddrPortFrom(ipA1, 8080)) // b → a
	s2 := accept(t, la)
	if got := s2.RemoteAddr().String(); !strings.HasPrefix(got, ipB1.String()+":") {
		t.Errorf("a's pod sees the flow from %s, want pod b's IP %s", got, ipB1)
	}
	s2.Write([]byte("hi"))
	if got := readN(t, c2, 2); got != "hi" {
		t.Errorf("b read %q", got)
	}
}

// UDP between pods of two nodes: the datagram comes from the sender's pod
// IP and the reply to it finds its way back.
func TestOverlayUDP(t *testing.T) {
	ca := newCA(t, "cluster")
	a, b := startNode(t, ca, "a", "", nil), startNode(t, ca, "b", "", nil)
	link(t, a, b)
	pa, pb := addPod(t, a, "pa", ipA1), addPod(t, b, "pb", ipB1)
	sa, sb := sock(t, pa, network.Datagram), sock(t, pb, network.Datagram)
	if err := sb.Bind(netip.AddrPortFrom(netip.IPv4Unspecified(), 5353)); err != nil {
		t.Fatal(err)
	}
	if _, err := sa.SendTo([]byte("query"), netip.AddrPortFrom(ipB1, 5353)); err != nil {
		t.Fatal(err)
	}
	got, from := recvFrom(t, sb)
	if got != "query" || from.Addr() != ipA1 {
		t.Fatalf("b received %q from %s, want \"query\" from %s", got, from, ipA1)
	}
	if _, err := sb.SendTo([]byte("answer"), from); err != nil {
		t.Fatal(err)
	}
	got, from = recvFrom(t, sa)
	if got != "answer" || from != netip.AddrPortFrom(ipB1, 5353) {
		t.Fatalf("a received %q from %s", got, from)
	}
	// a connected socket to a remote pod
	sc := sock(t, pa, network.Datagram)
	if err := sc.Connect(netip.AddrPortFrom(ipB1, 5353)); err != nil {
		t.Fatalf("connect a datagram socket to a remote pod: %v", err)
	}
	sc.Write([]byte("again"))
	if got, _ := recvFrom(t, sb); got != "again" {
		t.Fatalf("b received %q", got)
	}
}

// A Service whose endpoints are on both nodes: each node's service proxy
// balances a client's connections (and datagrams) over all of them, and
// the DNS name resolves to the VIP on either node.
func TestOverlayServiceAcrossNodes(t *testing.T) {
	ca := newCA(t, "cluster")
	a, b := startNode(t, ca, "a", "", nil), startNode(t, ca, "b", "", nil)
	link(t, a, b)
	pa, pa2, pb := addPod(t, a, "web-a", ipA1), addPod(t, a, "client", ipA2), addPod(t, b, "web-b", ipB1)
	pb2 := addPod(t, b, "client-b", ipB2)
	echo(t, listen(t, pa, 8080), "A")
	echo(t, listen(t, pb, 8080), "B")
	ua, ub := sock(t, pa, network.Datagram), sock(t, pb, network.Datagram)
	ua.Bind(netip.AddrPortFrom(netip.IPv4Unspecified(), 53))
	ub.Bind(netip.AddrPortFrom(netip.IPv4Unspecified(), 53))
	svc := network.Service{Namespace: "default", Name: "web", ClusterIP: vip, Ports: []network.ServicePort{
		{Name: "http", Port: 80, Endpoints: []netip.AddrPort{netip.AddrPortFrom(ipA1, 8080), netip.AddrPortFrom(ipB1, 8080)}},
		{Name: "dns", Protocol: "UDP", Port: 53, Endpoints: []netip.AddrPort{netip.AddrPortFrom(ipA1, 53), netip.AddrPortFrom(ipB1, 53)}},
	}}
	for _, n := range []*node{a, b} { // each agent's service proxy has every Service
		if err := n.net.SetService(svc); err != nil {
			t.Fatal(err)
		}
	}
	for _, client := range []network.PodNet{pa2, pb2} {
		ips, err := client.Lookup(context.Background(), "web")
		if err != nil || len(ips) != 1 || ips[0] != vip {
			t.Fatalf("lookup web from %s: %v, %v", client.IP(), ips, err)
		}
		seen := map[string]int{}
		for range 6 {
			c := mustConnect(t, client, netip.AddrPortFrom(ips[0], 80))
			seen[readN(t, c, 1)]++
			if got := c.RemoteAddr().String(); got != "10.96.0.50:80" {
				t.Errorf("the client sees its peer as %s, want the VIP", got)
			}
			c.Close()
		}
		if seen["A"] != 3 || seen["B"] != 3 {
			t.Errorf("connections from %s over endpoints on both nodes: %v, want 3 each", client.IP(), seen)
		}
		u := sock(t, client, network.Datagram)
		for range 2 {
			if _, err := u.SendTo([]byte("q"), netip.AddrPortFrom(vip, 53)); err != nil {
				t.Fatal(err)
			}
		}
		for _, srv := range []network.Socket{ua, ub} {
			_, from := recvFrom(t, srv)
			if from.Addr() != client.IP() {
				t.Errorf("a UDP endpoint got the datagram from %s, want %s", from, client.IP())
			}
			srv.SendTo([]byte("r"), from)
			if _, rfrom := recvFrom(t, u); rfrom != netip.AddrPortFrom(vip, 53) {
				t.Errorf("the reply comes from %s, want the VIP", rfrom)
			}
		}
	}
}

// Refusals cross the tunnel as errnos in SO_ERROR: no listener is
// ECONNREFUSED, no pod with the address is EHOSTUNREACH, and a node whose
// tunnel cannot be reached is EHOSTUNREACH at once, not a hang.
func TestOverlayRefusedAndUnreachable(t *testing.T) {
	ca := newCA(t, "cluster")
	a, b := startNode(t, ca, "a", "", nil), startNode(t, ca, "b", "", nil)
	link(t, a, b)
	pa := addPod(t, a, "pa", ipA1)
	addPod(t, b, "pb", ipB1)
	if _, e := connect(t, pa, netip.AddrPortFrom(ipB1, 1234)); e != syscall.ECONNREFUSED {
		t.Errorf("no listener on the remote pod: %v, want ECONNREFUSED", e)
	}
	if _, e := connect(t, pa, netip.AddrPortFrom(ipB2, 1234)); e != syscall.EHOSTUNREACH {
		t.Errorf("no remote pod with the address: %v, want EHOSTUNREACH", e)
	}
	if _, e := connect(t, pa, netip.MustParseAddrPort("10.244.7.1:80")); e != syscall.EHOSTUNREACH {
		t.Errorf("no route: %v, want EHOSTUNREACH", e)
	}
	// a node whose tunnel port is closed
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().(*net.TCPAddr).AddrPort()
	dead.Close()
	if err := a.ov.SetPeers([]Peer{b.peer(), {Node: "c", Addr: deadAddr, PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.3.0/24")}}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, e := connect(t, pa, netip.MustParseAddrPort("10.244.3.5:80")); e != syscall.EHOSTUNREACH {
		t.Errorf("a node that cannot be reached: %v, want EHOSTUNREACH", e)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the unreachable node took %v", d)
	}
	// bad peers are a clear error
	if err := a.ov.SetPeers([]Peer{{Node: "x", PodCIDRs: []netip.Prefix{cidrB}}}); err == nil || !strings.Contains(err.Error(), "invalid tunnel address") {
		t.Errorf("a peer without an address: %v", err)
	}
}

// An agent restart on the other side resets the open flows (ECONNRESET),
// as TCP would, and new flows reach the restarted agent.
func TestOverlayPeerRestartResets(t *testing.T) {
	ca := newCA(t, "cluster")
	a, b := startNode(t, ca, "a", "", nil), startNode(t, ca, "b", "", nil)
	link(t, a, b)
	pa, pb := addPod(t, a, "pa", ipA1), addPod(t, b, "pb", ipB1)
	lb := listen(t, pb, 9090)
	s, e := connect(t, pa, netip.AddrPortFrom(ipB1, 9090))
	if e != 0 {
		t.Fatal(e)
	}
	accept(t, lb)
	addr := b.ln.Addr().String()
	b.stop() // the agent dies: its process's connections close

	ev := waitEv(t, s, network.Hangup, 10*time.Second)
	_, err := s.Read(make([]byte, 8))
	for deadline := time.Now().Add(5 * time.Second); errors.Is(err, syscall.EAGAIN) && time.Now().Before(deadline); {
		// the reset reaches the two directions one after the other
		time.Sleep(time.Millisecond)
		_, err = s.Read(make([]byte, 8))
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read after the peer restarted: %v (events %b), want ECONNRESET", err, ev)
	}
	b2 := startNode(t, ca, "b", addr, nil)
	link(t, a, b2)
	pb = addPod(t, b2, "pb", ipB1)
	echo(t, listen(t, pb, 9090), "again")
	c := mustConnect(t, pa, netip.AddrPortFrom(ipB1, 9090))
	if got := readN(t, c, 5); got != "again" {
		t.Errorf("after the restart: %q", got)
	}
}

// Only nodes of the cluster join: a certificate of another CA, a
// certificate of another node than the route's, and a certificate that is
// not a node's are refused on both ends.
func TestOverlayRefusesForeignCertificates(t *testing.T) {
	ca := newCA(t, "cluster")
	a, b := startNode(t, ca, "a", "", nil), startNode(t, ca, "b", "", nil)
	link(t, a, b)
	pa := addPod(t, a, "pa", ipA1)
	echo(t, listen(t, addPod(t, b, "pb", ipB1), 80), "x")

	// b's address claimed by a forged "b" (another CA), then by node c
	for _, forged := range []tls.Certificate{newCA(t, "other").nodeCert(t, NodeUserPrefix+"b"), ca.nodeCert(t, NodeUserPrefix+"c")} {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go tls.Server(c, &tls.Config{Certificates: []tls.Certificate{forged}, ClientAuth: tls.RequestClientCert}).Handshake()
			}
		}()
		if err := a.ov.SetPeers([]Peer{{Node: "b", Addr: ln.Addr().(*net.TCPAddr).AddrPort(), PodCIDRs: []netip.Prefix{cidrB}}}); err != nil {
			t.Fatal(err)
		}
		if _, e := connect(t, pa, netip.AddrPortFrom(ipB1, 80)); e != syscall.EHOSTUNREACH {
			t.Errorf("a peer presenting %s: connect %v, want EHOSTUNREACH", subject(forged), e)
		}
	}
	// b's listener refuses clients with a foreign certificate or none
	for _, cert := range []*tls.Certificate{nil, ptr(newCA(t, "other").nodeCert(t, NodeUserPrefix+"a")), ptr(ca.nodeCert(t, "admin", "system:masters"))} {
		cfg := &tls.Config{InsecureSkipVerify: true}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		c, err := tls.Dial("tcp", b.ln.Addr().String(), cfg)
		if err == nil {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = c.Read(make([]byte, 1)) // TLS 1.3: the refusal arrives after the client's Finished
			c.Close()
		}
		if err == nil || isTimeout(err) {
			t.Errorf("b accepted a tunnel from %v: %v", cert != nil, err)
		}
	}
	// the real b still works
	link(t, a, b)
	if c := mustConnect(t, pa, netip.AddrPortFrom(ipB1, 80)); readN(t, c, 1) != "x" {
		t.Error("after the forgeries")
	}
}

func ptr[T any](v T) *T { return &v }

func subject(c tls.Certificate) string {
	if c.Leaf != nil {
		return c.Leaf.Subject.String()
	}
	return "a certificate"
}

// rawSession joins b's tunnel as node name with a valid certificate and
// returns the yamux session, as a hostile (or buggy) agent would hold it.
func rawSession(t *testing.T, ca *testCA, name string, to *node) *yamux.Session {
	t.Helper()
	c, err := tls.Dial("tcp", to.ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{ca.nodeCert(t, NodeUserPrefix+name)}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	s, err := yamux.Client(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A node speaks only for its own pods: a flow whose source is outside the
// peer's pod range (another node's pod) is refused with EACCES, and its
// datagrams are dropped.
func TestOverlayRefusesSpoofedSource(t *testing.T) {
	ca := newCA(t, "cluster")
	a, b := startNode(t, ca, "a", "", nil), startNode(t, ca, "b", "", nil)
	link(t, a, b)
	pb := addPod(t, b, "pb", ipB1)
	lb := listen(t, pb, 80)
	s := rawSession(t, ca, "a", b)
	for _, tc := range []struct {
		src  netip.AddrPort
		want byte
	}{
		{netip.AddrPortFrom(ipB2, 4000), byte(syscall.EACCES)},             // b's own range
		{netip.MustParseAddrPort("10.244.9.9:4000"), byte(syscall.EACCES)}, // nobody's
		{netip.AddrPortFrom(ipA1, 4000), 0},                                // a's: fine
		{netip.AddrPortFrom(a.peer().Addr.Addr(), 4000), 0},                // a's node IP (NodePort traffic)
	} {
		st, err := s.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		st.Write(header(kindTCP, tc.src, netip.AddrPortFrom(ipB1, 80)))
		var status [1]byte
		st.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(st, status[:]); err != nil || status[0] != tc.want {
			t.Errorf("a flow from %s: status %d, %v; want %d", tc.src, status[0], err, tc.want)
		}
		st.Close()
	}
	accept(t, lb)
}

// A hostile peer with a valid certificate cannot exhaust the agent:
// malformed headers and streams that never send one are closed, a flood
// of streams past MaxStreamsPerPeer is closed at once, an oversized
// datagram frame ends its stream, and the tunnel still serves real flows
// afterwards.
func TestOverlayHostilePeerIsBounded(t *testing.T) {
	ca := newCA(t, "cluster")
	a := startNode(t, ca, "a", "", nil)
	b := startNode(t, ca, "b", "", func(c *Config) { c.MaxStreamsPerPeer = 32; c.HeaderTimeout = 300 * time.Millisecond })
	link(t, a, b)
	pb := addPod(t, b, "pb", ipB1)
	echo(t, listen(t, pb, 80), "ok")
	s := rawSession(t, ca, "c", b) // a valid certificate, no route

	closed := func(st net.Conn) bool {
		st.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := io.Copy(io.Discard, st) // a status byte, then the end
		return !isTimeout(err)
	}
	// malformed headers
	for _, h := range [][]byte{
		append([]byte{9, kindTCP}, make([]byte, headerLen-2)...),                   // unknown version
		append([]byte{version, 7}, make([]byte, headerLen-2)...),                   // unknown kind
		header(kindTCP, netip.AddrPortFrom(ipA1, 0), netip.AddrPortFrom(ipB1, 80)), // port 0
	} {
		st, _ := s.OpenStream()
		st.Write(h)
		if !closed(st) {
			t.Errorf("header %x: the stream stays open", h[:2])
		}
	}
	// a stream that never sends its header
	st, _ := s.OpenStream()
	if !closed(st) {
		t.Error("a stream without a header stays open past HeaderTimeout")
	}
	// a flood of streams: past the bound they are closed at once
	var flood []*yamux.Stream
	for range 32 {
		st, err := s.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		st.Write([]byte{version}) // a header begun, never finished
		flood = append(flood, st)
	}
	time.Sleep(50 * time.Millisecond)
	extra, _ := s.OpenStream()
	extra.Write(header(kindTCP, netip.AddrPortFrom(ipA1, 4000), netip.AddrPortFrom(ipB1, 80)))
	start := time.Now()
	if !closed(extra) || time.Since(start) > 250*time.Millisecond {
		t.Errorf("a stream past MaxStreamsPerPeer was not closed at once (%v)", time.Since(start))
	}
	for _, st := range flood {
		if !closed(st) {
			t.Error("a flood stream outlived the header timeout")
		}
	}
	// an oversized datagram frame ends the datagram stream
	ds, _ := s.OpenStream()
	ds.Write(header(kindUDP, netip.AddrPort{}, netip.AddrPort{}))
	ds.Write([]byte{0xff, 0xff})
	ds.Write(make([]byte, frameHead-2))
	if !closed(ds) {
		t.Error("an oversized datagram frame left the stream open")
	}
	// datagram streams past four are closed at once
	var dss []*yamux.Stream
	for range 4 {
		ds, _ := s.OpenStream()
		ds.Write(header(kindUDP, netip.AddrPort{}, netip.AddrPort{}))
		dss = append(dss, ds)
	}
	time.Sleep(50 * time.Millisecond)
	ds5, _ := s.OpenStream()
	ds5.Write(header(kindUDP, netip.AddrPort{}, netip.AddrPort{}))
	if !closed(ds5) {
		t.Error("a fifth datagram stream stays open")
	}
	for _, ds := range dss {
		ds.Close()
	}
	// the session and the node still serve
	pa := addPod(t, a, "pa", ipA1)
	if c := mustConnect(t, pa, netip.AddrPortFrom(ipB1, 80)); readN(t, c, 2) != "ok" {
		t.Error("after the hostile peer")
	}
	if s.IsClosed() {
		t.Error("the hostile peer's session was closed (its streams' misbehaviour should only close them)")
	}
}

// Each inbound flow holds one fd of the Network's host fd budget: past it,
// flows are refused (ECONNREFUSED) instead of taking more.
func TestOverlayInboundFlowsChargeHostFDs(t *testing.T) {
	ca := newCA(t, "cluster")
	a := startNode(t, ca, "a", "", nil)
	budget := &countBudget{limit: 2}
	b := startNode(t, ca, "b", "", nil)
	b.net.Close()
	b.net = network.New(network.Config{PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")}, HostFDs: budget})
	b.ov.Close()
	ov, err := New(Config{Network: b.net, NodeName: "b", Certificate: ca.nodeCert(t, NodeUserPrefix+"b"), CA: ca.pool, Listener: mustListen(t)})
	if err != nil {
		t.Fatal(err)
	}
	b.ov, b.ln = ov, ov.cfg.Listener
	link(t, a, b)
	pa, pb := addPod(t, a, "pa", ipA1), addPod(t, b, "pb", ipB1)
	listen(t, pb, 80)
	for i := range 2 {
		if _, e := connect(t, pa, netip.AddrPortFrom(ipB1, 80)); e != 0 {
			t.Fatalf("flow %d: %v", i, e)
		}
	}
	if _, e := connect(t, pa, netip.AddrPortFrom(ipB1, 80)); e != syscall.ECONNREFUSED {
		t.Errorf("past the fd budget: %v, want ECONNREFUSED", e)
	}
}

func mustListen(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

type countBudget struct {
	mu          sync.Mutex
	limit, used int64
}

func (c *countBudget) Acquire(n int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.used+n > c.limit {
		return false
	}
	c.used += n
	return true
}

func (c *countBudget) Release(n int64) {
	c.mu.Lock()
	c.used -= n
	c.mu.Unlock()
}

// A NodePort on one node reaches an endpoint on another: the connection
// from the host crosses the tunnel, and the endpoint sees it coming from
// the first node's address.
func TestOverlayNodePortReachesRemoteEndpoint(t *testing.T) {
	ca := newCA(t, "cluster")
	a, b := startNode(t, ca, "a", "", nil), startNode(t, ca, "b", "", nil)
	link(t, a, b)
	pb := addPod(t, b, "web-b", ipB1)
	lb := listen(t, pb, 8080)
	free := mustListen(t)
	port := free.Addr().(*net.TCPAddr).Port
	free.Close()
	svc := network.Service{Namespace: "default", Name: "web", ClusterIP: vip, Ports: []network.ServicePort{
		{Port: 80, NodePort: port, Endpoints: []netip.AddrPort{netip.AddrPortFrom(ipB1, 8080)}}}}
	if err := a.net.SetService(svc); err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", free.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := accept(t, lb)
	if got := s.RemoteAddr().(*net.TCPAddr).AddrPort().Addr(); got != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("the endpoint sees the NodePort flow from %s, want node a's address", got)
	}
	s.Write([]byte("from b"))
	if got := readN(t, c, 6); got != "from b" {
		t.Errorf("NodePort client read %q", got)
	}
	c.Write([]byte("to b"))
	if got := readN(t, s, 4); got != "to b" {
		t.Errorf("endpoint read %q", got)
	}
}

// Closing an overlay and its network ends every goroutine they started.
func TestOverlayCloseLeavesNoGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		ca := newCA(t, "cluster")
		a, b := startNode(t, ca, "a", "", nil), startNode(t, ca, "b", "", nil)
		link(t, a, b)
		pa, pb := addPod(t, a, "pa", ipA1), addPod(t, b, "pb", ipB1)
		lb := listen(t, pb, 80)
		c := mustConnect(t, pa, netip.AddrPortFrom(ipB1, 80))
		accept(t, lb)
		c.Write([]byte("x"))
		u := sock(t, pa, network.Datagram)
		u.SendTo([]byte("x"), netip.AddrPortFrom(ipB1, 53))
		a.stop()
		b.stop()
	}()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines left: %d > %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A node that does not answer never hangs a connect: one that accepts TCP
// but never completes the TLS handshake is EHOSTUNREACH after DialTimeout,
// and one whose session is up but never answers a flow is ETIMEDOUT after
// network.RemoteDialTimeout.
func TestOverlaySilentPeerTimesOut(t *testing.T) {
	ca := newCA(t, "cluster")
	a := startNode(t, ca, "a", "", func(c *Config) { c.DialTimeout = 300 * time.Millisecond })
	pa := addPod(t, a, "pa", ipA1)
	old := network.RemoteDialTimeout
	network.RemoteDialTimeout = 500 * time.Millisecond
	t.Cleanup(func() { network.RemoteDialTimeout = old })

	mute := mustListen(t) // accepts, says nothing
	t.Cleanup(func() { mute.Close() })
	var (
		mu   sync.Mutex
		held []io.Closer
	)
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	stuck := mustListen(t) // a session, no answers
	t.Cleanup(func() { stuck.Close() })
	bcert := ca.nodeCert(t, NodeUserPrefix+"b")
	go func() {
		for {
			c, err := stuck.Accept()
			if err != nil {
				return
			}
			tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{bcert}, ClientAuth: tls.RequireAnyClientCert})
			cfg := yamux.DefaultConfig()
			cfg.LogOutput = io.Discard
			if s, err := yamux.Server(tc, cfg); err == nil {
				mu.Lock()
				held = append(held, s)
				mu.Unlock()
			}
		}
	}()
	for _, tc := range []struct {
		ln   net.Listener
		want syscall.Errno
	}{{mute, syscall.EHOSTUNREACH}, {stuck, syscall.ETIMEDOUT}} {
		if err := a.ov.SetPeers([]Peer{{Node: "b", Addr: tc.ln.Addr().(*net.TCPAddr).AddrPort(), PodCIDRs: []netip.Prefix{cidrB}}}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, e := connect(t, pa, netip.AddrPortFrom(ipB1, 80)); e != tc.want {
			t.Errorf("peer at %s: connect %v, want %v", tc.ln.Addr(), e, tc.want)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("peer at %s: the connect took %v", tc.ln.Addr(), d)
		}
	}
}

// logBuf collects an Overlay's log lines.
type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) logf(t testing.TB, name string) func(string, ...any) {
	return func(f string, a ...any) {
		line := fmt.Sprintf(f, a...)
		t.Logf("node %s: %s", name, line)
		l.mu.Lock()
		l.b.WriteString(line + "\n")
		l.mu.Unlock()
	}
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitLog waits for a line of l holding every part.
func waitLog(t *testing.T, l *logBuf, parts ...string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		for _, line := range strings.Split(l.String(), "\n") {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q in:\n%s", parts, l)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitReset waits for s's flow to be reset: ECONNRESET, not a hang.
func waitReset(t *testing.T, s network.Socket, what string) {
	t.Helper()
	ev := waitEv(t, s, network.Hangup, 10*time.Second)
	_, err := s.Read(make([]byte, 8))
	for deadline := time.Now().Add(5 * time.Second); errors.Is(err, syscall.EAGAIN) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // the reset reaches the two directions one after the other
		_, err = s.Read(make([]byte, 8))
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("%s: read after the rotation: %v (events %b), want ECONNRESET", what, err, ev)
	}
}

// TestOverlayReconnectAfterRotation: after a node's certificate rotates,
// Reconnect makes its tunnels again with the new one, those it dialed at
// once and those its peer dialed at the peer's next flow (a GoAway on the
// old one); the flows open on the old sessions keep running (drained, not
// reset), both ways, while new flows take the new sessions; the old
// sessions close once their flows have ended. The peer's rotation likewise.
func TestOverlayReconnectAfterRotation(t *testing.T) {
	ca := newCA(t, "cluster")
	var curA, curB atomic.Pointer[tls.Certificate]
	var logA, logB logBuf
	a := startNode(t, ca, "a", "", func(c *Config) { c.CurrentCertificate, c.Logf = curA.Load, logA.logf(t, "a") })
	b := startNode(t, ca, "b", "", func(c *Config) { c.CurrentCertificate, c.Logf = curB.Load, logB.logf(t, "b") })
	link(t, a, b)
	pa, pb := addPod(t, a, "pa", ipA1), addPod(t, b, "pb", ipB1)
	la, lb := listen(t, pa, 9090), listen(t, pb, 9090)
	// A long-lived flow each way: a→b on the session a dialed, b→a on b's.
	ab := mustConnect(t, pa, netip.AddrPortFrom(ipB1, 9090))
	abS := accept(t, lb)
	ba := mustConnect(t, pb, netip.AddrPortFrom(ipA1, 9090))
	baS := accept(t, la)
	roundTrip := func(what string, c, srv net.Conn, msg string) {
		t.Helper()
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatalf("%s: write: %v", what, err)
		}
		if got := readN(t, srv, len(msg)); got != msg {
			t.Fatalf("%s: server read %q", what, got)
		}
		if _, err := srv.Write([]byte(msg)); err != nil {
			t.Fatalf("%s: server write: %v", what, err)
		}
		if got := readN(t, c, len(msg)); got != msg {
			t.Fatalf("%s: read %q", what, got)
		}
	}
	roundTrip("a's flow to b", ab, abS, "before")
	old := subjectSerial(t, a.ov.cfg.Certificate)
	waitLog(t, &logB, "tunnel from node a", "its certificate serial "+old+")")

	a2 := ca.nodeCert(t, NodeUserPrefix+"a")
	curA.Store(&a2)
	a.ov.Reconnect()
	// a dialed its session to b again with the new certificate, before
	// any new flow.
	waitLog(t, &logB, "tunnel from node a", "its certificate serial "+subjectSerial(t, a2)+")")
	roundTrip("a's flow to b after a's rotation", ab, abS, "after-a")
	roundTrip("b's flow to a after a's rotation", ba, baS, "after-a")
	echo(t, la, "from-a")
	echo(t, lb, "from-b")
	if got := readN(t, mustConnect(t, pa, netip.AddrPortFrom(ipB1, 9090)), 6); got != "from-b" {
		t.Errorf("a to b after a's rotation: %q", got)
	}
	// b's next flow to a dials again and a serves the new certificate.
	if got := readN(t, mustConnect(t, pb, netip.AddrPortFrom(ipA1, 9090)), 6); got != "from-a" {
		t.Errorf("b to a after a's rotation: %q", got)
	}
	waitLog(t, &logB, "tunnel to node a", "its certificate serial "+subjectSerial(t, a2)+",")
	roundTrip("a's flow to b, still", ab, abS, "still")
	roundTrip("b's flow to a, still", ba, baS, "still")
	// Once the old flows end, the old sessions close.
	for _, c := range []net.Conn{ab, abS, ba, baS} {
		c.Close()
	}
	waitDrained(t, a)
	waitDrained(t, b)

	// b rotates: a's flow on its session to b, which b served with its
	// old certificate, keeps running, and a's next flow gets the new one.
	ab2 := mustConnect(t, pa, netip.AddrPortFrom(ipB1, 9090))
	readN(t, ab2, 6)
	b2 := ca.nodeCert(t, NodeUserPrefix+"b")
	curB.Store(&b2)
	b.ov.Reconnect()
	if _, err := ab2.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, ab2, 4); got != "ping" {
		t.Errorf("a's flow to b after b's rotation: %q", got)
	}
	if got := readN(t, mustConnect(t, pa, netip.AddrPortFrom(ipB1, 9090)), 6); got != "from-b" {
		t.Errorf("a to b after b's rotation: %q", got)
	}
	waitLog(t, &logA, "tunnel to node b", "its certificate serial "+subjectSerial(t, b2)+",")
	if _, err := ab2.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, ab2, 4); got != "pong" {
		t.Errorf("a's old flow to b after a's new one: %q", got)
	}
}

// TestOverlayDrainIsBounded: a flow still open on a drained session when
// DrainTimeout passes is reset (ECONNRESET, not a hang), so a rotation
// leaves no old session behind for longer than that.
func TestOverlayDrainIsBounded(t *testing.T) {
	ca := newCA(t, "cluster")
	var curA atomic.Pointer[tls.Certificate]
	a := startNode(t, ca, "a", "", func(c *Config) { c.CurrentCertificate, c.DrainTimeout = curA.Load, time.Millisecond })
	b := startNode(t, ca, "b", "", nil)
	link(t, a, b)
	pa, pb := addPod(t, a, "pa", ipA1), addPod(t, b, "pb", ipB1)
	la, lb := listen(t, pa, 9090), listen(t, pb, 9090)
	ab, e := connect(t, pa, netip.AddrPortFrom(ipB1, 9090))
	if e != 0 {
		t.Fatal(e)
	}
	accept(t, lb)
	ba, e := connect(t, pb, netip.AddrPortFrom(ipA1, 9090))
	if e != 0 {
		t.Fatal(e)
	}
	accept(t, la)
	a2 := ca.nodeCert(t, NodeUserPrefix+"a")
	curA.Store(&a2)
	a.ov.Reconnect()
	waitReset(t, ab, "a's flow to b")
	waitReset(t, ba, "b's flow to a")
	waitDrained(t, a)
	echo(t, lb, "from-b")
	if got := readN(t, mustConnect(t, pa, netip.AddrPortFrom(ipB1, 9090)), 6); got != "from-b" {
		t.Errorf("a to b after the drain: %q", got)
	}
}

// waitDrained waits until n has no draining session left.
func waitDrained(t *testing.T, n *node) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n.ov.mu.Lock()
		left := len(n.ov.draining)
		n.ov.mu.Unlock()
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still draining", left)
		}
	}
}

func subjectSerial(t *testing.T, c tls.Certificate) string {
	t.Helper()
	l, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return l.SerialNumber.String()
}
