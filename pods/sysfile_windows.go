//go:build windows

package pods

import (
	"errors"
	"os"
	"syscall"
)

// dupFile is a second handle on f's open file (DuplicateHandle, not
// inherited by child processes), named as f.
func dupFile(f *os.File) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var nh syscall.Handle
	var derr error
	if err := rc.Control(func(h uintptr) {
		p, _ := syscall.GetCurrentProcess()
		derr = syscall.DuplicateHandle(p, syscall.Handle(h), p, &nh, 0, false, syscall.DUPLICATE_SAME_ACCESS)
	}); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	return os.NewFile(uintptr(nh), f.Name()), nil
}

// openNoFollow opens name for reading, failing on a symlink there. Windows
// has no O_NOFOLLOW: the path is checked with Lstat first.
func openNoFollow(name string) (*os.File, error) {
	fi, err := os.Lstat(name)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return nil, &os.PathError{Op: "open", Path: name, Err: errors.New("is a symbolic link")}
	}
	return os.Open(name)
}
