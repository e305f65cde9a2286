// Package testwasm builds Go guest programs for tests and shares caches
// between test binaries.
//
// Build compiles a Go main package with GOOS=wasip1 GOARCH=wasm through the
// images resolver (go:// references) and its content-addressed cache under
// os.TempDir()/wasmpod-testwasm, so repeated test runs (and different test
// binaries) do not re-link, and an edited dependency rebuilds.
//
// CompileCacheDir is a shared directory for wazero's on-disk compilation
// cache in tests, so compiled guests survive across test processes.
package testwasm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmpod/wasmpod/images"
)

// ModulePath is the Go module path of the wasmpod repository.
const ModulePath = "github.com/wasmpod/wasmpod"

// RepoRoot returns the directory holding the go.mod of module
// github.com/wasmpod/wasmpod, found by walking up from the working
// directory. It fails the test when there is none.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := findRepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if mod, err := readModulePath(filepath.Join(dir, "go.mod")); err == nil && mod == ModulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("testwasm: no go.mod for module %s above the working directory", ModulePath)
		}
		dir = parent
	}
}

func readModulePath(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", errors.New("no module line")
}

// GuestDir returns the directory of the test guest wasm-examples/testguests/<name>.
func GuestDir(tb testing.TB, name string) string {
	tb.Helper()
	return filepath.Join(RepoRoot(tb), "wasm-examples", "testguests", name)
}

// CompileCacheDir returns a directory under os.TempDir shared by all test
// processes for wazero's on-disk compilation cache.
func CompileCacheDir() string {
	dir := filepath.Join(os.TempDir(), "wasmpod-testwasm", "wazero-cache")
	_ = os.MkdirAll(dir, 0o755)
	return dir
}

// Build builds the Go main package in pkgDir for wasip1/wasm and returns the
// module bytes. The build runs with cmd.Dir = pkgDir, so the module that
// contains pkgDir is used. Results are cached (see the package doc).

// Build builds the Go main package in pkgDir for wasip1/wasm and returns the
// module bytes. It goes through images.Resolver (go:// references), whose
// cache under os.TempDir()/wasmpod-testwasm/images is keyed by a hash of
// every build input (the package and all its non-standard dependencies,
// go.mod, go.sum, the Go version), so an edited dependency rebuilds.
func Build(tb testing.TB, pkgDir string) []byte {
	tb.Helper()
	abs, err := filepath.Abs(pkgDir)
	if err != nil {
		tb.Fatal(err)
	}
	r := &images.Resolver{CacheDir: filepath.Join(os.TempDir(), "wasmpod-testwasm", "images")}
	img, err := r.Resolve(context.Background(), "go://"+abs, "")
	if err != nil {
		tb.Fatalf("testwasm: build %s: %v", pkgDir, err)
	}
	return img.Bytes
}
