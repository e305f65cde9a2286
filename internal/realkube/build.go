package realkube

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

// Version is the Kubernetes release the tests build kube-apiserver from.
const Version = "v1.37.2"

// EnvVar says whether the tests that need kube-apiserver run: "1" (CI)
// builds it if this machine has not cached it yet; unset, they run only if
// it is cached, and skip otherwise; "0" skips them (CI's main test run,
// which a later stage follows with "1").
const EnvVar = "WASMPOD_REAL_APISERVER"

// CacheDir is the directory kube-apiserver binaries are cached in:
// kube-apiserver/ in the tests' own cache, testwasm.TestCacheRoot()
// ($WASMPOD_TEST_CACHE, else os.TempDir()/wasmpod-test-cache-<uid>).
func CacheDir() string { return filepath.Join(testwasm.TestCacheRoot(), "kube-apiserver") }

// SourceDir is the directory of the kube-apiserver main module.
func SourceDir(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(testwasm.RepoRoot(tb), "internal", "realkube", "testdata", "kube-apiserver")
}

var (
	mu    sync.Mutex
	built string // path of the binary once this process has it
)

// APIServerPath returns the path of a kube-apiserver binary. If this
// machine has none for the current sources and Go version it builds one
// (about 15 CPU-minutes, 2.4 GB at link) when $WASMPOD_REAL_APISERVER is
// 1, and skips the test otherwise (EnvVar). A failed build fails the test
// with the go command's output.
func APIServerPath(tb testing.TB) string {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if built != "" {
		return built
	}
	bin, key, err := binPath(tb)
	if err != nil {
		tb.Fatalf("realkube: %v", err)
	}
	switch env := os.Getenv(EnvVar); {
	case env == "0":
		tb.Skipf("realkube: %s=0", EnvVar)
	case env == "" && !isFile(bin):
		tb.Skipf("realkube: no kube-apiserver %s cached at %s; set %s=1 to build it from the Go module proxy (about 15 CPU-minutes, once per machine)",
			Version, bin, EnvVar)
	}
	if err := build(tb, bin, key); err != nil {
		tb.Fatalf("realkube: %v", err)
	}
	built = bin
	return bin
}

// versionLDFlags set the version fields a release build has, so that
// /version reports v1.37.2 rather than v0.0.0-master.
var versionLDFlags = func() string {
	fl := []string{"-s", "-w"}
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		fl = append(fl, "-X", pkg+".gitVersion="+Version, "-X", pkg+".gitMajor=1", "-X", pkg+".gitMinor=37",
			"-X", pkg+".gitTreeState=clean")
	}
	return strings.Join(fl, " ")
}()

// binPath is where the binary for the current sources and Go version
// lives: <CacheDir>/<key>/kube-apiserver.
func binPath(tb testing.TB) (bin, key string, err error) {
	src := SourceDir(tb)
	goVersion, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return "", "", fmt.Errorf("go env GOVERSION: %v", err)
	}
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum", "main.go"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return "", "", err
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	fmt.Fprintf(h, "go %s\n", strings.TrimSpace(string(goVersion)))
	fmt.Fprintf(h, "ldflags %s\n", versionLDFlags)
	key = hex.EncodeToString(h.Sum(nil))[:16]
	return filepath.Join(CacheDir(), key, "kube-apiserver"), key, nil
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func build(tb testing.TB, bin, key string) error {
	if isFile(bin) {
		return nil
	}
	dir := CacheDir()
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return err
	}
	unlock, err := filelock.Lock(filepath.Join(dir, key+".lock"), func() {
		tb.Logf("realkube: waiting for another test process that is building kube-apiserver into %s", bin)
	})
	if err != nil {
		return fmt.Errorf("locking %s.lock: %v", filepath.Join(dir, key), err)
	}
	defer unlock()
	// Another process may have built it while we waited for the lock.
	if isFile(bin) {
		return nil
	}
	src := SourceDir(tb)
	tb.Logf("realkube: building kube-apiserver %s from %s into %s (first time on this machine: about 15 CPU-minutes)", Version, src, bin)
	start := time.Now()
	tmp := fmt.Sprintf("%s.tmp%d", bin, os.Getpid())
	defer os.Remove(tmp)
	// nice: the build is long and must not starve the tests that run
	// beside it.
	// (No -trimpath: the packages the wasmpod module's builds share with
	// it, such as client-go's, come from the build cache.)
	args := []string{"build", "-ldflags", versionLDFlags, "-o", tmp, "."}
	cmd := exec.Command("go", args...)
	if nice, err := exec.LookPath("nice"); err == nil {
		cmd = exec.Command(nice, append([]string{"-n", "19", "go"}, args...)...)
	}
	cmd.Dir = src
	// The wrapper is its own main module (its replace lines count only
	// there): no workspace, and its go.sum is complete.
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build in %s: %v\n%s", src, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return err
	}
	tb.Logf("realkube: built kube-apiserver in %s", time.Since(start).Round(time.Second))
	return nil
}
