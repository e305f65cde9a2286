//go:build unix

package proctest

import (
	"syscall"
	"testing"
)

// FDLimitAbove is this process's open fds plus extra: a soft
// RLIMIT_NOFILE to lower the process to (LowerFDLimit). It skips the test
// where the limit cannot be read or the hard limit is below it.
func FDLimitAbove(tb testing.TB, extra int) uint64 {
	tb.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Skip("RLIMIT_NOFILE:", err)
	}
	n := uint64(OpenFDs(tb) + extra)
	if n > lim.Max {
		tb.Skipf("hard RLIMIT_NOFILE %d below %d", lim.Max, n)
	}
	return n
}

// LowerFDLimit sets this process's soft RLIMIT_NOFILE to n (skipping the
// test where it cannot) and returns the function that restores the limit
// as it was. The limit is the process's: a test that lowers it must not
// run in parallel with others.
func LowerFDLimit(tb testing.TB, n uint64) (restore func()) {
	tb.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Skip("RLIMIT_NOFILE:", err)
	}
	lowered := lim
	lowered.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered); err != nil {
		tb.Skip("lowering RLIMIT_NOFILE:", err)
	}
	return func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			tb.Errorf("restoring RLIMIT_NOFILE: %v", err)
		}
	}
}
