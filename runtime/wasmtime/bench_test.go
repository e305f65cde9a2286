//go:build wasmtime && cgo

package wasmtime_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	wz "github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
	"github.com/wasmpod/wasmpod/runtime/wasmtime"
)

// rawWazero runs a module with wazero and wazero's own WASI.
type rawWazero struct {
	rt  wz.Runtime
	mod wz.CompiledModule
}

func newRawWazero(b *testing.B, wasm []byte) *rawWazero {
	ctx := context.Background()
	rt := wz.NewRuntimeWithConfig(ctx, wz.NewRuntimeConfigCompiler())
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	mod, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		b.Fatal(err)
	}
	return &rawWazero{rt: rt, mod: mod}
}

func (r *rawWazero) run(b *testing.B) {
	ctx := context.Background()
	var out bytes.Buffer
	m, err := r.rt.InstantiateModule(ctx, r.mod, wz.NewModuleConfig().WithName("").WithArgs("hello", "a").WithStdout(&out))
	if err != nil {
		b.Fatal(err)
	}
	_ = m.Close(ctx)
}

func helloWasm(b *testing.B) []byte {
	return testwasm.Build(b, filepath.Join(testwasm.RepoRoot(b), "wasm-examples", "hello"))
}

// BenchmarkStartCached: a container start of a cached module on the
// wasmtime engine (Compile answers from its cache; Start with stdout, a
// mount and the pod's settings; wait for the exit) against raw wasmtime-go
// instantiating and running the same module with wasmtime's own WASI, in
// the same run. ratio is engine/raw (target ≤ 1.5).
func BenchmarkStartCached(b *testing.B) {
	wasm := helloWasm(b)
	eng, err := wasmtime.New(context.Background(), wasmtime.Config{CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close(context.Background())
	digest := enginetest.Digest(wasm)
	if _, err := eng.Compile(context.Background(), digest, wasm); err != nil {
		b.Fatal(err)
	}
	raw := enginetest.NewRawWasmtime(b, wasm, []string{"hello", "a"}, nil)
	dir := b.TempDir()
	var engT, rawT time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		mod, err := eng.Compile(context.Background(), digest, wasm)
		if err != nil {
			b.Fatal(err)
		}
		var out bytes.Buffer
		inst, err := eng.Start(context.Background(), mod, runtime.ContainerConfig{Name: "bench/hello", Args: []string{"hello", "a"},
			Env: []string{"POD_NAME=bench"}, Stdout: &out, Mounts: []runtime.Mount{{HostPath: dir, GuestPath: "/data"}},
			MemoryLimitBytes: 64 << 20})
		if err != nil {
			b.Fatal(err)
		}
		<-inst.Done()
		if st := inst.Status(); st.ExitCode != 0 {
			b.Fatalf("status %+v", st)
		}
		t1 := time.Now()
		raw.Run(b)
		engT += t1.Sub(t0)
		rawT += time.Since(t1)
	}
	b.ReportMetric(float64(engT.Microseconds())/float64(b.N), "engine-µs/start")
	b.ReportMetric(float64(rawT.Microseconds())/float64(b.N), "raw-µs/start")
	b.ReportMetric(float64(engT)/float64(rawT), "ratio")
}

// BenchmarkShortTaskRawWasmtimeVsWazero: the rate of short tasks (the tiny
// Go module wasm-examples/hello, instantiated and run to its exit, each
// runtime with its own WASI) of raw wasmtime-go and raw wazero, in the
// same run; ratio is wasmtime's rate over wazero's.
func BenchmarkShortTaskRawWasmtimeVsWazero(b *testing.B) {
	wasm := helloWasm(b)
	rwt := enginetest.NewRawWasmtime(b, wasm, []string{"hello", "a"}, nil)
	rwz := newRawWazero(b, wasm)
	defer rwz.rt.Close(context.Background())
	var wtT, wzT time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		rwt.Run(b)
		t1 := time.Now()
		rwz.run(b)
		wtT += t1.Sub(t0)
		wzT += time.Since(t1)
	}
	b.ReportMetric(float64(b.N)/wtT.Seconds(), "wasmtime-tasks/s")
	b.ReportMetric(float64(b.N)/wzT.Seconds(), "wazero-tasks/s")
	b.ReportMetric(float64(wzT)/float64(wtT), "ratio")
}
