//go:build unix

// Package filelock serialises work across processes (test binaries building a
// shared, cached tool once) with a lock file.
package filelock

import (
	"os"
	"syscall"
)

// Lock takes an exclusive flock on path (created if need be), waiting for
// other processes that hold it (calling waiting first), and returns its
// release.
func Lock(path string, waiting func()) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		waiting()
		for {
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
			if err != syscall.EINTR {
				break
			}
		}
		if err != nil {
			f.Close()
			return nil, err
		}
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
