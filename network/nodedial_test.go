package network

import (
	"errors"
	"io"
	"net/netip"
	"syscall"
	"testing"
)

// TestDialFromNode: the kubelet's probes reach a pod at its IP, so only a
// listener bound to the pod IP or to 0.0.0.0 answers them; one bound to
// the pod's 127.0.0.1 refuses them (port-forward's DialPod still reaches
// it), and an address that is no pod's is unreachable, the host's
// loopback included.
func TestDialFromNode(t *testing.T) {
	n := newNet(t, Config{})
	pa := addPod(t, n, "default", "lo", ipA)
	pb := addPod(t, n, "default", "any", ipB)
	pc := addPod(t, n, "default", "podip", ipC)
	listen(t, pa, ap(lo, 8080))
	lb := listen(t, pb, ap(netip.IPv4Unspecified(), 8080))
	lc := listen(t, pc, ap(ipC, 8081))

	if _, err := n.DialFromNode(t.Context(), ipA, 8080); !errors.Is(err, syscall.ECONNREFUSED) ||
		err.Error() != "dial tcp 10.244.0.10:8080: connect: connection refused" {
		t.Errorf("a loopback listener from the node: %v, want connection refused", err)
	}
	if c, err := n.DialPod(t.Context(), ipA, 8080); err != nil {
		t.Errorf("port-forward to the loopback listener: %v", err)
	} else {
		c.Close()
	}
	for _, x := range []struct {
		ip   netip.Addr
		port int
		l    Socket
	}{{ipB, 8080, lb}, {ipC, 8081, lc}} {
		c, err := n.DialFromNode(t.Context(), x.ip, x.port)
		if err != nil {
			t.Errorf("DialFromNode %s:%d: %v", x.ip, x.port, err)
			continue
		}
		s := accept(t, x.l)
		if ra, _ := s.RemoteAddr(); ra.Addr() != lo { // Config.HostIP's default
			got := ra.Addr()
			t.Errorf("the pod sees the node's connection from %s, want the host IP %s", got, lo)
		}
		if got := s.LocalAddr().Addr(); got != x.ip {
			t.Errorf("the pod's end is %s, want its IP %s", got, x.ip)
		}
		go conn(s).Write([]byte("hi"))
		b := make([]byte, 2)
		if _, err := io.ReadFull(c, b); err != nil || string(b) != "hi" {
			t.Errorf("read %q %v", b, err)
		}
		c.Close()
		s.Close()
	}
	for _, ip := range []netip.Addr{netip.MustParseAddr("10.244.9.9"), lo} {
		if _, err := n.DialFromNode(t.Context(), ip, 8080); !errors.Is(err, syscall.EHOSTUNREACH) {
			t.Errorf("DialFromNode %s: %v, want EHOSTUNREACH", ip, err)
		}
	}
	if _, err := n.DialFromNode(t.Context(), ipB, 0); err == nil {
		t.Error("DialFromNode to port 0 succeeded")
	}
}
