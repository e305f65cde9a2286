package wasmpod

// Benchmarks of pod start, each against a baseline measured in the same run.
//
//	go test -run '^$' -bench . -benchtime 20x .
//
//   - BenchmarkRawInstantiate: the hello module instantiated and run
//     directly on wazero (the floor).
//   - BenchmarkPodStart: a pod worker (the node agent's, no control plane)
//     running the cached hello module, from submission to Running
//     (to-running-ns) and to Succeeded (ns/op); x-raw is the ratio to the
//     raw instantiate-and-run.
//   - BenchmarkPodStartThroughControlPlane: the same pod created through the
//     API server, scheduled, run by a node agent, observed by a watch;
//     x-direct is the ratio to BenchmarkPodStart's work in the same run.
//   - BenchmarkColdStart: a module no cache holds, against a raw wazero
//     compile plus run.
//
// The raw baseline is wazero configured as a sandbox must be, i.e. able to
// stop a busy guest: with its own mechanism, WithCloseOnContextDone, and
// wazero's default single compilation worker. The engine uses
// runtime/interrupt instead (cheaper at run time; it adds the rewrite to a
// cold compile) and compiles on every core.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/internal/nodeutil"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/pods"
	wruntime "github.com/wasmpod/wasmpod/runtime"
	wzengine "github.com/wasmpod/wasmpod/runtime/wazero"
)

