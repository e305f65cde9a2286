package wazero

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// rootFS is a wazero experimental/sys.FS confined to a host directory by
// os.Root: no path, "..", absolute path or symlink (host-made or guest-made)
// resolves outside it. Guests may not create symlinks with absolute targets
// or targets that lexically leave the mount. A read-only rootFS refuses every
// write with EROFS.
type rootFS struct {
	experimentalsys.UnimplementedFS
	root     *os.Root
	readOnly bool
}

func newRootFS(hostDir string, readOnly bool) (*rootFS, error) {
	r, err := os.OpenRoot(hostDir)
	if err != nil {
		return nil, err
	}
	return &rootFS{root: r, readOnly: readOnly}, nil
}

func (r *rootFS) String() string { return r.root.Name() }

func (r *rootFS) Close() error { return r.root.Close() }

// name converts a wazero path (relative to the mount, maybe "" or with a
// trailing slash) to an os.Root name.
func name(p string) string {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return "."
	}
	return p
}

// errno maps an os error to a wazero Errno; escapes become EPERM.
func errno(err error) experimentalsys.Errno {
	if err == nil {
		return 0
	}
	var pe *os.PathError
	var le *os.LinkError
	inner := err
	if errors.As(err, &pe) {
		inner = pe.Err
	} else if errors.As(err, &le) {
		inner = le.Err
	}
	if inner != nil && strings.Contains(inner.Error(), "path escapes from parent") {
		return experimentalsys.EPERM
	}
	if errors.Is(err, syscall.EXDEV) && pe != nil {
		return experimentalsys.EPERM
	}
	return experimentalsys.UnwrapOSError(err)
}

func (r *rootFS) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	var oflag int
	switch flag & 3 {
	case experimentalsys.O_RDONLY:
		oflag = os.O_RDONLY
	case experimentalsys.O_RDWR:
		oflag = os.O_RDWR
	case experimentalsys.O_WRONLY:
		oflag = os.O_WRONLY
	}
	write := oflag != os.O_RDONLY || flag&(experimentalsys.O_CREAT|experimentalsys.O_TRUNC|experimentalsys.O_APPEND) != 0
	if write && r.readOnly {
		return nil, experimentalsys.EROFS
	}
	if flag&experimentalsys.O_DIRECTORY != 0 && oflag != os.O_RDONLY {
		return nil, experimentalsys.EISDIR
	}
	if flag&experimentalsys.O_APPEND != 0 {
		oflag |= os.O_APPEND
	}
	if flag&experimentalsys.O_CREAT != 0 {
		oflag |= os.O_CREATE
	}
	if flag&experimentalsys.O_EXCL != 0 {
		oflag |= os.O_EXCL
	}
	if flag&experimentalsys.O_TRUNC != 0 {
		oflag |= os.O_TRUNC
	}
	if flag&experimentalsys.O_SYNC != 0 {
		oflag |= os.O_SYNC
	}
	if flag&experimentalsys.O_NOFOLLOW != 0 {
		oflag |= oNofollow
	}
	if flag&experimentalsys.O_DIRECTORY != 0 {
		oflag |= oDirectory
	}
	n := name(p)
	f, err := r.root.OpenFile(n, oflag, perm)
	if err != nil {
		e := errno(err)
		if e == experimentalsys.ELOOP && flag&experimentalsys.O_NOFOLLOW != 0 && flag&experimentalsys.O_DIRECTORY != 0 {
			e = experimentalsys.ENOTDIR
		}
		return nil, e
	}
	return &rootFile{seeker: seeker[int64]{f}, f: f, name: n, flag: flag, readOnly: r.readOnly}, 0
}

func (r *rootFS) Lstat(p string) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := r.root.Lstat(name(p))
	if err != nil {
		return sys.Stat_t{}, errno(err)
	}
	return sys.NewStat_t(fi), 0
}

func (r *rootFS) Stat(p string) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := r.root.Stat(name(p))
	if err != nil {
		return sys.Stat_t{}, errno(err)
	}
	return sys.NewStat_t(fi), 0
}

func (r *rootFS) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	e := errno(r.root.Mkdir(name(p), perm))
	if e == experimentalsys.ENOTDIR {
		e = experimentalsys.ENOENT
	}
	return e
}

