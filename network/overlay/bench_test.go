package overlay

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/network"
)

const benchChunk = 32 << 10

// pump writes n chunks on w and reads them all on r; it returns the time taken.
func pump(b *testing.B, w io.Writer, r io.Reader, n int) time.Duration {
	buf := make([]byte, benchChunk)
	rbuf := make([]byte, benchChunk)
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		for range n {
			if _, err := w.Write(buf); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for got := 0; got < n*benchChunk; {
		k, err := r.Read(rbuf)
		if err != nil {
			b.Fatal(err)
		}
		got += k
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// benchNodes are two linked nodes with a pod each on a, one on b.
func benchNodes(b *testing.B) (a, bn *node, pa, pa2, pb network.PodNet) {
	ca := newCA(b, "cluster")
	a, bn = startNode(b, ca, "a", "", func(c *Config) { c.Logf = nil }), startNode(b, ca, "b", "", func(c *Config) { c.Logf = nil })
	link(b, a, bn)
	return a, bn, addPod(b, a, "pa", ipA1), addPod(b, a, "pa2", ipA2), addPod(b, bn, "pb", ipB1)
}

// BenchmarkCrossNodeTCP measures pod-to-pod TCP between two agents'
// networks through the overlay (mTLS + yamux over loopback) against the
// same between two pods of one node and host-native Go over loopback TCP,
// in the same run. x-in-node and x-loopback are the cross-node figure
// divided by those (throughput: higher is better; connect: lower is
// better).
func BenchmarkCrossNodeTCP(b *testing.B) {
	b.Run("throughput", func(b *testing.B) {
		_, _, pa, pa2, pb := benchNodes(b)
		lb, la := listen(b, pb, 80), listen(b, pa, 80)
		cross, crossSrv := mustConnect(b, pa, netip.AddrPortFrom(ipB1, 80)), accept(b, lb)
		local, localSrv := mustConnect(b, pa2, netip.AddrPortFrom(ipA1, 80)), accept(b, la)
		b.SetBytes(benchChunk)
		b.ResetTimer()
		crossD := pump(b, cross, crossSrv, b.N)
		b.StopTimer()
		k := min(b.N, 20000) // bound the reference runs' time
		localD := pump(b, local, localSrv, k) * time.Duration(b.N) / time.Duration(k)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		lc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer lc.Close()
		ls, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		defer ls.Close()
		loopD := pump(b, lc, ls, k) * time.Duration(b.N) / time.Duration(k)
		mb := func(d time.Duration) float64 { return float64(b.N*benchChunk) / d.Seconds() / 1e6 }
		b.ReportMetric(mb(localD), "in-node-MB/s")
		b.ReportMetric(mb(loopD), "loopback-MB/s")
		b.ReportMetric(mb(crossD)/mb(localD), "x-in-node")
		b.ReportMetric(mb(crossD)/mb(loopD), "x-loopback")
	})
	b.Run("connect", func(b *testing.B) {
		_, _, pa, pa2, pb := benchNodes(b)
		lb, la := listen(b, pb, 80), listen(b, pa, 80)
		once := func(p network.PodNet, l network.Socket, dst netip.AddrPort) {
			s, e := connect(b, p, dst)
			if e != 0 {
				b.Fatal(e)
			}
			for {
				c, err := l.Accept()
				if err == nil {
					c.Close()
					break
				}
				waitEv(b, l, network.Readable, 10*time.Second)
			}
			s.Close()
		}
		once(pa, lb, netip.AddrPortFrom(ipB1, 80)) // the session's dial is not what is measured
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			once(pa, lb, netip.AddrPortFrom(ipB1, 80))
		}
		crossD := time.Since(start)
		b.StopTimer()
		k := min(b.N, 2000) // bound the reference runs (and TIME_WAIT sockets)
		start = time.Now()
		for range k {
			once(pa2, la, netip.AddrPortFrom(ipA1, 80))
		}
		localD := time.Since(start) * time.Duration(b.N) / time.Duration(k)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		start = time.Now()
		for range k {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			s, err := ln.Accept()
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
			c.Close()
		}
		loopD := time.Since(start) * time.Duration(b.N) / time.Duration(k)
		b.ReportMetric(float64(localD.Nanoseconds())/float64(b.N), "in-node-ns/connect")
		b.ReportMetric(float64(loopD.Nanoseconds())/float64(b.N), "loopback-ns/connect")
		b.ReportMetric(float64(crossD)/float64(localD), "x-in-node")
		b.ReportMetric(float64(crossD)/float64(loopD), "x-loopback")
	})
}
