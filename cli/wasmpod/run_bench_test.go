package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// BenchmarkWarmRunHello: the README's `wasmpod run
// wasm-examples/hello/pod.yaml` as a user types it, with a warm cache (the
// image built and the module compiled by a first run), from process start
// to exit, against raw wazero running the same module in this process,
// measured in the same run:
//
//   - raw-ns, x-raw: a raw instantiate-and-run of the module compiled once
//     beforehand (the floor);
//   - raw-cached-ns: what any wazero program pays for a warm run, in this
//     (warm) process: a new runtime, the module compiled from wazero's file
//     cache (decoded, validated, machine code loaded), instantiated and run;
//   - raw-process-ns, x-raw-process: the same as a process of its own
//     (testdata/rawrun, a minimal wazero program, as `wazero run
//     -cachedir`), started as wasmpod is: the yardstick of the target;
//   - own-ms: wasmpod's own time, the run minus raw-process;
//   - exec-ms: starting the wasmpod process at all (`wasmpod version`: the
//     binary's load and package initialisation).
func BenchmarkWarmRunHello(b *testing.B) {
	ctx := context.Background()
	run := func() {
		cmd := exec.Command(binPath, "run", "--cache-dir", cacheDir, "wasm-examples/hello/pod.yaml")
		cmd.Dir = repoRoot
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "[hello/hello] hello from hello") {
			b.Fatalf("wasmpod run: %v\n%s", err, out)
		}
	}
	run() // warm: build the image, compile the module

	wasm := testwasm.Build(b, filepath.Join(repoRoot, "wasm-examples", "hello"))
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(true))
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	mod, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		b.Fatal(err)
	}
	raw := func() { runRawHello(b, ctx, rt, mod) }
	version := func() {
		if out, err := exec.Command(binPath, "version").CombinedOutput(); err != nil {
			b.Fatalf("wasmpod version: %v\n%s", err, out)
		}
	}

	wazeroCache := b.TempDir()
	rawCached := func() {
		cache, err := wazero.NewCompilationCacheWithDir(wazeroCache)
		if err != nil {
			b.Fatal(err)
		}
		defer cache.Close(ctx)
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(true).WithCompilationCache(cache))
		defer rt.Close(ctx)
		wasi_snapshot_preview1.MustInstantiate(ctx, rt)
		mod, err := rt.CompileModule(ctx, wasm)
		if err != nil {
			b.Fatal(err)
		}
		runRawHello(b, ctx, rt, mod)
	}
	rawCached() // fill wazero's file cache

	rawBin := filepath.Join(b.TempDir(), "rawrun")
	if out, err := exec.Command("go", "build", "-o", rawBin, "./testdata/rawrun/main.go").CombinedOutput(); err != nil {
		b.Fatalf("building rawrun: %v\n%s", err, out)
	}
	wasmPath := filepath.Join(b.TempDir(), "hello.wasm")
	if err := os.WriteFile(wasmPath, wasm, 0o644); err != nil {
		b.Fatal(err)
	}
	rawCacheDir := b.TempDir()
	rawProcess := func() {
		out, err := exec.Command(rawBin, rawCacheDir, wasmPath, "hello", "a", "b").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "hello from raw") {
			b.Fatalf("rawrun: %v\n%s", err, out)
		}
	}
	rawProcess() // fill its file cache

	var runT, rawT, rawCachedT, rawProcT, execT time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		run()
		runT += time.Since(t0)
		b.StopTimer()
		t1 := time.Now()
		raw()
		rawT += time.Since(t1)
		t3 := time.Now()
		rawCached()
		rawCachedT += time.Since(t3)
		t4 := time.Now()
		rawProcess()
		rawProcT += time.Since(t4)
		t2 := time.Now()
		version()
		execT += time.Since(t2)
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(float64(rawT.Nanoseconds())/n, "raw-ns")
	b.ReportMetric(float64(runT)/float64(rawT), "x-raw")
	b.ReportMetric(float64(rawCachedT.Nanoseconds())/n, "raw-cached-ns")
	b.ReportMetric(float64(rawProcT.Nanoseconds())/n, "raw-process-ns")
	b.ReportMetric(float64(runT)/float64(rawProcT), "x-raw-process")
	b.ReportMetric(float64((runT-rawProcT).Milliseconds())/n, "own-ms")
	b.ReportMetric(float64(execT.Milliseconds())/n, "exec-ms")
}

// runRawHello instantiates and runs the hello module on rt, as a pod would
// run it (args, env, stdout).
func runRawHello(b *testing.B, ctx context.Context, rt wazero.Runtime, mod wazero.CompiledModule) {
	var out bytes.Buffer
	cfg := wazero.NewModuleConfig().WithArgs("hello", "a", "b").WithEnv("POD_NAME", "raw").
		WithStdout(&out).WithStderr(io.Discard).WithSysWalltime().WithSysNanotime().WithSysNanosleep()
	m, err := rt.InstantiateModule(ctx, mod, cfg)
	if err != nil {
		b.Fatal(err)
	}
	m.Close(ctx)
	if !bytes.Contains(out.Bytes(), []byte("hello from raw")) {
		b.Fatalf("raw run printed %q", out.String())
	}
}
