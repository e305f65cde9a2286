//go:build linux || darwin || freebsd

package runtime

import "golang.org/x/sys/unix"

const threadClockIsWall = false

// threadClock is the calling thread's CPU time in ns.
func threadClock() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return wallClock()
	}
	return ts.Nano()
}