func (r *rootFS) Chmod(p string, perm fs.FileMode) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	return errno(r.root.Chmod(name(p), perm))
}

func (r *rootFS) Rename(from, to string) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	return errno(r.root.Rename(name(from), name(to)))
}

func (r *rootFS) Rmdir(p string) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	n := name(p)
	fi, err := r.root.Lstat(n)
	if err != nil {
		return errno(err)
	}
	if !fi.IsDir() {
		return experimentalsys.ENOTDIR
	}
	return errno(r.root.Remove(n))
}

func (r *rootFS) Unlink(p string) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	n := name(p)
	fi, err := r.root.Lstat(n)
	if err != nil {
		return errno(err)
	}
	if fi.IsDir() {
		return experimentalsys.EISDIR
	}
	return errno(r.root.Remove(n))
}

func (r *rootFS) Link(oldPath, newPath string) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	return errno(r.root.Link(name(oldPath), name(newPath)))
}

// Symlink refuses absolute targets and relative targets that leave the
// mount when resolved lexically from the link's directory. (Following a
// symlink is confined by os.Root in any case.)
func (r *rootFS) Symlink(target, linkName string) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	if target == "" || path.IsAbs(target) {
		return experimentalsys.EPERM
	}
	link := name(linkName)
	resolved := path.Join(path.Dir(link), target)
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return experimentalsys.EPERM
	}
	return errno(r.root.Symlink(target, link))
}

func (r *rootFS) Readlink(p string) (string, experimentalsys.Errno) {
	t, err := r.root.Readlink(name(p))
	if err != nil {
		return "", errno(err)
	}
	return t, 0
}

func (r *rootFS) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	n := name(p)
	if atim == experimentalsys.UTIME_OMIT || mtim == experimentalsys.UTIME_OMIT {
		fi, err := r.root.Stat(n)
		if err != nil {
			return errno(err)
		}
		st := sys.NewStat_t(fi)
		if atim == experimentalsys.UTIME_OMIT {
			atim = st.Atim
		}
		if mtim == experimentalsys.UTIME_OMIT {
			mtim = st.Mtim
		}
	}
	return errno(r.root.Chtimes(n, time.Unix(0, atim), time.Unix(0, mtim)))
}

// rootFile is a file or directory opened through a rootFS.
type rootFile struct {
	seeker[int64]
	f        *os.File
	name     string
	flag     experimentalsys.Oflag
	readOnly bool
	st       *sys.Stat_t
	closed   bool
}

func (f *rootFile) stat() (*sys.Stat_t, experimentalsys.Errno) {
	if f.closed {
		return nil, experimentalsys.EBADF
	}
	if f.st == nil {
		fi, err := f.f.Stat()
		if err != nil {
			return nil, errno(err)
		}
		st := sys.NewStat_t(fi)
		f.st = &st
	}
	return f.st, 0
}

func (f *rootFile) Dev() (uint64, experimentalsys.Errno) {
	st, e := f.stat()
	if e != 0 {
		return 0, e
	}
	return st.Dev, 0
}

func (f *rootFile) Ino() (sys.Inode, experimentalsys.Errno) {
	st, e := f.stat()
	if e != 0 {
		return 0, e
	}
	return st.Ino, 0
}

func (f *rootFile) IsDir() (bool, experimentalsys.Errno) {
	st, e := f.stat()
	if e != 0 {
		return false, e
	}
	return st.Mode.IsDir(), 0
}

func (f *rootFile) IsAppend() bool { return f.flag&experimentalsys.O_APPEND != 0 }

// SetAppend is not supported on an open file (os.File cannot change its
// flags); the guest can reopen with O_APPEND instead.
func (f *rootFile) SetAppend(enable bool) experimentalsys.Errno {
	if enable == f.IsAppend() {
		return 0
	}
	return experimentalsys.ENOSYS
}

func (f *rootFile) Stat() (sys.Stat_t, experimentalsys.Errno) {
	if f.closed {
		return sys.Stat_t{}, experimentalsys.EBADF
	}
	fi, err := f.f.Stat()
	if err != nil {
		return sys.Stat_t{}, errno(err)
	}
	st := sys.NewStat_t(fi)
	f.st = &st
	return st, 0
}

