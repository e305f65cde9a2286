//go:build !linux

package wasi

import (
	"io/fs"
	"os"
	"path"
	"time"
)

// Off Linux paths are handled by os.Root alone: the final symlink checks
// below are made before the call (a symlink swapped in between is then
// followed, confined to the root as always), and rename and link between
// two directory fds fail with EXDEV.

func (d *dirFile) openNoFollow(dir, name string, flag int) (*os.File, error) {
	p := path.Join(dir, name)
	if fi, err := d.root.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL {
			return nil, EEXIST
		}
		return nil, ELOOP
	}
	return d.root.OpenFile(p, flag, 0o666)
}

func (d *dirFile) setTimesNoFollow(dir, name string, atim, mtim *time.Time) error {
	p := path.Join(dir, name)
	if fi, err := d.root.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return ENOTSUP // a link's own times need utimensat
	}
	var a, m time.Time // zero: unchanged
	if atim != nil {
		a = *atim
	}
	if mtim != nil {
		m = *mtim
	}
	return d.root.Chtimes(p, a, m)
}

func (d *dirFile) renameAt(a string, to *dirFile, b string) error {
	if to != d {
		return EXDEV
	}
	return d.root.Rename(a, b)
}

func (d *dirFile) linkAt(a string, to *dirFile, b string) error {
	if to != d {
		return EXDEV
	}
	return d.root.Link(a, b)
}

func (d *dirFile) unlinkAt(p string) error {
	fi, err := d.root.Lstat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return EISDIR
	}
	return d.root.Remove(p)
}

func (d *dirFile) rmdirAt(p string) error {
	if isSelf(p) {
		return EINVAL
	}
	fi, err := d.root.Lstat(p)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return ENOTDIR
	}
	return d.root.Remove(p)
}

func (d *dirFile) symlinkAt(target, p string) error {
	return d.root.Symlink(target, p)
}
