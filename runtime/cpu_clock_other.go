//go:build !(linux || darwin || freebsd)

package runtime

const threadClockIsWall = true

// threadClock is wall time where the OS has no per-thread CPU clock (a
// guest's time is then charged while it runs, including time the OS gave
// to other processes).
func threadClock() int64 { return wallClock() }
