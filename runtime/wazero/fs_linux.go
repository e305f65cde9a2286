package wazero

import (
	"syscall"
	"unsafe"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

const utimeOmit = (1 << 30) - 2 // UTIME_OMIT on Linux

func utimespec(ns int64) syscall.Timespec {
	if ns == experimentalsys.UTIME_OMIT {
		return syscall.Timespec{Nsec: utimeOmit}
	}
	return syscall.NsecToTimespec(ns)
}

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
