//go:build unix

package wazero

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
)

func benchEngine(b *testing.B, noCPU bool) (*Engine, func(name string) runtime.CompiledModule) {
	b.Helper()
	e, err := New(context.Background(), Config{CacheDir: testwasm.CompileCacheDir()})
	if err != nil {
		b.Fatal(err)
	}
	e.noCPU = noCPU
	b.Cleanup(func() { e.Close(context.Background()) })
	return e, func(name string) runtime.CompiledModule {
		wasm := testwasm.Build(b, filepath.Join(testwasm.RepoRoot(b), "wasm-examples", name))
		mod, err := e.Compile(context.Background(), enginetest.Digest(wasm), wasm)
		if err != nil {
			b.Fatal(err)
		}
		return mod
	}
}

// BenchmarkCPU reports, in one run:
//   - share/limit: the CPU share a spinning guest (wasm-examples/spin)
//     with limits.cpu 500m used over 2 s, as its meter reports it, divided by
//     the limit (target 1 ± 0.2); process-share/limit the same from the
//     process's CPU time;
//   - overhead's metered/unmetered: the process CPU time of a
//     compute-bound guest (wasm-examples/pi, 2,000 digits) with CPU
//     accounting (no limit) divided by its CPU time on an engine compiled
//     and run without it: the cost of the round trip's listener, the
//     thread-clock reads and the pauses around host calls;
//     overhead-short-task's the same for wasm-examples/hello (start, two
//     lines of output, exit: a short task's whole life).
func BenchmarkCPU(b *testing.B) {
	b.Run("limit500m", func(b *testing.B) {
		e, compile := benchEngine(b, false)
		mod := compile("spin")
		var reported, process float64
		for i := 0; i < b.N; i++ {
			out := enginetest.NewBuffer()
			cpu := runtime.NewCPUMeter("b/spin", 500)
			inst, err := e.Start(context.Background(), mod, runtime.ContainerConfig{Name: "b/spin", Args: []string{"spin"}, Stdout: out, CPU: cpu})
			if err != nil {
				b.Fatal(err)
			}
			out.WaitFor(b, "spinning", 30*time.Second)
			time.Sleep(2 * runtime.CPUPeriod)
			u0, p0, w0 := cpu.Usage(), processCPU(b), time.Now()
			time.Sleep(2 * time.Second)
			u1, p1, wall := cpu.Usage(), processCPU(b), time.Since(w0)
			inst.Kill()
			<-inst.Done()
			reported += float64(u1-u0) / float64(wall)
			process += float64(p1-p0) / float64(wall)
		}
		b.ReportMetric(reported/float64(b.N)/0.5, "share/limit")
		b.ReportMetric(process/float64(b.N)/0.5, "process-share/limit")
	})
	b.Run("overhead", func(b *testing.B) { overhead(b, "pi", "2000") })
	b.Run("overhead-short-task", func(b *testing.B) { overhead(b, "hello") })
}

// overhead reports the CPU time of the guest wasm-examples/name run with
// args, with CPU accounting, as a ratio to its CPU time without.
func overhead(b *testing.B, name string, args ...string) {
	{
		// CPU time, not wall time: on a loaded machine the wall time is
		// mostly other processes'.
		run := func(e *Engine, mod runtime.CompiledModule) time.Duration {
			start := processCPU(b)
			inst, err := e.Start(context.Background(), mod, runtime.ContainerConfig{Name: "b/" + name, Args: append([]string{name}, args...)})
			if err != nil {
				b.Fatal(err)
			}
			<-inst.Done()
			if st := inst.Status(); st.ExitCode != 0 {
				b.Fatalf("%s: %+v", name, st)
			}
			return processCPU(b) - start
		}
		metered, compileM := benchEngine(b, false)
		plain, compileP := benchEngine(b, true)
		mm, mp := compileM(name), compileP(name)
		run(metered, mm) // warm both
		run(plain, mp)
		var tm, tp time.Duration
		b.ResetTimer()
		for i := 0; i < b.N; i++ { // interleaved: the machine's load hits both alike
			tm += run(metered, mm)
			tp += run(plain, mp)
		}
		b.ReportMetric(float64(tm)/float64(tp), "metered/unmetered")
		b.ReportMetric(float64(tm)/float64(b.N)/1e6, "cpu-ms/metered-run")
	}
}
