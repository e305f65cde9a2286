package wasi

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestDirentsUnknownType: a file system that reports DT_UNKNOWN (d_type 0)
// leaves the entry lazy; it is stat'ed when returned, for its real type and
// inode. "." and ".." and malformed record lengths are skipped.
func TestDirentsUnknownType(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "file"), []byte("x"), 0o644))
	must(os.Symlink("file", filepath.Join(dir, "ln")))
	rec := func(name string, typ byte) []byte {
		n := (19 + len(name) + 1 + 7) &^ 7
		b := make([]byte, n)
		binary.NativeEndian.PutUint64(b, 12345)
		binary.NativeEndian.PutUint16(b[16:], uint16(n))
		b[18] = typ
		copy(b[19:], name)
		return b
	}
	var buf []byte
	for _, r := range [][]byte{rec(".", syscall.DT_DIR), rec("..", syscall.DT_DIR), rec("sub", 0),
		rec("file", syscall.DT_UNKNOWN), rec("ln", 0), rec("gone", 0), rec("reg", syscall.DT_REG)} {
		buf = append(buf, r...)
	}
	bad := rec("cut", 0)
	binary.NativeEndian.PutUint16(bad[16:], 4000) // longer than what is left
	buf = append(buf, bad...)
	ents := parseDirents(buf, nil)
	if len(ents) != 5 {
		t.Fatalf("parsed %d entries, want 5: %+v", len(ents), ents)
	}
	if e := ents[4]; e.name != "reg" || e.lazy || e.typ != FiletypeRegularFile || e.ino != 12345 {
		t.Errorf("DT_REG entry: %+v", e)
	}
	root, err := os.OpenRoot(dir)
	must(err)
	d := &dirFile{root: root}
	defer d.Close()
	for i, want := range []Filetype{FiletypeDirectory, FiletypeRegularFile, FiletypeSymbolicLink, FiletypeUnknown} {
		if !ents[i].lazy {
			t.Errorf("%q with d_type 0 is not lazy", ents[i].name)
		}
		got := d.entry(ents[i])
		if got.typ != want || got.lazy {
			t.Errorf("%q: type %d, want %d", got.name, got.typ, want)
		}
		if fi, err := os.Lstat(filepath.Join(dir, got.name)); err == nil && got.ino != statOf(fi).Ino {
			t.Errorf("%q: ino %d, lstat says %d", got.name, got.ino, statOf(fi).Ino)
		}
	}
}
