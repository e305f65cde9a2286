// Package testkubectl provides upstream kubectl to tests, as the yardstick
// the wasmpod CLI's output is compared with.
//
// kubectl is built from the Go module proxy: testdata/kubectl is a tiny
// main in a Go module of its own (k8s.io/kubectl and k8s.io/component-base
// at the release the main module uses), so the main module never depends on
// kubectl and `go build ./...` never builds it. Path builds it once per
// machine into a cache directory (CacheDir: the tests' own cache), keyed
// by a hash of that module's go.mod, go.sum and main.go and of the Go
// version, under a file lock so that parallel test binaries build it once.
// The first build takes minutes on a small machine; later calls find the
// binary.
package testkubectl

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/filelock"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// CacheDir is the directory kubectl binaries are cached in: kubectl/ in
// the tests' own cache, testwasm.TestCacheRoot() ($WASMPOD_TEST_CACHE,
// else os.TempDir()/wasmpod-test-cache-<uid>), never the user's home.
func CacheDir() string { return filepath.Join(testwasm.TestCacheRoot(), "kubectl") }

// SourceDir is the directory of the kubectl main module.
func SourceDir(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(testwasm.RepoRoot(tb), "internal", "testkubectl", "testdata", "kubectl")
}

var (
	mu    sync.Mutex
	built string // path of the binary once this process has it
)

// Path returns the path of a kubectl binary, building it first if this
// machine has none for the current sources and Go version. A failed build
// fails the test with the go command's output.
func Path(tb testing.TB) string {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if built != "" {
		return built
	}
	p, err := build(tb)
	if err != nil {
		tb.Fatalf("testkubectl: %v", err)
	}
	built = p
	return p
}

// Version is the kubectl release the tests build (its module's version).
const Version = "v1.37.2"

// versionLDFlags set the version fields a release build of kubectl has,
// so that it reports v1.37.2 (`kubectl version`; without them it says
// v0.0.0-master and exits 1 with "client version error").
var versionLDFlags = func() string {
	var fl []string
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		fl = append(fl, "-X", pkg+".gitVersion="+Version, "-X", pkg+".gitMajor=1", "-X", pkg+".gitMinor=37",
			"-X", pkg+".gitTreeState=clean")
	}
	return strings.Join(fl, " ")
}()

func build(tb testing.TB) (string, error) {
	src := SourceDir(tb)
	goVersion, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %v", err)
	}
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum", "main.go"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	fmt.Fprintf(h, "go %s\n", strings.TrimSpace(string(goVersion)))
	fmt.Fprintf(h, "ldflags %s\n", versionLDFlags)
	key := hex.EncodeToString(h.Sum(nil))[:16]

	dir := CacheDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// <key>/kubectl: the program is called kubectl, as its messages name
	// it ("See 'kubectl get -h'").
	bin := filepath.Join(dir, key, "kubectl")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	unlock, err := filelock.Lock(filepath.Join(dir, key+".lock"), func() {
		tb.Logf("testkubectl: waiting for another test process that is building kubectl into %s", bin)
	})
	if err != nil {
		return "", fmt.Errorf("locking %s.lock: %v", filepath.Join(dir, key), err)
	}
	defer unlock()
	// Another process may have built it while we waited for the lock.
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	tb.Logf("testkubectl: building kubectl from %s into %s (first time on this machine: this takes minutes)", src, bin)
	start := time.Now()
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	tmp := fmt.Sprintf("%s.tmp%d", bin, os.Getpid())
	defer os.Remove(tmp)
	cmd := exec.Command("go", "build", "-ldflags", versionLDFlags, "-o", tmp, ".")
	cmd.Dir = src
	// The kubectl module is its own main module: no workspace, and its
	// go.sum is complete (no network but the module proxy is needed).
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build in %s: %v\n%s", src, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	tb.Logf("testkubectl: built kubectl in %s", time.Since(start).Round(time.Second))
	return bin, nil
}
