//go:build wasmtime && cgo

package wasmtime_test

import (
	"context"
	"testing"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
	"github.com/wasmpod/wasmpod/runtime/wasmtime"
)

func newEngine(t *testing.T) runtime.Engine {
	eng, err := wasmtime.New(context.Background(), wasmtime.Config{CacheDir: testwasm.CompileCacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// TestConformance runs the engine conformance suite (runtime/enginetest,
// with its WASI conformance table) on wasmtime.
func TestConformance(t *testing.T) {
	enginetest.Run(t, newEngine)
}
