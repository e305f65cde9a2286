//go:build unix

package wasmpod

// BenchmarkShortTask (issue 14): short-task throughput end to end. N pods
// (200 unless $WASMPOD_SHORTTASK_PODS says otherwise) of the tiny Go module
// wasm-examples/hello, restartPolicy Never, created one after another
// through the API by client-go (the in-process clientset of Cluster.Client,
// as a user's program would), on one node; the time runs from the first
// create until the watch has seen every pod Succeeded. Each round
// alternates with the baseline, in the same process:
//
//   - pods/s: completed pods per second through the API;
//   - raw-tasks/s: the same module instantiated and run N times directly on
//     the raw engine, one after another (the yardstick);
//   - x-raw: pods/s ÷ raw-tasks/s (target ≥ 0.9);
//   - raw-par-tasks/s, x-raw-par: the raw engine with one runner per core
//     (the pods use every core, so this is the stricter yardstick);
//   - pod-/raw-cpu-ms/task: the process's CPU time per task;
//   - writes/pod: store writes (the revision's growth, Events included)
//     from the first create until the last Event of the round, per pod;
//   - requests/pod: API requests (apiserver_request_total, the
//     benchmark's own included), logged by verb, resource and code.
//
// BenchmarkShortTaskWasmtime (shorttask_wasmtime_bench_test.go, -tags
// wasmtime with CGO_ENABLED=1) is the same on the wasmtime engine against
// raw wasmtime-go (target ≥ 1,400 pods/s).
//
//	go test -run '^$' -bench 'BenchmarkShortTask$' -benchtime 3x .
//	CGO_ENABLED=1 go test -tags wasmtime -run '^$' -bench 'BenchmarkShortTaskWasmtime$' -benchtime 3x .

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	wruntime "github.com/wasmpod/wasmpod/runtime"
)

// shortTaskPods is the number of pods of one round.
func shortTaskPods() int {
	if v, err := strconv.Atoi(os.Getenv("WASMPOD_SHORTTASK_PODS")); err == nil && v > 0 {
		return v
	}
	return 200
}

func BenchmarkShortTask(b *testing.B) {
	ctx := context.Background()
	benchShortTasks(b, nil, func(wasm []byte) func() {
		r := newRawRunner(b, ctx, wasm)
		b.Cleanup(func() { r.rt.Close(ctx) })
		return func() { r.run(b, ctx) }
	})
}

