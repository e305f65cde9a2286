//go:build !unix

package wasi

// ProcessFDLimit is a fixed 8192 where the OS has no RLIMIT_NOFILE.
func ProcessFDLimit() (uint64, error) { return 8192, nil }
