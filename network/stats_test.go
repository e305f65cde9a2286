package network

import (
	"bytes"
	"io"
	"testing"
)

// TestPodNetStats: bytes a pod sends to and receives from another pod over
// TCP and UDP are counted in both pods (each its side), with the
// connection in and out; traffic on the pod's loopback is not, as the
// kubelet reports a pod's eth0.
func TestPodNetStats(t *testing.T) {
	n := newNet(t, Config{})
	a := addPod(t, n, "default", "a", ipA)
	b := addPod(t, n, "default", "b", ipB)
	l := listen(t, b, ap(ipB, 80))
	c := dial(t, a, ap(ipB, 80))
	srv := accept(t, l)
	const size = 100_000
	payload := bytes.Repeat([]byte("x"), size)
	go conn(c).Write(payload)
	if _, err := io.ReadFull(conn(srv), make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn(srv).Write([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(conn(c), make([]byte, 2)); err != nil {
		t.Fatal(err)
	}
	// UDP, 10 bytes a to b.
	ub := mustSock(t, b, Datagram)
	if err := ub.Bind(ap(ipB, 53)); err != nil {
		t.Fatal(err)
	}
	ua := mustSock(t, a, Datagram)
	if _, err := ua.SendTo([]byte("0123456789"), ap(ipB, 53)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ub, Readable)
	if m, _, err := ub.RecvFrom(make([]byte, 64), false); err != nil || m != 10 {
		t.Fatalf("recv: %d %v", m, err)
	}
	// Loopback in pod a: not counted.
	ll := listen(t, a, ap(lo, 8080))
	lc := dial(t, a, ap(lo, 8080))
	ls := accept(t, ll)
	go conn(lc).Write([]byte("loopback"))
	io.ReadFull(conn(ls), make([]byte, 8))

	sa, sb := a.(StatsReader).NetStats(), b.(StatsReader).NetStats()
	if want := (Stats{TxBytes: size + 10, RxBytes: 2, ConnectionsOut: 1, OpenConnections: 1}); sa != want {
		t.Errorf("pod a: %+v, want %+v", sa, want)
	}
	if want := (Stats{RxBytes: size + 10, TxBytes: 2, ConnectionsIn: 1, OpenConnections: 1}); sb != want {
		t.Errorf("pod b: %+v, want %+v", sb, want)
	}
	c.Close()
	srv.Close()
	if o := a.(StatsReader).NetStats().OpenConnections + b.(StatsReader).NetStats().OpenConnections; o != 0 {
		t.Errorf("open connections after close: %d", o)
	}
}
