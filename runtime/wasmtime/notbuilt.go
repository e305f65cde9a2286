//go:build !wasmtime || !cgo

// Package wasmtime is the wasmtime runtime.Engine backend. This build does
// not have it: it needs -tags wasmtime and CGO_ENABLED=1 (wasmtime-go links
// a static libwasmtime through cgo), and New returns ErrNotBuilt.
package wasmtime

import (
	"context"
	"errors"

	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/wasi"
)

// ErrNotBuilt is New's error in a build without the wasmtime engine.
var ErrNotBuilt = errors.New("engine wasmtime is not in this build (build with -tags wasmtime and CGO_ENABLED=1)")

// Built reports whether this build has the wasmtime engine.
const Built = false

// Config configures an Engine (see the wasmtime build's Config).
type Config struct {
	CacheDir   string
	Extensions []wasi.HostFunc
	MaxFDs     int
	HostFDs    *runtime.Budget
}

// Engine is the wasmtime engine; this build never makes one.
type Engine struct{ runtime.Engine }

// New returns ErrNotBuilt.
func New(context.Context, Config) (*Engine, error) { return nil, ErrNotBuilt }

// Version is "" in this build.
func Version() string { return "" }

// HostFDs is nil in this build.
func (e *Engine) HostFDs() *runtime.Budget { return nil }
