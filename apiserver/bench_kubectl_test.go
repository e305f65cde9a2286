package apiserver

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/internal/testkubectl"
	"github.com/wasmpod/wasmpod/store/memory"
)

// benchKubectl runs the real kubectl (testkubectl) with its own kubeconfig
// and cache dir.
type benchKubectl struct {
	bin, kubeconfig, cache string
}

func newBenchKubectl(b *testing.B, url string) *benchKubectl {
	b.Helper()
	dir := b.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	cfg := "apiVersion: v1\nkind: Config\nclusters:\n- name: w\n  cluster:\n    server: " + url +
		"\ncontexts:\n- name: w\n  context:\n    cluster: w\n    user: me\n    namespace: default\ncurrent-context: w\nusers:\n- name: me\n  user: {}\n"
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	return &benchKubectl{bin: testkubectl.Path(b), kubeconfig: kc, cache: filepath.Join(dir, "cache")}
}

func (k *benchKubectl) run(b *testing.B, args ...string) string {
	b.Helper()
	c := exec.Command(k.bin, append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", k.cache}, args...)...)
	c.Env = append(os.Environ(), "HOME="+filepath.Dir(k.cache))
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		b.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// benchServer is a Server with n running pods behind a handler that
// counts requests and the time spent in the handler, and, when noTable is
// set, strips the Table media types from Accept (the server then answers
// a plain PodList, as a server without server-side printing would).
type benchServer struct {
	srv      *httptest.Server
	reqs     atomic.Int64
	handlerT atomic.Int64 // ns spent in the handler
	noTable  atomic.Bool
}

func newBenchServer(b *testing.B, n int, opts HandlerOptions) *benchServer {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	s, err := New(ctx, memory.New(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	pods := s.resources["/pods"]
	for i := 0; i < n; i++ {
		p := httpPod(fmt.Sprintf("pod-%04d", i))
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIPs: []corev1.PodIP{{IP: "10.0.0.1"}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "main", Ready: true, RestartCount: 2,
				State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(time.Now())}}}}}
		if _, err := s.Create(ctx, pods, "default", p); err != nil {
			b.Fatal(err)
		}
	}
	bs := &benchServer{}
	inner := s.Handler(opts)
	bs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bs.reqs.Add(1)
		if bs.noTable.Load() && strings.Contains(r.Header.Get("Accept"), "as=Table") {
			r.Header.Set("Accept", "application/json")
		}
		start := time.Now()
		inner.ServeHTTP(w, r)
		bs.handlerT.Add(int64(time.Since(start)))
	}))
	b.Cleanup(bs.srv.Close)
	return bs
}

// BenchmarkKubectlGetPods1000: the wall time of the real kubectl's
// `get pods` against 1,000 pods with the server's Table (what kubectl
// asks for), as a ratio to the same command against the same API when the
// server answers a plain JSON PodList instead (the Accept header's Table
// clauses stripped; kubectl then prints NAME and AGE itself). Discovery is
// cached (warm) in both. Also reports the server-side handler time of each
// and its ratio. Interleaved in one run.
func BenchmarkKubectlGetPods1000(b *testing.B) {
	bs := newBenchServer(b, 1000, HandlerOptions{})
	k := newBenchKubectl(b, bs.srv.URL)
	get := func(noTable bool) (wall, handler time.Duration) {
		bs.noTable.Store(noTable)
		h0 := bs.handlerT.Load()
		start := time.Now()
		out := k.run(b, "get", "pods")
		wall = time.Since(start)
		handler = time.Duration(bs.handlerT.Load() - h0)
		lines := strings.Count(out, "\n")
		header := out[:strings.IndexByte(out, '\n')]
		if lines != 1001 || (noTable != !strings.Contains(header, "READY")) {
			b.Fatalf("noTable=%v: %d lines, header %q", noTable, lines, header)
		}
		return wall, handler
	}
	get(false) // warm the discovery cache
	get(true)
	b.ResetTimer()
	var wTable, wJSON, hTable, hJSON time.Duration
	for i := 0; i < b.N; i++ {
		w, h := get(false)
		wTable, hTable = wTable+w, hTable+h
		w, h = get(true)
		wJSON, hJSON = wJSON+w, hJSON+h
	}
	n := float64(b.N)
	b.ReportMetric(float64(wTable.Nanoseconds())/n, "table-wall-ns/op")
	b.ReportMetric(float64(wJSON.Nanoseconds())/n, "json-wall-ns/op")
	b.ReportMetric(float64(wTable)/float64(wJSON), "wall-table/json")
	b.ReportMetric(float64(hTable.Nanoseconds())/n, "table-server-ns/op")
	b.ReportMetric(float64(hJSON.Nanoseconds())/n, "json-server-ns/op")
	b.ReportMetric(float64(hTable)/float64(hJSON), "server-table/json")
}

// BenchmarkKubectlColdRequests: the number of requests (and the wall time)
// of a cold `kubectl get pods` (empty cache dir) with aggregated discovery
// and with the unaggregated documents only, in the same run.
func BenchmarkKubectlColdRequests(b *testing.B) {
	agg := newBenchServer(b, 10, HandlerOptions{})
	legacy := newBenchServer(b, 10, HandlerOptions{noAggregatedDiscovery: true})
	cold := func(bs *benchServer) (int64, time.Duration) {
		k := newBenchKubectl(b, bs.srv.URL)
		r0 := bs.reqs.Load()
		start := time.Now()
		k.run(b, "get", "pods")
		return bs.reqs.Load() - r0, time.Since(start)
	}
	cold(agg)
	cold(legacy)
	b.ResetTimer()
	var nAgg, nLegacy int64
	var tAgg, tLegacy time.Duration
	for i := 0; i < b.N; i++ {
		n, t := cold(agg)
		nAgg, tAgg = nAgg+n, tAgg+t
		n, t = cold(legacy)
		nLegacy, tLegacy = nLegacy+n, tLegacy+t
	}
	n := float64(b.N)
	b.ReportMetric(float64(nAgg)/n, "aggregated-requests/op")
	b.ReportMetric(float64(nLegacy)/n, "unaggregated-requests/op")
	b.ReportMetric(float64(nAgg)/float64(nLegacy), "requests-aggregated/unaggregated")
	b.ReportMetric(float64(tAgg)/float64(tLegacy), "wall-aggregated/unaggregated")
}
