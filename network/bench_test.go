package network

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
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
	want := n * benchChunk
	for got := 0; got < want; {
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

func loopbackPair(b *testing.B) (net.Listener, net.Conn, net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	return ln, c, s
}

// BenchmarkPodToPodTCP measures the fabric between two pods against
// host-native Go over real loopback TCP in the same run. x-loopback is the
// fabric's figure divided by loopback's (throughput: higher is better;
// connect: lower is better).
func BenchmarkPodToPodTCP(b *testing.B) {
	b.Run("throughput", func(b *testing.B) {
		n := newNet(b, Config{})
		a := addPod(b, n, "default", "a", ipA)
		p := addPod(b, n, "default", "b", ipB)
		l := listen(b, a, ap(netip.IPv4Unspecified(), 80))
		c := conn(dial(b, p, ap(ipA, 80)))
		s := conn(accept(b, l))
		b.SetBytes(benchChunk)
		b.ResetTimer()
		fabric := pump(b, c, s, b.N)
		b.StopTimer()
		ln, lc, ls := loopbackPair(b)
		ln2 := min(b.N, 20000) // bound the reference run's time
		loop := pump(b, lc, ls, ln2) * time.Duration(b.N) / time.Duration(ln2)
		lc.Close()
		ls.Close()
		ln.Close()
		mb := func(d time.Duration) float64 { return float64(b.N*benchChunk) / d.Seconds() / 1e6 }
		b.ReportMetric(mb(loop), "loopback-MB/s")
		b.ReportMetric(mb(fabric)/mb(loop), "x-loopback")
	})
	// throughput-budget: pods under the default socket buffer budget (and
	// under a tight 64 KiB one) against unbudgeted pods, in the same run;
	// x-unbudgeted is the budgeted figure divided by the unbudgeted one.
	for _, bc := range []struct {
		name   string
		budget int64
	}{{"throughput-budget-default", 0}, {"throughput-budget-64KiB", 64 << 10}} {
		b.Run(bc.name, func(b *testing.B) {
			pair := func(budget int64) (net.Conn, net.Conn) {
				n := newNet(b, Config{})
				a, err := n.AddPod(PodInfo{Name: "a", IP: ipA, SocketBuffers: budget})
				if err != nil {
					b.Fatal(err)
				}
				p, err := n.AddPod(PodInfo{Name: "b", IP: ipB, SocketBuffers: budget})
				if err != nil {
					b.Fatal(err)
				}
				l := listen(b, a, ap(netip.IPv4Unspecified(), 80))
				return conn(dial(b, p, ap(ipA, 80))), conn(accept(b, l))
			}
			bc1, bs1 := pair(bc.budget)
			uc, us := pair(-1)
			b.SetBytes(benchChunk)
			b.ResetTimer()
			var budgeted, unbudgeted time.Duration
			for i, done := 0, 0; done < b.N; i++ {
				k := min(b.N-done, 256)
				if i%2 == 0 { // alternate which goes first
					budgeted += pump(b, bc1, bs1, k)
					unbudgeted += pump(b, uc, us, k)
				} else {
					unbudgeted += pump(b, uc, us, k)
					budgeted += pump(b, bc1, bs1, k)
				}
				done += k
			}
			b.StopTimer()
			b.ReportMetric(float64(unbudgeted)/float64(budgeted), "x-unbudgeted")
		})
	}
	b.Run("connect", func(b *testing.B) {
		n := newNet(b, Config{})
		a := addPod(b, n, "default", "a", ipA)
		p := addPod(b, n, "default", "b", ipB)
		l := listen(b, a, ap(netip.IPv4Unspecified(), 80))
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			c, err := p.Socket(2, Stream)
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Connect(ap(ipA, 80)); err != nil {
				b.Fatal(err)
			}
			s, err := l.Accept()
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
			c.Close()
		}
		fabric := time.Since(start)
		b.StopTimer()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		addr := ln.Addr().String()
		ln2 := min(b.N, 2000) // bound the reference run (and TIME_WAIT sockets)
		start = time.Now()
		for range ln2 {
			c, err := net.Dial("tcp", addr)
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
		loop := time.Since(start) * time.Duration(b.N) / time.Duration(ln2)
		b.ReportMetric(float64(loop.Nanoseconds())/float64(b.N), "loopback-ns/connect")
		b.ReportMetric(float64(fabric)/float64(loop), "x-loopback")
	})
}
