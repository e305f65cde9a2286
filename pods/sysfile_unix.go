//go:build unix

package pods

import (
	"os"
	"syscall"
)

// dupFile is a second handle on f's open file (dup(2), close-on-exec),
// named as f.
func dupFile(f *os.File) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var fd int
	var derr error
	if err := rc.Control(func(h uintptr) { fd, derr = syscall.Dup(int(h)) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// openNoFollow opens name for reading, failing on a symlink there
// (O_NOFOLLOW) and without blocking on a FIFO (O_NONBLOCK).
func openNoFollow(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}
