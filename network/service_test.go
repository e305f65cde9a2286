package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// serveName runs a pod server on :port answering each connection with name.
func serveName(t *testing.T, p PodNet, port uint16, name string) {
	t.Helper()
	pl := newPodListener(listen(t, p, ap(netip.IPv4Unspecified(), port)))
	t.Cleanup(func() { pl.Close() })
	go func() {
		for {
			c, err := pl.Accept()
			if err != nil {
				return
			}
			r, _ := c.RemoteAddr().(*net.TCPAddr)
			fmt.Fprintf(c, "%s %s", name, r.AddrPort().Addr())
			c.Close()
		}
	}()
}

func ask(t *testing.T, p PodNet, addr netip.AddrPort) (string, error) {
	t.Helper()
	s := mustSock(t, p, Stream)
	if err := s.Connect(addr); err != nil {
		s.Close()
		return "", err
	}
	if r, _ := s.RemoteAddr(); r != addr {
		t.Errorf("client sees peer %v, want %v", r, addr)
	}
	b, err := io.ReadAll(conn(s))
	s.Close()
	return string(b), err
}

func TestServiceBalancingAndEndpointRemoval(t *testing.T) {
	n := newNet(t, Config{})
	w1 := addPod(t, n, "default", "web-1", ipA)
	w2 := addPod(t, n, "default", "web-2", ipB)
	client := addPod(t, n, "default", "client", ipC)
	serveName(t, w1, 8080, "web-1")
	serveName(t, w2, 8080, "web-2")
	vip := netip.MustParseAddr("10.96.0.10")
	svc := Service{Namespace: "default", Name: "web", ClusterIP: vip, Ports: []ServicePort{{Port: 80, Endpoints: []netip.AddrPort{ap(ipA, 8080), ap(ipB, 8080)}}}}
	if err := n.SetService(svc); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for range 6 {
		got, err := ask(t, client, ap(vip, 80))
		if err != nil {
			t.Fatal(err)
		}
		name, peer, _ := strings.Cut(got, " ")
		if peer != ipC.String() {
			t.Errorf("backend saw client %q, want %s", peer, ipC)
		}
		seen[name]++
	}
	if seen["web-1"] != 3 || seen["web-2"] != 3 {
		t.Fatalf("round robin: %v", seen)
	}
	// web-2 leaves the endpoints (graceful deletion): no new connection reaches it
	svc.Ports[0].Endpoints = []netip.AddrPort{ap(ipA, 8080)}
	if err := n.SetService(svc); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		got, err := ask(t, client, ap(vip, 80))
		if err != nil || !strings.HasPrefix(got, "web-1 ") {
			t.Fatalf("after endpoint removal got %q %v", got, err)
		}
	}
	svc.Ports[0].Endpoints = nil
	n.SetService(svc)
	_, err := ask(t, client, ap(vip, 80))
	wantErr(t, "no endpoints", err, syscall.ECONNREFUSED)
	_, err = ask(t, client, ap(vip, 81))
	wantErr(t, "port not in service", err, syscall.ECONNREFUSED)
	n.DeleteService("default", "web")
	_, err = ask(t, client, ap(vip, 80))
	wantErr(t, "deleted service", err, syscall.EHOSTUNREACH)

	for _, bad := range []Service{
		{Name: "x", ClusterIP: netip.MustParseAddr("10.0.0.1")},
		{Name: "x", ClusterIP: vip, Ports: []ServicePort{{Port: 0}}},
		{Name: "x", ClusterIP: vip, Ports: []ServicePort{{Port: 80, Protocol: "SCTP"}}},
		{Name: ""},
	} {
		if err := n.SetService(bad); err == nil {
			t.Errorf("bad service %+v accepted", bad)
		}
	}
}

