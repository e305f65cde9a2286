package overlay

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/util/cert"

	"github.com/wasmpod/wasmpod/network"
)

// testCA is a cluster CA signing node certificates.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pool *x509.CertPool
}

func newCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cert.NewSelfSignedCACert(cert.Config{CommonName: name}, key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return &testCA{cert: c, key: key, pool: pool}
}

// nodeCert is a node's client certificate as the bootstrap signer issues it.
func (ca *testCA) nodeCert(t testing.TB, cn string, org ...string) tls.Certificate {
	t.Helper()
	if org == nil {
		org = []string{NodesGroup}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, Organization: org},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

var (
	cidrA = netip.MustParsePrefix("10.244.1.0/24")
	cidrB = netip.MustParsePrefix("10.244.2.0/24")
	ipA1  = netip.MustParseAddr("10.244.1.10")
	ipA2  = netip.MustParseAddr("10.244.1.11")
	ipB1  = netip.MustParseAddr("10.244.2.10")
	ipB2  = netip.MustParseAddr("10.244.2.11")
	vip   = netip.MustParseAddr("10.96.0.50")
)

// node is one agent's network and overlay.
type node struct {
	name string
	net  *network.Network
	ov   *Overlay
	ln   net.Listener
}

func (n *node) peer() Peer {
	return Peer{Node: n.name, Addr: n.ln.Addr().(*net.TCPAddr).AddrPort(), PodCIDRs: []netip.Prefix{n.cidr()}}
}

func (n *node) cidr() netip.Prefix {
	if n.name == "a" {
		return cidrA
	}
	return cidrB
}

// startNode runs a node's network and overlay on a loopback listener
// (addr "" picks a port).
func startNode(t testing.TB, ca *testCA, name, addr string, mod func(*Config)) *node {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for range 50 { // a restarted node takes its old port back
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	nw := network.New(network.Config{PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")}, DenyEgress: true})
	cfg := Config{Network: nw, NodeName: name, Certificate: ca.nodeCert(t, NodeUserPrefix+name), CA: ca.pool, Listener: ln,
		Logf: func(f string, a ...any) { t.Logf("node "+name+": "+f, a...) }}
	if mod != nil {
		mod(&cfg)
	}
	ov, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{name: name, net: nw, ov: ov, ln: ln}
	t.Cleanup(n.stop)
	return n
}

func (n *node) stop() {
	n.ov.Close()
	n.net.Close()
}

// link makes each node a peer of the others.
func link(t testing.TB, ns ...*node) {
	t.Helper()
	var ps []Peer
	for _, n := range ns {
		ps = append(ps, n.peer())
	}
	for _, n := range ns {
		if err := n.ov.SetPeers(ps); err != nil {
			t.Fatal(err)
		}
	}
}

func addPod(t testing.TB, n *node, name string, ip netip.Addr) network.PodNet {
	t.Helper()
	p, err := n.net.AddPod(network.PodInfo{Namespace: "default", Name: name, IP: ip})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func sock(t testing.TB, p network.PodNet, typ network.SockType) network.Socket {
	t.Helper()
	s, err := p.Socket(syscall.AF_INET, typ)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func listen(t testing.TB, p network.PodNet, port uint16) network.Socket {
	t.Helper()
	s := sock(t, p, network.Stream)
	if err := s.Bind(netip.AddrPortFrom(netip.IPv4Unspecified(), port)); err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(64); err != nil {
		t.Fatal(err)
	}
	return s
}

// waitEv blocks on Poll until ev holds.
func waitEv(t testing.TB, s network.Socket, ev network.Events, d time.Duration) network.Events {
	t.Helper()
	deadline := time.After(d)
	for {
		got, ch := s.Poll()
		if got&ev != 0 {
			return got
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timeout waiting for events %b (have %b)", ev, got)
		}
	}
}

// connect connects a new stream socket of p to dst as a guest does
// (EINPROGRESS, then SO_ERROR); it returns the socket and the errno.
func connect(t testing.TB, p network.PodNet, dst netip.AddrPort) (network.Socket, syscall.Errno) {
	t.Helper()
	s := sock(t, p, network.Stream)
	err := s.Connect(dst)
	if err == nil {
		return s, 0
	}
	if !errors.Is(err, syscall.EINPROGRESS) {
		return s, err.(syscall.Errno)
	}
	waitEv(t, s, network.Writable, 15*time.Second)
	e, _ := s.GetOption(network.SolSocket, network.SoError)
	return s, syscall.Errno(e)
}

func mustConnect(t testing.TB, p network.PodNet, dst netip.AddrPort) net.Conn {
	t.Helper()
	s, e := connect(t, p, dst)
	if e != 0 {
		t.Fatalf("connect %s from %s: %v", dst, p.IP(), e)
	}
	c, err := network.SocketConn(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func accept(t testing.TB, l network.Socket) net.Conn {
	t.Helper()
	for {
		c, err := l.Accept()
		if err == nil {
			cc, err := network.SocketConn(c)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cc.Close() })
			return cc
		}
		if !errors.Is(err, syscall.EAGAIN) {
			t.Fatal(err)
		}
		waitEv(t, l, network.Readable, 10*time.Second)
	}
}

// echo serves l: each connection gets its greeting, then its input back.
func echo(t testing.TB, l network.Socket, greeting string) {
	go func() {
		for {
			c, err := l.Accept()
			if errors.Is(err, syscall.EAGAIN) {
				if ev, ch := l.Poll(); ev&network.Readable == 0 {
					<-ch
				}
				continue
			}
			if err != nil {
				return
			}
			cc, _ := network.SocketConn(c)
			go func() {
				defer cc.Close()
				cc.Write([]byte(greeting))
				io.Copy(cc, cc)
			}()
		}
	}()
}

func readN(t testing.TB, c net.Conn, n int) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read: %v (got %q)", err, b)
	}
	return string(b)
}

// recvFrom waits for one datagram on s.
func recvFrom(t testing.TB, s network.Socket) (string, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 70000)
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, from, err := s.RecvFrom(buf, false)
		if err == nil {
			return string(buf[:n]), from
		}
		if !errors.Is(err, syscall.EAGAIN) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("no datagram")
		}
		waitEv(t, s, network.Readable, time.Until(deadline))
	}
}
