package wasmpod

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/pods"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
)

// BenchmarkMetricsScrape (issue 16): the cost of one scrape of a node
// agent's /metrics with n idle pods (the C probe waiting for TERM; n is
// $WASMPOD_SCRAPE_PODS, default 1000), against the same agent's
// /stats/summary for the same pods in the same run (the baseline: what
// metrics-server and `kubectl top` read), and /metrics/resource (the
// kubelet's resource metrics, built from the summary), and the control
// plane's /metrics. Each is served in process (the handler's own cost, no
// network); ns/op and allocs/op are per scrape, bytes the size of the
// answer; x-summary is the scrape's time over the time of a
// /stats/summary scrape alternated with it in the same loop (off the
// timer and the allocation count; about 1 for stats-summary itself).
//
//	go test -run '^$' -bench MetricsScrape -benchtime 20x -timeout 30m .
func BenchmarkMetricsScrape(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("WASMPOD_SCRAPE_PODS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	dir := b.TempDir()
	wasmPath := filepath.Join(dir, "cprobe.wasm")
	if err := os.WriteFile(wasmPath, enginetest.CProbe(b), 0o644); err != nil {
		b.Fatal(err)
	}
	mask := 30
	for pods.PodAddresses(mask, 32) < n {
		mask--
	}
	c, err := New(ctx, Config{CacheDir: testwasm.CacheDir(), MaxPods: n, NodeCIDRMaskSize: mask,
		NodeCapacity: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Gi")},
		EvictionHard: map[string]string{"nodefs.available": "1Mi"}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	cs := c.Client()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				if _, err := cs.CoreV1().Pods("default").Create(ctx, densityPod(fmt.Sprintf("idle-%d", i), wasmPath), metav1.CreateOptions{}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(20 * time.Minute)
	for {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		running := 0
		for _, p := range l.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		if running == n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d pods Running after 20 minutes", running, n)
		}
		time.Sleep(time.Second)
	}
	agent := c.agents[0]
	node := func(path string) func() int {
		return func() int {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			rec := httptest.NewRecorder()
			agent.ServeNodeProxy(rec, req, path)
			if rec.Code != http.StatusOK {
				b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
			}
			return rec.Body.Len()
		}
	}
	plane := func() int {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		rec := httptest.NewRecorder()
		c.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
		}
		io.Discard.Write(rec.Body.Bytes())
		return rec.Body.Len()
	}
	summary := node("/stats/summary")
	for _, s := range []struct {
		name string
		f    func() int
	}{
		{"stats-summary", summary},
		{"node-metrics", node("/metrics")},
		{"node-metrics-resource", node("/metrics/resource")},
		{"plane-metrics", plane},
	} {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			size := 0
			var own, base time.Duration
			for range b.N {
				t0 := time.Now()
				size = s.f()
				own += time.Since(t0)
				// The baseline, alternated with the scrape, off the
				// timer and the allocation count.
				b.StopTimer()
				t1 := time.Now()
				summary()
				base += time.Since(t1)
				b.StartTimer()
			}
			b.ReportMetric(float64(size), "bytes")
			b.ReportMetric(float64(n), "pods")
			b.ReportMetric(float64(own)/float64(base), "x-summary")
		})
	}
}
