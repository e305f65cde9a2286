package runtime

import "time"

var clockBase = time.Now()

// wallClock is monotonic time in ns.
func wallClock() int64 { return int64(time.Since(clockBase)) }

// ThreadCPUClockIsWall reports whether CPU time is measured as wall time
// on this OS (no per-thread CPU clock).
func ThreadCPUClockIsWall() bool { return threadClockIsWall }
