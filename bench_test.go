package wasmpod

// Benchmarks of pod start against raw wazero, measured in the same run.
//
//	go test -run '^$' -bench . -benchtime 20x .
//
// BenchmarkPodStart reports ns/op to Succeeded, to-running-ns, the raw
// baseline (raw-ns) and x-raw, the ratio of pod start to raw
// instantiate-and-run. BenchmarkColdStart does the same for a module that
// no cache holds yet, against a raw compile plus run.

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

	"github.com/wasmpod/wasmpod/internal/testwasm"
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

// rawRun instantiates and runs the hello module directly on wazero, with
// the same RuntimeConfig and WASI setup a container gets.
type rawRunner struct {
	rt  wazero.Runtime
	mod wazero.CompiledModule
}

func newRawRunner(tb testing.TB, ctx context.Context, wasm []byte, cache wazero.CompilationCache) *rawRunner {
	rcfg := wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(true)
	if cache != nil {
		rcfg = rcfg.WithCompilationCache(cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rcfg)
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

func BenchmarkRawInstantiate(b *testing.B) {
	ctx := context.Background()
	wasm, err := os.ReadFile(helloWasm(b, b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	r := newRawRunner(b, ctx, wasm, nil)
	defer r.rt.Close(ctx)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.run(b, ctx)
	}
}

func BenchmarkPodStart(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	wasmPath := helloWasm(b, dir)
	wasm, _ := os.ReadFile(wasmPath)

	// Baseline, same run: raw instantiate-and-run of the same module.
	raw := newRawRunner(b, ctx, wasm, nil)
	const rawRuns = 20
	raw.run(b, ctx) // warm
	t0 := time.Now()
	for i := 0; i < rawRuns; i++ {
		raw.run(b, ctx)
	}
	rawNs := float64(time.Since(t0).Nanoseconds()) / rawRuns
	raw.rt.Close(ctx)

	running := make(chan string, 16)
	c, err := New(ctx, Config{CacheDir: filepath.Join(dir, "cache"), OnStatus: func(p *corev1.Pod) {
		if p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodSucceeded {
			select {
			case running <- p.Name:
			default:
			}
		}
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	// Warm the caches: the module is compiled once, as for a cached image.
	warm := helloPod(b, wasmPath, "warm")
	if err := c.Apply(ctx, warm); err != nil {
		b.Fatal(err)
	}
	if p, err := c.Wait(ctx, "default", "warm"); err != nil || p.Status.Phase != corev1.PodSucceeded {
		b.Fatalf("warm-up pod: %v %v", err, p.Status.Phase)
	}
	pods := make([]*corev1.Pod, b.N)
	for i := range pods {
		pods[i] = helloPod(b, wasmPath, fmt.Sprintf("hello-%d", i))
	}
	var toRunning time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for len(running) > 0 {
			<-running
		}
		start := time.Now()
		if err := c.Apply(ctx, pods[i]); err != nil {
			b.Fatal(err)
		}
		for name := range running {
			if name == pods[i].Name {
				break
			}
		}
		toRunning += time.Since(start)
		p, err := c.Wait(ctx, "default", pods[i].Name)
		if err != nil || p.Status.Phase != corev1.PodSucceeded {
			b.Fatalf("pod %s: %v %s", pods[i].Name, err, p.Status.Phase)
		}
	}
	b.StopTimer()
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(float64(toRunning.Nanoseconds())/float64(b.N), "to-running-ns")
	b.ReportMetric(rawNs, "raw-ns")
	b.ReportMetric(perOp/rawNs, "x-raw")
}

// BenchmarkColdStart: a module no cache holds, through a fresh Cluster,
// against a raw wazero compile plus run of the same module.
func BenchmarkColdStart(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	wasmPath := helloWasm(b, dir)
	wasm, _ := os.ReadFile(wasmPath)

	var rawTotal, podTotal time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		raw := newRawRunner(b, ctx, wasm, nil)
		raw.run(b, ctx)
		rawTotal += time.Since(t0)
		raw.rt.Close(ctx)

		t1 := time.Now()
		c, err := New(ctx, Config{CacheDir: filepath.Join(dir, fmt.Sprintf("cold-%d", i))})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Apply(ctx, helloPod(b, wasmPath, "cold")); err != nil {
			b.Fatal(err)
		}
		if p, err := c.Wait(ctx, "default", "cold"); err != nil || p.Status.Phase != corev1.PodSucceeded {
			b.Fatalf("cold pod: %v", err)
		}
		podTotal += time.Since(t1)
		c.Close()
	}
	b.ReportMetric(float64(rawTotal.Nanoseconds())/float64(b.N), "raw-compile-run-ns")
	b.ReportMetric(float64(podTotal.Nanoseconds())/float64(b.N), "pod-ns")
	b.ReportMetric(float64(podTotal)/float64(rawTotal), "x-raw")
}
