// Package testwasm builds Go guest programs for tests and shares caches
// between test binaries.
//
// Build compiles a Go main package with GOOS=wasip1 GOARCH=wasm and caches
// the result under os.TempDir()/wasmpod-testwasm, keyed by a hash of the
// package's .go files, its module's go.mod and the Go version, so repeated
// test runs (and different test binaries) do not re-link. It is safe for
// concurrent use, also across processes (the cache file is written to a
// temporary name and renamed into place).
//
// CompileCacheDir is a shared directory for wazero's on-disk compilation
// cache in tests, so compiled guests survive across test processes.
package testwasm

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
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
func Build(tb testing.TB, pkgDir string) []byte {
	tb.Helper()
	wasm, err := build(pkgDir)
	if err != nil {
		tb.Fatalf("testwasm: build %s: %v", pkgDir, err)
	}
	return wasm
}

func build(pkgDir string) ([]byte, error) {
	pkgDir, err := filepath.Abs(pkgDir)
	if err != nil {
		return nil, err
	}
	key, err := sourceKey(pkgDir)
	if err != nil {
		return nil, err
	}
	cacheDir := filepath.Join(os.TempDir(), "wasmpod-testwasm", "bin")
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	out := filepath.Join(cacheDir, filepath.Base(pkgDir)+"-"+key+".wasm")
	if b, err := os.ReadFile(out); err == nil && len(b) > 0 {
		return b, nil
	}
	tmp, err := os.CreateTemp(cacheDir, filepath.Base(pkgDir)+"-*.tmp")
	if err != nil {
		return nil, err
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName)

	cmd := exec.Command(goTool(), "build", "-o", tmpName, ".")
	cmd.Dir = pkgDir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if outb, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %v\n%s", err, outb)
	}
	if err := os.Rename(tmpName, out); err != nil {
		return nil, err
	}
	return os.ReadFile(out)
}

func goTool() string {
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return "go"
}

// sourceKey hashes the package's .go files, the go.mod of the module that
// contains it, and the toolchain version.
func sourceKey(pkgDir string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "go=%s\n", runtime.Version())
	entries, err := os.ReadDir(pkgDir)
	if err != nil {
		return "", err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".go") {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return "", fmt.Errorf("no .go files in %s", pkgDir)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := hashFile(h, n, filepath.Join(pkgDir, n)); err != nil {
			return "", err
		}
	}
	for dir := pkgDir; ; {
		gomod := filepath.Join(dir, "go.mod")
		if _, err := os.Stat(gomod); err == nil {
			if err := hashFile(h, "go.mod", gomod); err != nil {
				return "", err
			}
			if _, err := os.Stat(filepath.Join(dir, "go.sum")); err == nil {
				if err := hashFile(h, "go.sum", filepath.Join(dir, "go.sum")); err != nil {
					return "", err
				}
			}
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func hashFile(h io.Writer, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(h, "file %s\n", name)
	_, err = io.Copy(h, f)
	return err
}
