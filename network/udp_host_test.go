package network

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"
)

func dialUDP(t *testing.T, addr net.Addr) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, addr.(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestUDPHostPort(t *testing.T) {
	base := runtime.NumGoroutine()
	n := New(Config{})
	defer n.Close()
	p := addPod(t, n, "default", "dns", ipA)
	srv := mustSock(t, p, Datagram)
	if err := srv.Bind(ap(netip.IPv4Unspecified(), 5353)); err != nil {
		t.Fatal(err)
	}
	hp, err := n.ListenHostPort(netip.MustParseAddrPort("127.0.0.1:0"), "UDP", ipA, 5353)
	if err != nil {
		t.Fatal(err)
	}
	hpAddr := hp.(interface{ Addr() net.Addr }).Addr()
	l := hp.(*hostUDP)

	c1, c2 := dialUDP(t, hpAddr), dialUDP(t, hpAddr)
	c1.Write([]byte("q1"))
	msg, from1 := recvDgram(t, srv)
	if msg != "q1" || from1.Addr() != n.Config().HostIP {
		t.Fatalf("pod got %q from %v", msg, from1)
	}
	srv.SendTo([]byte("a1"), from1)
	if msg, from := readHost(t, c1); msg != "a1" || from != hpAddr.(*net.UDPAddr).AddrPort() {
		t.Fatalf("client 1 got %q from %v", msg, from)
	}
	// a second client is a second flow
	c2.Write([]byte("q2"))
	msg, from2 := recvDgram(t, srv)
	if msg != "q2" || from2.Addr() != n.Config().HostIP || from2 == from1 {
		t.Fatalf("pod got %q from %v (first flow %v)", msg, from2, from1)
	}
	srv.SendTo([]byte("a2"), from2)
	srv.SendTo([]byte("a1b"), from1)
	if msg, _ := readHost(t, c2); msg != "a2" {
		t.Fatalf("client 2 got %q", msg)
	}
	if msg, _ := readHost(t, c1); msg != "a1b" { // a2 did not go to client 1
		t.Fatalf("client 1 got %q", msg)
	}
	// the same client keeps its flow
	c1.Write([]byte("q1b"))
	if msg, from := recvDgram(t, srv); msg != "q1b" || from != from1 {
		t.Fatalf("pod got %q from %v, want from %v", msg, from, from1)
	}
	if k := l.numFlows(); k != 2 {
		t.Errorf("%d flows", k)
	}
	// idle flows expire; the pod's datagrams to them go nowhere and the
	// client's next datagram opens a new flow
	if k := l.sweep(time.Now()); k != 0 {
		t.Errorf("%d active flows expired", k)
	}
	if k := l.sweep(time.Now().Add(udpFlowTimeout + time.Second)); k != 2 {
		t.Errorf("expired %d flows, want 2", k)
	}
	srv.SendTo([]byte("late"), from1)
	c1.Write([]byte("q1c"))
	msg, from1c := recvDgram(t, srv)
	if msg != "q1c" || from1c == from1 || from1c.Addr() != n.Config().HostIP {
		t.Fatalf("after expiry pod got %q from %v", msg, from1c)
	}
	srv.SendTo([]byte("a1c"), from1c)
	if msg, _ := readHost(t, c1); msg != "a1c" { // "late" went nowhere
		t.Fatalf("client 1 got %q", msg)
	}

	// a pod socket connected to a flow's address talks to that client only
	c2.Write([]byte("q2c"))
	_, from2c := recvDgram(t, srv)
	if err := srv.Connect(from2c); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Write([]byte("a2c")); err != nil {
		t.Fatal(err)
	}
	if msg, _ := readHost(t, c2); msg != "a2c" {
		t.Fatalf("client 2 got %q", msg)
	}
	c1.Write([]byte("dropped"))
	c2.Write([]byte("q2d"))
	if msg, from := recvDgram(t, srv); msg != "q2d" || from != from2c {
		t.Fatalf("connected pod socket got %q from %v", msg, from)
	}

	// closing frees the port and the goroutines
	if err := hp.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := net.ListenUDP("udp", hpAddr.(*net.UDPAddr))
	if err != nil {
		t.Fatalf("host port not freed: %v", err)
	}
	again.Close()
	if n.ct.n.Load() != 0 {
		t.Errorf("%d conntrack entries left", n.ct.n.Load())
	}
	srv.Close()
	n.Close()
	checkGoroutines(t, base)
}

// waitAny waits until one of the sockets is readable and returns its index.
func waitAny(t *testing.T, socks ...Socket) int {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		chs := make([]<-chan struct{}, len(socks))
		for i, s := range socks {
			ev, ch := s.Poll()
			if ev&Readable != 0 {
				return i
			}
			chs[i] = ch
		}
		select {
		case <-chs[0]:
		case <-chs[1]:
		case <-deadline:
			t.Fatal("timeout waiting for a datagram")
		}
	}
}

