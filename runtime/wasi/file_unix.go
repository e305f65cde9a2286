//go:build unix

package wasi

import "golang.org/x/sys/unix"

// hostAppend: setAppend sets O_APPEND on the host file, whose writes then
// land at its end atomically (other writers of the volume included).
const hostAppend = true

// setAppend turns append mode on or off, on the host file too (fcntl
// F_SETFL), keeping appendMode (which the quota reads) in step.
func (f *regFile) setAppend(on bool) error {
	rc, err := f.f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		if err != nil {
			ferr = err
			return
		}
		if on {
			fl |= unix.O_APPEND
		} else {
			fl &^= unix.O_APPEND
		}
		_, ferr = unix.FcntlInt(fd, unix.F_SETFL, fl)
	}); err != nil {
		return err
	}
	if ferr != nil {
		return ferr
	}
	f.appendMode = on
	return nil
}

// parentIno is the inode of d's parent directory (0 if unknown).
func parentIno(d *dirFile) uint64 {
	f, err := d.file()
	if err != nil {
		return 0
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return 0
	}
	var st unix.Stat_t
	var serr error = unix.ENOENT
	if rc.Control(func(fd uintptr) {
		serr = unix.Fstatat(int(fd), "..", &st, unix.AT_SYMLINK_NOFOLLOW)
	}) != nil || serr != nil {
		return 0
	}
	return uint64(st.Ino)
}