func TestDNS(t *testing.T) {
	n := newNet(t, Config{DenyEgress: true})
	client, _ := n.AddPod(PodInfo{Namespace: "shop", Name: "client", IP: ipC})
	n.AddPod(PodInfo{Namespace: "shop", Name: "db-0", Hostname: "db-0", Subdomain: "db", IP: ipA})
	n.AddPod(PodInfo{Namespace: "shop", Name: "lonely", Hostname: "lonely", Subdomain: "nosvc", IP: ipB})
	vip := netip.MustParseAddr("10.96.0.20")
	other := netip.MustParseAddr("10.96.0.21")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(n.SetService(Service{Namespace: "shop", Name: "web", ClusterIP: vip, Ports: []ServicePort{{Port: 80}}}))
	must(n.SetService(Service{Namespace: "other", Name: "api", ClusterIP: other, Ports: []ServicePort{{Port: 80}}}))
	must(n.SetService(Service{Namespace: "shop", Name: "db", Ports: []ServicePort{{Port: 5432, Endpoints: []netip.AddrPort{ap(ipA, 5432)}}}}))
	ok := map[string][]netip.Addr{
		"web":                                 {vip},
		"WEB.":                                nil, // absolute single label: not a cluster name
		"web.shop":                            {vip},
		"web.shop.svc":                        {vip},
		"web.shop.svc.cluster.local":          {vip},
		"web.shop.svc.cluster.local.":         {vip},
		"api.other":                           {other},
		"api.other.svc.cluster.local":         {other},
		"api":                                 nil,   // other namespace: not in the search path
		"db":                                  {ipA}, // headless: endpoint IPs
		"db-0.db":                             {ipA},
		"db-0.db.shop.svc.cluster.local":      {ipA},
		"lonely.nosvc.shop.svc.cluster.local": nil, // no headless Service named nosvc
		"10-244-0-11.shop.pod.cluster.local":  {ipB},
		"localhost":                           {lo},
		"10.1.2.3":                            {netip.MustParseAddr("10.1.2.3")},
		"::1":                                 {netip.IPv6Loopback()},
		"nothere.shop.svc.cluster.local":      nil,
		"example.com":                         nil, // egress denied: no host resolution
		"bad..name":                           nil,
		"":                                    nil,
	}
	for name, want := range ok {
		got, err := client.Lookup(t.Context(), name)
		if want == nil {
			if err == nil || !errors.Is(err, ErrNoSuchHost) {
				t.Errorf("Lookup(%q) = %v, %v; want ErrNoSuchHost", name, got, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Lookup(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	// egress allowed: host names go to the host resolver (here one that
	// answers only "localhost", so no network is touched)
	n2 := newNet(t, Config{Resolver: &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		return nil, errors.New("no DNS server in tests")
	}}})
	c2 := addPod(t, n2, "default", "c", ipC)
	if _, err := c2.Lookup(t.Context(), "web.example.invalid"); err == nil {
		t.Error("resolver error not reported")
	}
}

func TestEgress(t *testing.T) {
	base := runtime.NumGoroutine()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	real := ln.Addr().(*net.TCPAddr).AddrPort()
	external := netip.MustParseAddrPort("203.0.113.7:80") // TEST-NET-3, redirected to the loopback server
	var (
		mu     sync.Mutex
		dialed []string
	)
	cfg := Config{Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, address)
		mu.Unlock()
		if address != external.String() { // never touch a real network
			return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
		}
		address = real.String()
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}}
	n := New(cfg)
	p := addPod(t, n, "default", "a", ipA)
	s := mustSock(t, p, Stream)
	wantErr(t, "egress connect", s.Connect(external), syscall.EINPROGRESS)
	waitFor(t, s, Writable)
	if v, err := s.GetOption(SolSocket, SoError); v != 0 || err != nil {
		t.Fatalf("SO_ERROR = %d %v", v, err)
	}
	if r, _ := s.RemoteAddr(); r != external {
		t.Errorf("remote %v", r)
	}
	c := conn(s)
	msg := strings.Repeat("egress!", 10000)
	go c.Write([]byte(msg))
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo: %v", err)
	}
	c.Close()

	// a refused egress connect reports through SO_ERROR
	s2 := mustSock(t, p, Stream)
	wantErr(t, "egress connect", s2.Connect(netip.MustParseAddrPort("203.0.113.8:1")), syscall.EINPROGRESS)
	waitFor(t, s2, Writable)
	if v, _ := s2.GetOption(SolSocket, SoError); v != int(syscall.ECONNREFUSED) {
		t.Errorf("failed egress: SO_ERROR %d", v)
	}
	if v, _ := s2.GetOption(SolSocket, SoError); v != 0 {
		t.Errorf("SO_ERROR not cleared: %d", v)
	}
	mu.Lock()
	if len(dialed) != 2 {
		t.Errorf("dialed %v", dialed)
	}
	mu.Unlock()
	// an egress connection left open is closed by Network.Close
	s3 := mustSock(t, p, Stream)
	s3.Connect(external)
	waitFor(t, s3, Writable)
	n.Close()
	checkGoroutines(t, base+2) // the test's accept loop and one echo goroutine at most

	deny := newNet(t, Config{DenyEgress: true, Dial: cfg.Dial})
	pd := addPod(t, deny, "default", "a", ipA)
	wantErr(t, "denied egress", mustSock(t, pd, Stream).Connect(external), syscall.EACCES)
	if _, err := mustSock(t, pd, Datagram).SendTo([]byte("x"), external); err != syscall.EACCES {
		t.Errorf("denied UDP egress: %v", err)
	}
}

