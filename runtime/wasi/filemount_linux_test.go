package wasi

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fileMountFixture mounts a read-only, empty "/" (fd 3), a volume at /data
// (fd 4) and three single files: the volume's conf at /etc/app/app.conf
// (read-only, over a mount point made in "/"), a file outside every mount
// at /dev/termination-log (writable, in the read-only "/", by path as the
// node agent mounts it) and the
// volume's f.txt at /data/sub/f.txt (writable, in the volume itself).
func fileMountFixture(t *testing.T) (g *guest, root, vol, term string) {
	t.Helper()
	base := t.TempDir()
	root, vol = filepath.Join(base, "root"), filepath.Join(base, "vol")
	for _, d := range []string{root, vol, filepath.Join(base, "outside"), filepath.Join(base, "term")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	term = filepath.Join(base, "term", "msg")
	for name, data := range map[string]string{
		filepath.Join(vol, "conf"): "v1", filepath.Join(vol, "f.txt"): "data", term: "",
		filepath.Join(base, "outside", "secret"): "TOPSECRET",
	} {
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	open := func(name string) *os.File {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	g = newGuest(t, Config{Mounts: []Mount{
		{HostPath: root, GuestPath: "/", ReadOnly: true},
		{HostPath: vol, GuestPath: "/data"},
		{HostPath: filepath.Join(vol, "conf"), GuestPath: "/etc/app/app.conf", ReadOnly: true, File: open(filepath.Join(vol, "conf"))},
		{HostPath: term, GuestPath: "/dev/termination-log", FileByPath: true},
		{HostPath: filepath.Join(vol, "f.txt"), GuestPath: "/data/sub/f.txt", File: open(filepath.Join(vol, "f.txt"))},
	}})
	return g, root, vol, term
}

// readAll opens p from dirfd (following symlinks) and reads it.
func (g *guest) readPath(dirfd uint32, p string) (string, Errno) {
	g.t.Helper()
	po, pl := g.str(1000, p)
	if e := g.call("path_open", uint64(dirfd), 1, po, pl, 0, rtFdRead, 0, 0, 900); e != 0 {
		return "", e
	}
	fd := g.u32(900)
	defer g.closeFD(fd)
	return g.readFD(fd, 100)
}

func (g *guest) size(dirfd uint32, p string) (uint64, Errno) {
	g.t.Helper()
	po, pl := g.str(1000, p)
	e := g.call("path_filestat_get", uint64(dirfd), 1, po, pl, 3000)
	return binary.LittleEndian.Uint64(g.m[3000+32:]), e
}

func TestFileMountReadsTheMountedFile(t *testing.T) {
	g, root, vol, _ := fileMountFixture(t)
	if got, e := g.readPath(3, "etc/app/app.conf"); e != 0 || got != "v1" {
		t.Fatalf("read /etc/app/app.conf = %q, %v; want the volume's v1", got, e)
	}
	if n, e := g.size(3, "etc/app/app.conf"); e != 0 || n != 2 {
		t.Errorf("stat size = %d, %v; want 2 (the mounted file's)", n, e)
	}
	// The mount point was made in "/" as a container runtime makes it.
	if fi, err := os.Stat(filepath.Join(root, "etc", "app", "app.conf")); err != nil || fi.Size() != 0 {
		t.Errorf("mount point in / = %v, %v; want an empty file", fi, err)
	}
	// Pinned at start: replacing the volume's file by an escaping
	// symlink, or by new content, does not change what is mounted.
	if err := os.Rename(filepath.Join(vol, "conf"), filepath.Join(vol, "conf.old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside/secret", filepath.Join(vol, "conf")); err != nil {
		t.Fatal(err)
	}
	if got, e := g.readPath(3, "etc/app/app.conf"); e != 0 || got != "v1" {
		t.Fatalf("after the volume's name was replaced: %q, %v; want the pinned v1", got, e)
	}
	// A read-only file mount refuses writes; so does its directory.
	for _, oflags := range []uint16{0, oflagTrunc} {
		if _, e := g.openAt(3, "etc/app/app.conf", oflags, rtFdWrite, 0, 0); e != EROFS {
			t.Errorf("open for writing (oflags %d) = %v, want EROFS", oflags, e)
		}
	}
	if _, e := g.openAt(3, "etc/app/other", oflagCreat, rtFdWrite, 0, 0); e != EROFS {
		t.Errorf("create beside it = %v, want EROFS (the rest of / is read-only)", e)
	}
}

func TestFileMountWritableInReadOnlyDirectory(t *testing.T) {
	g, _, _, term := fileMountFixture(t)
	fd, e := g.openAt(3, "dev/termination-log", oflagCreat|oflagTrunc, rtFdWrite, 0, 0)
	if e != 0 {
		t.Fatalf("open /dev/termination-log for writing: %v", e)
	}
	if e := g.writeFD(fd, "bye"); e != 0 {
		t.Fatal(e)
	}
	g.closeFD(fd)
	if b, _ := os.ReadFile(term); string(b) != "bye" {
		t.Errorf("host file = %q, want bye", b)
	}
	if e := g.onePath("path_unlink_file", 3, "dev/termination-log"); e != EROFS {
		t.Errorf("unlink in the read-only / = %v, want EROFS", e)
	}
}

// TestFileMountByPathHoldsNoFD: a FileByPath mount keeps no host fd open
// while the guest has it closed (the pinned mounts keep one each), and
// its stat and times are the host file's.
func TestFileMountByPathHoldsNoFD(t *testing.T) {
	g, _, vol, term := fileMountFixture(t)
	open := func() map[string]int {
		n := map[string]int{}
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil {
				n[l]++
			}
		}
		return n
	}
	fds := open()
	if fds[term] != 0 {
		t.Errorf("%d host fds on the by-path file, want 0", fds[term])
	}
	if fds[filepath.Join(vol, "f.txt")] == 0 {
		t.Errorf("no host fd on the pinned file: the fd census is wrong")
	}
	if err := os.WriteFile(term, []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, e := g.size(3, "dev/termination-log"); e != 0 || n != 5 {
		t.Errorf("stat size = %d, %v; want the host file's 5", n, e)
	}
	if got, e := g.readPath(3, "dev/termination-log"); e != 0 || got != "12345" {
		t.Errorf("read = %q, %v", got, e)
	}
	if fds := open(); fds[term] != 0 {
		t.Errorf("%d host fds on the by-path file after a read, want 0", fds[term])
	}
}

func TestFileMountPointIsBusy(t *testing.T) {
	g, _, vol, _ := fileMountFixture(t)
	if got, e := g.readPath(4, "sub/f.txt"); e != 0 || got != "data" {
		t.Fatalf("read /data/sub/f.txt = %q, %v", got, e)
	}
	if e := g.onePath("path_unlink_file", 4, "sub/f.txt"); e != EBUSY {
		t.Errorf("unlink = %v, want EBUSY", e)
	}
	if e := g.rename(4, "sub/f.txt", 4, "moved"); e != EBUSY {
		t.Errorf("rename of it = %v, want EBUSY", e)
	}
	if e := g.symlink("conf", 4, "evil"); e != 0 {
		t.Fatal(e)
	}
	if e := g.rename(4, "evil", 4, "sub/f.txt"); e != EBUSY {
		t.Errorf("rename over it = %v, want EBUSY", e)
	}
	if e := g.link(4, 0, "sub/f.txt", 4, "hard"); e != EXDEV {
		t.Errorf("link of it = %v, want EXDEV", e)
	}
	if _, e := g.openAt(4, "sub/f.txt", oflagCreat|oflagExcl, rtFdWrite, 0, 0); e != EEXIST {
		t.Errorf("O_CREAT|O_EXCL = %v, want EEXIST", e)
	}
	if _, e := g.openAt(4, "sub/f.txt", oflagDirectory, 0, 0, 0); e != ENOTDIR {
		t.Errorf("O_DIRECTORY = %v, want ENOTDIR", e)
	}
	// Every way to the name meets the mounted file: a symlink to it, a
	// directory fd, "..", and the directory renamed.
	if e := g.symlink("sub/f.txt", 4, "lnk"); e != 0 {
		t.Fatal(e)
	}
	for _, p := range []string{"lnk", "sub/../sub/f.txt", "./sub//f.txt"} {
		if got, e := g.readPath(4, p); e != 0 || got != "data" {
			t.Errorf("read %s = %q, %v; want the mounted data", p, got, e)
		}
	}
	if n, e := g.size(4, "lnk"); e != 0 || n != 4 {
		t.Errorf("stat through a symlink = %d, %v; want the mounted file's 4 bytes", n, e)
	}
	sub := g.mustOpenAt(4, "sub", oflagDirectory, dirRights, allRights, 0)
	if got, e := g.readPath(sub, "f.txt"); e != 0 || got != "data" {
		t.Errorf("read f.txt from a directory fd = %q, %v", got, e)
	}
	if e := g.rename(4, "sub", 4, "sub2"); e != 0 {
		t.Fatal(e)
	}
	if got, e := g.readPath(4, "sub2/f.txt"); e != 0 || got != "data" {
		t.Errorf("after the directory moved: %q, %v; want the mount to move with it", got, e)
	}
	// The rest of the directory is the volume's.
	fd, e := g.openAt(4, "sub2/other", oflagCreat, rtFdWrite, 0, 0)
	if e != 0 {
		t.Fatal(e)
	}
	g.writeFD(fd, "x")
	g.closeFD(fd)
	if b, err := os.ReadFile(filepath.Join(vol, "sub2", "other")); err != nil || string(b) != "x" {
		t.Errorf("a file beside the mount point: %q, %v", b, err)
	}
	// Writes through the mount reach the volume's file.
	fd, e = g.openAt(4, "sub2/f.txt", oflagTrunc, rtFdWrite, 0, 0)
	if e != 0 {
		t.Fatal(e)
	}
	g.writeFD(fd, "new")
	g.closeFD(fd)
	if b, _ := os.ReadFile(filepath.Join(vol, "f.txt")); string(b) != "new" {
		t.Errorf("volume's f.txt = %q, want new", b)
	}
}

func TestFileMountOverDirectoryFails(t *testing.T) {
	base := t.TempDir()
	vol := filepath.Join(base, "vol")
	if err := os.MkdirAll(filepath.Join(vol, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(base, "msg"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = New(Config{Mounts: []Mount{{HostPath: vol, GuestPath: "/"}, {HostPath: f.Name(), GuestPath: "/d", File: f}}})
	if err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file over a directory: %v, want a not-a-directory error", err)
	}
	// An escaping symlink at the mount point is never followed out.
	if err := os.Symlink("../../outside", filepath.Join(vol, "esc")); err != nil {
		t.Fatal(err)
	}
	_, err = New(Config{Mounts: []Mount{{HostPath: vol, GuestPath: "/"}, {HostPath: f.Name(), GuestPath: "/esc", File: f}}})
	if err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("mount point through an escaping symlink: %v, want an error", err)
	}
	// With no directory mount, there is nowhere to put the mount point.
	_, err = New(Config{Mounts: []Mount{{HostPath: f.Name(), GuestPath: "/x/msg", File: f}}})
	if err == nil {
		t.Error("a file mount with no directory mount above it started")
	}
}
