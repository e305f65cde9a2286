// Package enginecmp measures wazero's interpreter against its compiler on
// this machine: the throughput ratio the README gives for the platforms
// where wasmpod's engine falls back to the interpreter (wazero compiles
// only on amd64 and arm64).
//
//	go test -run '^$' -bench . -benchtime 5x ./hack/enginecmp/
package enginecmp

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// BenchmarkInterpreterVsCompiler runs the pi example (math/big, 1,000
// digits: a short CPU-bound guest) to completion on both wazero engines,
// alternately, compiled once each outside the timings. It reports each
// engine's runs/s and the interpreter's time as a multiple of the
// compiler's (x_slower).
func BenchmarkInterpreterVsCompiler(b *testing.B) {
	wasm := testwasm.Build(b, filepath.Join(testwasm.RepoRoot(b), "wasm-examples", "pi"))
	ctx := context.Background()
	type eng struct {
		rt  wazero.Runtime
		mod wazero.CompiledModule
		d   time.Duration
	}
	mk := func(cfg wazero.RuntimeConfig) *eng {
		rt := wazero.NewRuntimeWithConfig(ctx, cfg)
		b.Cleanup(func() { _ = rt.Close(ctx) })
		wasi_snapshot_preview1.MustInstantiate(ctx, rt)
		mod, err := rt.CompileModule(ctx, wasm)
		if err != nil {
			b.Fatal(err)
		}
		return &eng{rt: rt, mod: mod}
	}
	compiler := mk(wazero.NewRuntimeConfigCompiler())
	interp := mk(wazero.NewRuntimeConfigInterpreter())
	run := func(e *eng) {
		start := time.Now()
		cfg := wazero.NewModuleConfig().WithArgs("pi", "1000").WithStdout(io.Discard).WithName("")
		m, err := e.rt.InstantiateModule(ctx, e.mod, cfg)
		if err != nil {
			b.Fatal(err)
		}
		_ = m.Close(ctx)
		e.d += time.Since(start)
	}
	run(compiler) // warm both (first-run page faults, Go's lazy setup)
	run(interp)
	compiler.d, interp.d = 0, 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run(compiler)
		run(interp)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(n/compiler.d.Seconds(), "compiler_runs/s")
	b.ReportMetric(n/interp.d.Seconds(), "interpreter_runs/s")
	b.ReportMetric(interp.d.Seconds()/compiler.d.Seconds(), "x_slower")
}
