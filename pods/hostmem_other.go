//go:build !linux && !darwin

package pods

// HostMemory is the host's physical memory in bytes: unknown here (0).
func HostMemory() int64 { return 0 }

// hostMemAvailable is unknown here (-1).
func hostMemAvailable() int64 { return -1 }
