package wasi

import (
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Rights, fd kinds and fd flags against wasmtime's preview-1 behaviour
// (the WebAssembly/wasi-testsuite expectations: path_open_preopen,
// fd_fdstat_set_rights, path_open_read_without_rights, truncation_rights,
// directory_seek, dir_fd_op_failures, fd_readdir, fd_flags_set,
// file_pread_pwrite). Issue 10, defects 1, 2, 4 and 5.

// The rights, as the WASI preview-1 spec numbers them (spelt out here
// rather than taken from the implementation).
const (
	rtFdDatasync           = 1 << 0
	rtFdRead               = 1 << 1
	rtFdSeek               = 1 << 2
	rtFdFdstatSetFlags     = 1 << 3
	rtFdSync               = 1 << 4
	rtFdTell               = 1 << 5
	rtFdWrite              = 1 << 6
	rtFdAdvise             = 1 << 7
	rtFdAllocate           = 1 << 8
	rtPathCreateDirectory  = 1 << 9
	rtPathCreateFile       = 1 << 10
	rtPathLinkSource       = 1 << 11
	rtPathLinkTarget       = 1 << 12
	rtPathOpen             = 1 << 13
	rtFdReaddir            = 1 << 14
	rtPathReadlink         = 1 << 15
	rtPathRenameSource     = 1 << 16
	rtPathRenameTarget     = 1 << 17
	rtPathFilestatGet      = 1 << 18
	rtPathFilestatSetSize  = 1 << 19
	rtPathFilestatSetTimes = 1 << 20
	rtFdFilestatGet        = 1 << 21
	rtFdFilestatSetSize    = 1 << 22
	rtFdFilestatSetTimes   = 1 << 23
	rtPathSymlink          = 1 << 24
	rtPathRemoveDirectory  = 1 << 25
	rtPathUnlinkFile       = 1 << 26
	rtPollFdReadwrite      = 1 << 27

	// rtDirBase is what userlands expect a directory to hold
	// (path_open_preopen.rs), rtDirInheriting what it passes on.
	rtDirBase = rtPathCreateDirectory | rtPathCreateFile | rtPathLinkSource |
		rtPathLinkTarget | rtPathOpen | rtFdReaddir | rtPathReadlink |
		rtPathRenameSource | rtPathRenameTarget | rtPathSymlink |
		rtPathRemoveDirectory | rtPathUnlinkFile | rtPathFilestatGet |
		rtPathFilestatSetTimes | rtFdFilestatGet | rtFdFilestatSetTimes
	rtFileOnly = rtFdDatasync | rtFdRead | rtFdSeek | rtFdFdstatSetFlags |
		rtFdSync | rtFdTell | rtFdWrite | rtFdAdvise | rtFdAllocate |
		rtFdFilestatSetSize | rtPollFdReadwrite
	rtDirInheriting = rtDirBase | rtFileOnly | rtFdFilestatGet | rtFdFilestatSetTimes
	// rtTmpDir* are the rights the suite's create_tmp_dir opens its
	// scratch directory with.
	rtTmpDirBase = rtFdFilestatGet | rtFdReaddir | rtPathCreateFile | rtPathCreateDirectory |
		rtPathRemoveDirectory | rtPathOpen | rtPathUnlinkFile | rtPathLinkSource |
		rtPathLinkTarget | rtPathReadlink | rtPathRenameSource | rtPathRenameTarget |
		rtPathFilestatGet | rtPathFilestatSetSize | rtPathFilestatSetTimes | rtPathSymlink
	rtTmpDirInheriting = rtFdRead | rtFdWrite | rtFdReaddir | rtFdFilestatGet | rtFdSeek |
		rtPathLinkSource | rtPathLinkTarget | rtPathOpen | rtPathUnlinkFile |
		rtPathFilestatGet | rtFdFdstatSetFlags | rtFdSync | rtFdTell | rtFdAdvise |
		rtFdAllocate | rtFdFilestatSetSize | rtFdFilestatSetTimes
)

type rtStat struct {
	filetype Filetype
	flags    uint16
	base     uint64
	inh      uint64
}

func (g *guest) fdstat(fd uint32) rtStat {
	g.t.Helper()
	if e := g.call("fd_fdstat_get", uint64(fd), 3000); e != 0 {
		g.t.Fatalf("fd_fdstat_get(%d): %v", fd, e)
	}
	b := g.m[3000:]
	return rtStat{Filetype(b[0]), binary.LittleEndian.Uint16(b[2:]), binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint64(b[16:])}
}

// openAt is path_open with every parameter (no lookup flags).
func (g *guest) openAt(dirfd uint32, p string, oflags uint16, base, inh uint64, fdflags uint16) (uint32, Errno) {
	g.t.Helper()
	po, pl := g.str(1000, p)
	e := g.call("path_open", uint64(dirfd), 0, po, pl, uint64(oflags), base, inh, uint64(fdflags), 900)
	return g.u32(900), e
}

func (g *guest) mustOpenAt(dirfd uint32, p string, oflags uint16, base, inh uint64, fdflags uint16) uint32 {
	g.t.Helper()
	fd, e := g.openAt(dirfd, p, oflags, base, inh, fdflags)
	if e != 0 {
		g.t.Fatalf("path_open(%d, %q, oflags %#x, rights %#x): %v", dirfd, p, oflags, base, e)
	}
	return fd
}

func (g *guest) setRights(fd uint32, base, inh uint64) Errno {
	return g.call("fd_fdstat_set_rights", uint64(fd), base, inh)
}

// iov places one (c)iovec of n bytes at 4000 naming 5000.
func (g *guest) iov(n int) {
	binary.LittleEndian.PutUint32(g.m[4000:], 5000)
	binary.LittleEndian.PutUint32(g.m[4004:], uint32(n))
}

func (g *guest) writeFD(fd uint32, s string) Errno {
	copy(g.m[5000:], s)
	g.iov(len(s))
	return g.call("fd_write", uint64(fd), 4000, 1, 4010)
}

func (g *guest) pwriteFD(fd uint32, s string, off uint64) Errno {
	copy(g.m[5000:], s)
	g.iov(len(s))
	return g.call("fd_pwrite", uint64(fd), 4000, 1, off, 4010)
}

func (g *guest) readFD(fd uint32, n int) (string, Errno) {
	g.iov(n)
	e := g.call("fd_read", uint64(fd), 4000, 1, 4010)
	return string(g.m[5000 : 5000+g.u32(4010)]), e
}

func (g *guest) seekFD(fd uint32, off int64, whence int) (uint64, Errno) {
	e := g.call("fd_seek", uint64(fd), uint64(off), uint64(whence), 4020)
	return binary.LittleEndian.Uint64(g.m[4020:]), e
}

func (g *guest) tellFD(fd uint32) (uint64, Errno) {
	e := g.call("fd_tell", uint64(fd), 4020)
	return binary.LittleEndian.Uint64(g.m[4020:]), e
}

func rtFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func rtContent(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRightsOfDirectories: a directory reports directory rights only and
// passes on directory and file rights; reopening it with the rights it
// reports works (Rust's std and wasi-libc do it at start-up), with
// O_DIRECTORY and FD_WRITE it is EISDIR, and a directory never keeps
// FD_SEEK. Before: file rights (FD_WRITE, FD_SEEK...) were reported and
// the reopen failed with EISDIR.
func TestRightsOfDirectories(t *testing.T) {
	mount := t.TempDir()
	if err := os.Mkdir(filepath.Join(mount, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	ro := t.TempDir()
	g := newGuest(t, Config{Mounts: []Mount{{HostPath: mount, GuestPath: "/"}, {HostPath: ro, GuestPath: "/ro", ReadOnly: true}}})
	g2 := newGuest(t, Config{Mounts: []Mount{{HostPath: ro, GuestPath: "/ro"}}}) // fd 3: the virtual "/"
	check := func(name string, st rtStat) {
		t.Helper()
		if st.filetype != FiletypeDirectory {
			t.Errorf("%s: filetype %d", name, st.filetype)
		}
		if st.base&rtDirBase != rtDirBase {
			t.Errorf("%s: base %#x lacks directory rights %#x", name, st.base, rtDirBase&^st.base)
		}
		if st.base&rtFileOnly != 0 {
			t.Errorf("%s: base %#x has file rights %#x", name, st.base, st.base&rtFileOnly)
		}
		if st.inh&rtDirInheriting != rtDirInheriting {
			t.Errorf("%s: inheriting %#x lacks %#x", name, st.inh, rtDirInheriting&^st.inh)
		}
	}
	pre := g.fdstat(3)
	check("preopen /", pre)
	check("read-only preopen", g.fdstat(4))
	check("virtual /", g2.fdstat(3))

	d := g.mustOpenAt(3, ".", oflagDirectory, pre.base, pre.inh, 0)
	check(`"." reopened with its rights`, g.fdstat(d))
	g.mustOpenAt(3, ".", 0, pre.base, pre.inh, 0)
	g.mustOpenAt(3, ".", 0, 0, 0, 0)
	g.mustOpenAt(3, ".", oflagDirectory, 0, 0, 0)
	g.mustOpenAt(3, ".", oflagDirectory, rtFdRead, 0, 0)
	g.mustOpenAt(4, ".", oflagDirectory, pre.base, pre.inh, 0)
	for _, r := range []uint64{rtFdRead | rtFdWrite, rtFdReaddir | rtFdWrite, pre.base | rtFdWrite} {
		if _, e := g.openAt(3, ".", oflagDirectory, r, 0, 0); e != EISDIR {
			t.Errorf("open . O_DIRECTORY rights %#x: %v, want EISDIR", r, e)
		}
	}
	sub := g.mustOpenAt(3, "sub", oflagDirectory, rtFdSeek, 0, 0)
	if st := g.fdstat(sub); st.base&rtFileOnly != 0 {
		t.Errorf("directory opened asking for FD_SEEK: base %#x has file rights", st.base)
	}
	// APPEND alone does not ask for writing (open(2)'s O_RDONLY|O_APPEND).
	if st := g.fdstat(g.mustOpenAt(3, "sub", 0, rtFdRead, 0, fdflagAppend)); st.filetype != FiletypeDirectory {
		t.Errorf("directory opened with APPEND: filetype %d", st.filetype)
	}
}

// TestRightsOfFiles: a file reports file rights by how it was opened (no
// FD_READ unless asked for, no FD_WRITE unless opened for writing), stdio
// by direction; and a file opened without a right refuses the call with
// EBADF (path_open_read_without_rights). Before: the rights asked for were
// reported as given and a file opened with no rights could be read.
func TestRightsOfFiles(t *testing.T) {
	mount := t.TempDir()
	rtFile(t, filepath.Join(mount, "file"), "inside")
	g := newGuest(t, Config{Mounts: []Mount{{HostPath: mount, GuestPath: "/"}}})
	for _, c := range []struct {
		rights      uint64
		read, write bool
	}{{0, false, false}, {rtFdRead, true, false}, {rtFdWrite, false, true}, {rtFdRead | rtFdWrite, true, true}} {
		fd := g.mustOpenAt(3, "file", 0, c.rights, 0, 0)
		st := g.fdstat(fd)
		if st.filetype != FiletypeRegularFile || (st.base&rtFdRead != 0) != c.read || (st.base&rtFdWrite != 0) != c.write {
			t.Errorf("file opened with %#x: filetype %d base %#x, want read %v write %v", c.rights, st.filetype, st.base, c.read, c.write)
		}
		if st.base&rtDirBase&^(rtFdFilestatGet|rtFdFilestatSetTimes) != 0 {
			t.Errorf("file opened with %#x: base %#x has directory rights", c.rights, st.base)
		}
		if st.base&(rtFdSeek|rtFdTell|rtFdFilestatGet) != rtFdSeek|rtFdTell|rtFdFilestatGet {
			t.Errorf("file opened with %#x: base %#x lacks seek, tell or filestat_get", c.rights, st.base)
		}
		if _, e := g.readFD(fd, 4); c.read != (e == 0) || (!c.read && e != EBADF) {
			t.Errorf("fd_read on a file opened with %#x: %v", c.rights, e)
		}
		if !c.write {
			if e := g.writeFD(fd, "x"); e != EBADF {
				t.Errorf("fd_write on a file opened with %#x: %v, want EBADF", c.rights, e)
			}
			if e := g.call("fd_filestat_set_size", uint64(fd), 0); e != EBADF {
				t.Errorf("fd_filestat_set_size on a file opened with %#x: %v, want EBADF", c.rights, e)
			}
		}
		g.call("fd_close", uint64(fd))
	}
	if got := rtContent(t, filepath.Join(mount, "file")); got != "inside" {
		t.Errorf("file is now %q", got)
	}
	for fd, want := range []uint64{rtFdRead, rtFdWrite, rtFdWrite} {
		st := g.fdstat(uint32(fd))
		if st.base&(rtFdRead|rtFdWrite) != want {
			t.Errorf("stdio fd %d: base %#x", fd, st.base)
		}
	}
	if e := g.writeFD(0, "x"); e != EBADF {
		t.Errorf("fd_write on stdin: %v, want EBADF", e)
	}
	// APPEND without FD_WRITE is not open for writing (as wasmtime).
	fd := g.mustOpenAt(3, "file", 0, rtFdRead, 0, fdflagAppend)
	if st := g.fdstat(fd); st.base&rtFdWrite != 0 || st.flags&fdflagAppend == 0 {
		t.Errorf("file opened with APPEND and FD_READ: base %#x flags %#x", st.base, st.flags)
	}
	if e := g.writeFD(fd, "x"); e != EBADF {
		t.Errorf("fd_write on a file opened with APPEND without FD_WRITE: %v, want EBADF", e)
	}
	if got := rtContent(t, filepath.Join(mount, "file")); got != "inside" {
		t.Errorf("file is now %q", got)
	}
}

// TestRightsDropped: fd_fdstat_set_rights only drops rights, and each call
// then refuses with ENOTCAPABLE (fd_fdstat_set_rights.rs). Before: the
// rights were recorded and ignored.
func TestRightsDropped(t *testing.T) {
	mount := t.TempDir()
	g := newGuest(t, Config{Mounts: []Mount{{HostPath: mount, GuestPath: "/"}}})
	fd := g.mustOpenAt(3, "file", oflagCreat, rtFdRead|rtFdWrite|rtFdSeek|rtFdTell, 0, 0)
	if e := g.writeFD(fd, "0123"); e != 0 {
		t.Fatal(e)
	}
	if _, e := g.seekFD(fd, 0, io.SeekStart); e != 0 {
		t.Fatal(e)
	}
	if s, e := g.readFD(fd, 4); e != 0 || s != "0123" {
		t.Fatalf("read %q %v", s, e)
	}
	st := g.fdstat(fd)
	if e := g.setRights(fd, st.base&^(rtFdRead|rtFdWrite), st.inh); e != 0 {
		t.Fatal(e)
	}
	if st2 := g.fdstat(fd); st2.base&(rtFdRead|rtFdWrite) != 0 || st2.base&rtFdSeek == 0 {
		t.Errorf("after dropping read and write: base %#x", st2.base)
	}
	if _, e := g.readFD(fd, 4); e != ENOTCAPABLE {
		t.Errorf("fd_read without FD_READ: %v", e)
	}
	if e := g.writeFD(fd, "x"); e != ENOTCAPABLE {
		t.Errorf("fd_write without FD_WRITE: %v", e)
	}
	if e := g.pwriteFD(fd, "x", 0); e != ENOTCAPABLE {
		t.Errorf("fd_pwrite without FD_WRITE: %v", e)
	}
	if e := g.setRights(fd, st.base, st.inh); e != ENOTCAPABLE {
		t.Errorf("regaining rights: %v, want ENOTCAPABLE", e)
	}
	if got := rtContent(t, filepath.Join(mount, "file")); got != "0123" {
		t.Errorf("file is now %q", got)
	}
}

// TestRightsPerCall: every fd and path call checks its right: with it
// dropped (fd_fdstat_set_rights), the call is ENOTCAPABLE and does
// nothing.
func TestRightsPerCall(t *testing.T) {
	mount := t.TempDir()
	rtFile(t, filepath.Join(mount, "file"), "inside")
	if err := os.Mkdir(filepath.Join(mount, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("file", filepath.Join(mount, "ln")); err != nil {
		t.Fatal(err)
	}
	g := newGuest(t, Config{Mounts: []Mount{{HostPath: mount, GuestPath: "/"}}})
	pre := g.fdstat(3)
	po, pl := g.str(1000, "file")
	qo, ql := g.str(1100, "new")
	do, dl := g.str(1200, "d")
	lo, ll := g.str(1300, "ln")
	type row struct {
		right uint64
		call  func(fd uint64) Errno
	}
	fileRows := map[string]row{
		"fd_read":               {rtFdRead, func(fd uint64) Errno { _, e := g.readFD(uint32(fd), 4); return e }},
		"fd_write":              {rtFdWrite, func(fd uint64) Errno { return g.writeFD(uint32(fd), "x") }},
		"fd_pread":              {rtFdSeek, func(fd uint64) Errno { g.iov(4); return g.call("fd_pread", fd, 4000, 1, 0, 4010) }},
		"fd_pwrite":             {rtFdSeek, func(fd uint64) Errno { return g.pwriteFD(uint32(fd), "x", 0) }},
		"fd_seek":               {rtFdSeek, func(fd uint64) Errno { _, e := g.seekFD(uint32(fd), 1, io.SeekStart); return e }},
		"fd_tell":               {rtFdSeek | rtFdTell, func(fd uint64) Errno { _, e := g.tellFD(uint32(fd)); return e }},
		"fd_advise":             {rtFdAdvise, func(fd uint64) Errno { return g.call("fd_advise", fd, 0, 0, 0) }},
		"fd_allocate":           {rtFdAllocate, func(fd uint64) Errno { return g.call("fd_allocate", fd, 0, 100) }},
		"fd_datasync":           {rtFdDatasync, func(fd uint64) Errno { return g.call("fd_datasync", fd) }},
		"fd_sync":               {rtFdSync, func(fd uint64) Errno { return g.call("fd_sync", fd) }},
		"fd_fdstat_set_flags":   {rtFdFdstatSetFlags, func(fd uint64) Errno { return g.call("fd_fdstat_set_flags", fd, fdflagAppend) }},
		"fd_filestat_get":       {rtFdFilestatGet, func(fd uint64) Errno { return g.call("fd_filestat_get", fd, 3000) }},
		"fd_filestat_set_size":  {rtFdFilestatSetSize, func(fd uint64) Errno { return g.call("fd_filestat_set_size", fd, 1) }},
		"fd_filestat_set_times": {rtFdFilestatSetTimes, func(fd uint64) Errno { return g.call("fd_filestat_set_times", fd, 0, 0, fstMtimNow) }},
	}
	for name, r := range fileRows {
		fd := g.mustOpenAt(3, "file", 0, rtFdRead|rtFdWrite, 0, 0)
		st := g.fdstat(fd)
		if st.base&r.right == 0 {
			t.Errorf("%s: the file was opened without %#x", name, r.right)
		}
		if e := g.setRights(fd, st.base&^r.right, st.inh); e != 0 {
			t.Fatal(e)
		}
		if e := r.call(uint64(fd)); e != ENOTCAPABLE {
			t.Errorf("%s without right %#x: %v, want ENOTCAPABLE", name, r.right, e)
		}
		g.call("fd_close", uint64(fd))
	}
	if got := rtContent(t, filepath.Join(mount, "file")); got != "inside" {
		t.Errorf("file is now %q", got)
	}
	dirRows := map[string]row{
		"fd_readdir":              {rtFdReaddir, func(fd uint64) Errno { return g.call("fd_readdir", fd, 5000, 512, 0, 4010) }},
		"fd_filestat_get":         {rtFdFilestatGet, func(fd uint64) Errno { return g.call("fd_filestat_get", fd, 3000) }},
		"fd_filestat_set_times":   {rtFdFilestatSetTimes, func(fd uint64) Errno { return g.call("fd_filestat_set_times", fd, 0, 0, fstMtimNow) }},
		"path_open":               {rtPathOpen, func(fd uint64) Errno { _, e := g.openAt(uint32(fd), "file", 0, rtFdRead, 0, 0); return e }},
		"path_open O_CREAT":       {rtPathCreateFile, func(fd uint64) Errno { _, e := g.openAt(uint32(fd), "new", oflagCreat, rtFdWrite, 0, 0); return e }},
		"path_open O_TRUNC":       {rtPathFilestatSetSize, func(fd uint64) Errno { _, e := g.openAt(uint32(fd), "file", oflagTrunc, 0, 0, 0); return e }},
		"path_create_directory":   {rtPathCreateDirectory, func(fd uint64) Errno { return g.call("path_create_directory", fd, qo, ql) }},
		"path_filestat_get":       {rtPathFilestatGet, func(fd uint64) Errno { return g.call("path_filestat_get", fd, 0, po, pl, 3000) }},
		"path_filestat_set_times": {rtPathFilestatSetTimes, func(fd uint64) Errno { return g.call("path_filestat_set_times", fd, 0, po, pl, 0, 0, fstMtimNow) }},
		"path_link source":        {rtPathLinkSource, func(fd uint64) Errno { return g.call("path_link", fd, 0, po, pl, fd, qo, ql) }},
		"path_link target":        {rtPathLinkTarget, func(fd uint64) Errno { return g.call("path_link", fd, 0, po, pl, fd, qo, ql) }},
		"path_readlink":           {rtPathReadlink, func(fd uint64) Errno { return g.call("path_readlink", fd, lo, ll, 5000, 100, 4010) }},
		"path_remove_directory":   {rtPathRemoveDirectory, func(fd uint64) Errno { return g.call("path_remove_directory", fd, do, dl) }},
		"path_rename source":      {rtPathRenameSource, func(fd uint64) Errno { return g.call("path_rename", fd, po, pl, fd, qo, ql) }},
		"path_rename target":      {rtPathRenameTarget, func(fd uint64) Errno { return g.call("path_rename", fd, po, pl, fd, qo, ql) }},
		"path_symlink":            {rtPathSymlink, func(fd uint64) Errno { return g.call("path_symlink", po, pl, fd, qo, ql) }},
		"path_unlink_file":        {rtPathUnlinkFile, func(fd uint64) Errno { return g.call("path_unlink_file", fd, po, pl) }},
	}
	for name, r := range dirRows {
		fd := g.mustOpenAt(3, ".", oflagDirectory, pre.base, pre.inh, 0)
		st := g.fdstat(fd)
		if st.base&r.right == 0 {
			t.Errorf("%s: the directory was opened without %#x", name, r.right)
		}
		if e := g.setRights(fd, st.base&^r.right, st.inh); e != 0 {
			t.Fatal(e)
		}
		want := ENOTCAPABLE
		if name == "path_open O_TRUNC" {
			want = EPERM // truncation_rights.rs
		}
		if e := r.call(uint64(fd)); e != want {
			t.Errorf("%s without right %#x: %v, want %v", name, r.right, e, want)
		}
		g.call("fd_close", uint64(fd))
	}
	ents, err := os.ReadDir(mount)
	if err != nil || len(ents) != 3 {
		t.Errorf("the mount changed: %v %v", ents, err)
	}
	if got := rtContent(t, filepath.Join(mount, "file")); got != "inside" {
		t.Errorf("file is now %q", got)
	}
}

// TestRightsInherited: path_open masks the rights asked for with the
// directory fd's inheriting rights (truncation_rights.rs; a file asked
// for read and write from a directory that passes on neither can do
// neither), and a directory never passes on more than it was given; the
// inheriting rights a guest asks for are ignored, as wasmtime ignores
// them.
func TestRightsInherited(t *testing.T) {
	mount := t.TempDir()
	rtFile(t, filepath.Join(mount, "file"), "inside")
	if err := os.Mkdir(filepath.Join(mount, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	g := newGuest(t, Config{Mounts: []Mount{{HostPath: mount, GuestPath: "/"}}})
	pre := g.fdstat(3)
	root := g.mustOpenAt(3, ".", oflagDirectory, pre.base, pre.inh, 0)
	// The suite's truncation_rights, on its scratch directory.
	tmp := g.mustOpenAt(root, "tmp", oflagDirectory, rtTmpDirBase, rtTmpDirInheriting, 0)
	st := g.fdstat(tmp)
	if st.base&rtFdFilestatSetSize != 0 || st.base&rtPathFilestatSetSize == 0 {
		t.Fatalf("scratch directory base %#x", st.base)
	}
	// The inheriting rights asked for are ignored, as wasmtime: the new
	// directory passes on what its parent passes on.
	if st.inh != pre.inh {
		t.Errorf("scratch directory inheriting %#x, want its parent's %#x", st.inh, pre.inh)
	}
	// A directory opened asking to pass on nothing still opens files
	// with their rights (a guest passing 0 works as on wasmtime).
	zero := g.mustOpenAt(root, "tmp", oflagDirectory, rtTmpDirBase, 0, 0)
	rtFile(t, filepath.Join(mount, "tmp", "z"), "zz")
	zf := g.mustOpenAt(zero, "z", 0, rtFdRead, 0, 0)
	if fst := g.fdstat(zf); fst.base&rtFdRead == 0 {
		t.Errorf("file opened through a directory asked with inheriting 0: base %#x, want FD_READ", fst.base)
	}
	g.call("fd_close", uint64(zf))
	g.call("fd_close", uint64(zero))
	if err := os.Remove(filepath.Join(mount, "tmp", "z")); err != nil {
		t.Fatal(err)
	}
	rtFile(t, filepath.Join(mount, "tmp", "f"), "data")
	fd := g.mustOpenAt(tmp, "f", oflagTrunc, 0, 0, 0)
	g.call("fd_close", uint64(fd))
	if e := g.setRights(tmp, st.base, st.inh&^rtFdFilestatSetSize); e != 0 {
		t.Fatal(e)
	}
	fd = g.mustOpenAt(tmp, "f", oflagTrunc, 0, 0, 0)
	g.call("fd_close", uint64(fd))
	rtFile(t, filepath.Join(mount, "tmp", "f"), "data")
	if e := g.setRights(tmp, st.base&^rtPathFilestatSetSize, st.inh&^rtFdFilestatSetSize); e != 0 {
		t.Fatal(e)
	}
	if g.fdstat(tmp).base&rtPathFilestatSetSize != 0 {
		t.Error("PATH_FILESTAT_SET_SIZE still reported after dropping it")
	}
	if _, e := g.openAt(tmp, "f", oflagTrunc, 0, 0, 0); e != EPERM {
		t.Errorf("O_TRUNC without PATH_FILESTAT_SET_SIZE: %v, want EPERM (as the suite)", e)
	}
	if got := rtContent(t, filepath.Join(mount, "tmp", "f")); got != "data" {
		t.Errorf("truncated anyway: %q", got)
	}
	// A file asked for with rights its directory does not pass on.
	if e := g.setRights(root, pre.base, pre.inh&^(rtFdRead|rtFdWrite)); e != 0 {
		t.Fatal(e)
	}
	fd = g.mustOpenAt(root, "file", 0, rtFdRead|rtFdWrite, rtFdRead|rtFdWrite, 0)
	if fst := g.fdstat(fd); fst.base&(rtFdRead|rtFdWrite) != 0 || fst.inh&(rtFdRead|rtFdWrite) != 0 {
		t.Errorf("file opened through a directory without read and write to pass on: base %#x inheriting %#x", fst.base, fst.inh)
	}
	if e := g.writeFD(fd, "x"); e != EBADF && e != ENOTCAPABLE {
		t.Errorf("fd_write: %v", e)
	}
	if _, e := g.readFD(fd, 4); e != EBADF && e != ENOTCAPABLE {
		t.Errorf("fd_read: %v", e)
	}
	if got := rtContent(t, filepath.Join(mount, "file")); got != "inside" {
		t.Errorf("file is now %q", got)
	}
	// A directory opened from one that does not pass PATH_CREATE_FILE on
	// cannot create files.
	if e := g.setRights(root, pre.base, pre.inh&^(rtFdRead|rtFdWrite|rtPathCreateFile)); e != 0 {
		t.Fatal(e)
	}
	sub := g.mustOpenAt(root, "tmp", oflagDirectory, pre.base, pre.inh, 0)
	if sst := g.fdstat(sub); sst.base&rtPathCreateFile != 0 || sst.inh&rtPathCreateFile != 0 {
		t.Errorf("directory: base %#x inheriting %#x, want no PATH_CREATE_FILE", sst.base, sst.inh)
	}
	if _, e := g.openAt(sub, "new", oflagCreat, rtFdWrite, 0, 0); e != ENOTCAPABLE {
		t.Errorf("create without PATH_CREATE_FILE: %v", e)
	}
}

// TestRightsDirectorySeek: a directory has no position: fd_seek and
// fd_tell fail with EBADF (wasmtime's answer, which directory_seek.rs and
// dir_fd_op_failures.rs accept), as do the file-only calls; reading and
// writing are EISDIR. Before: fd_seek(0, SET) succeeded and other seeks
// were EINVAL.
func TestRightsDirectorySeek(t *testing.T) {
	mount := t.TempDir()
	if err := os.Mkdir(filepath.Join(mount, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	g := newGuest(t, Config{Mounts: []Mount{{HostPath: mount, GuestPath: "/"}}})
	sub := g.mustOpenAt(3, "sub", oflagDirectory, rtFdSeek, 0, 0)
	for _, fd := range []uint32{3, sub} {
		for _, w := range []int{io.SeekStart, io.SeekCurrent, io.SeekEnd} {
			if _, e := g.seekFD(fd, 0, w); e != EBADF {
				t.Errorf("fd_seek(%d, 0, %d): %v, want EBADF", fd, w, e)
			}
		}
		if _, e := g.tellFD(fd); e != EBADF {
			t.Errorf("fd_tell(%d): %v, want EBADF", fd, e)
		}
		for name, e := range map[string]Errno{
			"fd_allocate":          g.call("fd_allocate", uint64(fd), 0, 1),
			"fd_allocate 0 bytes":  g.call("fd_allocate", uint64(fd), 0, 0),
			"fd_sync":              g.call("fd_sync", uint64(fd)),
			"fd_filestat_set_size": g.call("fd_filestat_set_size", uint64(fd), 0),
			"fd_fdstat_set_flags":  g.call("fd_fdstat_set_flags", uint64(fd), fdflagAppend),
		} {
			if e != EBADF {
				t.Errorf("%s(%d): %v, want EBADF", name, fd, e)
			}
		}
		if _, e := g.readFD(fd, 4); e != EISDIR {
			t.Errorf("fd_read(%d): %v, want EISDIR", fd, e)
		}
		if e := g.writeFD(fd, "x"); e != EISDIR {
			t.Errorf("fd_write(%d): %v, want EISDIR", fd, e)
		}
	}
	// A directory that is not a preopen has no prestat name.
	if e := g.call("fd_prestat_dir_name", uint64(sub), 5000, 100); e != ENOTDIR {
		t.Errorf("fd_prestat_dir_name on a directory not preopened: %v, want ENOTDIR", e)
	}
}

// TestRightsSyncFlags: the sync fdflags are the open's; fd_fdstat_set_flags
// cannot change them (EINVAL, as wasmtime) but may repeat them.
func TestRightsSyncFlags(t *testing.T) {
	mount := t.TempDir()
	g := newGuest(t, Config{Mounts: []Mount{{HostPath: mount, GuestPath: "/"}}})
	rw := uint64(rtFdRead | rtFdWrite | rtFdFdstatSetFlags)
	fd := g.mustOpenAt(3, "f", oflagCreat, rw, 0, 0)
	for _, fl := range []uint64{fdflagSync, fdflagDsync, fdflagRsync} {
		if e := g.call("fd_fdstat_set_flags", uint64(fd), fl); e != EINVAL {
			t.Errorf("fd_fdstat_set_flags(%#x): %v, want EINVAL", fl, e)
		}
	}
	sfd := g.mustOpenAt(3, "f", 0, rw, 0, fdflagSync)
	if e := g.call("fd_fdstat_set_flags", uint64(sfd), fdflagSync|fdflagNonblock); e != 0 {
		t.Errorf("fd_fdstat_set_flags keeping SYNC: %v", e)
	}
	if e := g.call("fd_fdstat_set_flags", uint64(sfd), fdflagNonblock); e != EINVAL {
		t.Errorf("fd_fdstat_set_flags dropping SYNC: %v, want EINVAL", e)
	}
}

// TestRightsReaddirDotInode: fd_readdir reports "." with the directory's
// own inode (fd_readdir.rs compares it with fd_filestat_get) and ".."
// with its parent's, the mount's root's at the root. Before: both 0.
func TestRightsReaddirDotInode(t *testing.T) {
	mount := t.TempDir()
	if err := os.Mkdir(filepath.Join(mount, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(mount)
	if err != nil {
		t.Fatal(err)
	}
	rootIno := statOf(fi).Ino
	g := newGuest(t, Config{Mounts: []Mount{{HostPath: mount, GuestPath: "/"}}})
	sub := g.mustOpenAt(3, "sub", oflagDirectory, rtFdReaddir|rtFdFilestatGet, 0, 0)
	for _, fd := range []uint32{3, sub} {
		if e := g.call("fd_filestat_get", uint64(fd), 3000); e != 0 {
			t.Fatal(e)
		}
		ino := binary.LittleEndian.Uint64(g.m[3008:])
		if e := g.call("fd_readdir", uint64(fd), 5000, 512, 0, 4010); e != 0 {
			t.Fatal(e)
		}
		b := g.m[5000:]
		name := string(b[24 : 24+binary.LittleEndian.Uint32(b[16:])])
		if got := binary.LittleEndian.Uint64(b[8:]); name != "." || got != ino || ino == 0 {
			t.Errorf("fd %d: first entry %q inode %d, want \".\" inode %d", fd, name, got, ino)
		}
		// ".." is the mount's root, for the root itself too (as "/..").
		b = b[25:]
		name = string(b[24 : 24+binary.LittleEndian.Uint32(b[16:])])
		if got := binary.LittleEndian.Uint64(b[8:]); name != ".." || got != rootIno {
			t.Errorf("fd %d: second entry %q inode %d, want \"..\" inode %d", fd, name, got, rootIno)
		}
	}
}

// TestRightsAppendFlag: fd_fdstat_set_flags(APPEND) makes the host file
// append (a write after seeking to 0 lands at the end, after what another
// writer appended meanwhile), clearing it stops that; fd_pwrite on a file
// in append mode appends whatever the offset and keeps the position (as
// wasmtime, and pwrite(2) on Linux); with a quota, the volume's usage
// stays what it holds. Before: the flag was only recorded, and fd_pwrite
// on a file opened with APPEND failed (Go's WriteAt refuses such files).
func TestRightsAppendFlag(t *testing.T) {
	for _, quota := range []bool{false, true} {
		mount := t.TempDir()
		host := filepath.Join(mount, "f")
		rtFile(t, host, "hello")
		m := Mount{HostPath: mount, GuestPath: "/"}
		if quota {
			q, err := NewQuota("test", 1<<20, mount)
			if err != nil {
				t.Fatal(err)
			}
			m.Quota = q
		}
		g := newGuest(t, Config{Mounts: []Mount{m}})
		rw := uint64(rtFdRead | rtFdWrite | rtFdSeek | rtFdTell | rtFdFdstatSetFlags)
		fd := g.mustOpenAt(3, "f", 0, rw, 0, 0)
		if e := g.call("fd_fdstat_set_flags", uint64(fd), fdflagAppend); e != 0 {
			t.Fatal(e)
		}
		if g.fdstat(fd).flags&fdflagAppend == 0 {
			t.Error("APPEND not reported")
		}
		z := "" // what another writer appends (not with a quota: it would not count)
		if !quota {
			z = "Z"
			hf, err := os.OpenFile(host, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, err = hf.WriteString(z)
			hf.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
		if _, e := g.seekFD(fd, 0, io.SeekStart); e != 0 {
			t.Fatal(e)
		}
		if e := g.writeFD(fd, "X"); e != 0 {
			t.Fatal(e)
		}
		if got := rtContent(t, host); got != "hello"+z+"X" {
			t.Errorf("quota %v: after a write in append mode: %q, want %q", quota, got, "hello"+z+"X")
		}
		// pwrite in append mode appends and keeps the position.
		if _, e := g.seekFD(fd, 1, io.SeekStart); e != 0 {
			t.Fatal(e)
		}
		if e := g.pwriteFD(fd, "P", 0); e != 0 || g.u32(4010) != 1 {
			t.Errorf("quota %v: fd_pwrite in append mode: %v (%d written)", quota, e, g.u32(4010))
		}
		if pos, e := g.tellFD(fd); e != 0 || pos != 1 {
			t.Errorf("quota %v: position after fd_pwrite: %d %v, want 1", quota, pos, e)
		}
		if got := rtContent(t, host); got != "hello"+z+"XP" {
			t.Errorf("quota %v: after fd_pwrite in append mode: %q", quota, got)
		}
		if e := g.call("fd_fdstat_set_flags", uint64(fd), 0); e != 0 {
			t.Fatal(e)
		}
		if g.fdstat(fd).flags&fdflagAppend != 0 {
			t.Error("APPEND still reported")
		}
		if _, e := g.seekFD(fd, 0, io.SeekStart); e != 0 {
			t.Fatal(e)
		}
		if e := g.writeFD(fd, "W"); e != 0 {
			t.Fatal(e)
		}
		if e := g.pwriteFD(fd, "Q", 1); e != 0 {
			t.Fatal(e)
		}
		if got := rtContent(t, host); got != "WQllo"+z+"XP" {
			t.Errorf("quota %v: after clearing APPEND: %q, want %q", quota, got, "WQllo"+z+"XP")
		}
		g.call("fd_close", uint64(fd))

		// Opened with APPEND: fd_pwrite appends (file_pread_pwrite on an
		// append file, fd_flags_set.rs).
		fd = g.mustOpenAt(3, "g", oflagCreat, rw, 0, fdflagAppend)
		if e := g.writeFD(fd, "ab"); e != 0 {
			t.Fatal(e)
		}
		if _, e := g.seekFD(fd, 0, io.SeekStart); e != 0 {
			t.Fatal(e)
		}
		if e := g.pwriteFD(fd, "cd", 0); e != 0 {
			t.Errorf("quota %v: fd_pwrite on a file opened with APPEND: %v", quota, e)
		}
		if e := g.writeFD(fd, "e"); e != 0 {
			t.Fatal(e)
		}
		if pos, e := g.tellFD(fd); e != 0 || pos != 5 {
			t.Errorf("quota %v: position %d %v, want 5", quota, pos, e)
		}
		if got := rtContent(t, filepath.Join(mount, "g")); got != "abcde" {
			t.Errorf("quota %v: g is %q, want %q", quota, got, "abcde")
		}
		if e := g.call("fd_fdstat_set_flags", uint64(fd), 0); e != 0 {
			t.Fatal(e)
		}
		if e := g.pwriteFD(fd, "A", 0); e != 0 {
			t.Errorf("quota %v: fd_pwrite after clearing APPEND: %v", quota, e)
		}
		if got := rtContent(t, filepath.Join(mount, "g")); got != "Abcde" {
			t.Errorf("quota %v: g is %q, want %q", quota, got, "Abcde")
		}
		g.call("fd_close", uint64(fd))
		if m.Quota != nil {
			want, err := MeasureDir(mount)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Quota.Used(); got != want {
				t.Errorf("quota counts %d, the volume holds %d", got, want)
			}
		}
	}
}
