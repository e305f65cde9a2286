package wasi

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestMoveUpLargeDirectoryEXDEV: a directory moved up is walked for links
// that would escape, up to maxMoveWalk entries; a larger one gets EXDEV
// (mv then copies, and path_symlink checks each link it recreates), so a
// guest cannot make one host call walk without bound.
func TestMoveUpLargeDirectoryEXDEV(t *testing.T) {
	old := maxMoveWalk
	maxMoveWalk = 8
	defer func() { maxMoveWalk = old }()
	dir := t.TempDir()
	for _, sub := range []string{"a/b/small", "a/b/big"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(dir, "a/b/small", fmt.Sprint(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		if err := os.WriteFile(filepath.Join(dir, "a/b/big", fmt.Sprint(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	d := &dirFile{root: root}
	if e := d.rename("a/b/small", d, "small"); e != 0 {
		t.Errorf("moving a small directory up: %v", e)
	}
	if e := d.rename("a/b/big", d, "big"); e != EXDEV {
		t.Errorf("moving a directory of 20 entries up with a walk bound of 8: %v, want EXDEV", e)
	}
	if e := d.rename("a/b/big", d, "a/b/c"); e != 0 {
		t.Errorf("moving it sideways (no walk): %v", e)
	}
}