func TestDialPodAndHostPort(t *testing.T) {
	base := runtime.NumGoroutine()
	n := New(Config{})
	p := addPod(t, n, "default", "web", ipA)
	pl := newPodListener(listen(t, p, ap(netip.IPv4Unspecified(), 8080)))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from pod, you are %s", r.RemoteAddr)
	})}
	go srv.Serve(pl)

	// port-forward style
	c, err := n.DialPod(t.Context(), ipA, 8080)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return c, nil }}
	resp, err := (&http.Client{Transport: tr}).Get("http://pod/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tr.CloseIdleConnections()
	if !strings.HasPrefix(string(body), "hello from pod, you are 127.0.0.1:") {
		t.Fatalf("port-forward body %q", body)
	}
	if _, err := n.DialPod(t.Context(), ipA, 9); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("DialPod to closed port: %v", err)
	}
	if _, err := n.DialPod(t.Context(), ipB, 80); err == nil {
		t.Error("DialPod to unknown pod succeeded")
	}

	// hostPort, reached with net/http from the host
	hp, err := n.ListenHostPort(netip.MustParseAddrPort("127.0.0.1:0"), "TCP", ipA, 8080)
	if err != nil {
		t.Fatal(err)
	}
	addr := hp.(interface{ Addr() net.Addr }).Addr().String()
	hc := &http.Client{Transport: &http.Transport{}}
	for range 3 {
		resp, err := hc.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(string(body), "hello from pod, you are 127.0.0.1:") {
			t.Fatalf("hostPort body %q", body)
		}
	}
	if _, err := n.ListenHostPort(netip.MustParseAddrPort("127.0.0.1:0"), "SCTP", ipA, 8080); err == nil {
		t.Error("SCTP hostPort accepted")
	}
	if _, err := n.ListenHostPort(netip.MustParseAddrPort("127.0.0.1:0"), "TCP", ipA, 70000); err == nil {
		t.Error("port 70000 accepted")
	}

	// NodePort
	free, _ := net.Listen("tcp", "127.0.0.1:0")
	nodePort := free.Addr().(*net.TCPAddr).Port
	free.Close()
	vip := netip.MustParseAddr("10.96.0.30")
	if err := n.SetService(Service{Name: "web", ClusterIP: vip, Ports: []ServicePort{{Port: 80, NodePort: nodePort, Endpoints: []netip.AddrPort{ap(ipA, 8080)}}}}); err != nil {
		t.Fatal(err)
	}
	resp, err = hc.Get(fmt.Sprintf("http://127.0.0.1:%d/", nodePort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "hello from pod") {
		t.Fatalf("nodePort body %q", body)
	}
	hc.CloseIdleConnections()
	n.DeleteService("default", "web")
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", nodePort), time.Second); err == nil {
		c.Close()
		t.Error("nodePort still open after DeleteService")
	}
	hp.Close()
	srv.Close()
	n.Close()
	checkGoroutines(t, base)
}

