//go:build unix

package pods

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestRemoveTree(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	keep := filepath.Join(outside, "keep")
	if err := os.WriteFile(keep, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(root, "pod")
	mk := func(p string) {
		if err := os.MkdirAll(filepath.Join(tree, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mk("rootfs/c/var/tmp/deep/er")
	mk("logs/c")
	mk("big")
	for i := range 2500 { // more than one ReadDir batch
		if err := os.WriteFile(filepath.Join(tree, "big", strconv.Itoa(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(tree, "logs/c/0.log"), []byte("log"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Symlinks a guest may plant: to a directory and a file outside, and
	// a dangling one. None is followed.
	for i, target := range []string{outside, keep, "/nonexistent"} {
		if err := os.Symlink(target, filepath.Join(tree, "rootfs/c/var/tmp", "l"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := removeTree(tree); err != nil {
		t.Fatalf("removeTree: %v", err)
	}
	if _, err := os.Lstat(tree); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the tree is still there: %v", err)
	}
	if b, err := os.ReadFile(keep); err != nil || string(b) != "x" {
		t.Fatalf("a symlink was followed: %q %v", b, err)
	}
	// Missing: no error. A file and a symlink: unlinked, never followed.
	if err := removeTree(tree); err != nil {
		t.Fatalf("removeTree of a missing path: %v", err)
	}
	file := filepath.Join(root, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "l")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{file, link} {
		if err := removeTree(p); err != nil {
			t.Fatalf("removeTree(%s): %v", p, err)
		}
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s is still there: %v", p, err)
		}
	}
	if _, err := os.Stat(keep); err != nil {
		t.Fatalf("the symlink's target went: %v", err)
	}
	// An error names the path: a directory whose parent is read-only.
	if os.Geteuid() != 0 {
		ro := filepath.Join(root, "ro")
		mk2 := filepath.Join(ro, "d")
		if err := os.MkdirAll(mk2, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mk2, "f"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chmod(mk2, 0o555)
		defer os.Chmod(mk2, 0o755)
		if err := removeTree(ro); err == nil {
			t.Fatal("removeTree of a tree with a read-only directory succeeded")
		}
	}
}
