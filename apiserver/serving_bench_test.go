package apiserver

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/store/memory"
)

// BenchmarkServingNewConnection: one request per new TCP connection (the
// case the unauthenticated-connection tracking touches most: every
// connection enters and leaves the list) through NewHTTPServer on a
// LimitUnauthenticated listener, against a bare http.Server on a bare
// listener, in the same run. Reports ns/req of each and the ratio.
func BenchmarkServingNewConnection(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := New(ctx, memory.New(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	h := s.Handler(HandlerOptions{Token: testToken})
	serve := func(bounded bool) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: h}
		var ll net.Listener = l
		if bounded {
			srv, ll = NewHTTPServer(h, ServingOptions{}), LimitUnauthenticated(l, 0)
		}
		go srv.Serve(ll)
		b.Cleanup(func() { srv.Close() })
		return "http://" + l.Addr().String() + "/api/v1/namespaces"
	}
	run := func(url string, n int) time.Duration {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		start := time.Now()
		for i := 0; i < n; i++ {
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Authorization", "Bearer "+testToken)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
		return time.Since(start)
	}
	bare, bounded := serve(false), serve(true)
	run(bare, 50)
	run(bounded, 50)
	b.ResetTimer()
	var tBare, tBounded time.Duration
	// Interleave so that both see the same machine load.
	for done := 0; done < b.N; {
		n := min(100, b.N-done)
		tBare += run(bare, n)
		tBounded += run(bounded, n)
		done += n
	}
	b.ReportMetric(float64(tBare.Nanoseconds())/float64(b.N), "bare-ns/req")
	b.ReportMetric(float64(tBounded.Nanoseconds())/float64(b.N), "bounded-ns/req")
	b.ReportMetric(float64(tBounded)/float64(tBare), "bounded/bare")
}
