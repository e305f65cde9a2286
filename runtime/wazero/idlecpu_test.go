//go:build unix

package wazero_test

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
)

// TestIdleCPU measures the host CPU a guest uses while blocked on stdin
// (Go's netpoller in poll_oneoff) for one second, and logs it; it asserts
// nothing about timing, only that the guest stays blocked and then exits
// on TERM.
func TestIdleCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("measures for 1 s")
	}
	eng := newEngine(t)
	defer eng.Close(context.Background())
	wasm := testwasm.Build(t, testwasm.GuestDir(t, "probe"))
	mod, err := eng.Compile(context.Background(), enginetest.Digest(wasm), wasm)
	if err != nil {
		t.Fatal(err)
	}
	out := enginetest.NewBuffer()
	inst, err := eng.Start(context.Background(), mod, runtime.ContainerConfig{Name: "t/idle", Args: []string{"probe", "waitterm"}, Stdout: out})
	if err != nil {
		t.Fatal(err)
	}
	out.WaitFor(t, "ready", 30*time.Second)
	time.Sleep(100 * time.Millisecond)
	before := cpuTime(t)
	time.Sleep(time.Second)
	used := cpuTime(t) - before
	t.Logf("idle guest blocked on stdin for 1 s: process CPU %v (%.2f%% of one core)", used, 100*used.Seconds())
	inst.Terminate()
	select {
	case <-inst.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("guest did not exit on TERM")
	}
	if st := inst.Status(); st.ExitCode != 0 || !strings.Contains(out.String(), "term") {
		t.Fatalf("status %+v output %q", st, out.String())
	}
}

func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Skipf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
