package wasi

import (
	"os"
	"testing"
)

// TestQuotaLinkedSymlink: a symlink with several hard links (path_link of a
// symlink links the symlink itself) is one inode: it is charged once and
// released with its last name, so unlinking its names cannot drive the
// quota below what the volume holds.
func TestQuotaLinkedSymlink(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	q, err := NewQuota("test", 1<<20, dir)
	if err != nil {
		t.Fatal(err)
	}
	d := &dirFile{root: root, q: q}
	if e := d.symlink("target", "s"); e != 0 {
		t.Fatalf("symlink: %v", e)
	}
	for _, name := range []string{"s1", "s2", "s3"} {
		if e := d.link("s", d, name); e != 0 {
			t.Fatalf("link %s: %v", name, e)
		}
	}
	if fi, err := os.Lstat(dir + "/s1"); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("s1 is not a symlink: %v", err)
	}
	if got := q.Used(); got != InodeCost {
		t.Fatalf("a symlink with 4 names counts %d, want %d", got, InodeCost)
	}
	for _, name := range []string{"s", "s1", "s2"} {
		if e := d.unlink(name); e != 0 {
			t.Fatalf("unlink %s: %v", name, e)
		}
		if got := q.Used(); got != InodeCost {
			t.Errorf("after unlinking %s (a name remains): %d used, want %d", name, got, InodeCost)
		}
	}
	// A rename over a name of a linked symlink drops that name only.
	if e := d.link("s3", d, "s4"); e != 0 {
		t.Fatal(e)
	}
	if e := d.symlink("other", "o"); e != 0 {
		t.Fatal(e)
	}
	if e := d.rename("o", d, "s4"); e != 0 {
		t.Fatal(e)
	}
	if got := q.Used(); got != 2*InodeCost {
		t.Errorf("after renaming over one of two names: %d used, want %d", got, 2*InodeCost)
	}
	for _, name := range []string{"s3", "s4"} {
		if e := d.unlink(name); e != 0 {
			t.Fatal(e)
		}
	}
	if got, err := MeasureDir(dir); err != nil || got != 0 || q.Used() != 0 {
		t.Errorf("empty volume: quota %d, measured %d (%v)", q.Used(), got, err)
	}
}
