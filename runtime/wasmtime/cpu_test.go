//go:build wasmtime && cgo

package wasmtime_test

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
)

// spin starts wasm-examples/spin (a busy loop without system calls)
// metered by cpu, once it is in its loop.
func spin(t *testing.T, eng runtime.Engine, cpu *runtime.CPUMeter) runtime.Instance {
	t.Helper()
	wasm := testwasm.Build(t, filepath.Join(testwasm.RepoRoot(t), "wasm-examples", "spin"))
	mod, err := eng.Compile(context.Background(), enginetest.Digest(wasm), wasm)
	if err != nil {
		t.Fatal(err)
	}
	out := enginetest.NewBuffer()
	inst, err := eng.Start(context.Background(), mod, runtime.ContainerConfig{Name: "t/spin", Args: []string{"spin"}, Stdout: out, CPU: cpu})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Kill(); <-inst.Done() })
	out.WaitFor(t, "spinning", 30*time.Second)
	return inst
}

func processCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestCPULimit: the epoch deadline is the CPU meter's round trip: a
// spinning guest under limits.cpu 300m uses at most 0.3 (+0.1) of a core,
// as its meter reports it and as the process's CPU time shows, and its
// usage is reported.
func TestCPULimit(t *testing.T) {
	if testing.Short() {
		t.Skip("measures for seconds")
	}
	eng := newEngine(t)
	defer eng.Close(context.Background())
	inst := spin(t, eng, runtime.NewCPUMeter("t/spin", 300))
	time.Sleep(2 * runtime.CPUPeriod)
	u0, _ := runtime.CPUUsage(inst)
	p0, w0 := processCPU(t), time.Now()
	time.Sleep(2 * time.Second)
	u1, ok := runtime.CPUUsage(inst)
	p1, wall := processCPU(t), time.Since(w0)
	if !ok {
		t.Fatal("the instance does not report its CPU usage")
	}
	reported, process := float64(u1-u0)/float64(wall), float64(p1-p0)/float64(wall)
	t.Logf("limits.cpu 300m: reported %.3f, process %.3f of a core", reported, process)
	if reported > 0.4 || process > 0.4 {
		t.Errorf("reported %.3f, process %.3f of a core: over the limit 0.3+0.1", reported, process)
	}
	if reported < 0.05 {
		t.Errorf("reported %.3f of a core: the guest's time is not charged", reported)
	}
}

// TestCPUThrottledKill: a guest sleeping off its quota (limits.cpu 10m)
// is killed at once, not at its next period.
func TestCPUThrottledKill(t *testing.T) {
	eng := newEngine(t)
	defer eng.Close(context.Background())
	cpu := runtime.NewCPUMeter("t/slow", 10)
	inst := spin(t, eng, cpu)
	deadline := time.Now().Add(10 * time.Second)
	for n, _ := cpu.Throttled(); n < 3; n, _ = cpu.Throttled() {
		if time.Now().After(deadline) {
			t.Fatal("the guest was never throttled")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	inst.Kill()
	select {
	case <-inst.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a throttled guest was not killed within 5 s")
	}
	if took := time.Since(start); took > 50*time.Millisecond {
		t.Errorf("kill took %v: it waited for the throttle", took)
	}
	if st := inst.Status(); st.ExitCode != 137 || !st.Killed {
		t.Errorf("status %+v, want killed (137)", st)
	}
}
