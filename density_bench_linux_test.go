package wasmpod

// BenchmarkDensity (issue 14): many idle pods of the C guest (the WASI
// issue's clang-built probe, waiting for TERM on stdin) on one node whose
// pod capacity (MaxPods) and pod range (NodeCIDRMaskSize) are raised to
// hold them, each figure against a baseline measured in the same run:
//
//   - rss-per-pod-KiB: the process's RSS growth per pod once all are
//     Running; guest-mem-KiB the guest's linear memory (read from the same
//     module idling on raw wazero); host-beyond-guest-KiB their difference
//     (target ≤ 200 KiB); raw-rss-per-instance-KiB and x-raw-rss the same
//     growth per idle instance on raw wazero and the ratio to it;
//     host-beyond-raw-KiB the difference. A guest's untouched linear
//     memory is not resident, so beyond-raw is the stricter figure.
//   - idle-cpu-%-of-core: the node's CPU with every pod idle (target < 5);
//     baseline-idle-cpu-%-of-core the same cluster before the pods.
//   - to-running-all-s: from the first create to the last pod Running;
//     single-start-ms one pod's create-to-Running on the same cluster;
//     x-serial-single the ratio of the first to N × the second.
//   - goroutines-per-pod, heap-per-pod-KiB: where the host memory goes;
//     host-fds-per-pod the process's open files per idle pod (the
//     process's RLIMIT_NOFILE bounds the pods of a node with it).
//
// The pod count is $WASMPOD_DENSITY_PODS (default 1000, a few minutes):
//
//	WASMPOD_DENSITY_PODS=10000 go test -run '^$' -bench Density -benchtime 1x -timeout 60m .

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/logs"
	"github.com/wasmpod/wasmpod/pods"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
)

// rssBytes is the process's resident memory, after handing freed heap
// back to the OS so that only live memory counts.
func rssBytes(tb testing.TB) float64 {
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseFloat(f[1], 64)
	return pages * float64(os.Getpagesize())
}

// openFDs is the process's open file descriptors, counted by what they
// are: the last element of the path with pod directories' names dropped
// ("termination/idle" for .../default_idle-1_<uid>/termination/idle).
func openFDs(tb testing.TB) (int, map[string]int) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Fatal(err)
	}
	kinds := map[string]int{}
	for _, e := range ents {
		t, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue
		}
		if i := strings.Index(t, "/pods/default_"); i >= 0 {
			rest := t[i+len("/pods/default_"):]
			if j := strings.IndexByte(rest, '/'); j >= 0 {
				t = "pod:" + rest[j:]
			} else {
				t = "pod:/"
			}
		} else if strings.Contains(t, ":[") {
			t = t[:strings.Index(t, ":[")]
		}
		kinds[t]++
	}
	return len(ents), kinds
}

func heapBytes() float64 {
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return float64(ms.HeapInuse)
}

// readyWriter closes ready at the guest's first write ("ready").
type readyWriter struct {
	once  sync.Once
	ready chan struct{}
}

func (w *readyWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.ready) })
	return len(p), nil
}

// rawIdleC runs n instances of the C probe's waitterm on raw wazero until
// each printed ready, and returns the guest's linear memory and the RSS
// growth per instance.
func rawIdleC(b *testing.B, ctx context.Context, wasm []byte, n int) (guestMem, rssPer float64) {
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(true))
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		b.Fatal(err)
	}
	rss0 := rssBytes(b)
	var wg sync.WaitGroup
	var stdins []*io.PipeWriter
	var mem uint64
	for range n {
		pr, pw := io.Pipe()
		stdins = append(stdins, pw)
		out := &readyWriter{ready: make(chan struct{})}
		cfg := wazero.NewModuleConfig().WithName("").WithArgs("probe", "waitterm").WithStdin(pr).WithStdout(out).
			WithStderr(io.Discard).WithSysWalltime().WithSysNanotime().WithStartFunctions()
		m, err := rt.InstantiateModule(ctx, cm, cfg)
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.ExportedFunction("_start").Call(ctx) // exits with status 0: an error wazero returns
			m.Close(ctx)
		}()
		<-out.ready
		mem += uint64(m.Memory().Size())
	}
	rss1 := rssBytes(b)
	for _, pw := range stdins {
		pw.Close()
	}
	wg.Wait()
	return float64(mem) / float64(n), (rss1 - rss0) / float64(n)
}

func densityPod(name, wasmPath string) *corev1.Pod {
	grace := int64(1)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "density"}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &grace,
			Containers:                    []corev1.Container{{Name: "idle", Image: wasmPath, Args: []string{"waitterm"}}},
		},
	}
}

