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
	key, err := sourceKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	cached := filepath.Join(os.TempDir(), "wasmpod-testwasm", "bin", "probe-"+key+".wasm")
	if _, err := os.Stat(cached); err != nil {
		t.Fatalf("no cached build: %v", err)
	}
	if b := Build(t, dir); !bytes.Equal(a, b) {
		t.Fatal("second Build differs")
	}
	if fi, err := os.Stat(CompileCacheDir()); err != nil || !fi.IsDir() {
		t.Fatalf("CompileCacheDir: %v", err)
	}
	if _, err := build(t.TempDir()); err == nil {
		t.Fatal("build of a dir without Go files succeeded")
	}
}