// benchShortTasks runs the benchmark with engine as the cluster's engine
// (nil: the default, wazero) against raw, which prepares the raw engine
// for the module and returns one instantiate-and-run (safe for concurrent
// use).
func benchShortTasks(b *testing.B, engine wruntime.Engine, raw func(wasm []byte) func()) {
	n := shortTaskPods()
	ctx := context.Background()
	dir := b.TempDir()
	wasm := testwasm.Build(b, filepath.Join(testwasm.RepoRoot(b), "wasm-examples", "hello"))
	store := images.NewMemoryStore()
	digest, _, err := store.Put(ctx, "", bytes.NewReader(wasm))
	if err != nil {
		b.Fatal(err)
	}
	if err := store.Tag("hello", "v1", digest); err != nil {
		b.Fatal(err)
	}
	c, err := New(ctx, Config{CacheDir: filepath.Join(dir, "cache"), Modules: store, Engine: engine,
		NodeCapacity: corev1.ResourceList{corev1.ResourcePods: *resource.NewQuantity(int64(n+10), resource.DecimalSI)}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	cs := c.Client()
	pod := func(name, round string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"round": round}},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "hello", Image: "wasmpod.local/hello:v1", Args: []string{"a"}}}}}
	}

	// revision is the store's revision (a list's resourceVersion): every
	// write of any kind, Events included, adds one.
	revision := func() int64 {
		l, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{Limit: 1})
		if err != nil {
			b.Fatal(err)
		}
		rv, err := strconv.ParseInt(l.ResourceVersion, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		return rv
	}
	var writes int64

	// through runs n pods through the API and returns the time from the
	// first create until all of them succeeded.
	through := func(round string, n int) time.Duration {
		sel := "round=" + round
		w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			b.Fatal(err)
		}
		defer w.Stop()
		done := make(chan struct{})
		var failed string
		go func() {
			defer close(done)
			seen := map[string]bool{}
			for ev := range w.ResultChan() {
				p, ok := ev.Object.(*corev1.Pod)
				if !ok || ev.Type == watch.Deleted || seen[p.Name] {
					continue
				}
				switch p.Status.Phase {
				case corev1.PodSucceeded:
					seen[p.Name] = true
					if len(seen) == n {
						return
					}
				case corev1.PodFailed:
					failed = fmt.Sprintf("pod %s failed: %s %s", p.Name, p.Status.Reason, p.Status.Message)
					return
				}
			}
			failed = fmt.Sprintf("watch closed at %d succeeded", len(seen))
		}()
		rv0 := revision()
		t0 := time.Now()
		for i := range n {
			if _, err := cs.CoreV1().Pods("default").Create(ctx, pod(fmt.Sprintf("st-%s-%d", round, i), round), metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-done:
		case <-time.After(10 * time.Minute):
			b.Fatalf("round %s: not all %d pods succeeded after 10 minutes", round, n)
		}
		d := time.Since(t0)
		if failed != "" {
			b.Fatal(failed)
		}
		time.Sleep(200 * time.Millisecond) // the last Events are written
		writes += revision() - rv0
		if err := cs.CoreV1().Pods("default").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: sel}); err != nil {
			b.Fatal(err)
		}
		for { // gone before the next round
			l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: sel})
			if err != nil {
				b.Fatal(err)
			}
			if len(l.Items) == 0 {
				return d
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	run := raw(wasm)
	// rawN runs the module n times on workers goroutines.
	rawN := func(n, workers int) time.Duration {
		t0 := time.Now()
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += workers {
					run()
				}
			}()
		}
		wg.Wait()
		return time.Since(t0)
	}

	rawN(10, 1)
	through("warm", 10) // the module compiled, the node's caches filled
	writes = 0
	cores := goruntime.GOMAXPROCS(0)
	var tPods, tRaw, tPar, cpuPods, cpuRaw time.Duration
	req0 := apiRequests(b, c)
	b.ResetTimer()
	for i := range b.N {
		c0 := processCPU(b)
		tRaw += rawN(n, 1)
		c1 := processCPU(b)
		tPar += rawN(n, cores)
		c2 := processCPU(b)
		tPods += through(strconv.Itoa(i), n)
		cpuRaw, cpuPods = cpuRaw+c1-c0, cpuPods+processCPU(b)-c2
	}
	b.StopTimer()
	tasks := float64(n * b.N)
	req1, total := apiRequests(b, c), 0.0
	for k, v := range req1 {
		if d := v - req0[k]; d > 0 {
			total += d
			b.Logf("%-40s %6.2f/pod", k, d/tasks)
		}
	}
	podRate, rawRate, parRate := tasks/tPods.Seconds(), tasks/tRaw.Seconds(), tasks/tPar.Seconds()
	b.ReportMetric(float64(n), "pods")
	b.ReportMetric(podRate, "pods/s")
	b.ReportMetric(rawRate, "raw-tasks/s")
	b.ReportMetric(podRate/rawRate, "x-raw")
	b.ReportMetric(parRate, "raw-par-tasks/s")
	b.ReportMetric(podRate/parRate, "x-raw-par")
	b.ReportMetric(float64(writes)/tasks, "writes/pod")
	b.ReportMetric(total/tasks, "requests/pod")
	b.ReportMetric(float64(cpuPods.Microseconds())/1000/tasks, "pod-cpu-ms/task")
	b.ReportMetric(float64(cpuRaw.Microseconds())/1000/tasks, "raw-cpu-ms/task")
}

// apiRequests is the API server's request count by verb and resource
// (apiserver_request_total), watches included, the benchmark's own
// requests too (creates, the lists between rounds).
func apiRequests(b *testing.B, c *Cluster) map[string]float64 {
	mfs, err := c.MetricsRegistry().Gather()
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "apiserver_request_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			out[l["verb"]+" "+l["resource"]+"/"+l["subresource"]+" "+l["code"]] += m.GetCounter().GetValue()
		}
	}
	return out
}
