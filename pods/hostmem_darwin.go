package pods

import "golang.org/x/sys/unix"

// HostMemory is the host's physical memory in bytes (0 if unknown).
func HostMemory() int64 {
	n, err := unix.SysctlUint64("hw.memsize")
	if err != nil {
		return 0
	}
	return int64(n)
}

// hostMemAvailable is unknown here (-1).
func hostMemAvailable() int64 { return -1 }