func (f *rootFile) Read(buf []byte) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.Read(buf)
	if err == io.EOF {
		err = nil
	}
	return n, f.fileErr(err)
}

func (f *rootFile) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.ReadAt(buf, off)
	if err == io.EOF {
		err = nil
	}
	return n, f.fileErr(err)
}

// seeker provides rootFile's Seek. It is generic only so that go vet's
// stdmethods check, which wants Seek to return error rather than wazero's
// Errno, does not apply; it is always instantiated with int64.
type seeker[T ~int64] struct{ f *os.File }

func (s seeker[T]) Seek(offset T, whence int) (T, experimentalsys.Errno) {
	n, err := s.f.Seek(int64(offset), whence)
	if err != nil {
		return 0, errno(err)
	}
	return T(n), 0
}

func (f *rootFile) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	if f.closed {
		return nil, experimentalsys.EBADF
	}
	if isDir, e := f.IsDir(); e != 0 {
		return nil, e
	} else if !isDir {
		return nil, experimentalsys.EBADF
	}
	fis, err := f.f.Readdir(n)
	if err != nil && err != io.EOF {
		return nil, errno(err)
	}
	out := make([]experimentalsys.Dirent, 0, len(fis))
	for _, fi := range fis {
		st := sys.NewStat_t(fi)
		out = append(out, experimentalsys.Dirent{Name: fi.Name(), Ino: st.Ino, Type: fi.Mode().Type()})
	}
	return out, 0
}

func (f *rootFile) Write(buf []byte) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.Write(buf)
	return n, f.fileErr(err)
}

func (f *rootFile) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.WriteAt(buf, off)
	return n, f.fileErr(err)
}

func (f *rootFile) Truncate(size int64) experimentalsys.Errno {
	if size < 0 {
		return experimentalsys.EINVAL
	}
	return f.fileErr(f.f.Truncate(size))
}

func (f *rootFile) Sync() experimentalsys.Errno {
	if f.readOnly {
		return 0
	}
	return f.fileErr(f.f.Sync())
}

func (f *rootFile) Datasync() experimentalsys.Errno { return f.Sync() }

func (f *rootFile) Utimens(atim, mtim int64) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	if f.closed {
		return experimentalsys.EBADF
	}
	ts := []syscall.Timespec{utimespec(atim), utimespec(mtim)}
	// The fd is already confined: utimensat on /proc/self/fd is not needed,
	// futimens is utimensat(fd, NULL, ...).
	return errno(os.NewSyscallError("futimens", futimens(int(f.f.Fd()), ts)))
}

func (f *rootFile) Close() experimentalsys.Errno {
	if f.closed {
		return 0
	}
	f.closed = true
	return errno(f.f.Close())
}

// fileErr maps errors of operations on an open file, turning closed-file
// and is-a-directory errors into the errnos WASI expects.
func (f *rootFile) fileErr(err error) experimentalsys.Errno {
	if err == nil {
		return 0
	}
	if f.closed || errors.Is(err, os.ErrClosed) {
		return experimentalsys.EBADF
	}
	e := errno(err)
	if e == experimentalsys.EBADF {
		// e.g. writing a file opened read-only
		if isDir, _ := f.IsDir(); isDir {
			return experimentalsys.EISDIR
		}
	}
	return e
}

var (
	_ experimentalsys.FS   = (*rootFS)(nil)
	_ experimentalsys.File = (*rootFile)(nil)
)

// emptyFS is an fs.FS holding only an empty root directory.
type emptyFS struct{}

func (emptyFS) Open(name string) (fs.File, error) {
	if name != "." {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return emptyDir{}, nil
}

type emptyDir struct{}

func (emptyDir) Stat() (fs.FileInfo, error) { return emptyDirInfo{}, nil }
func (emptyDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: ".", Err: syscall.EISDIR}
}
func (emptyDir) Close() error                       { return nil }
func (emptyDir) ReadDir(int) ([]fs.DirEntry, error) { return nil, nil }

type emptyDirInfo struct{}

func (emptyDirInfo) Name() string       { return "/" }
func (emptyDirInfo) Size() int64        { return 0 }
func (emptyDirInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o555 }
func (emptyDirInfo) ModTime() time.Time { return time.Time{} }
func (emptyDirInfo) IsDir() bool        { return true }
func (emptyDirInfo) Sys() any           { return nil }
