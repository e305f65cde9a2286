package wasi

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Path resolution against wasmtime's preview-1 behaviour (the
// WebAssembly/wasi-testsuite expectations): no-follow lookups, rename and
// link between directory fds, trailing slashes. Errno sets name every
// errno the suite accepts on Linux.

const dirRights = allRights &^ rightFdWrite

// pathFixture mounts two fresh directories, / (fd 3) and /n (fd 4), and
// returns their host paths.
func pathFixture(t *testing.T) (*guest, string, string) {
	t.Helper()
	base := t.TempDir()
	m, n := filepath.Join(base, "m"), filepath.Join(base, "n")
	for _, d := range []string{m, n, filepath.Join(base, "outside")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(base, "outside", "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := newGuest(t, Config{Mounts: []Mount{{HostPath: m, GuestPath: "/"}, {HostPath: n, GuestPath: "/n"}}})
	return g, m, n
}

// pathOpen is path_open with explicit lookupflags.
func (g *guest) pathOpen(dirfd, lookup uint64, p string, oflags, rights uint64) (uint32, Errno) {
	g.t.Helper()
	po, pl := g.str(1000, p)
	e := g.call("path_open", dirfd, lookup, po, pl, oflags, rights, allRights, 0, 900)
	return g.u32(900), e
}

func (g *guest) onePath(name string, fd uint64, p string) Errno {
	g.t.Helper()
	po, pl := g.str(1000, p)
	return g.call(name, fd, po, pl)
}

func (g *guest) rename(fd1 uint64, p1 string, fd2 uint64, p2 string) Errno {
	g.t.Helper()
	ao, al := g.str(1000, p1)
	bo, bl := g.str(2000, p2)
	return g.call("path_rename", fd1, ao, al, fd2, bo, bl)
}

func (g *guest) link(fd1, lookup uint64, p1 string, fd2 uint64, p2 string) Errno {
	g.t.Helper()
	ao, al := g.str(1000, p1)
	bo, bl := g.str(2000, p2)
	return g.call("path_link", fd1, lookup, ao, al, fd2, bo, bl)
}

func (g *guest) symlink(target string, fd uint64, p string) Errno {
	g.t.Helper()
	ao, al := g.str(1000, target)
	bo, bl := g.str(2000, p)
	return g.call("path_symlink", ao, al, fd, bo, bl)
}

func (g *guest) setMtim(fd, lookup uint64, p string, mtim uint64) Errno {
	g.t.Helper()
	po, pl := g.str(1000, p)
	return g.call("path_filestat_set_times", fd, lookup, po, pl, 0, mtim, fstMtim)
}

// filetype is path_filestat_get's filetype of p.
func (g *guest) filetype(fd, lookup uint64, p string) (Filetype, Errno) {
	g.t.Helper()
	po, pl := g.str(1000, p)
	e := g.call("path_filestat_get", fd, lookup, po, pl, 3000)
	return Filetype(g.m[3000+16]), e
}

func (g *guest) closeFD(fd uint32) {
	g.t.Helper()
	if e := g.call("fd_close", uint64(fd)); e != 0 {
		g.t.Fatalf("fd_close(%d): %v", fd, e)
	}
}

func oneOf(e Errno, want ...Errno) bool {
	for _, w := range want {
		if e == w {
			return true
		}
	}
	return false
}

func mustDo(t *testing.T, what string, e Errno) {
	t.Helper()
	if e != 0 {
		t.Fatalf("%s: %v", what, e)
	}
}

func hostFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func ino(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestOpenNoFollow: path_open without LOOKUP_SYMLINK_FOLLOW does not follow
// a final symlink (nofollow_errors, dangling_symlink, symlink_loop), and
// O_CREAT through a dangling symlink creates nothing.
func TestOpenNoFollow(t *testing.T) {
	g, m, _ := pathFixture(t)
	mustDo(t, "mkdir target", g.onePath("path_create_directory", 3, "target"))
	hostFile(t, filepath.Join(m, "file"), "x")
	mustDo(t, "mkdir dir", g.onePath("path_create_directory", 3, "dir"))
	for link, target := range map[string]string{"ls": "target", "lf": "file", "dang": "nowhere", "loop": "loop", "dir/lf": "../file"} {
		mustDo(t, "symlink "+link, g.symlink(target, 3, link))
	}
	for _, c := range []struct {
		p      string
		oflags uint64
		want   []Errno
	}{
		{"ls", oflagDirectory, []Errno{ELOOP, ENOTDIR}},
		{"ls", 0, []Errno{ELOOP, EACCES}},
		{"lf", oflagDirectory, []Errno{ELOOP, ENOTDIR}},
		{"lf", 0, []Errno{ELOOP}},
		{"dir/lf", 0, []Errno{ELOOP}},
		{"dang", 0, []Errno{ELOOP}},
		{"dang", oflagDirectory, []Errno{ELOOP, ENOTDIR}},
		{"dang", oflagCreat, []Errno{ELOOP}},
		{"dang", oflagCreat | oflagExcl, []Errno{EEXIST}},
		{"loop", 0, []Errno{ELOOP}},
	} {
		rights := uint64(rightFdRead)
		if c.oflags&oflagCreat != 0 {
			rights |= rightFdWrite
		}
		if fd, e := g.pathOpen(3, 0, c.p, c.oflags, rights); !oneOf(e, c.want...) {
			t.Errorf("path_open(nofollow, %q, oflags %d) = fd %d, %v; want one of %v", c.p, c.oflags, fd, e, c.want)
			if e == 0 {
				g.closeFD(fd)
			}
		}
	}
	if _, err := os.Lstat(filepath.Join(m, "nowhere")); !os.IsNotExist(err) {
		t.Errorf("O_CREAT without follow through a dangling symlink created its target (%v)", err)
	}
	// With LOOKUP_SYMLINK_FOLLOW the links are followed.
	fd, e := g.pathOpen(3, lookupSymlinkFollow, "ls", oflagDirectory, dirRights)
	mustDo(t, "open ls following", e)
	g.closeFD(fd)
	fd, e = g.pathOpen(3, lookupSymlinkFollow, "lf", 0, rightFdRead)
	mustDo(t, "open lf following", e)
	g.closeFD(fd)
	if _, e := g.pathOpen(3, lookupSymlinkFollow, "lf", oflagDirectory, dirRights); e != ENOTDIR {
		t.Errorf("open lf following as a directory: %v, want ENOTDIR", e)
	}
	// A trailing slash resolves the link (POSIX): "ls/" is the directory.
	fd, e = g.pathOpen(3, 0, "ls/", 0, dirRights)
	mustDo(t, `open "ls/" without follow`, e)
	g.closeFD(fd)
	// Regular files and directories open as before.
	fd, e = g.pathOpen(3, 0, "file", 0, rightFdRead)
	mustDo(t, "open file", e)
	g.closeFD(fd)
	fd, e = g.pathOpen(3, 0, "target", oflagDirectory, dirRights)
	mustDo(t, "open target", e)
	g.closeFD(fd)
}

// TestSetTimesNoFollow: path_filestat_set_times without
// LOOKUP_SYMLINK_FOLLOW changes the symlink, not its target
// (symlink_filestat); with it, the target.
func TestSetTimesNoFollow(t *testing.T) {
	g, m, _ := pathFixture(t)
	hostFile(t, filepath.Join(m, "file"), "x")
	mustDo(t, "symlink", g.symlink("file", 3, "link"))
	old := time.Unix(1_000_000, 0)
	if err := os.Chtimes(filepath.Join(m, "file"), old, old); err != nil {
		t.Fatal(err)
	}
	mtime := func(p string) int64 {
		fi, err := os.Lstat(filepath.Join(m, p))
		if err != nil {
			t.Fatal(err)
		}
		return fi.ModTime().UnixNano()
	}
	linkWas := mtime("link")
	const set = 2_000_000 * uint64(time.Second)
	mustDo(t, "set_times nofollow", g.setMtim(3, 0, "link", set))
	if got := mtime("link"); got != int64(set) {
		t.Errorf("link mtime %d, want %d (was %d)", got, set, linkWas)
	}
	if got := mtime("file"); got != old.UnixNano() {
		t.Errorf("target mtime changed to %d by a no-follow set_times", got)
	}
	const set2 = 3_000_000 * uint64(time.Second)
	mustDo(t, "set_times follow", g.setMtim(3, lookupSymlinkFollow, "link", set2))
	if got := mtime("file"); got != int64(set2) {
		t.Errorf("target mtime %d after a following set_times, want %d", got, set2)
	}
	if got := mtime("link"); got != int64(set) {
		t.Errorf("link mtime %d changed by a following set_times", got)
	}
	// A dangling link has its own times too.
	mustDo(t, "symlink dangling", g.symlink("nowhere", 3, "dang"))
	mustDo(t, "set_times nofollow dangling", g.setMtim(3, 0, "dang", set))
	if e := g.setMtim(3, lookupSymlinkFollow, "dang", set); e != ENOENT {
		t.Errorf("set_times following a dangling link: %v, want ENOENT", e)
	}
}

// TestRenameDirectories: a directory renames over an empty one (rename(2),
// path_rename), not over a non-empty one (ENOTEMPTY); a file does not
// replace a directory (EISDIR) nor a directory a file (ENOTDIR).
func TestRenameDirectories(t *testing.T) {
	g, m, _ := pathFixture(t)
	mustDo(t, "mkdir source", g.onePath("path_create_directory", 3, "source"))
	hostFile(t, filepath.Join(m, "source", "inner"), "x")
	mustDo(t, "mkdir target", g.onePath("path_create_directory", 3, "target"))
	mustDo(t, "rename onto an empty directory", g.rename(3, "source", 3, "target"))
	if _, err := os.Stat(filepath.Join(m, "target", "inner")); err != nil {
		t.Errorf("target/inner after the rename: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(m, "source")); !os.IsNotExist(err) {
		t.Errorf("source still there: %v", err)
	}
	mustDo(t, "mkdir source", g.onePath("path_create_directory", 3, "source"))
	if e := g.rename(3, "source", 3, "target"); e != ENOTEMPTY {
		t.Errorf("rename onto a non-empty directory: %v, want ENOTEMPTY", e)
	}
	if e := g.rename(3, "source", 3, "target/inner"); e != ENOTDIR {
		t.Errorf("rename a directory onto a file: %v, want ENOTDIR", e)
	}
	hostFile(t, filepath.Join(m, "file"), "x")
	if e := g.rename(3, "file", 3, "source"); e != EISDIR {
		t.Errorf("rename a file onto a directory: %v, want EISDIR", e)
	}
	// Trailing slashes name directories (path_rename_dir_trailing_slashes).
	mustDo(t, `rename "source/" "s2"`, g.rename(3, "source/", 3, "s2"))
	mustDo(t, `rename "s2" "source/"`, g.rename(3, "s2", 3, "source/"))
	mustDo(t, `rename "source/" "s2/"`, g.rename(3, "source/", 3, "s2/"))
	if e := g.rename(3, "file/", 3, "f2"); !oneOf(e, ENOTDIR) {
		t.Errorf(`rename "file/": %v, want ENOTDIR`, e)
	}
	if e := g.rename(3, "file", 3, "f2/"); !oneOf(e, ENOTDIR, ENOENT) {
		t.Errorf(`rename a file to "f2/": %v, want ENOTDIR`, e)
	}
}

// TestMoveBetweenDirFDs: path_rename and path_link work between two
// directory fds of one mount (path_link.rs links into a subdirectory's
// fd), and stay EXDEV between two mounts.
func TestMoveBetweenDirFDs(t *testing.T) {
	g, m, n := pathFixture(t)
	for _, d := range []string{"a", "b"} {
		mustDo(t, "mkdir "+d, g.onePath("path_create_directory", 3, d))
	}
	hostFile(t, filepath.Join(m, "a", "f"), "x")
	a, e := g.pathOpen(3, 0, "a", oflagDirectory, dirRights)
	mustDo(t, "open a", e)
	b, e := g.pathOpen(3, 0, "b", oflagDirectory, dirRights)
	mustDo(t, "open b", e)
	mustDo(t, "link a/f -> b/g across fds", g.link(uint64(a), 0, "f", uint64(b), "g"))
	if ino(t, filepath.Join(m, "a", "f")) != ino(t, filepath.Join(m, "b", "g")) {
		t.Error("b/g is not a hard link of a/f")
	}
	mustDo(t, "link preopen file -> subdir fd", g.link(3, 0, "a/f", uint64(b), "h"))
	mustDo(t, "rename b/g -> a/g across fds", g.rename(uint64(b), "g", uint64(a), "g"))
	if _, err := os.Stat(filepath.Join(m, "a", "g")); err != nil {
		t.Errorf("a/g after the rename: %v", err)
	}
	mustDo(t, "rename from the preopen into a subdir fd", g.rename(3, "a/g", uint64(b), "moved"))
	if _, err := os.Stat(filepath.Join(m, "b", "moved")); err != nil {
		t.Errorf("b/moved after the rename: %v", err)
	}
	// Two mounts (two volumes, or two mounts of one) are two file systems.
	if e := g.link(3, 0, "a/f", 4, "f"); e != EXDEV {
		t.Errorf("link between two mounts: %v, want EXDEV", e)
	}
	if e := g.rename(uint64(a), "f", 4, "f"); e != EXDEV {
		t.Errorf("rename between two mounts: %v, want EXDEV", e)
	}
	if ents, _ := os.ReadDir(n); len(ents) != 0 {
		t.Errorf("the other mount changed: %v", ents)
	}
	// A symlink moved into a subdirectory fd is judged from that fd: it
	// may not climb above it.
	mustDo(t, "symlink", g.symlink("a/f", 3, "up"))
	mustDo(t, "moving a link (-> a/f) into b, where it points to b/a/f", g.rename(3, "up", uint64(b), "up"))
	mustDo(t, "symlink up2", g.symlink("../a/f", 3, "b/up2"))
	if e := g.rename(3, "b/up2", uint64(a), "up2"); e != EPERM {
		t.Errorf("moving a link climbing above the fd into it: %v, want EPERM", e)
	}
}

// TestLinkFollow: path_link links a final symlink itself without
// LOOKUP_SYMLINK_FOLLOW and its target with it, the following confined to
// the mount; trailing slashes and directories fail as in path_link.rs.
func TestLinkFollow(t *testing.T) {
	g, m, _ := pathFixture(t)
	hostFile(t, filepath.Join(m, "file"), "x")
	mustDo(t, "symlink", g.symlink("file", 3, "sl"))
	mustDo(t, "link nofollow", g.link(3, 0, "sl", 3, "l1"))
	if fi, err := os.Lstat(filepath.Join(m, "l1")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("l1 is not the symlink itself: %v %v", fi, err)
	}
	mustDo(t, "link follow", g.link(3, lookupSymlinkFollow, "sl", 3, "l2"))
	if ino(t, filepath.Join(m, "l2")) != ino(t, filepath.Join(m, "file")) {
		t.Error("a following link is not a hard link of the target")
	}
	mustDo(t, "dangling symlink", g.symlink("nowhere", 3, "dang"))
	if e := g.link(3, lookupSymlinkFollow, "dang", 3, "l3"); !oneOf(e, ENOENT, EINVAL) {
		t.Errorf("link following a dangling symlink: %v, want ENOENT", e)
	}
	mustDo(t, "link a dangling symlink itself", g.link(3, 0, "dang", 3, "l3"))
	mustDo(t, "loop", g.symlink("loop", 3, "loop"))
	mustDo(t, "link a symlink loop itself", g.link(3, 0, "loop", 3, "l4"))
	if e := g.link(3, lookupSymlinkFollow, "loop", 3, "l5"); !oneOf(e, ELOOP, EINVAL) {
		t.Errorf("link following a loop: %v, want ELOOP", e)
	}
	// Following never leaves the mount, whoever made the link.
	outside := filepath.Join(filepath.Dir(m), "outside")
	for name, target := range map[string]string{"abs": filepath.Join(outside, "secret"), "rel": "../outside/secret"} {
		if err := os.Symlink(target, filepath.Join(m, name)); err != nil {
			t.Fatal(err)
		}
		if e := g.link(3, lookupSymlinkFollow, name, 3, name+"2"); e == 0 {
			t.Errorf("link following %s -> %s succeeded", name, target)
		}
	}
	if fi, err := os.Stat(filepath.Join(outside, "secret")); err != nil || fi.Sys().(*syscall.Stat_t).Nlink != 1 {
		t.Errorf("the outside file got linked: %v", err)
	}
	if e := g.link(3, 0, "file", 3, "new/"); e != ENOENT {
		t.Errorf(`link to "new/": %v, want ENOENT`, e)
	}
	if e := g.link(3, 0, "file", 3, "l2"); e != EEXIST {
		t.Errorf("link onto an existing name: %v, want EEXIST", e)
	}
	if e := g.link(3, 0, "file", 3, "dang"); e != EEXIST {
		t.Errorf("link onto a dangling symlink: %v, want EEXIST", e)
	}
	mustDo(t, "mkdir", g.onePath("path_create_directory", 3, "dir"))
	if e := g.link(3, 0, "dir", 3, "dl"); !oneOf(e, EPERM, EACCES) {
		t.Errorf("link of a directory: %v, want EPERM", e)
	}
	if e := g.link(3, 0, "file/", 3, "fl"); !oneOf(e, ENOTDIR, ENOENT) {
		t.Errorf(`link of "file/": %v, want ENOTDIR`, e)
	}
}

// TestTrailingSlashes: unlink, rmdir, symlink and open with trailing
// slashes (unlink_file_trailing_slashes, remove_directory_trailing_slashes,
// path_symlink_trailing_slashes, interesting_paths).
func TestTrailingSlashes(t *testing.T) {
	g, m, _ := pathFixture(t)
	mustDo(t, "mkdir", g.onePath("path_create_directory", 3, "dir"))
	mustDo(t, "mkdir nested", g.onePath("path_create_directory", 3, "dir/nested"))
	hostFile(t, filepath.Join(m, "file"), "x")
	hostFile(t, filepath.Join(m, "dir", "nested", "file"), "x")
	for _, c := range []struct {
		call, p string
		want    []Errno
	}{
		{"path_unlink_file", "dir", []Errno{EISDIR}},
		{"path_unlink_file", "dir/", []Errno{EISDIR}},
		{"path_unlink_file", "file/", []Errno{ENOTDIR}},
		{"path_remove_directory", "file", []Errno{ENOTDIR}},
		{"path_remove_directory", "file/", []Errno{ENOTDIR}},
	} {
		if e := g.onePath(c.call, 3, c.p); !oneOf(e, c.want...) {
			t.Errorf("%s(%q) = %v, want one of %v", c.call, c.p, e, c.want)
		}
	}
	mustDo(t, "mkdir d2", g.onePath("path_create_directory", 3, "d2"))
	mustDo(t, `rmdir "d2/"`, g.onePath("path_remove_directory", 3, "d2/"))
	mustDo(t, `unlink "file"`, g.onePath("path_unlink_file", 3, "file"))

	if e := g.symlink("source", 3, "target/"); e != ENOENT {
		t.Errorf(`symlink at a new "target/": %v, want ENOENT`, e)
	}
	if _, err := os.Lstat(filepath.Join(m, "target")); !os.IsNotExist(err) {
		t.Errorf(`symlink at "target/" made target: %v`, err)
	}
	if e := g.symlink("source", 3, "dir/"); e != EEXIST {
		t.Errorf(`symlink at an existing "dir/": %v, want EEXIST`, e)
	}
	hostFile(t, filepath.Join(m, "file"), "x")
	if e := g.symlink("source", 3, "file/"); !oneOf(e, ENOTDIR, EEXIST) {
		t.Errorf(`symlink at an existing "file/": %v, want ENOTDIR or EEXIST`, e)
	}

	for _, p := range []string{"dir/nested/file/", "dir/nested/file///"} {
		if _, e := g.pathOpen(3, 0, p, 0, rightFdRead); !oneOf(e, ENOTDIR, ENOENT) {
			t.Errorf("open %q: %v, want ENOTDIR", p, e)
		}
	}
	for _, p := range []string{"dir/nested/", "dir/nested///", "dir/.//nested/../../dir/nested/../nested///./file", "dir/nested/.", "dir/nested/..", "."} {
		rights := uint64(dirRights)
		if filepath.Base(p) == "file" {
			rights = rightFdRead
		}
		fd, e := g.pathOpen(3, 0, p, 0, rights)
		if e != 0 {
			t.Errorf("open %q: %v", p, e)
			continue
		}
		g.closeFD(fd)
	}
	for _, p := range []string{"/dir/nested/file", "dir/nested/../../../m/dir/nested/file", ".."} {
		if _, e := g.pathOpen(3, 0, p, 0, rightFdRead); !oneOf(e, EPERM, ENOTCAPABLE) {
			t.Errorf("open %q: %v, want EPERM", p, e)
		}
	}
}

// TestNoFollowConfinement: the paths resolved through their parent stay
// confined: a parent reached through an escaping symlink is refused by
// every call that now takes the parent's fd.
func TestNoFollowConfinement(t *testing.T) {
	g, m, _ := pathFixture(t)
	outside := filepath.Join(filepath.Dir(m), "outside")
	if err := os.Symlink(outside, filepath.Join(m, "absdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside", filepath.Join(m, "reldir")); err != nil {
		t.Fatal(err)
	}
	hostFile(t, filepath.Join(m, "file"), "x")
	old := time.Unix(1_000_000, 0)
	if err := os.Chtimes(filepath.Join(outside, "secret"), old, old); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"absdir", "reldir", "..", "../outside", "x/../.."} {
		p := dir + "/secret"
		if _, e := g.pathOpen(3, 0, p, 0, rightFdRead); e == 0 {
			t.Errorf("open nofollow %q escaped", p)
		}
		if _, e := g.pathOpen(3, 0, p, oflagCreat|oflagTrunc, rightFdWrite); e == 0 {
			t.Errorf("open nofollow O_TRUNC %q escaped", p)
		}
		if e := g.setMtim(3, 0, p, 5); e == 0 {
			t.Errorf("set_times nofollow %q escaped", p)
		}
		if e := g.rename(3, p, 3, "stolen"); e == 0 {
			t.Errorf("rename %q escaped", p)
		}
		if e := g.rename(3, "file", 3, dir+"/planted"); e == 0 {
			t.Errorf("rename to %q escaped", dir+"/planted")
		}
		if e := g.link(3, 0, p, 3, "stolen"); e == 0 {
			t.Errorf("link %q escaped", p)
		}
		if e := g.link(3, 0, "file", 3, dir+"/planted"); e == 0 {
			t.Errorf("link to %q escaped", dir+"/planted")
		}
		if e := g.onePath("path_unlink_file", 3, p); e == 0 {
			t.Errorf("unlink %q escaped", p)
		}
		if e := g.symlink("x", 3, dir+"/planted"); e == 0 {
			t.Errorf("symlink at %q escaped", dir+"/planted")
		}
	}
	fi, err := os.Stat(filepath.Join(outside, "secret"))
	if err != nil || !fi.ModTime().Equal(old) || fi.Size() != 6 {
		t.Errorf("outside/secret changed: %v %v", fi, err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("outside changed: %v", ents)
	}
}
