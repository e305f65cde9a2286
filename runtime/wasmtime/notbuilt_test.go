//go:build !wasmtime || !cgo

package wasmtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wasmpod/wasmpod/runtime/wasmtime"
)

// TestNotBuilt: without -tags wasmtime and cgo, New says how to get the
// engine.
func TestNotBuilt(t *testing.T) {
	eng, err := wasmtime.New(context.Background(), wasmtime.Config{})
	if eng != nil || !errors.Is(err, wasmtime.ErrNotBuilt) || wasmtime.Built ||
		!strings.Contains(err.Error(), "engine wasmtime is not in this build (build with -tags wasmtime and CGO_ENABLED=1)") {
		t.Fatalf("New: %v, %v (Built %v)", eng, err, wasmtime.Built)
	}
}
