//go:build unix

package wasi

import "syscall"

// ProcessFDLimit raises the soft RLIMIT_NOFILE to the hard limit (as the Go
// runtime does at start on most systems; idempotent) and returns the soft
// limit in force.
func ProcessFDLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = raised.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			lim = raised
		}
	}
	return uint64(lim.Cur), nil
}
