//go:build unix

package enginetest

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime"
)

// RunCPU runs the CPU suite (package runtime's cpu.go, as an engine must
// drive it) on the engines newEngine makes: a spinning guest under a CPU
// limit uses that share of a core, as its meter reports it and as the
// process's own CPU time shows; a throttled guest is killed at once; two
// guests share a node's CPU by their requests; a guest blocked in WASI is
// charged next to nothing. The measuring tests take seconds each and are
// skipped with -short.
func RunCPU(t *testing.T, newEngine func(t *testing.T) runtime.Engine) {
	c := &cpuSuite{newEngine: newEngine}
	t.Run("Limit", c.testLimit)
	t.Run("ThrottledKill", c.testThrottledKill)
	t.Run("Shares", c.testShares)
	t.Run("BlockedNotCharged", c.testBlockedNotCharged)
}

type cpuSuite struct {
	newEngine func(t *testing.T) runtime.Engine
}

func (c *cpuSuite) engine(t *testing.T) runtime.Engine {
	eng := c.newEngine(t)
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	return eng
}

// spinModule is wasm-examples/spin (prints a line, then loops forever
// without a system call), compiled by eng.
func spinModule(t *testing.T, eng runtime.Engine) runtime.CompiledModule {
	t.Helper()
	wasm := testwasm.Build(t, filepath.Join(testwasm.RepoRoot(t), "wasm-examples", "spin"))
	mod, err := eng.Compile(context.Background(), Digest(wasm), wasm)
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// startSpin starts a spinning instance metered by cpu and waits for its
// first line (it is then in its busy loop).
func startSpin(t *testing.T, eng runtime.Engine, mod runtime.CompiledModule, name string, cpu *runtime.CPUMeter) runtime.Instance {
	t.Helper()
	out := NewBuffer()
	inst, err := eng.Start(context.Background(), mod, runtime.ContainerConfig{Name: name, Args: []string{"spin"}, Stdout: out, CPU: cpu})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		inst.Kill()
		<-inst.Done()
	})
	out.WaitFor(t, "spinning", waitTimeout)
	return inst
}

func usage(t *testing.T, inst runtime.Instance) time.Duration {
	t.Helper()
	u, ok := runtime.CPUUsage(inst)
	if !ok {
		t.Fatalf("instance %T does not report its CPU usage", inst)
	}
	return u
}

// processCPU is the process's CPU time (user and system) so far.
func processCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Skipf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// share is the CPU share (of one core) inst used over d, as it reports it
// and as the process's CPU time saw it.
func share(t *testing.T, inst runtime.Instance, d time.Duration) (reported, process float64) {
	t.Helper()
	u0, p0, w0 := usage(t, inst), processCPU(t), time.Now()
	time.Sleep(d)
	u1, p1, wall := usage(t, inst), processCPU(t), time.Since(w0)
	return float64(u1-u0) / float64(wall), float64(p1-p0) / float64(wall)
}

// calibrate is the share of a core an unthrottled spinning guest gets on
// this machine now (other processes take the rest); its usage must be
// reported.
func calibrate(t *testing.T, eng runtime.Engine, mod runtime.CompiledModule) float64 {
	t.Helper()
	inst := startSpin(t, eng, mod, "t/calibrate", nil) // the engine's own meter
	reported, process := share(t, inst, time.Second)
	inst.Kill()
	<-inst.Done()
	t.Logf("no limit: reported %.3f, process %.3f of a core", reported, process)
	if reported < 0.05 || reported > 1.05 || reported > process+0.05 {
		t.Fatalf("an unthrottled spinning guest reported %.3f of a core (process: %.3f)", reported, process)
	}
	return reported
}

// testLimit: a spinning guest with limits.cpu 500m (200m) uses half
// (a fifth) of a core, within ±10 points, both as its meter reports it
// and as the process's own CPU time shows. On a machine so loaded that an
// unthrottled guest gets less than that, only the upper bound is checked
// (and the test says so).
func (c *cpuSuite) testLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("measures for seconds")
	}
	eng := c.engine(t)
	mod := spinModule(t, eng)
	free := calibrate(t, eng, mod)
	for _, limit := range []int64{500, 200} {
		t.Run(fmt.Sprintf("%dm", limit), func(t *testing.T) {
			inst := startSpin(t, eng, mod, "t/spin", runtime.NewCPUMeter("t/spin", limit))
			time.Sleep(2 * runtime.CPUPeriod) // past the first period
			reported, process := share(t, inst, 2*time.Second)
			want := float64(limit) / 1000
			t.Logf("limits.cpu %dm: reported %.3f, process %.3f of a core", limit, reported, process)
			if reported > want+0.1 || process > want+0.1 {
				t.Errorf("reported share %.3f, process %.3f: over the limit %.2f+0.1", reported, process, want)
			}
			if free < want+0.1 {
				t.Skipf("the machine gives a spinning guest only %.2f of a core: the limit cannot be reached", free)
			}
			if reported < want-0.1 || process < want-0.1 {
				t.Errorf("reported share %.3f, process %.3f: want %.2f±0.1", reported, process, want)
			}
		})
	}
}