// freeTCPAndUDPPort finds a loopback port free for both protocols.
func freeTCPAndUDPPort(t *testing.T) int {
	for range 20 {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no port free for both TCP and UDP")
	return 0
}

func TestUDPNodePort(t *testing.T) {
	base := runtime.NumGoroutine()
	n := New(Config{})
	defer n.Close()
	pa := addPod(t, n, "default", "dns-a", ipA)
	pb := addPod(t, n, "default", "dns-b", ipB)
	var eps []Socket
	for _, p := range []PodNet{pa, pb} {
		s := mustSock(t, p, Datagram)
		if err := s.Bind(ap(netip.IPv4Unspecified(), 5353)); err != nil {
			t.Fatal(err)
		}
		eps = append(eps, s)
	}
	tl := listen(t, pa, ap(netip.IPv4Unspecified(), 5353))
	np := freeTCPAndUDPPort(t)
	vip := netip.MustParseAddr("10.96.0.10")
	err := n.SetService(Service{Name: "dns", ClusterIP: vip, Ports: []ServicePort{
		{Name: "dns", Protocol: "UDP", Port: 53, NodePort: np, Endpoints: []netip.AddrPort{ap(ipA, 5353), ap(ipB, 5353)}},
		{Name: "dns-tcp", Protocol: "TCP", Port: 53, NodePort: np, Endpoints: []netip.AddrPort{ap(ipA, 5353)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	npAddr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: np}

	// flows from distinct host sockets land on both endpoints; each flow
	// keeps its endpoint, and replies come back from the NodePort
	hit := map[int]*net.UDPConn{}
	for i := 0; len(hit) < 2; i++ {
		if i == 10 {
			t.Fatalf("10 flows reached endpoints %v only", hit)
		}
		c := dialUDP(t, npAddr)
		q := fmt.Sprintf("q%d", i)
		c.Write([]byte(q))
		k := waitAny(t, eps...)
		msg, from := recvDgram(t, eps[k])
		if msg != q || from.Addr() != n.Config().HostIP {
			t.Fatalf("endpoint %d got %q from %v", k, msg, from)
		}
		eps[k].SendTo([]byte("a"+q), from)
		if msg, src := readHost(t, c); msg != "a"+q || src.Port() != uint16(np) {
			t.Fatalf("client %d got %q from %v", i, msg, src)
		}
		c.Write([]byte(q + "-again"))
		if msg, _ := recvDgram(t, eps[k]); msg != q+"-again" {
			t.Fatalf("flow %d moved: endpoint %d got %q", i, k, msg)
		}
		if hit[k] == nil {
			hit[k] = c
		}
	}

	// the TCP NodePort of the same number goes on
	tc, err := net.Dial("tcp", npAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	accept(t, tl).Close()
	tc.Close()

	// deleting the Service closes the UDP socket too
	n.DeleteService("default", "dns")
	u, err := net.ListenUDP("udp", npAddr)
	if err != nil {
		t.Fatalf("UDP nodePort still open after DeleteService: %v", err)
	}
	u.Close()
	if n.ct.n.Load() != 0 {
		t.Errorf("%d conntrack entries left", n.ct.n.Load())
	}
	n.Close()
	checkGoroutines(t, base)
}

func TestHostPortProtocols(t *testing.T) {
	n := newNet(t, Config{})
	addPod(t, n, "default", "a", ipA)
	any := netip.MustParseAddrPort("127.0.0.1:0")
	for _, proto := range []string{"SCTP", "sctp", "icmp"} {
		_, err := n.ListenHostPort(any, proto, ipA, 80)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", proto)) {
			t.Errorf("%s hostPort: %v", proto, err)
		}
	}
	for _, proto := range []string{"", "TCP", "tcp", "UDP", "udp"} {
		c, err := n.ListenHostPort(any, proto, ipA, 80)
		if err != nil {
			t.Fatalf("%q hostPort: %v", proto, err)
		}
		addr := c.(interface{ Addr() net.Addr }).Addr().Network()
		if want := map[bool]string{true: "udp", false: "tcp"}[strings.EqualFold(proto, "udp")]; addr != want {
			t.Errorf("%q hostPort listens on %s", proto, addr)
		}
		c.Close()
	}
	// a host port in use is an error naming the protocol
	busy, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if _, err := n.ListenHostPort(busy.LocalAddr().(*net.UDPAddr).AddrPort(), "UDP", ipA, 80); err == nil || !strings.Contains(err.Error(), "/UDP") {
		t.Errorf("busy UDP host port: %v", err)
	}
}

// Network.Close ends UDP hostPorts, NodePorts and their flows, and the
// host sockets of egress, without any of them being closed first.
func TestUDPHostSocketsEndWithNetwork(t *testing.T) {
	base := runtime.NumGoroutine()
	n := New(Config{})
	p := addPod(t, n, "default", "a", ipA)
	srv := mustSock(t, p, Datagram)
	if err := srv.Bind(ap(netip.IPv4Unspecified(), 5353)); err != nil {
		t.Fatal(err)
	}
	hp, err := n.ListenHostPort(netip.MustParseAddrPort("127.0.0.1:0"), "udp", ipA, 5353)
	if err != nil {
		t.Fatal(err)
	}
	np := freeTCPAndUDPPort(t)
	if err := n.SetService(Service{Name: "dns", ClusterIP: netip.MustParseAddr("10.96.0.10"), Ports: []ServicePort{{Protocol: "UDP", Port: 53, NodePort: np, Endpoints: []netip.AddrPort{ap(ipA, 5353)}}}}); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []net.Addr{hp.(interface{ Addr() net.Addr }).Addr(), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: np}} {
		dialUDP(t, addr).Write([]byte("q"))
		if msg, _ := recvDgram(t, srv); msg != "q" {
			t.Fatalf("pod got %q", msg)
		}
	}
	n.Close()
	checkGoroutines(t, base)
	if n.ct.n.Load() != 0 {
		t.Errorf("%d conntrack entries left", n.ct.n.Load())
	}
	if u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: np}); err != nil {
		t.Errorf("nodePort still open after Close: %v", err)
	} else {
		u.Close()
	}
}
