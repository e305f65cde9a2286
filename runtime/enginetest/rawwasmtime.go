//go:build wasmtime && cgo

package enginetest

import (
	"testing"

	wt "github.com/bytecodealliance/wasmtime-go/v39"
)

// RawWasmtime runs a module with wasmtime-go and wasmtime's own WASI, as an
// embedder would: a Store, the WASI context, instantiate, _start. It is the
// baseline the wasmtime engine's benchmarks report their ratios to.
type RawWasmtime struct {
	engine *wt.Engine
	linker *wt.Linker
	module *wt.Module
	argv   []string
	envK   []string
	envV   []string
}

// NewRawWasmtime compiles wasm for runs with the arguments argv and the
// environment env (stdout to /dev/null).
func NewRawWasmtime(tb testing.TB, wasm []byte, argv []string, env map[string]string) *RawWasmtime {
	tb.Helper()
	eng := wt.NewEngine()
	l := wt.NewLinker(eng)
	if err := l.DefineWasi(); err != nil {
		tb.Fatal(err)
	}
	m, err := wt.NewModule(eng, wasm)
	if err != nil {
		tb.Fatal(err)
	}
	r := &RawWasmtime{engine: eng, linker: l, module: m, argv: argv}
	for k, v := range env {
		r.envK, r.envV = append(r.envK, k), append(r.envV, v)
	}
	return r
}

// Run instantiates the module in a new Store and runs _start; anything but
// exit 0 fails tb.
func (r *RawWasmtime) Run(tb testing.TB) {
	store := wt.NewStore(r.engine)
	defer store.Close()
	wc := wt.NewWasiConfig()
	wc.SetArgv(r.argv)
	if len(r.envK) > 0 {
		wc.SetEnv(r.envK, r.envV)
	}
	if err := wc.SetStdoutFile("/dev/null"); err != nil {
		tb.Fatal(err)
	}
	store.SetWasi(wc)
	inst, err := r.linker.Instantiate(store, r.module)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := inst.GetFunc(store, "_start").Call(store); err != nil {
		if e, ok := err.(*wt.Error); !ok {
			tb.Fatal(err)
		} else if code, ok := e.ExitStatus(); !ok || code != 0 {
			tb.Fatal(err)
		}
	}
}
