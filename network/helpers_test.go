package network

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"
)

var (
	ipA = netip.MustParseAddr("10.244.0.10")
	ipB = netip.MustParseAddr("10.244.0.11")
	ipC = netip.MustParseAddr("10.244.1.12")
	lo  = netip.MustParseAddr("127.0.0.1")
)

func ap(a netip.Addr, port uint16) netip.AddrPort { return netip.AddrPortFrom(a, port) }

func newNet(t testing.TB, cfg Config) *Network {
	t.Helper()
	n := New(cfg)
	t.Cleanup(func() { n.Close() })
	return n
}

func addPod(t testing.TB, n *Network, ns, name string, ip netip.Addr) PodNet {
	t.Helper()
	p, err := n.AddPod(PodInfo{Namespace: ns, Name: name, IP: ip})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustSock(t testing.TB, p PodNet, typ SockType) Socket {
	t.Helper()
	s, err := p.Socket(syscall.AF_INET, typ)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func listen(t testing.TB, p PodNet, addr netip.AddrPort) Socket {
	t.Helper()
	return listenBacklog(t, p, addr, 16)
}

// listenBacklog is listen with the given backlog.
func listenBacklog(t testing.TB, p PodNet, addr netip.AddrPort, backlog int) Socket {
	t.Helper()
	s := mustSock(t, p, Stream)
	if err := s.Bind(addr); err != nil {
		t.Fatalf("bind %s: %v", addr, err)
	}
	if err := s.Listen(backlog); err != nil {
		t.Fatal(err)
	}
	return s
}

func dial(t testing.TB, p PodNet, addr netip.AddrPort) Socket {
	t.Helper()
	s := mustSock(t, p, Stream)
	if err := s.Connect(addr); err != nil {
		t.Fatalf("connect %s: %v", addr, err)
	}
	return s
}

func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// waitFor blocks on Poll until ev holds (no polling loop: it sleeps on the
// change channel).
func waitFor(t testing.TB, s Socket, ev Events) Events {
	t.Helper()
	deadline := time.After(5 * time.Second)
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

func accept(t testing.TB, l Socket) Socket {
	t.Helper()
	for {
		c, err := l.Accept()
		if err == nil {
			return c
		}
		wantErr(t, "accept", err, syscall.EAGAIN)
		waitFor(t, l, Readable)
	}
}

// conn wraps a pod socket as a blocking net.Conn.
func conn(s Socket) net.Conn { return newSockConn(s.(*sock)) }

// podListener serves a pod socket as a net.Listener.
type podListener struct {
	s    Socket
	done chan struct{}
}

func newPodListener(s Socket) *podListener { return &podListener{s: s, done: make(chan struct{})} }

func (l *podListener) Accept() (net.Conn, error) {
	for {
		c, err := l.s.Accept()
		if err == nil {
			return conn(c), nil
		}
		if err != syscall.EAGAIN {
			return nil, err
		}
		ev, ch := l.s.Poll()
		if ev&Readable != 0 {
			continue
		}
		select {
		case <-ch:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
}

func (l *podListener) Close() error {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	return l.s.Close()
}

func (l *podListener) Addr() net.Addr { return net.TCPAddrFromAddrPort(l.s.LocalAddr()) }

// checkGoroutines fails if the goroutine count does not return to base.
func checkGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines leaked: %d > %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
