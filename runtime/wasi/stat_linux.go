package wasi

import (
	"syscall"
	"unsafe"
)

const utimeOmit = (1 << 30) - 2 // UTIME_OMIT

func statAtim(s *syscall.Stat_t) syscall.Timespec { return s.Atim }
func statCtim(s *syscall.Stat_t) syscall.Timespec { return s.Ctim }

// futimens is utimensat(fd, NULL, ts, 0), which Linux applies to fd itself.
func futimens(fd int, ts []syscall.Timespec) error {
	_, _, e := syscall.Syscall6(syscall.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

const (
	oNofollow  = syscall.O_NOFOLLOW
	oDirectory = syscall.O_DIRECTORY
)