func BenchmarkDensity(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("WASMPOD_DENSITY_PODS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	dir := b.TempDir()
	wasm := enginetest.CProbe(b)
	wasmPath := filepath.Join(dir, "cprobe.wasm")
	if err := os.WriteFile(wasmPath, wasm, 0o644); err != nil {
		b.Fatal(err)
	}
	guestMem, rawRSS := rawIdleC(b, ctx, wasm, min(n, 1000))

	// The smallest range of the default cluster CIDR that holds n pods.
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

	// Same-run baselines: one pod's start (the module compiled and cached
	// by the first), and the node idle without pods.
	const singles = 5
	var single time.Duration
	for i := range singles + 1 {
		name := fmt.Sprintf("single-%d", i)
		t0 := time.Now()
		if _, err := cs.CoreV1().Pods("default").Create(ctx, densityPod(name, wasmPath), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		if _, err := c.WaitPod(ctx, "default", name, PodRunning); err != nil {
			b.Fatal(err)
		}
		if i > 0 {
			single += time.Since(t0)
		}
		if err := cs.CoreV1().Pods("default").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			b.Fatal(err)
		}
		if _, err := c.WaitPod(ctx, "default", name, func(*corev1.Pod) bool { return false }); err == nil {
			b.Fatal("the single pod was not deleted")
		}
	}
	single /= singles
	time.Sleep(time.Second)
	idleBase := cpuPercent(b, 3*time.Second)
	rss0, heap0, g0 := rssBytes(b), heapBytes(), goruntime.NumGoroutine()
	fd0, _ := openFDs(b)

	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: "app=density"})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	profDir := os.Getenv("WASMPOD_DENSITY_PROFILE_DIR")
	if profDir != "" {
		f, err := os.Create(filepath.Join(profDir, "start.pprof"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
	}
	t0 := time.Now()
	var next atomic.Int64
	var cwg sync.WaitGroup
	errs := make(chan error, 1)
	for range 8 {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				if _, err := cs.CoreV1().Pods("default").Create(ctx, densityPod(fmt.Sprintf("idle-%d", i), wasmPath), metav1.CreateOptions{}); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		}()
	}
	running := map[string]bool{}
	timeout := time.After(time.Duration(n)*50*time.Millisecond + 2*time.Minute)
	for len(running) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				b.Fatal("the watch ended")
			}
			p, ok := ev.Object.(*corev1.Pod)
			if ok && ev.Type != watch.Deleted && p.Status.Phase == corev1.PodRunning {
				running[p.Name] = true
			}
			// Each pod holds host fds (its root directory; its log until
			// it has been idle for logs.IdleClose): stop at the first pod
			// the fd limit refuses rather than wait for the rest.
			for _, st := range p.Status.ContainerStatuses {
				if w := st.State.Waiting; ok && w != nil && (strings.Contains(w.Message, "too many open files") || strings.Contains(w.Message, "wasi: mfile") || strings.Contains(w.Message, "file descriptor budget")) {
					var lim syscall.Rlimit
					syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
					fds, _ := openFDs(b)
					b.Fatalf("out of host fds at %d of %d pods Running (%d open, RLIMIT_NOFILE %d, hard %d): lower $WASMPOD_DENSITY_PODS or raise the limit; pod %s: %s",
						len(running), n, fds, lim.Cur, lim.Max, p.Name, w.Message)
				}
			}
		case err := <-errs:
			b.Fatal(err)
		case <-timeout:
			b.Fatalf("%d of %d pods Running; not running:\n%s", len(running), n, firstLines(notRunningPods(ctx, c), 20))
		}
	}
	toAll := time.Since(t0)
	if profDir != "" {
		pprof.StopCPUProfile()
	}
	cwg.Wait()
	// Status writes and events settle, and the logs of the pods, idle
	// since they started, are closed (logs.IdleClose).
	time.Sleep(logs.IdleClose + 2*time.Second)
	rss1, heap1, g1 := rssBytes(b), heapBytes(), goruntime.NumGoroutine()
	fd1, fdKinds := openFDs(b)
	b.Logf("open fds after %d pods: %d (%d before); by kind: %v", n, fd1, fd0, fdKinds)

	// $WASMPOD_DENSITY_PROFILE_DIR gets the start's start.pprof,
	// heap.pprof, goroutines.txt and the idle window's cpu.pprof.
	if d := profDir; d != "" {
		for name, prof := range map[string]string{"heap.pprof": "heap", "goroutines.txt": "goroutine"} {
			f, err := os.Create(filepath.Join(d, name))
			if err != nil {
				b.Fatal(err)
			}
			pprof.Lookup(prof).WriteTo(f, map[string]int{"heap": 0, "goroutine": 1}[prof])
			f.Close()
		}
		f, err := os.Create(filepath.Join(d, "cpu.pprof"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	slice := max(5*time.Second/time.Duration(b.N), 500*time.Millisecond)
	var busy, wall time.Duration
	b.ResetTimer()
	for range b.N {
		before, t := processCPU(b), time.Now()
		time.Sleep(slice)
		busy += processCPU(b) - before
		wall += time.Since(t)
	}
	b.StopTimer()
	perPod := (rss1 - rss0) / float64(n)
	b.ReportMetric(float64(n), "pods")
	b.ReportMetric(perPod/1024, "rss-per-pod-KiB")
	b.ReportMetric(guestMem/1024, "guest-mem-KiB")
	b.ReportMetric((perPod-guestMem)/1024, "host-beyond-guest-KiB")
	b.ReportMetric(rawRSS/1024, "raw-rss-per-instance-KiB")
	b.ReportMetric(perPod/rawRSS, "x-raw-rss")
	b.ReportMetric((perPod-rawRSS)/1024, "host-beyond-raw-KiB")
	b.ReportMetric((heap1-heap0)/float64(n)/1024, "heap-per-pod-KiB")
	b.ReportMetric(float64(g1-g0)/float64(n), "goroutines-per-pod")
	b.ReportMetric(float64(fd1-fd0)/float64(n), "host-fds-per-pod")
	b.ReportMetric(float64(busy)/float64(wall)*100, "idle-cpu-%-of-core")
	b.ReportMetric(idleBase, "baseline-idle-cpu-%-of-core")
	b.ReportMetric(toAll.Seconds(), "to-running-all-s")
	b.ReportMetric(float64(single.Milliseconds()), "single-start-ms")
	b.ReportMetric(float64(toAll)/(float64(n)*float64(single)), "x-serial-single")
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
