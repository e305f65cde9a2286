package apiserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/store/memory"
)

// BenchmarkOpenAPIV3: GET /openapi/v3/api/v1 from a server that has it
// cached against the first GET of a fresh server (which builds the
// document from the definitions and the resource table), interleaved in
// the same run. Reports ns/GET of each and the ratio first/cached.
func BenchmarkOpenAPIV3(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	get := func(h http.Handler) {
		w := &discardResponse{h: http.Header{}}
		h.ServeHTTP(w, httptest.NewRequest("GET", "/openapi/v3/api/v1", nil))
		if w.code != 200 || w.n < 100000 {
			b.Fatalf("status %d, %d bytes", w.code, w.n)
		}
	}
	newHandler := func() http.Handler {
		s, err := New(ctx, memory.New(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		return s.Handler(HandlerOptions{})
	}
	warm := newHandler()
	get(warm)
	b.ResetTimer()
	var tFirst, tCached time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		h := newHandler()
		b.StartTimer()
		start := time.Now()
		get(h)
		tFirst += time.Since(start)
		start = time.Now()
		get(warm)
		tCached += time.Since(start)
	}
	b.ReportMetric(float64(tFirst.Nanoseconds())/float64(b.N), "first-ns/get")
	b.ReportMetric(float64(tCached.Nanoseconds())/float64(b.N), "cached-ns/get")
	b.ReportMetric(float64(tFirst)/float64(tCached), "first/cached")
}

// discardResponse is a ResponseWriter that counts the body and drops it.
type discardResponse struct {
	h    http.Header
	code int
	n    int
}

func (d *discardResponse) Header() http.Header { return d.h }
func (d *discardResponse) WriteHeader(code int) {
	if d.code == 0 {
		d.code = code
	}
}
func (d *discardResponse) Write(p []byte) (int, error) {
	d.WriteHeader(200)
	d.n += len(p)
	return len(p), nil
}
