package wazero_test

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
	"github.com/wasmpod/wasmpod/runtime/wazero"
)

func newEngine(t *testing.T) runtime.Engine {
	eng, err := wazero.New(context.Background(), wazero.Config{CacheDir: testwasm.CompileCacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

func TestConformance(t *testing.T) {
	enginetest.Run(t, newEngine)
}

func TestCompileChecksDigest(t *testing.T) {
	eng := newEngine(t)
	defer eng.Close(context.Background())
	// The smallest WASI command: (func (export "_start")).
	wasm := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00,
		1, 4, 1, 0x60, 0, 0, // type section: () -> ()
		3, 2, 1, 0, // function section
		7, 10, 1, 6, '_', 's', 't', 'a', 'r', 't', 0, 0, // export section
		10, 4, 1, 2, 0, 0x0b, // code section
	}
	for _, d := range []string{"", "sha256:abc", "md5:" + enginetest.Digest(wasm)[7:], enginetest.Digest([]byte("other"))} {
		if _, err := eng.Compile(context.Background(), d, wasm); err == nil {
			t.Errorf("Compile with digest %q succeeded", d)
		}
	}
	if _, err := eng.Compile(context.Background(), enginetest.Digest(wasm), wasm); err != nil {
		t.Errorf("Compile with the right digest: %v", err)
	}
	// A module that is not a command is refused with a clear error.
	empty := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	if _, err := eng.Compile(context.Background(), enginetest.Digest(empty), empty); err == nil || !strings.Contains(err.Error(), "not a WASI command") {
		t.Errorf("Compile of an empty module: err %v, want \"not a WASI command\"", err)
	}
}

// TestDiskCache checks that compiled code lands in CacheDir, so that the
// next process reuses it.
func TestDiskCache(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a guest from scratch (~1 s)")
	}
	dir := t.TempDir()
	wasm := testwasm.Build(t, testwasm.GuestDir(t, "probe"))
	for i := range 2 {
		eng, err := wazero.New(context.Background(), wazero.Config{CacheDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := eng.Compile(context.Background(), enginetest.Digest(wasm), wasm); err != nil {
			t.Fatal(err)
		}
		if err := eng.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		n := 0
		filepath.WalkDir(dir, func(_ string, d fs.DirEntry, _ error) error {
			if d != nil && !d.IsDir() {
				n++
			}
			return nil
		})
		if n != 2 { // wazero's compiled code, and the interruptible module
			t.Fatalf("engine %d: %d files in the cache dir, want 2", i, n)
		}
	}
	if _, err := wazero.New(context.Background(), wazero.Config{CacheDir: filepath.Join(dir, "f\x00")}); err == nil {
		t.Error("New with an unusable CacheDir succeeded")
	}
}
