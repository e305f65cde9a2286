//go:build unix

package wasisock_test

import (
	"syscall"
	"testing"
	"time"
)

// An idle server (listener and stdin in the Go netpoller) must cost about
// no CPU: poll_oneoff waits on the sockets' readiness.
func TestIdleServerUsesNoCPU(t *testing.T) {
	e := newEnv(t, 0)
	p := e.Pod("p", "10.244.0.35")
	e.start("p/idle", p, "http-server", ":8080", "idle").waitFor("listening")
	time.Sleep(100 * time.Millisecond)
	before := cpuTime()
	time.Sleep(time.Second)
	if used := cpuTime() - before; used > 100*time.Millisecond {
		t.Errorf("an idle server used %v of CPU in 1 s", used)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
