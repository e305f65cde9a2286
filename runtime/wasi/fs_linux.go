package wasi

import (
	"os"
	"path"
	"time"

	"golang.org/x/sys/unix"
)

// On Linux a path's directory is resolved through the confined root
// (os.Root: "..", absolute and escaping symlinks are refused at every
// component, from an fd held open, so a concurrent rename cannot lead it
// out) and its last component, a single name, is applied with *at calls
// on that directory's fd: openat(O_NOFOLLOW), utimensat(AT_SYMLINK_NOFOLLOW),
// renameat and linkat, which os.Root lacks or does not honour.

// at runs fn on an fd of directory dir (relative to the root, its
// symlinks followed inside it): this directory's own fd for ".", else one
// opened for the call (O_DIRECTORY: a FIFO or device there is never
// opened).
func (d *dirFile) at(dir string, fn func(fd int) error) error {
	var f *os.File
	if dir == "." {
		var err error
		if f, err = d.file(); err != nil {
			return err
		}
	} else {
		var err error
		if f, err = d.root.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY, 0); err != nil {
			return err
		}
		defer f.Close()
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// retry repeats a call interrupted by a signal.
func retry(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}

// openNoFollow opens name in directory dir without following it if it is
// a symlink (ELOOP, or EEXIST with O_CREAT|O_EXCL, as open(2)).
func (d *dirFile) openNoFollow(dir, name string, flag int) (*os.File, error) {
	var f *os.File
	err := d.at(dir, func(pfd int) error {
		return retry(func() error {
			fd, err := unix.Openat(pfd, name, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o666)
			if err != nil {
				return err
			}
			// As os.OpenFile does: a FIFO or device goes to Go's poller
			// (non-blocking), a regular file or directory stays blocking.
			var st unix.Stat_t
			if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT != unix.S_IFREG && st.Mode&unix.S_IFMT != unix.S_IFDIR {
				_ = unix.SetNonblock(fd, true)
			}
			f = os.NewFile(uintptr(fd), path.Join(d.root.Name(), dir, name))
			return nil
		})
	})
	return f, err
}

// setTimesNoFollow sets the times of name in dir, of the symlink itself if
// it is one; nil leaves a time unchanged.
func (d *dirFile) setTimesNoFollow(dir, name string, atim, mtim *time.Time) error {
	ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
	if atim != nil {
		ts[0] = unix.NsecToTimespec(atim.UnixNano())
	}
	if mtim != nil {
		ts[1] = unix.NsecToTimespec(mtim.UnixNano())
	}
	return d.at(dir, func(pfd int) error {
		return retry(func() error { return unix.UtimesNanoAt(pfd, name, ts, unix.AT_SYMLINK_NOFOLLOW) })
	})
}

// lastAt runs fn on the fd of p's directory and p's last name, a trailing
// slash kept on it (the calls given it never follow a last name, and
// the kernel then wants a directory, or refuses a new name). A last "."
// or ".." is not a name in the directory: once the directory resolves
// (its errors come first, as in the kernel), dots(base) is the answer.
func (d *dirFile) lastAt(p string, dots func(base string) error, fn func(pfd int, name string) error) error {
	dir, name, slash, ok := splitLast(p)
	if slash {
		name += "/"
	}
	return d.at(dir, func(pfd int) error {
		if !ok {
			return dots(name)
		}
		return retry(func() error { return fn(pfd, name) })
	})
}

// unlinkAt removes p, not a directory (EISDIR), a final symlink itself.
func (d *dirFile) unlinkAt(p string) error {
	return d.lastAt(p, func(string) error { return EISDIR }, func(pfd int, name string) error {
		return unix.Unlinkat(pfd, name, 0)
	})
}

// rmdirAt removes the empty directory p (not through a final symlink).
func (d *dirFile) rmdirAt(p string) error {
	return d.lastAt(p, func(base string) error {
		if base == "." {
			return EINVAL
		}
		return ENOTEMPTY
	}, func(pfd int, name string) error {
		return unix.Unlinkat(pfd, name, unix.AT_REMOVEDIR)
	})
}

// symlinkAt makes p a symlink to target (its checks are the caller's).
func (d *dirFile) symlinkAt(target, p string) error {
	return d.lastAt(p, func(string) error { return EEXIST }, func(pfd int, name string) error {
		return unix.Symlinkat(target, pfd, name)
	})
}

// twoAt runs fn on the directory fds and last names of a (in d) and b (in
// to), trailing slashes kept (see lastAt); a last "." or ".." of a gives
// dotsA, of b dotsB, once both directories resolve.
func (d *dirFile) twoAt(a string, to *dirFile, b string, dotsA, dotsB Errno, fn func(pa int, na string, pb int, nb string) error) error {
	da, na, sa, oka := splitLast(a)
	db, nb, sb, okb := splitLast(b)
	if sa {
		na += "/"
	}
	if sb {
		nb += "/"
	}
	return d.at(da, func(pa int) error {
		return to.at(db, func(pb int) error {
			switch {
			case !oka:
				return dotsA
			case !okb:
				return dotsB
			}
			return retry(func() error { return fn(pa, na, pb, nb) })
		})
	})
}

// renameAt renames a (in d) to b (in to, of the same mount).
func (d *dirFile) renameAt(a string, to *dirFile, b string) error {
	return d.twoAt(a, to, b, EBUSY, EBUSY, func(pa int, na string, pb int, nb string) error {
		return unix.Renameat(pa, na, pb, nb)
	})
}

// linkAt links b (in to, of the same mount) to a (in d), a final symlink
// of a itself.
func (d *dirFile) linkAt(a string, to *dirFile, b string) error {
	return d.twoAt(a, to, b, EPERM, EEXIST, func(pa int, na string, pb int, nb string) error {
		return unix.Linkat(pa, na, pb, nb, 0)
	})
}
