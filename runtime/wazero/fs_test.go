package wazero

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// fsFixture makes base/{mount,outside} with escaping symlinks in mount.
func fsFixture(t *testing.T) (mount, outside string) {
	t.Helper()
	base := t.TempDir()
	mount, outside = filepath.Join(base, "mount"), filepath.Join(base, "outside")
	for _, d := range []string{mount, outside, filepath.Join(mount, "dir")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(outside, "secret"), "secret")
	write(filepath.Join(mount, "file"), "inside")
	for link, target := range map[string]string{
		"abslink": filepath.Join(outside, "secret"),
		"rellink": "../outside/secret",
		"absdir":  outside,
		"reldir":  "../outside",
		"oklink":  "file",
	} {
		if err := os.Symlink(target, filepath.Join(mount, link)); err != nil {
			t.Fatal(err)
		}
	}
	return mount, outside
}

func TestRootFSConfinesRawPaths(t *testing.T) {
	mount, outside := fsFixture(t)
	r, err := newRootFS(mount, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// wazero cleans guest paths before they reach the FS; the FS must hold
	// even if it did not.
	for _, p := range []string{"../outside/secret", "dir/../../outside/secret", "abslink", "rellink", "absdir/secret", "reldir/secret", filepath.Join(outside, "secret")} {
		if f, e := r.OpenFile(p, experimentalsys.O_RDONLY, 0); e == 0 {
			f.Close()
			t.Errorf("OpenFile(%q) escaped", p)
		}
		if _, e := r.Stat(p); e == 0 {
			t.Errorf("Stat(%q) escaped", p)
		}
	}
	for _, p := range []string{"../outside/new", "absdir/new", "reldir/new"} {
		if f, e := r.OpenFile(p, experimentalsys.O_WRONLY|experimentalsys.O_CREAT, 0o644); e == 0 {
			f.Close()
			t.Errorf("create %q escaped", p)
		}
		if e := r.Mkdir(p+"d", 0o755); e == 0 {
			t.Errorf("Mkdir(%q) escaped", p)
		}
	}
	if e := r.Rename("file", "../outside/moved"); e == 0 {
		t.Error("Rename out of the mount succeeded")
	}
	if e := r.Link("rellink", "hard"); e == 0 {
		if f, e := r.OpenFile("hard", experimentalsys.O_RDONLY, 0); e == 0 {
			f.Close()
			t.Error("hard link to an escaping symlink opened")
		}
	}
	for _, target := range []string{"/etc/passwd", "../x", "dir/../../x", ""} {
		if e := r.Symlink(target, "evil"); e != experimentalsys.EPERM {
			t.Errorf("Symlink(%q) = %v, want EPERM", target, e)
		}
	}
	if e := r.Symlink("../file", "dir/ok"); e != 0 {
		t.Errorf("Symlink inside the mount: %v", e)
	}
	if fi, err := os.ReadDir(outside); err != nil || len(fi) != 1 {
		t.Errorf("outside dir changed: %v %v", fi, err)
	}
	// Lstat of an escaping link itself is fine (it does not follow it).
	if _, e := r.Lstat("abslink"); e != 0 {
		t.Errorf("Lstat(abslink) = %v", e)
	}
}

func TestRootFSReadOnly(t *testing.T) {
	mount, _ := fsFixture(t)
	r, err := newRootFS(mount, true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for name, e := range map[string]experimentalsys.Errno{
		"create":  openErr(r.OpenFile("new", experimentalsys.O_WRONLY|experimentalsys.O_CREAT, 0o644)),
		"rdwr":    openErr(r.OpenFile("file", experimentalsys.O_RDWR, 0)),
		"trunc":   openErr(r.OpenFile("file", experimentalsys.O_RDONLY|experimentalsys.O_TRUNC, 0)),
		"mkdir":   r.Mkdir("d", 0o755),
		"unlink":  r.Unlink("file"),
		"rmdir":   r.Rmdir("dir"),
		"rename":  r.Rename("file", "file2"),
		"link":    r.Link("file", "file2"),
		"symlink": r.Symlink("file", "l"),
		"chmod":   r.Chmod("file", 0o777),
		"utimens": r.Utimens("file", 0, 0),
	} {
		if e != experimentalsys.EROFS {
			t.Errorf("%s: %v, want EROFS", name, e)
		}
	}
	f, e := r.OpenFile("file", experimentalsys.O_RDONLY, 0)
	if e != 0 {
		t.Fatal(e)
	}
	defer f.Close()
	buf := make([]byte, 16)
	if n, e := f.Read(buf); e != 0 || string(buf[:n]) != "inside" {
		t.Fatalf("Read = %q, %v", buf[:n], e)
	}
	if _, e := f.Write([]byte("x")); e == 0 {
		t.Fatal("Write to a read-only open succeeded")
	}
}

func openErr(f experimentalsys.File, e experimentalsys.Errno) experimentalsys.Errno {
	if f != nil {
		f.Close()
	}
	return e
}

func TestRootFSFileOps(t *testing.T) {
	mount, _ := fsFixture(t)
	r, err := newRootFS(mount, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if e := r.Rmdir("file"); e != experimentalsys.ENOTDIR {
		t.Errorf("Rmdir(file) = %v, want ENOTDIR", e)
	}
	if e := r.Unlink("dir"); e != experimentalsys.EISDIR {
		t.Errorf("Unlink(dir) = %v, want EISDIR", e)
	}
	if f, e := r.OpenFile("file", experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0); e != experimentalsys.ENOTDIR {
		openErr(f, e)
		t.Errorf("O_DIRECTORY on a file = %v, want ENOTDIR", e)
	}

	f, e := r.OpenFile("rw", experimentalsys.O_RDWR|experimentalsys.O_CREAT, 0o644)
	if e != 0 {
		t.Fatal(e)
	}
	if n, e := f.Write([]byte("hello world")); e != 0 || n != 11 {
		t.Fatal(n, e)
	}
	if off, e := f.Seek(0, 0); e != 0 || off != 0 {
		t.Fatal(off, e)
	}
	buf := make([]byte, 5)
	if n, e := f.Pread(buf, 6); e != 0 || string(buf[:n]) != "world" {
		t.Fatalf("Pread = %q %v", buf[:n], e)
	}
	if e := f.Truncate(5); e != 0 {
		t.Fatal(e)
	}
	if st, e := f.Stat(); e != 0 || st.Size != 5 {
		t.Fatalf("Stat after Truncate: %+v %v", st, e)
	}
	if e := f.Utimens(1e9, experimentalsys.UTIME_OMIT); e != 0 {
		t.Fatalf("Utimens: %v", e)
	}
	if e := f.Close(); e != 0 {
		t.Fatal(e)
	}
	if _, e := f.Read(buf); e != experimentalsys.EBADF {
		t.Fatalf("Read after Close = %v, want EBADF", e)
	}

	// Readdir in batches, then again after rewinding.
	for i := range 10 {
		if err := os.WriteFile(filepath.Join(mount, "dir", string(rune('a'+i))), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, e := r.OpenFile("dir", experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0)
	if e != 0 {
		t.Fatal(e)
	}
	defer d.Close()
	readAll := func() []string {
		var names []string
		for {
			ents, e := d.Readdir(3)
			if e != 0 {
				t.Fatal(e)
			}
			if len(ents) == 0 {
				break
			}
			for _, ent := range ents {
				if ent.Ino == 0 {
					t.Errorf("%s: zero inode", ent.Name)
				}
				names = append(names, ent.Name)
			}
		}
		sort.Strings(names)
		return names
	}
	if got := readAll(); len(got) != 10 || got[0] != "a" || got[9] != "j" {
		t.Fatalf("Readdir: %v", got)
	}
	if _, e := d.Seek(0, 0); e != 0 {
		t.Fatalf("rewind: %v", e)
	}
	if got := readAll(); len(got) != 10 {
		t.Fatalf("Readdir after rewind: %v", got)
	}
}