// helloWasm writes the hello example's module to dir and returns its path.
func helloWasm(tb testing.TB, dir string) string {
	wasm := testwasm.Build(tb, filepath.Join(testwasm.RepoRoot(tb), "wasm-examples", "hello"))
	p := filepath.Join(dir, "hello.wasm")
	if err := os.WriteFile(p, wasm, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

func helloPod(tb testing.TB, wasmPath, name string) *corev1.Pod {
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  restartPolicy: Never
  containers:
  - name: hello
    image: %s
    args: ["a", "b"]
    env:
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
`, name, wasmPath)
	ps, err := LoadBytes([]byte(manifest), "bench.yaml", filepath.Dir(wasmPath), LoadOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return ps[0]
}

// rawRunner instantiates and runs the hello module directly on wazero,
// killable with wazero's own WithCloseOnContextDone.
type rawRunner struct {
	rt  wazero.Runtime
	mod wazero.CompiledModule
}

func newRawRunner(tb testing.TB, ctx context.Context, wasm []byte) *rawRunner {
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(true))
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	mod, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		tb.Fatal(err)
	}
	return &rawRunner{rt: rt, mod: mod}
}

func (r *rawRunner) run(tb testing.TB, ctx context.Context) {
	var out bytes.Buffer
	cfg := wazero.NewModuleConfig().WithArgs("hello", "a", "b").WithEnv("POD_NAME", "raw").
		WithStdout(&out).WithStderr(io.Discard).WithSysWalltime().WithSysNanotime().WithSysNanosleep()
	m, err := r.rt.InstantiateModule(ctx, r.mod, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	m.Close(ctx)
	if !bytes.Contains(out.Bytes(), []byte("hello from raw")) {
		tb.Fatalf("raw run printed %q", out.String())
	}
}

// rawNs measures the mean raw instantiate-and-run over n runs.
func rawNs(tb testing.TB, ctx context.Context, wasm []byte, n int) float64 {
	raw := newRawRunner(tb, ctx, wasm)
	defer raw.rt.Close(ctx)
	raw.run(tb, ctx)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		raw.run(tb, ctx)
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

// reportStart stops the timer and reports the mean time to Running and the
// ratio of ns/op to a baseline (ns) measured in the same run.
func reportStart(b *testing.B, toRunning time.Duration, baseline string, baseNs float64) {
	b.StopTimer()
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(float64(toRunning.Nanoseconds())/float64(b.N), "to-running-ns")
	b.ReportMetric(baseNs, baseline+"-ns")
	b.ReportMetric(perOp/baseNs, "x-"+baseline)
}

func BenchmarkRawInstantiate(b *testing.B) {
	ctx := context.Background()
	wasm, err := os.ReadFile(helloWasm(b, b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	r := newRawRunner(b, ctx, wasm)
	defer r.rt.Close(ctx)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.run(b, ctx)
	}
}

// directStarter runs pods on a pod worker without a control plane.
type directStarter struct {
	cfg *pods.Config
	eng wruntime.Engine
}

func newDirectStarter(tb testing.TB, ctx context.Context, dir string) *directStarter {
	eng, err := wzengine.New(ctx, wzengine.Config{CacheDir: filepath.Join(dir, "compiled")})
	if err != nil {
		tb.Fatal(err)
	}
	return &directStarter{eng: eng, cfg: &pods.Config{
		Engine:   eng,
		Images:   nodeutil.NewMemoResolver(&images.Resolver{CacheDir: filepath.Join(dir, "images")}),
		RootDir:  filepath.Join(dir, "pods"),
		NodeName: "bench",
	}}
}

// start runs pod to Succeeded and returns the time to Running.
func (d *directStarter) start(tb testing.TB, ctx context.Context, pod *corev1.Pod) time.Duration {
	running := make(chan struct{})
	cfg := *d.cfg
	var once bool
	cfg.OnStatus = func(p *corev1.Pod) {
		if !once && p.Status.Phase != corev1.PodPending {
			once = true
			close(running)
		}
	}
	pod = pod.DeepCopy()
	pod.UID = types.UID(pod.Name)
	t0 := time.Now()
	w := pods.NewWorker(&cfg, pod)
	go w.Run(ctx)
	<-running
	toRunning := time.Since(t0)
	<-w.Done()
	if p := w.Pod(); p.Status.Phase != corev1.PodSucceeded {
		tb.Fatalf("pod %s: %s", p.Name, p.Status.Phase)
	}
	return toRunning
}

func BenchmarkPodStart(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	wasmPath := helloWasm(b, dir)
	wasm, _ := os.ReadFile(wasmPath)
	raw := rawNs(b, ctx, wasm, 20)

	d := newDirectStarter(b, ctx, dir)
	defer d.eng.Close(ctx)
	d.start(b, ctx, helloPod(b, wasmPath, "warm")) // compile once: the module is cached
	ps := make([]*corev1.Pod, b.N)
	for i := range ps {
		ps[i] = helloPod(b, wasmPath, fmt.Sprintf("hello-%d", i))
	}
	var toRunning time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		toRunning += d.start(b, ctx, ps[i])
	}
	reportStart(b, toRunning, "raw", raw)
}

func BenchmarkPodStartThroughControlPlane(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	wasmPath := helloWasm(b, dir)

	// Baseline, same run: the direct pod start.
	d := newDirectStarter(b, ctx, dir)
	d.start(b, ctx, helloPod(b, wasmPath, "warm"))
	const directRuns = 10
	t0 := time.Now()
	for i := 0; i < directRuns; i++ {
		d.start(b, ctx, helloPod(b, wasmPath, fmt.Sprintf("direct-%d", i)))
	}
	direct := float64(time.Since(t0).Nanoseconds()) / directRuns
	d.eng.Close(ctx)

	c, err := New(ctx, Config{CacheDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Apply(ctx, helloPod(b, wasmPath, "warm")); err != nil {
		b.Fatal(err)
	}
	if _, err := c.WaitPod(ctx, "default", "warm", PodTerminal); err != nil {
		b.Fatal(err)
	}
	w, err := c.Watch(ctx, "pods", "default", metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	ps := make([]*corev1.Pod, b.N)
	for i := range ps {
		ps[i] = helloPod(b, wasmPath, fmt.Sprintf("cp-%d", i))
	}
	var toRunning time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := c.Apply(ctx, ps[i]); err != nil {
			b.Fatal(err)
		}
		sawRunning := false
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || p.Name != ps[i].Name || ev.Type == watch.Deleted {
				continue
			}
			if !sawRunning && p.Status.Phase != corev1.PodPending {
				sawRunning = true
				toRunning += time.Since(start)
			}
			if PodTerminal(p) {
				if p.Status.Phase != corev1.PodSucceeded {
					b.Fatalf("pod %s %s", p.Name, p.Status.Phase)
				}
				break
			}
		}
	}
	reportStart(b, toRunning, "direct", direct)
}

// BenchmarkColdStart: a module no cache holds, through a fresh engine and
// pod worker, against a raw wazero compile plus run of the same module.
func BenchmarkColdStart(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	wasmPath := helloWasm(b, dir)
	wasm, _ := os.ReadFile(wasmPath)
	var rawTotal, podTotal time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		raw := newRawRunner(b, ctx, wasm)
		raw.run(b, ctx)
		rawTotal += time.Since(t0)
		raw.rt.Close(ctx)

		t1 := time.Now()
		d := newDirectStarter(b, ctx, filepath.Join(dir, fmt.Sprintf("cold-%d", i)))
		d.start(b, ctx, helloPod(b, wasmPath, "cold"))
		podTotal += time.Since(t1)
		d.eng.Close(ctx)
	}
	b.ReportMetric(float64(rawTotal.Nanoseconds())/float64(b.N), "raw-compile-run-ns")
	b.ReportMetric(float64(podTotal.Nanoseconds())/float64(b.N), "pod-ns")
	b.ReportMetric(float64(podTotal)/float64(rawTotal), "x-raw")
}
