package wasi

// Single-file mounts (a Mount with File): a bind mount of one file, as a
// Kubernetes subPath naming a file of a volume, or the kubelet's
// termination-message file. WASI preopens are directories, so a file mount
// is not a preopen: it covers a mount point, a name in the directory mount
// that holds its guest directory (the longest preopen above it, as a
// guest's libc picks it). New makes the mount point there if it is
// missing, as a container runtime makes a bind mount's target (its
// directories, then an empty file), and remembers it by the mount, the
// (dev, ino) of its directory and its name, so that whatever path reaches
// that name (through "..", symlinks of the mount, a directory fd opened
// from it, or after the directory was renamed) meets the mounted file, as
// a mount on a dentry does:
//
//   - path_open opens the mounted file: a new host open of the handle the
//     caller pinned (File, on Linux reopened through /proc/self/fd), never
//     a path, so what the name of the file in its volume became since
//     (renamed, replaced by a symlink) does not matter; O_CREAT|O_EXCL is
//     EEXIST, O_DIRECTORY ENOTDIR, writes to a read-only file mount EROFS
//     whatever the directory's mount is;
//   - path_filestat_get and path_filestat_set_times act on the mounted
//     file;
//   - unlink and rename of, or over, the mount point are EBUSY, and a hard
//     link of it EXDEV (another mount), as Linux answers for a mount point.
//
// The rest of the directory is the directory mount's, untouched.

import (
	"fmt"
	"os"
	"path"
	"strings"
	"time"
)

// fileMounts are the file mounts of one System, shared by all its
// directory fds.
type fileMounts struct {
	names map[string]bool // the mount points' names, to skip most paths at once
	at    map[mountPoint]*fileMount
	// inodes are the mount points' own files: a path that reaches one
	// through a final symlink is seen by the inode of what it opened or
	// stat'ed (no extra call on the common path).
	inodes map[fileID]*fileMount
}

// mountPoint is a name in a directory of a mount.
type mountPoint struct {
	mount *mountID
	dir   fileID
	name  string
}

// fileMount is one mounted file.
type fileMount struct {
	f        *os.File // the pinned file (this System's own handle)
	path     string   // with f nil: the host file, opened by path (FileByPath)
	readOnly bool
	q        *Quota
	guest    string
}

func (m *fileMounts) close() {
	if m == nil {
		return
	}
	for _, fm := range m.at {
		if fm.f != nil {
			_ = fm.f.Close()
		}
	}
}

