//go:build wasmtime && cgo

package wasmtime

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime"
)

// startOnly is the smallest WASI command: (func (export "_start")).
var startOnly = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00,
	1, 4, 1, 0x60, 0, 0, // type section: () -> ()
	3, 2, 1, 0, // function section
	7, 10, 1, 6, '_', 's', 't', 'a', 'r', 't', 0, 0, // export section
	10, 4, 1, 2, 0, 0x0b, // code section
}

func digestOf(wasm []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(wasm)) }

func compileIn(t *testing.T, dir string, wasm []byte) *compiledModule {
	t.Helper()
	eng, err := New(context.Background(), Config{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	mod, err := eng.Compile(context.Background(), digestOf(wasm), wasm)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := eng.Start(context.Background(), mod, runtime.ContainerConfig{Name: "t/cache"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-inst.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the module did not exit")
	}
	if st := inst.Status(); st != (runtime.ExitStatus{}) {
		t.Fatalf("status %+v, want exit 0", st)
	}
	return mod.(*compiledModule)
}

// TestDiskCache: a compiled module is written to CacheDir (keyed by the
// module's digest and the wasmtime version) and the next engine
// deserializes it; an entry that does not verify (a flipped byte, a
// truncation, a foreign file) is compiled again and replaced, never
// deserialized.
func TestDiskCache(t *testing.T) {
	dir := t.TempDir()
	if compileIn(t, dir, startOnly).fromCache {
		t.Fatal("the first compile came from an empty cache")
	}
	entry := filepath.Join(dir, "wasmtime-"+wasmtimeVersion()+"-"+configKey, digestOf(startOnly)[len("sha256:"):])
	good, err := os.ReadFile(entry)
	if err != nil {
		t.Fatalf("no cache entry: %v", err)
	}
	if !strings.Contains(entry, "wasmtime-v39.0.") {
		t.Errorf("cache entry %s is not keyed by the wasmtime version", entry)
	}
	if !compileIn(t, dir, startOnly).fromCache {
		t.Fatal("the second engine compiled again instead of reading the cache")
	}
	for name, bad := range map[string][]byte{
		"flipped":   func() []byte { b := append([]byte(nil), good...); b[len(b)-100] ^= 0xff; return b }(),
		"truncated": good[:len(good)/2],
		"foreign":   []byte("not a cache entry at all"),
		"empty":     {},
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(entry, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, ok := verifyEntry(bad); ok {
				t.Fatal("a bad entry verifies")
			}
			if compileIn(t, dir, startOnly).fromCache {
				t.Fatal("a bad entry was deserialized")
			}
			b, err := os.ReadFile(entry)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := verifyEntry(b); !ok {
				t.Fatal("the bad entry was not replaced by a good one")
			}
			if !compileIn(t, dir, startOnly).fromCache {
				t.Fatal("the rebuilt entry is not used")
			}
		})
	}
}

func TestBindingVersion(t *testing.T) {
	gomod, err := os.ReadFile(filepath.Join(testwasm.RepoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "github.com/bytecodealliance/wasmtime-go/v39 " + bindingVersion; !strings.Contains(string(gomod), want) {
		t.Errorf("go.mod does not require %q: update bindingVersion", want)
	}
}

func TestCompileChecks(t *testing.T) {
	eng, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	for _, d := range []string{"", "sha256:abc", "md5:" + digestOf(startOnly)[7:], digestOf([]byte("other"))} {
		if _, err := eng.Compile(context.Background(), d, startOnly); err == nil {
			t.Errorf("Compile with digest %q succeeded", d)
		}
	}
	empty := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	if _, err := eng.Compile(context.Background(), digestOf(empty), empty); err == nil || !strings.Contains(err.Error(), "not a WASI command") {
		t.Errorf("Compile of an empty module: err %v, want \"not a WASI command\"", err)
	}
	if _, err := New(context.Background(), Config{CacheDir: filepath.Join(t.TempDir(), "f\x00")}); err == nil {
		t.Error("New with an unusable CacheDir succeeded")
	}
}
