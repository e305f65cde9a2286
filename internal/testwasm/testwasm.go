// Package testwasm builds Go guest programs for tests and shares caches
// between test binaries.
//
// Build compiles a Go main package with GOOS=wasip1 GOARCH=wasm through the
// images resolver (go:// references) and its content-addressed cache under
// CacheDir() (see TestCacheRoot), so repeated test runs (and different test
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
	"os/exec"
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

// TestCacheRoot is the tests' own cache, shared by every test package and
// test process so that warm runs stay fast: $WASMPOD_TEST_CACHE, else
// os.TempDir()/wasmpod-test-cache-<uid>. Tests never write to the user's
// caches (~/.cache/wasmpod): see CacheDir and UseTestCache.
func TestCacheRoot() string {
	if d := os.Getenv("WASMPOD_TEST_CACHE"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("wasmpod-test-cache-%d", os.Getuid()))
}

// CacheDir is the wasmpod cache of tests (images/ and compiled/, as
// Config.CacheDir and --cache-dir lay it out): TestCacheRoot()/wasmpod,
// which is wasmpod.DefaultCacheDir() under UseTestCache.
func CacheDir() string { return filepath.Join(TestCacheRoot(), "wasmpod") }

// UseTestCache points the process's default caches at the tests' own
// (XDG_CACHE_HOME=TestCacheRoot(), so wasmpod.DefaultCacheDir() is
// CacheDir()), keeping the go command's build cache where it is. Call it
// from TestMain of a package whose tests start clusters or the CLI with
// default cache settings.
func UseTestCache() error {
	if os.Getenv("GOCACHE") == "" {
		out, err := exec.Command("go", "env", "GOCACHE").Output()
		if err != nil {
			return fmt.Errorf("go env GOCACHE: %v", err)
		}
		if err := os.Setenv("GOCACHE", strings.TrimSpace(string(out))); err != nil {
			return err
		}
	}
	return os.Setenv("XDG_CACHE_HOME", TestCacheRoot())
}

// MainWithTestCache is a TestMain body for such a package: UseTestCache,
// then the tests; it returns the exit code for os.Exit.
func MainWithTestCache(m interface{ Run() int }) int {
	if err := UseTestCache(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// CompileCacheDir returns the directory shared by all test processes for
// wazero's on-disk compilation cache: CacheDir()/compiled.
func CompileCacheDir() string {
	dir := filepath.Join(CacheDir(), "compiled")
	_ = os.MkdirAll(dir, 0o755)
	return dir
}

// Build builds the Go main package in pkgDir for wasip1/wasm and returns the
// module bytes. The build runs with cmd.Dir = pkgDir, so the module that
// contains pkgDir is used. Results are cached (see the package doc).

// Build builds the Go main package in pkgDir for wasip1/wasm and returns the
// module bytes. It goes through images.Resolver (go:// references), whose
// cache under CacheDir()/images is keyed by a hash of
// every build input (the package and all its non-standard dependencies,
// go.mod, go.sum, the Go version), so an edited dependency rebuilds.
func Build(tb testing.TB, pkgDir string) []byte {
	tb.Helper()
	abs, err := filepath.Abs(pkgDir)
	if err != nil {
		tb.Fatal(err)
	}
	r := &images.Resolver{CacheDir: filepath.Join(CacheDir(), "images")}
	img, err := r.Resolve(context.Background(), "go://"+abs, "")
	if err != nil {
		tb.Fatalf("testwasm: build %s: %v", pkgDir, err)
	}
	return img.Bytes
}
