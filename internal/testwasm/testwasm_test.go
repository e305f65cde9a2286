package testwasm

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestRepoRootAndBuild(t *testing.T) {
	root := RepoRoot(t)
	if mod, err := readModulePath(filepath.Join(root, "go.mod")); err != nil || mod != ModulePath {
		t.Fatalf("RepoRoot %s: module %q, %v", root, mod, err)
	}
	dir := GuestDir(t, "probe")
	a := Build(t, dir)
	if !bytes.HasPrefix(a, []byte("\x00asm")) {
		t.Fatalf("Build returned %d bytes that are not wasm", len(a))
	}
	if b := Build(t, dir); !bytes.Equal(a, b) {
		t.Fatal("second Build differs")
	}
	if fi, err := os.Stat(CompileCacheDir()); err != nil || !fi.IsDir() {
		t.Fatalf("CompileCacheDir: %v", err)
	}
}