// testThrottledKill: a guest sleeping off its quota (limits.cpu 10m:
// 1 ms per 100 ms period) is killed at once, not at its next period.
func (c *cpuSuite) testThrottledKill(t *testing.T) {
	eng := c.engine(t)
	mod := spinModule(t, eng)
	cpu := runtime.NewCPUMeter("t/slow", 10)
	inst := startSpin(t, eng, mod, "t/slow", cpu)
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
	case <-time.After(killTimeout):
		t.Fatalf("a throttled guest was not killed within %v", killTimeout)
	}
	took := time.Since(start)
	t.Logf("throttled guest killed in %v", took)
	if took > 50*time.Millisecond {
		t.Errorf("kill took %v: it waited for the throttle", took)
	}
	if st := inst.Status(); st.ExitCode != 137 || !st.Killed {
		t.Errorf("status %+v, want killed (137)", st)
	}
}

// testShares: two spinning guests requesting 100m and 300m on a node of
// one core share it about 1:3, and together use about one core (a node of
// 300m when the machine cannot give them a core).
func (c *cpuSuite) testShares(t *testing.T) {
	if testing.Short() {
		t.Skip("measures for seconds")
	}
	eng := c.engine(t)
	mod := spinModule(t, eng)
	// One core, or less on a machine too loaded to give two guests one.
	capacity := int64(1000)
	if free := calibrate(t, eng, mod); free < 0.9 {
		capacity = 300
	}
	node := runtime.NewCPUScheduler("t cpu", capacity)
	a := startSpin(t, eng, mod, "t/a", node.NewMeter("t/a", 100, 0))
	b := startSpin(t, eng, mod, "t/b", node.NewMeter("t/b", 300, 0))
	time.Sleep(3 * runtime.CPUPeriod)
	var ua, ub float64
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); ua, _ = share(t, a, 2*time.Second) }()
	go func() { defer wg.Done(); ub, _ = share(t, b, 2*time.Second) }()
	wg.Wait()
	contended, n := node.Contended()
	t.Logf("requests 100m: %.3f, 300m: %.3f of a core (ratio %.2f); contended %v, %d periods", ua, ub, ub/ua, contended, n)
	if ratio := ub / ua; ratio < 2.4 || ratio > 3.6 {
		t.Errorf("shares %.3f and %.3f: ratio %.2f, want about 3", ua, ub, ratio)
	}
	if sum, c := ua+ub, float64(capacity)/1000; sum < c-0.15 || sum > c+0.1 {
		t.Errorf("together %.3f of a core, want about %.2f (the node's capacity)", sum, c)
	}
	if n == 0 {
		t.Error("the node never saw contention")
	}
}

// testBlockedNotCharged: a guest blocked in WASI (reading stdin, Go's
// netpoller in poll_oneoff) for a second is charged next to nothing, and
// the time it took to start (its Go runtime's initialisation) is charged.
func (c *cpuSuite) testBlockedNotCharged(t *testing.T) {
	eng := c.engine(t)
	wasm := testwasm.Build(t, testwasm.GuestDir(t, "probe"))
	mod, err := eng.Compile(context.Background(), Digest(wasm), wasm)
	if err != nil {
		t.Fatal(err)
	}
	out := NewBuffer()
	cpu := runtime.NewCPUMeter("t/idle", 0)
	inst, err := eng.Start(context.Background(), mod, runtime.ContainerConfig{Name: "t/idle", Args: []string{"probe", "waitterm"}, Stdout: out, CPU: cpu})
	if err != nil {
		t.Fatal(err)
	}
	out.WaitFor(t, "ready", waitTimeout)
	u0 := cpu.Usage()
	time.Sleep(time.Second)
	u1 := cpu.Usage()
	inst.Terminate()
	<-inst.Done()
	t.Logf("start-up %v; blocked for 1 s: %v", u0, u1-u0)
	if u0 <= 0 {
		t.Error("the guest's start-up was not charged")
	}
	if u1-u0 > 20*time.Millisecond {
		t.Errorf("a guest blocked on stdin for 1 s was charged %v", u1-u0)
	}
	if !cpu.Stopped() {
		t.Error("the meter was not stopped when the guest ended")
	}
}
