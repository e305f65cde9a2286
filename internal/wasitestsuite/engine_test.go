package wasitestsuite

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/wasmtime"
	"github.com/wasmpod/wasmpod/runtime/wazero"
)

// suiteEngine is the engine TestWASITestsuite runs the suite through:
// $WASI_TESTSUITE_ENGINE names it, wazero (the default) or wasmtime, which
// is only in a build with -tags wasmtime and CGO_ENABLED=1 (just
// wasi-testsuite-wasmtime DIR); naming it in another build fails the test
// with how to build it.
func suiteEngine(t *testing.T) runtime.Engine {
	t.Helper()
	name := os.Getenv("WASI_TESTSUITE_ENGINE")
	switch name {
	case "", "wazero":
		return newEngine(t, "wazero")
	case "wasmtime":
		return newEngine(t, "wasmtime")
	}
	t.Fatalf("WASI_TESTSUITE_ENGINE=%q: want wazero or wasmtime", name)
	return nil
}

// newEngine makes engine name (wazero or wasmtime), closed at the test's
// end; it returns nil for wasmtime in a build without it, unless
// required.
func newEngine(t *testing.T, name string) runtime.Engine {
	t.Helper()
	ctx := context.Background()
	var eng runtime.Engine
	switch name {
	case "wazero":
		e, err := wazero.New(ctx, wazero.Config{})
		if err != nil {
			t.Fatal(err)
		}
		eng = e
	case "wasmtime":
		e, err := wasmtime.New(ctx, wasmtime.Config{})
		if errors.Is(err, wasmtime.ErrNotBuilt) {
			t.Fatalf("WASI_TESTSUITE_ENGINE=wasmtime: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		eng = e
	}
	t.Cleanup(func() { _ = eng.Close(ctx) })
	return eng
}

// builtEngines are the engines of this build: wazero, and wasmtime with
// -tags wasmtime.
func builtEngines() []string {
	if wasmtime.Version() == "" {
		return []string{"wazero"}
	}
	return []string{"wazero", "wasmtime"}
}
