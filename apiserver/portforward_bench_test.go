package apiserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// BenchmarkPortForwardSPDY: 4 MiB each way through client-go's port
// forwarder (kubectl's) to a node that echoes, over plain SPDY and over
// SPDY tunnelled in WebSocket; the baseline is the same exchange with a
// loopback TCP echo server, measured in the same run. Reported: MB/s and
// the time per exchange as a ratio to the baseline.
func BenchmarkPortForwardSPDY(b *testing.B) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	roundTrip := func(b *testing.B, addr string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Minute))
		errc := make(chan error, 1)
		go func() {
			_, err := c.Write(payload)
			c.(*net.TCPConn).CloseWrite()
			errc <- err
		}()
		n, err := io.Copy(io.Discard, c)
		if err != nil || n < int64(len(payload)) {
			b.Fatalf("read %d: %v", n, err)
		}
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
	}
	measure := func(b *testing.B, addr string) time.Duration {
		roundTrip(b, addr) // warm
		t0 := time.Now()
		for range 5 {
			roundTrip(b, addr)
		}
		return time.Since(t0) / 5
	}
	// Baseline: a loopback echo server.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	base := measure(b, ln.Addr().String())

	e := newEnv(b, HandlerOptions{})
	e.s.RegisterNode("node-1", &pfNode{})
	ctx := context.Background()
	cs := e.client(b, "http")
	if _, err := cs.CoreV1().Pods("default").Create(ctx, httpPod("p"), metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	if err := cs.CoreV1().Pods("default").Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Target: corev1.ObjectReference{Name: "node-1"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	pfURL, _ := url.Parse(e.srv.URL + "/api/v1/namespaces/default/pods/p/portforward")
	cfg := &rest.Config{Host: e.srv.URL}
	for _, name := range []string{"plain", "tunnelled"} {
		b.Run(name, func(b *testing.B) {
			var d httpstream.Dialer
			if name == "plain" {
				rt, up, err := spdy.RoundTripperFor(cfg)
				if err != nil {
					b.Fatal(err)
				}
				d = spdy.NewDialer(up, &http.Client{Transport: rt}, "POST", pfURL)
			} else if d, err = portforward.NewSPDYOverWebsocketDialer(pfURL, cfg); err != nil {
				b.Fatal(err)
			}
			stop, ready := make(chan struct{}), make(chan struct{})
			fw, err := portforward.NewOnAddresses(d, []string{"127.0.0.1"}, []string{"0:8080"}, stop, ready, io.Discard, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			go fw.ForwardPorts()
			defer close(stop)
			<-ready
			ports, _ := fw.GetPorts()
			addr := fmt.Sprintf("127.0.0.1:%d", ports[0].Local)
			roundTrip(b, addr)
			b.SetBytes(int64(2 * len(payload)))
			b.ResetTimer()
			t0 := time.Now()
			for i := 0; i < b.N; i++ {
				roundTrip(b, addr)
			}
			per := time.Since(t0) / time.Duration(b.N)
			b.ReportMetric(float64(per)/float64(base), "x-loopback-tcp")
		})
	}
}
