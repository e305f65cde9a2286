//go:build unix

package pods

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// removeTree removes path and, when it is a directory, everything in it,
// as os.RemoveAll does (symlinks are unlinked, never followed; a missing
// path is no error), without its probing: os.RemoveAll first tries to
// unlink every directory as if it were a file (an EISDIR each) and starts
// with an unlink and an rmdir of the top that fail on a non-empty
// directory. removeTree reads each directory's entries with their types
// (getdents) and makes the one call that fits: a pod directory of a
// short task is removed with one open, two getdents and one unlinkat per
// directory and one unlinkat per file (cleanup.go, rootfs.go).
func removeTree(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	switch {
	case err == unix.ENOENT:
		return nil
	case err == unix.ENOTDIR || err == unix.ELOOP:
		// A file, or a symlink (O_NOFOLLOW): unlinked.
		if err := unix.Unlink(path); err != nil && err != unix.ENOENT {
			return &os.PathError{Op: "unlink", Path: path, Err: err}
		}
		return nil
	case err != nil:
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	err = removeContents(fd, path)
	if rerr := unix.Rmdir(path); rerr != nil && rerr != unix.ENOENT && err == nil {
		err = &os.PathError{Op: "rmdir", Path: path, Err: rerr}
	}
	return err
}

// removeContents empties the directory open as fd (named name, for
// errors) and closes fd.
func removeContents(fd int, name string) error {
	d := os.NewFile(uintptr(fd), name)
	defer d.Close()
	var errs []error
	const batch = 1024
	for {
		// In batches, so that a huge directory is not read into memory at
		// once.
		ents, err := d.ReadDir(batch)
		failed := 0
		for _, e := range ents {
			if err := removeEntry(fd, name, e.Name(), e.IsDir()); err != nil {
				errs = append(errs, err)
				failed++
			}
		}
		if err != nil || len(ents) < batch || failed == len(ents) {
			break // io.EOF: all read; or no progress
		}
		// Removing entries may have reordered the directory, so that
		// reading on could skip some: read it again from its start (what
		// was removed is not there any more).
		if _, err := d.Seek(0, 0); err != nil {
			errs = append(errs, err)
			break
		}
	}
	return errors.Join(errs...)
}

// removeEntry removes the entry of the directory dirfd (named dir) that
// its listing said is a directory (isDir) or not; an entry that changed
// its type since is removed as what it is now.
func removeEntry(dirfd int, dir, name string, isDir bool) error {
	path := dir + "/" + name
	if !isDir {
		err := unix.Unlinkat(dirfd, name, 0)
		switch {
		case err == nil || err == unix.ENOENT:
			return nil
		case err != unix.EISDIR && err != unix.EPERM: // EPERM: a directory on some systems
			return &os.PathError{Op: "unlinkat", Path: path, Err: err}
		}
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	switch {
	case err == unix.ENOENT:
		return nil
	case err == unix.ENOTDIR || err == unix.ELOOP:
		if err := unix.Unlinkat(dirfd, name, 0); err != nil && err != unix.ENOENT {
			return &os.PathError{Op: "unlinkat", Path: path, Err: err}
		}
		return nil
	case err != nil:
		return &os.PathError{Op: "openat", Path: path, Err: err}
	}
	err = removeContents(fd, path)
	if rerr := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR); rerr != nil && rerr != unix.ENOENT && err == nil {
		err = &os.PathError{Op: "unlinkat", Path: path, Err: rerr}
	}
	return err
}