func TestUDP(t *testing.T) {
	n := newNet(t, Config{})
	a := addPod(t, n, "default", "a", ipA)
	b := addPod(t, n, "default", "b", ipB)
	srv := mustSock(t, a, Datagram)
	if err := srv.Bind(ap(netip.IPv4Unspecified(), 53)); err != nil {
		t.Fatal(err)
	}
	cl := mustSock(t, b, Datagram)
	if _, err := cl.SendTo([]byte("query"), ap(ipA, 53)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, srv, Readable)
	buf := make([]byte, 100)
	k, from, err := srv.RecvFrom(buf, false)
	if err != nil || string(buf[:k]) != "query" || from != ap(ipB, cl.LocalAddr().Port()) {
		t.Fatalf("server got %q from %v (%v)", buf[:k], from, err)
	}
	srv.SendTo([]byte("answer"), from)
	waitFor(t, cl, Readable)
	if k, from, _ := cl.RecvFrom(buf, false); string(buf[:k]) != "answer" || from != ap(ipA, 53) {
		t.Fatalf("client got %q from %v", buf[:k], from)
	}
	if _, _, err := cl.RecvFrom(buf, false); err != syscall.EAGAIN {
		t.Fatalf("empty queue: %v", err)
	}
	// through a Service VIP, with a connected client socket: replies come from the VIP
	vip := netip.MustParseAddr("10.96.0.53")
	n.SetService(Service{Name: "dns", ClusterIP: vip, Ports: []ServicePort{{Port: 53, Protocol: "UDP", Endpoints: []netip.AddrPort{ap(ipA, 53)}}}})
	cc := mustSock(t, b, Datagram)
	if err := cc.Connect(ap(vip, 53)); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Write([]byte("q2")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, srv, Readable)
	k, from, _ = srv.RecvFrom(buf, false)
	if string(buf[:k]) != "q2" || from.Addr() != ipB {
		t.Fatalf("via VIP: %q from %v", buf[:k], from)
	}
	srv.SendTo([]byte("a2"), from)
	waitFor(t, cc, Readable)
	if k, from, _ := cc.RecvFrom(buf, false); string(buf[:k]) != "a2" || from != ap(vip, 53) {
		t.Fatalf("reply via VIP: %q from %v", buf[:k], from)
	}
	// bounded queue: drops when full
	for range maxDgramQLen + 10 {
		cl.SendTo([]byte("x"), ap(ipA, 53))
	}
	got := 0
	for {
		if _, _, err := srv.RecvFrom(buf, false); err != nil {
			break
		}
		got++
	}
	if got != maxDgramQLen {
		t.Errorf("queued %d datagrams, want %d", got, maxDgramQLen)
	}
	// localhost within the pod
	lc := mustSock(t, a, Datagram)
	lc.SendTo([]byte("self"), ap(lo, 53))
	waitFor(t, srv, Readable)
	if k, from, _ := srv.RecvFrom(buf, false); string(buf[:k]) != "self" || from.Addr() != lo {
		t.Fatalf("localhost datagram %q from %v", buf[:k], from)
	}
}

// Documentation addresses (RFC 5737) are refused locally when egress uses
// real host sockets, so nothing sends traffic there; with egress denied the
// deny comes first.
func TestDocumentationAddressesNeverLeave(t *testing.T) {
	for _, deny := range []bool{false, true} {
		n := New(Config{DenyEgress: deny})
		p, err := n.AddPod(PodInfo{Namespace: "default", Name: "a", IP: netip.MustParseAddr("10.244.0.10")})
		if err != nil {
			t.Fatal(err)
		}
		s, err := p.Socket(syscall.AF_INET, Stream)
		if err != nil {
			t.Fatal(err)
		}
		want := syscall.ENETUNREACH
		if deny {
			want = syscall.EACCES
		}
		if err := s.Connect(netip.MustParseAddrPort("192.0.2.1:80")); err != want {
			t.Errorf("deny=%v: connect to 192.0.2.1: %v, want %v", deny, err, want)
		}
		n.Close()
	}
}