// addFileMount mounts m.File at m.GuestPath over a mount point in the
// directory mount holding its directory (made if missing).
func (s *System) addFileMount(i int, m Mount) error {
	if !path.IsAbs(m.GuestPath) || path.Clean(m.GuestPath) == "/" {
		return fmt.Errorf("mounts[%d].guestPath %q: a file mounts at an absolute path below /", i, m.GuestPath)
	}
	gp := path.Clean(m.GuestPath)
	var fi os.FileInfo
	var err error
	if m.File != nil {
		fi, err = m.File.Stat()
	} else {
		fi, err = os.Lstat(m.HostPath)
	}
	if err != nil {
		return fmt.Errorf("mounts[%d].file: %w", i, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("mounts[%d] %q: %s is not a regular file", i, gp, m.HostPath)
	}
	// The directory mount a guest's libc resolves gp's directory through.
	var d *dirFile
	var at string
	for _, ent := range s.fds {
		if ent.preopen == "" {
			continue
		}
		if ent.preopen == gp {
			return fmt.Errorf("error mounting %q to %q: not a directory (a directory is mounted there, the mount is a file)", m.HostPath, gp)
		}
		if (ent.preopen == "/" || strings.HasPrefix(gp, ent.preopen+"/")) && len(ent.preopen) >= len(at) {
			d, at = ent.file.(*dirFile), ent.preopen
		}
	}
	if d == nil || d.root == nil {
		return fmt.Errorf("mounts[%d] %q: no directory mount holds %s", i, gp, path.Dir(gp))
	}
	rel := strings.TrimLeft(strings.TrimPrefix(gp, at), "/")
	dir, name, ino, err := d.mountPoint(rel)
	if err != nil {
		return fmt.Errorf("error mounting %q to %q: %w", m.HostPath, gp, err)
	}
	var own *os.File
	if m.File != nil {
		if own, err = dupFile(m.File); err != nil {
			return fmt.Errorf("mounts[%d].file: %w", i, err)
		}
	}
	if s.files == nil {
		s.files = &fileMounts{names: map[string]bool{}, at: map[mountPoint]*fileMount{}, inodes: map[fileID]*fileMount{}}
	}
	mp := mountPoint{d.mountOf(), dir, name}
	if s.files.at[mp] != nil {
		if own != nil {
			_ = own.Close()
		}
		return fmt.Errorf("mounts[%d].guestPath %q: mounted twice", i, m.GuestPath)
	}
	fm := &fileMount{f: own, readOnly: m.ReadOnly, q: m.Quota, guest: gp}
	if own == nil {
		fm.path = m.HostPath
	}
	s.files.names[name] = true
	s.files.at[mp] = fm
	s.files.inodes[ino] = fm
	return nil
}

// mountPoint makes (if missing) the mount point rel of a file mount in d:
// its directories, then an empty file, resolving symlinks inside d only.
// It returns the (dev, ino) of the mount point's directory, its name and
// its own (dev, ino).
func (d *dirFile) mountPoint(rel string) (fileID, string, fileID, error) {
	if err := d.root.MkdirAll(path.Dir(rel), 0o755); err != nil {
		return fileID{}, "", fileID{}, err
	}
	r, e := d.realPath(rel)
	if e != 0 {
		return fileID{}, "", fileID{}, fmt.Errorf("the mount point leads outside its directory mount (%v)", e)
	}
	fi, err := d.root.Lstat(r)
	switch {
	case r == "." || err == nil && fi.IsDir():
		return fileID{}, "", fileID{}, fmt.Errorf("not a directory (the mount point is a directory, the mount a file)")
	case err != nil && !os.IsNotExist(err):
		return fileID{}, "", fileID{}, err
	case err != nil:
		if e := d.locked(func() Errno {
			if d.q != nil && !d.q.take(InodeCost) {
				return ENOSPC
			}
			f, err := d.root.OpenFile(r, os.O_CREATE|os.O_RDONLY, 0o644)
			if err != nil {
				if d.q != nil {
					d.q.give(InodeCost)
				}
				return ErrnoOf(err)
			}
			_ = f.Close()
			return 0
		}); e != 0 {
			return fileID{}, "", fileID{}, e
		}
	}
	di, err := d.root.Stat(path.Dir(r))
	if err != nil {
		return fileID{}, "", fileID{}, err
	}
	fi, err = d.root.Lstat(r)
	if err != nil {
		return fileID{}, "", fileID{}, err
	}
	st, own := statOf(di), statOf(fi)
	return fileID{st.Dev, st.Ino}, path.Base(r), fileID{own.Dev, own.Ino}, nil
}

// fileMountAt is the file mounted at p (a checked path relative to d) by
// its last name, nil if none is. A path reaching a mount point through a
// final symlink is caught after the host call by mountedAt.
func (d *dirFile) fileMountAt(p string) *fileMount {
	if d.fm == nil || d.root == nil {
		return nil
	}
	dir, base, slash, ok := splitLast(p)
	if !ok || slash || !d.fm.names[base] {
		return nil // "x/", "x/." name directories: the mount point is a file (ENOTDIR)
	}
	fi, err := d.root.Stat(dir)
	if err != nil {
		return nil
	}
	st := statOf(fi)
	return d.fm.at[mountPoint{d.mountOf(), fileID{st.Dev, st.Ino}, base}]
}

// mountedAt is the file mounted over the file whose Filestat is st (one
// a path led to through a symlink), nil if it is no mount point.
func (d *dirFile) mountedAt(st Filestat) *fileMount {
	if d.fm == nil || st.Filetype == FiletypeDirectory {
		return nil
	}
	return d.fm.inodes[fileID{st.Dev, st.Ino}]
}

// open is path_open of the mounted file.
func (m *fileMount) open(oflags uint16, rights uint64, fdflags uint16) (File, Errno) {
	flag, _, changes := openFlags(oflags, rights, fdflags)
	switch {
	case oflags&oflagDirectory != 0:
		return nil, ENOTDIR
	case oflags&(oflagCreat|oflagExcl) == oflagCreat|oflagExcl:
		return nil, EEXIST
	case changes && m.readOnly:
		return nil, EROFS
	}
	flag &^= os.O_CREATE | os.O_EXCL | oNofollow | oDirectory
	if m.q != nil {
		m.q.mu.Lock()
		defer m.q.mu.Unlock()
	}
	var before Filestat
	if st, e := m.stat(); e == 0 {
		before = st
	}
	var f *os.File
	var err error
	if m.f != nil {
		f, err = reopen(m.f, flag)
	} else {
		f, err = os.OpenFile(m.path, flag|oNofollow, 0)
	}
	if err != nil {
		return nil, ErrnoOf(err)
	}
	rf := &regFile{f: f, readOnly: m.readOnly, appendMode: flag&os.O_APPEND != 0}
	if m.q != nil {
		if oflags&oflagTrunc != 0 {
			m.q.give(int64(before.Size))
		}
		fi, err := f.Stat()
		if err != nil {
			_ = f.Close()
			return nil, ErrnoOf(err)
		}
		st := statOf(fi)
		rf.q, rf.id = m.q, fileID{st.Dev, st.Ino}
		m.q.opened(st)
	}
	return rf, 0
}

func (m *fileMount) stat() (Filestat, Errno) {
	var fi os.FileInfo
	var err error
	if m.f != nil {
		fi, err = m.f.Stat()
	} else {
		fi, err = os.Lstat(m.path)
	}
	if err != nil {
		return Filestat{}, ErrnoOf(err)
	}
	return statOf(fi), 0
}

func (m *fileMount) setTimes(atim, mtim *time.Time) Errno {
	if m.readOnly {
		return EROFS
	}
	if m.f == nil {
		f, err := os.OpenFile(m.path, os.O_RDONLY|oNofollow, 0)
		if err != nil {
			return ErrnoOf(err)
		}
		defer f.Close()
		return ErrnoOf(futimes(f, atim, mtim))
	}
	return ErrnoOf(futimes(m.f, atim, mtim))
}
