package wasi

import (
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"time"
)

// dirFile is a directory fd: an os.Root confining every path below it (nil
// root: the virtual empty read-only "/").
type dirFile struct {
	root *os.Root
	f    *os.File // lazily opened for readdir, stat, sync and *at calls
	// budget is the System's host fd budget (nil: none); lazy is set when
	// f was opened lazily and took its fd from it (Close gives it back).
	budget   FDBudget
	lazy     bool
	readOnly bool
	q        *Quota // the volume's quota, nil when unbounded
	ls       dirStream
	mount    *mountID    // shared by a preopen and the directories opened from it
	fm       *fileMounts // the System's file mounts (filemount.go), nil if none
}

// mountID identifies one mount (one preopen): rename and link work between
// two directory fds of one mount, and fail with EXDEV between two mounts,
// as between two mount points of a host (even of one file system).
type mountID struct{ _ byte } // not zero-sized: each new one is distinct

// mountOf is d's mount, made on first use for a preopen.
func (d *dirFile) mountOf() *mountID {
	if d.mount == nil {
		d.mount = new(mountID)
	}
	return d.mount
}

// splitLast splits a checked guest path into the directory holding its
// last component (resolved through the root, following symlinks) and that
// component, which the caller applies with *at calls on the directory's fd:
// a single name that is not "." or ".." cannot leave the directory, and
// the calls that must not follow it (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW,
// rename, link) keep the kernel from following it. slash is whether p
// ends with "/"; ok is false when the last component is "." or "..".
func splitLast(p string) (dir, base string, slash, ok bool) {
	t := strings.TrimRight(p, "/")
	slash = len(t) < len(p)
	dir, base = ".", t
	if i := strings.LastIndexByte(t, '/'); i >= 0 {
		dir, base = strings.TrimRight(t[:i], "/"), t[i+1:]
	}
	return dir, base, slash, base != "." && base != ".." && base != "" && dir != ""
}

// dirStream is fd_readdir's bounded view of a directory: one batch of
// entries read from the directory fd (a window), the cookie of its first
// entry and where the fd's read position is. A guest resuming from a
// cookie in or after the window reads on; one before it (rewinddir is
// cookie 0) re-reads from the start. Memory per directory fd is one batch
// whatever the directory's size. The zero dirStream (start 0, below any
// entry's cookie) knows nothing of the fd's position: it seeks to 0 first.
type dirStream struct {
	win   []dirent // the entries with cookies start, start+1, ...
	start uint64
	next  uint64 // the cookie of the entry the fd reads next
	eof   bool   // the fd is at the end of the directory
}

// WASI cookies: 0 is ".", 1 is "..", the directory's entries follow in the
// order the host lists them.
const firstEntryCookie = 2

// direntBufSize bounds one batch read from a directory (getdents64's
// buffer); direntBatch is the entries a batch holds where the buffer is
// not available.
const (
	direntBufSize = 8 << 10
	direntBatch   = 256
)

var direntBufs = sync.Pool{New: func() any { b := make([]byte, direntBufSize); return &b }}

var dotEntries = []dirent{{name: ".", typ: FiletypeDirectory}, {name: "..", typ: FiletypeDirectory}}

// reset drops the window; the next read starts from the directory's start.
func (l *dirStream) reset() { *l = dirStream{} }

// locked runs fn with the quota's lock held, if there is a quota: the
// operations that change the volume's usage are serialized with it.
func (d *dirFile) locked(fn func() Errno) Errno {
	if d.q == nil {
		return fn()
	}
	d.q.mu.Lock()
	defer d.q.mu.Unlock()
	return fn()
}

// lstat is the Filestat of p, not following a final symlink (ok false if
// there is none).
func (d *dirFile) lstat(p string) (Filestat, bool) {
	fi, err := d.root.Lstat(p)
	if err != nil {
		return Filestat{}, false
	}
	return statOf(fi), true
}

type dirent struct {
	name string
	ino  uint64
	typ  Filetype
	lazy bool // ino and typ are to be stat'ed when the entry is returned
}

