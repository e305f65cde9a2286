package wazero

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
)

// BenchmarkStartHello measures the instantiate-and-run of a short task
// (wasm-examples/hello, a Go wasip1 module) through the Engine against raw
// wazero (its own WASI, Go-heap memory) in the same run: each round runs
// tasks instances on workers goroutines through the Engine with its memory
// pool, through the Engine without it (every instance's memory mapped and
// unmapped, as before the pool), and through raw wazero, interleaved so the
// machine's load hits all three alike.
//
//	go test -run '^$' -bench StartHello -benchtime 5x ./runtime/wazero/
//
// Metrics, for 1 worker and 8: x-raw (the Engine's tasks/s over raw
// wazero's), x-raw-nopool (the same without the pool), pool/nopool (the
// first over the second), and the process's CPU ms per task of each.
func BenchmarkStartHello(b *testing.B) {
	ctx := context.Background()
	wasm := testwasm.Build(b, filepath.Join(testwasm.RepoRoot(b), "wasm-examples", "hello"))
	eng := newTestEngine(b, Config{})
	mod, err := eng.Compile(ctx, enginetest.Digest(wasm), wasm)
	if err != nil {
		b.Fatal(err)
	}
	pool := eng.memPool
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	rawMod, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		b.Fatal(err)
	}
	ours := func() {
		out := enginetest.NewBuffer()
		in, err := eng.Start(ctx, mod, runtime.ContainerConfig{
			Name: "hello", Args: []string{"hello", "a", "b"}, Env: []string{"POD_NAME=p"}, Stdout: out, Stderr: io.Discard,
		})
		if err != nil {
			b.Error(err)
			return
		}
		if st := waitDone(b, in); st.ExitCode != 0 || !strings.Contains(out.String(), "hello from p") {
			b.Errorf("hello: %+v, stdout %q", st, out.String())
		}
	}
	raw := func() {
		var out bytes.Buffer
		cfg := wazero.NewModuleConfig().WithArgs("hello", "a", "b").WithEnv("POD_NAME", "p").
			WithStdout(&out).WithStderr(io.Discard).WithSysWalltime().WithSysNanotime().WithSysNanosleep()
		m, err := rt.InstantiateModule(ctx, rawMod, cfg)
		if err != nil {
			b.Error(err)
			return
		}
		m.Close(ctx)
		if !strings.Contains(out.String(), "hello from p") {
			b.Errorf("raw hello printed %q", out.String())
		}
	}
	// round runs tasks of f on workers goroutines: wall and process CPU.
	round := func(f func(), tasks, workers int) (time.Duration, time.Duration) {
		next := make(chan struct{}, tasks)
		for range tasks {
			next <- struct{}{}
		}
		close(next)
		var wg sync.WaitGroup
		c0, t0 := processCPU(b), time.Now()
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range next {
					f()
				}
			}()
		}
		wg.Wait()
		return time.Since(t0), processCPU(b) - c0
	}
	const tasks = 64
	for _, workers := range []int{1, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			round(ours, 8, workers) // warm
			round(raw, 8, workers)
			var wPool, wNo, wRaw, cPool, cNo, cRaw time.Duration
			for range b.N {
				eng.memPool = pool
				w, c := round(ours, tasks, workers)
				wPool, cPool = wPool+w, cPool+c
				eng.memPool = nil
				w, c = round(ours, tasks, workers)
				wNo, cNo = wNo+w, cNo+c
				eng.memPool = pool
				w, c = round(raw, tasks, workers)
				wRaw, cRaw = wRaw+w, cRaw+c
			}
			n := float64(b.N * tasks)
			b.ReportMetric(float64(wRaw)/float64(wPool), "x-raw")
			b.ReportMetric(float64(wRaw)/float64(wNo), "x-raw-nopool")
			b.ReportMetric(float64(wPool)/float64(wNo), "pool/nopool")
			b.ReportMetric(float64(cPool)/n/1e6, "cpu-ms/task")
			b.ReportMetric(float64(cNo)/n/1e6, "nopool-cpu-ms/task")
			b.ReportMetric(float64(cRaw)/n/1e6, "raw-cpu-ms/task")
		})
	}
}
