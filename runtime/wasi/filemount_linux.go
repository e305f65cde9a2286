package wasi

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// reopen opens the file f has open anew with flag: through
// /proc/self/fd, which leads to f's inode whatever its name has become
// (renamed, unlinked, replaced by a symlink), as the kubelet pins a
// subPath by bind-mounting /proc/<pid>/fd/N.
func reopen(f *os.File, flag int) (*os.File, error) {
	var nf *os.File
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var oerr error
	if err := rc.Control(func(fd uintptr) {
		oerr = retry(func() error {
			n, err := unix.Open("/proc/self/fd/"+strconv.Itoa(int(fd)), flag|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			nf = os.NewFile(uintptr(n), f.Name())
			return nil
		})
	}); err != nil {
		return nil, err
	}
	return nf, oerr
}

// dupFile is a new handle on the open file of f.
func dupFile(f *os.File) (*os.File, error) {
	var nf *os.File
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var derr error
	if err := rc.Control(func(fd uintptr) {
		n, err := unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			derr = err
			return
		}
		nf = os.NewFile(uintptr(n), f.Name())
	}); err != nil {
		return nil, err
	}
	return nf, derr
}