func (d *dirFile) Filetype() Filetype              { return FiletypeDirectory }
func (d *dirFile) Read([]byte) (int, error)        { return 0, EISDIR }
func (d *dirFile) Write([]byte) (int, error)       { return 0, EISDIR }
func (d *dirFile) Poll() (Events, <-chan struct{}) { return Readable | Writable, nil }

func (d *dirFile) Close() error {
	if d.f != nil {
		_ = d.f.Close()
		d.f = nil
	}
	if d.lazy {
		d.lazy = false
		d.budget.Release(1)
	}
	if d.root != nil {
		return d.root.Close()
	}
	return nil
}

func (d *dirFile) file() (*os.File, error) {
	if d.root == nil {
		return nil, ENOENT
	}
	if d.f == nil {
		if d.budget != nil && !d.budget.Acquire(1) {
			return nil, EMFILE
		}
		f, err := d.root.Open(".")
		if err != nil {
			if d.budget != nil {
				d.budget.Release(1)
			}
			return nil, err
		}
		d.f, d.lazy = f, d.budget != nil
	}
	return d.f, nil
}

func (d *dirFile) Stat() (Filestat, error) {
	if d.root == nil {
		return Filestat{Filetype: FiletypeDirectory, Nlink: 1}, nil
	}
	f, err := d.file()
	if err != nil {
		return Filestat{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		return Filestat{}, err
	}
	return statOf(fi), nil
}

func (d *dirFile) Sync() error { return nil }

func (d *dirFile) SetTimes(atim, mtim *time.Time) error {
	if d.readOnly {
		return EROFS
	}
	f, err := d.file()
	if err != nil {
		return err
	}
	return futimes(f, atim, mtim)
}

// readdir returns entries from cookie on: a non-empty batch, nil at the
// end. Reading on to a cookie past the window reads batch after batch
// (each bounded), checking killed between them (EINTR).
func (d *dirFile) readdir(cookie uint64, killed func() bool) ([]dirent, error) {
	if cookie < firstEntryCookie {
		// Cookie 0 (or 1) is rewinddir: the entries are read again, so a
		// listing sees what changed since the last one (fd_readdir.rs).
		d.ls.reset()
		return dotEntries[cookie:], nil
	}
	if d.root == nil {
		return nil, nil
	}
	f, err := d.file()
	if err != nil {
		return nil, err
	}
	l := &d.ls
	if cookie < l.start || l.start == 0 {
		// Before the window: read again from the start.
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		*l = dirStream{start: firstEntryCookie, next: firstEntryCookie}
	}
	for cookie >= l.start+uint64(len(l.win)) {
		if l.eof {
			return nil, nil
		}
		if killed != nil && killed() {
			return nil, EINTR
		}
		ents, eof, err := readDirents(f)
		if err != nil {
			return nil, err
		}
		l.win, l.start, l.eof = ents, l.next, eof
		l.next += uint64(len(ents))
	}
	return l.win[cookie-l.start:], nil
}

// entry is ent with its inode and type, stat'ed if the batch left it lazy.
func (d *dirFile) entry(ent dirent) dirent {
	if ent.lazy {
		if st, ok := d.lstat(ent.name); ok {
			ent.ino, ent.typ = st.Ino, st.Filetype
		} else {
			ent.typ = FiletypeUnknown
		}
		ent.lazy = false
	}
	return ent
}

// name checks a guest path relative to this directory.
func (d *dirFile) name(p string) (string, Errno) {
	if p == "" {
		return "", ENOENT
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", EINVAL
	}
	if path.IsAbs(p) {
		return "", EPERM
	}
	return p, 0
}

// isSelf reports whether p names the directory itself.
func isSelf(p string) bool { return path.Clean(p) == "." }

// lookup is for paths that must exist; the virtual root has only itself.
func (d *dirFile) lookup(p string) (string, Errno) {
	n, e := d.name(p)
	if e != 0 {
		return "", e
	}
	if d.root == nil && !isSelf(n) {
		return "", ENOENT
	}
	return n, 0
}

// writable refuses changes in a read-only mount.
func (d *dirFile) writable(p string) (string, Errno) {
	n, e := d.name(p)
	if e != 0 {
		return "", e
	}
	if d.readOnly || d.root == nil {
		return "", EROFS
	}
	return n, 0
}

// WASI oflags, lookupflags and fdflags.
const (
	oflagCreat     = 1
	oflagDirectory = 2
	oflagExcl      = 4
	oflagTrunc     = 8

	lookupSymlinkFollow = 1

	fdflagAppend   = 1
	fdflagDsync    = 2
	fdflagNonblock = 4
	fdflagRsync    = 8
	fdflagSync     = 16

	rightFdRead  = 1 << 1
	rightFdWrite = 1 << 6
	allRights    = 1<<30 - 1
)

// openFlags is the host open flag of a path_open, whether it opens for
// writing and whether it may change the file (write, create or truncate).
func openFlags(oflags uint16, rights uint64, fdflags uint16) (flag int, write, changes bool) {
	write = rights&rightFdWrite != 0 || fdflags&fdflagAppend != 0
	read := rights&rightFdRead != 0 || !write
	changes = write || oflags&(oflagCreat|oflagTrunc) != 0
	flag = os.O_RDONLY
	switch {
	case write && read:
		flag = os.O_RDWR
	case write:
		flag = os.O_WRONLY
	}
	if oflags&oflagCreat != 0 {
		flag |= os.O_CREATE
	}
	if oflags&oflagExcl != 0 {
		flag |= os.O_EXCL
	}
	if oflags&oflagTrunc != 0 {
		flag |= os.O_TRUNC
	}
	if fdflags&fdflagAppend != 0 {
		flag |= os.O_APPEND
	}
	if fdflags&(fdflagSync|fdflagDsync|fdflagRsync) != 0 {
		flag |= os.O_SYNC
	}
	return flag, write, changes
}

// open opens p (path_open). With file mounts (filemount.go), a path whose
// last name is a mount point opens the mounted file, and so does one that
// led to a mount point through a final symlink (seen by the inode opened).
func (d *dirFile) open(p string, lookup uint32, oflags uint16, rights uint64, fdflags uint16) (File, Errno) {
	if d.fm == nil {
		return d.openHost(p, lookup, oflags, rights, fdflags, nil)
	}
	if n, e := d.name(p); e == 0 {
		if fm := d.fileMountAt(n); fm != nil {
			return fm.open(oflags, rights, fdflags)
		}
	}
	var mounted *fileMount
	f, e := d.openHost(p, lookup, oflags, rights, fdflags, &mounted)
	if mounted != nil {
		return mounted.open(oflags, rights, fdflags)
	}
	return f, e
}

// openHost opens p in this directory's mount. When mounted is not nil and
// what p led to is a mount point, it sets *mounted and opens nothing.
func (d *dirFile) openHost(p string, lookup uint32, oflags uint16, rights uint64, fdflags uint16, mounted **fileMount) (File, Errno) {
	flag, write, changes := openFlags(oflags, rights, fdflags)
	var n string
	var e Errno
	if changes {
		n, e = d.writable(p)
	} else {
		n, e = d.lookup(p)
	}
	if e != 0 {
		return nil, e
	}
	if d.root == nil { // the virtual root opening itself
		return &dirFile{readOnly: true}, 0
	}
	if dir, _, slash, ok := splitLast(n); ok && slash && oflags&oflagCreat != 0 {
		// As open(2): O_CREAT with a trailing slash is EISDIR once the
		// directory resolves, whatever the name is.
		if fi, err := d.root.Stat(dir); err != nil {
			return nil, ErrnoOf(err)
		} else if !fi.IsDir() {
			return nil, ENOTDIR
		}
		return nil, EISDIR
	}
	if lookup&lookupSymlinkFollow == 0 {
		flag |= oNofollow
	}
	if oflags&oflagDirectory != 0 {
		if write {
			return nil, EISDIR
		}
		flag |= oDirectory
	}
	if d.q != nil {
		// Creating a file takes an inode's worth, truncating gives its
		// size back; and the size an open file starts with in the quota
		// must be read while no other fd of the volume can change it.
		d.q.mu.Lock()
		defer d.q.mu.Unlock()
	}
	var before Filestat
	existed := true
	if d.q != nil && changes {
		var fi os.FileInfo
		var err error
		if lookup&lookupSymlinkFollow != 0 {
			fi, err = d.root.Stat(n)
		} else {
			fi, err = d.root.Lstat(n)
		}
		if err == nil {
			before = statOf(fi)
		} else if existed = false; oflags&oflagCreat != 0 && !d.q.take(InodeCost) {
			return nil, ENOSPC
		}
	}
	var f *os.File
	var err error
	if dir, base, slash, ok := splitLast(n); ok && !slash && lookup&lookupSymlinkFollow == 0 {
		// Not following the final symlink: openat(O_NOFOLLOW) on its
		// directory (os.Root.OpenFile follows it whatever the flags). A
		// trailing slash resolves the link, as in POSIX: os.Root below.
		f, err = d.openNoFollow(dir, base, flag)
	} else {
		f, err = d.root.OpenFile(n, flag, 0o666)
	}
	if err != nil {
		if !existed && oflags&oflagCreat != 0 {
			d.q.give(InodeCost)
		}
		return nil, ErrnoOf(err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, ErrnoOf(err)
	}
	if !fi.IsDir() {
		if oflags&oflagDirectory != 0 {
			f.Close()
			return nil, ENOTDIR
		}
		if mounted != nil {
			if *mounted = d.mountedAt(statOf(fi)); *mounted != nil {
				f.Close()
				return nil, 0
			}
		}
		rf := &regFile{f: f, readOnly: d.readOnly, appendMode: flag&os.O_APPEND != 0}
		if d.q != nil && fi.Mode().IsRegular() {
			if existed && oflags&oflagTrunc != 0 && before.Filetype == FiletypeRegularFile {
				d.q.give(int64(before.Size))
			}
			st := statOf(fi)
			rf.q, rf.id = d.q, fileID{st.Dev, st.Ino}
			d.q.opened(st)
		}
		return rf, 0
	}
	if write {
		f.Close()
		return nil, EISDIR
	}
	sub, err := d.root.OpenRoot(n)
	if err != nil {
		f.Close()
		return nil, ErrnoOf(err)
	}
	return &dirFile{root: sub, f: f, budget: d.budget, readOnly: d.readOnly, q: d.q, mount: d.mountOf(), fm: d.fm}, 0
}

func (d *dirFile) stat(p string, follow bool) (Filestat, Errno) {
	n, e := d.lookup(p)
	if e != 0 {
		return Filestat{}, e
	}
	if d.root == nil {
		return Filestat{Filetype: FiletypeDirectory, Nlink: 1}, 0
	}
	if fm := d.fileMountAt(n); fm != nil {
		return fm.stat()
	}
	var fi os.FileInfo
	var err error
	if follow {
		fi, err = d.root.Stat(n)
	} else {
		fi, err = d.root.Lstat(n)
	}
	if err != nil {
		return Filestat{}, ErrnoOf(err)
	}
	st := statOf(fi)
	if fm := d.mountedAt(st); fm != nil {
		return fm.stat() // reached through a symlink
	}
	return st, 0
}

func (d *dirFile) mkdir(p string) Errno {
	n, e := d.writable(p)
	if e != 0 {
		return e
	}
	return d.locked(func() Errno {
		if d.q != nil && !d.q.take(InodeCost) {
			return ENOSPC
		}
		e := ErrnoOf(d.root.Mkdir(n, 0o777))
		if e != 0 && d.q != nil {
			d.q.give(InodeCost)
		}
		return e
	})
}

func (d *dirFile) rmdir(p string) Errno {
	n, e := d.writable(p)
	if e != 0 {
		return e
	}
	return d.locked(func() Errno {
		st, ok := d.removing(n)
		e := ErrnoOf(d.rmdirAt(n))
		if e == 0 && ok {
			d.q.dropped(st)
		}
		return e
	})
}

// removing is, with a quota, the Filestat of what removing p (a trailing
// slash or not) takes away; ok false when there is no quota or nothing.
func (d *dirFile) removing(p string) (Filestat, bool) {
	if d.q == nil {
		return Filestat{}, false
	}
	return d.lstat(path.Clean(p))
}

func (d *dirFile) unlink(p string) Errno {
	n, e := d.writable(p)
	if e != 0 {
		return e
	}
	if d.fileMountAt(n) != nil {
		return EBUSY // a mount point
	}
	return d.locked(func() Errno {
		st, ok := d.removing(n)
		e := ErrnoOf(d.unlinkAt(n))
		if e == 0 && ok {
			d.q.dropped(st)
		}
		return e
	})
}

// rename is path_rename: rename(2) between two directory fds of one mount
// (a directory replaces an empty one; ENOTEMPTY, EISDIR, ENOTDIR as the
// host says), each path's directory resolved through its fd's root.
func (d *dirFile) rename(from string, to *dirFile, toPath string) Errno {
	return d.twoPaths(from, to, toPath, func(a, b string) Errno {
		if d.fileMountAt(a) != nil || to.fileMountAt(b) != nil {
			return EBUSY // a mount point
		}
		if e := d.checkMove(a, to, b, true); e != 0 {
			return e
		}
		return d.locked(func() Errno {
			// A rename over an existing name drops what it named.
			var replaced Filestat
			var ok bool
			if d.q != nil {
				src, _ := d.lstat(path.Clean(a))
				if replaced, ok = to.lstat(path.Clean(b)); ok && replaced.Ino != 0 && replaced.Dev == src.Dev && replaced.Ino == src.Ino {
					ok = false // two names of one file: rename does nothing
				}
			}
			e := ErrnoOf(d.renameAt(a, to, b))
			if e == 0 && ok {
				d.q.dropped(replaced)
			}
			return e
		})
	})
}

// link is path_link without LOOKUP_SYMLINK_FOLLOW: a final symlink is
// linked itself.
func (d *dirFile) link(from string, to *dirFile, toPath string) Errno {
	return d.linkFollow(from, false, to, toPath)
}

// linkFollow is path_link. With follow (linkat's AT_SYMLINK_FOLLOW) the
// source's symlinks are resolved inside this directory first (realPath:
// never outside it) and what they name is linked; wasmtime refuses the
// flag (EINVAL), POSIX follows. A hard link shares its inode: the quota
// does not change.
func (d *dirFile) linkFollow(from string, follow bool, to *dirFile, toPath string) Errno {
	return d.twoPaths(from, to, toPath, func(a, b string) Errno {
		if _, _, slash, ok := splitLast(a); slash || !ok {
			// "x/", "x/." and "x/.." name directories, which have no hard
			// links.
			fi, err := d.root.Stat(a)
			switch {
			case err != nil:
				return ErrnoOf(err)
			case !fi.IsDir():
				return ENOTDIR
			}
			return EPERM
		}
		if d.fileMountAt(a) != nil {
			return EXDEV // the file is another mount's
		}
		if follow {
			r, e := d.realPath(a)
			if e != 0 {
				return e
			}
			if r == "." {
				return EPERM // the directory itself
			}
			a = r
		}
		if e := d.checkMove(a, to, b, false); e != 0 {
			return e
		}
		return ErrnoOf(d.linkAt(a, to, b))
	})
}

// maxMoveWalk bounds the entries checkMove inspects in a directory that
// moves up; a larger one gets EXDEV, on which mv and rename(3) users fall
// back to copying (and path_symlink checks every link they recreate).
var maxMoveWalk = 10000

// checkMove refuses (EPERM, as path_symlink refuses an escaping target) a
// rename or link that would leave a relative symlink pointing outside this
// directory from where it lands: a link made harmless deep in a volume and
// moved to its top must not point above it. Following a link is confined
// anyway (os.Root); this keeps escaping links from existing at all, for
// whoever else reads the volume (a subPath, a host process on a hostPath).
//
// A moved symlink is checked at its new place. A moved directory is walked
// (up to maxMoveWalk entries) only when it moves to a shallower place:
// lexically a link escapes when its ".."s climb above its depth, so a
// deeper place cannot make an inside link escape. Paths are compared after
// resolving the symlinks of the destination's parent, since the depth that
// matters is the real one. Moves by another instance between this check
// and the rename are not seen; they are confined like any other link.
//
// Between two directory fds (of one mount), b is judged in the destination
// fd's own subtree, as path_symlink from that fd is; a directory moved is
// then always walked, the two fds' depths being unknown to each other.
func (d *dirFile) checkMove(a string, to *dirFile, b string, dirs bool) Errno {
	fi, err := d.root.Lstat(a)
	if err != nil {
		return 0 // the operation reports it
	}
	newParent, e := to.realPath(path.Dir(path.Clean(b)))
	if e != 0 {
		return 0 // unresolvable inside the root: the operation fails
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		t, err := d.root.Readlink(a)
		if err != nil {
			return ErrnoOf(err)
		}
		if escapes(newParent, t) {
			return EPERM
		}
	case fi.IsDir() && dirs:
		if to == d {
			oldParent, e := d.realPath(path.Dir(path.Clean(a)))
			if e != 0 || depth(newParent) >= depth(oldParent) {
				return 0
			}
		}
		return d.checkTree(a, path.Join(newParent, path.Base(path.Clean(b))))
	}
	return 0
}

// checkTree checks every symlink under directory a as if a were at dst.
func (d *dirFile) checkTree(a, dst string) Errno {
	sub, err := d.root.OpenRoot(a)
	if err != nil {
		return 0
	}
	defer sub.Close()
	n := 0
	var bad Errno
	_ = fs.WalkDir(sub.FS(), ".", func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if n++; n > maxMoveWalk {
			bad = EXDEV
			return fs.SkipAll
		}
		if de.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		t, err := sub.Readlink(p)
		if err == nil && escapes(path.Join(dst, path.Dir(p)), t) {
			bad = EPERM
			return fs.SkipAll
		}
		return nil
	})
	return bad
}

// escapes reports whether a relative symlink target, read from directory
// dir (relative to the root, its symlinks resolved), may lead above the
// root. A target is accepted only in the form ("../")* then normal
// components: its ".."s climb from the link's real directory, which is
// known, and must not climb above the root. A ".." after a normal
// component ("a/../b", "s/../../x") is refused whatever its lexical
// result: the component may be (or later become) a symlink, and then the
// ".." climbs from wherever that symlink leads, not from the link's
// directory, so cancelling it lexically would be wrong (a link
// "d1/d2/x -> s/../../../y" escapes through "d1/d2/s -> ../.."). Each
// accepted link stays inside from its own place, so any chain of them
// does too.
func escapes(dir, target string) bool {
	if path.IsAbs(target) {
		return false // not relative: its meaning does not depend on its place
	}
	up, named := 0, false
	for _, c := range strings.Split(target, "/") {
		switch c {
		case "", ".":
		case "..":
			if named {
				return true
			}
			up++
		default:
			named = true
		}
	}
	return up > depth(path.Clean(dir))
}

// depth is the number of components of a clean relative path.
func depth(p string) int {
	if p == "." || p == "" {
		return 0
	}
	return strings.Count(p, "/") + 1
}

// realPath resolves the symlinks of p (relative to the root) as the
// kernel would, without leaving the root; a missing component is taken
// as it is. It fails with EPERM when p leads outside the root (as os.Root
// does), ELOOP when it loops.
func (d *dirFile) realPath(p string) (string, Errno) {
	var out []string
	rest := strings.Split(path.Clean(p), "/")
	for links := 0; len(rest) > 0; {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(out) == 0 {
				return "", EPERM
			}
			out = out[:len(out)-1]
			continue
		}
		cur := path.Join(append(out, c)...)
		fi, err := d.root.Lstat(cur)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			out = append(out, c)
			continue
		}
		if links++; links > 40 {
			return "", ELOOP
		}
		t, err := d.root.Readlink(cur)
		if err != nil {
			return "", ErrnoOf(err)
		}
		if path.IsAbs(t) {
			return "", EPERM
		}
		rest = append(strings.Split(t, "/"), rest...)
	}
	return path.Join(out...), 0
}

