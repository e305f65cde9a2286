package apiserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"

	"github.com/wasmpod/wasmpod/internal/openapipb"
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

// BenchmarkOpenAPIV2Protobuf: encoding the served /openapi/v2 document in
// protobuf (the first protobuf GET's work) with internal/openapipb against
// what the server did before, gnostic's ParseDocument and proto.Marshal,
// alternated in one run. Reports each one's ns, allocations and bytes
// allocated per encoding and the ratios new/old.
func BenchmarkOpenAPIV2Protobuf(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := New(ctx, memory.New(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	j := s.openAPI().v2.getJSON()
	if j.err != nil {
		b.Fatal(j.err)
	}
	measure := func(f func() ([]byte, error)) (time.Duration, uint64, uint64) {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		start := time.Now()
		if _, err := f(); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		runtime.ReadMemStats(&m1)
		return d, m1.Mallocs - m0.Mallocs, m1.TotalAlloc - m0.TotalAlloc
	}
	old := func() ([]byte, error) {
		doc, err := openapi_v2.ParseDocument(j.b)
		if err != nil {
			return nil, err
		}
		return proto.Marshal(doc)
	}
	ours := func() ([]byte, error) { return openapipb.V2(j.b) }
	var tOld, tNew time.Duration
	var aOld, aNew, bOld, bNew uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, a, by := measure(old)
		tOld, aOld, bOld = tOld+d, aOld+a, bOld+by
		d, a, by = measure(ours)
		tNew, aNew, bNew = tNew+d, aNew+a, bNew+by
	}
	n := float64(b.N)
	b.ReportMetric(float64(tOld.Nanoseconds())/n, "gnostic-ns/op")
	b.ReportMetric(float64(tNew.Nanoseconds())/n, "openapipb-ns/op")
	b.ReportMetric(float64(aOld)/n, "gnostic-allocs/op")
	b.ReportMetric(float64(aNew)/n, "openapipb-allocs/op")
	b.ReportMetric(float64(bOld)/n, "gnostic-B/op")
	b.ReportMetric(float64(bNew)/n, "openapipb-B/op")
	b.ReportMetric(float64(tNew)/float64(tOld), "new/old-time")
	b.ReportMetric(float64(aNew)/float64(aOld), "new/old-allocs")
	b.ReportMetric(float64(bNew)/float64(bOld), "new/old-bytes")
}
