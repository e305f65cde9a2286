package apiserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wasmpod/wasmpod/internal/metrics"
)

// BenchmarkRequestMetrics: the cost of counting requests (metrics.go's
// wrapper: a RequestInfo, a counter and a histogram) on the cheapest
// request there is, a GET of one pod served in process without the
// network, against the same handler without Metrics in the same run.
//
//	go test -run '^$' -bench RequestMetrics -benchtime 20000x ./apiserver/
func BenchmarkRequestMetrics(b *testing.B) {
	m, err := NewMetrics(metrics.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	e := newEnv(b, HandlerOptions{})
	r, _ := e.s.Resource("", "pods")
	if _, err := e.s.Create(context.Background(), r, "default", httpPod("p")); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		h    http.Handler
	}{
		{"without", e.s.Handler(HandlerOptions{})},
		{"with-metrics", e.s.Handler(HandlerOptions{Metrics: m})},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				rec := httptest.NewRecorder()
				c.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/namespaces/default/pods/p", nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("GET pod: %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