// twoPaths checks both paths of a rename or link for writing and runs op
// (EXDEV across two mounts).
func (d *dirFile) twoPaths(from string, to *dirFile, toPath string, op func(a, b string) Errno) Errno {
	a, e := d.writable(from)
	if e != 0 {
		return e
	}
	b, e := to.writable(toPath)
	if e != 0 {
		return e
	}
	if to != d && to.mountOf() != d.mountOf() {
		return EXDEV
	}
	return op(a, b)
}

// symlink refuses absolute targets and targets that may leave this
// directory (see escapes: only ("../")* then normal components, the ".."s
// not above it from the link's real directory). Following is confined
// anyway (os.Root); this keeps host-side readers of the volume inside.
func (d *dirFile) symlink(target, p string) Errno {
	n, e := d.writable(p)
	if e != 0 {
		return e
	}
	if target == "" || path.IsAbs(target) || strings.IndexByte(target, 0) >= 0 {
		return EPERM
	}
	// Judged from the link's real directory: its parent may itself be
	// reached through a symlink.
	dir, e := d.realPath(path.Dir(path.Clean(n)))
	if e != 0 {
		return e // a directory above the root (EPERM) or a loop (ELOOP)
	}
	if escapes(dir, target) {
		return EPERM
	}
	return d.locked(func() Errno {
		if d.q != nil && !d.q.take(InodeCost) {
			return ENOSPC
		}
		e := ErrnoOf(d.symlinkAt(target, n))
		if e == EEXIST && strings.HasSuffix(n, "/") {
			// As wasmtime (path_symlink_trailing_slashes): "f/" naming
			// an existing file is ENOTDIR (the kernel says EEXIST).
			if st, ok := d.lstat(path.Clean(n)); ok && st.Filetype == FiletypeRegularFile {
				e = ENOTDIR
			}
		}
		if e != 0 && d.q != nil {
			d.q.give(InodeCost)
		}
		return e
	})
}

func (d *dirFile) readlink(p string) (string, Errno) {
	n, e := d.lookup(p)
	if e != 0 {
		return "", e
	}
	if d.root == nil {
		return "", EINVAL
	}
	t, err := d.root.Readlink(n)
	if err != nil {
		return "", ErrnoOf(err)
	}
	return t, 0
}

// setTimes is path_filestat_set_times: without follow a final symlink's
// own times change (utimensat AT_SYMLINK_NOFOLLOW on its directory).
func (d *dirFile) setTimes(p string, follow bool, atim, mtim *time.Time) Errno {
	if d.fm != nil {
		if n, e := d.name(p); e == 0 {
			if fm := d.fileMountAt(n); fm != nil {
				return fm.setTimes(atim, mtim)
			}
		}
	}
	n, e := d.writable(p)
	if e != 0 {
		return e
	}
	if dir, base, slash, ok := splitLast(n); ok && !slash && !follow {
		return ErrnoOf(d.setTimesNoFollow(dir, base, atim, mtim))
	}
	var a, m time.Time // zero: unchanged
	if atim != nil {
		a = *atim
	}
	if mtim != nil {
		m = *mtim
	}
	return ErrnoOf(d.root.Chtimes(n, a, m))
}
