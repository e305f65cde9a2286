//go:build unix && wasmtime && cgo

package wasmpod

import (
	"context"
	"path/filepath"
	"testing"

	wt "github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmpod/wasmpod/runtime/wasi/wasisock"
	"github.com/wasmpod/wasmpod/runtime/wasmtime"
)

// BenchmarkShortTaskWasmtime is BenchmarkShortTask (shorttask_bench_test.go)
// with the wasmtime engine running the pods, against raw wasmtime-go with
// wasmtime's own WASI instantiating and running the same module.
func BenchmarkShortTaskWasmtime(b *testing.B) {
	ctx := context.Background()
	eng, err := wasmtime.New(ctx, wasmtime.Config{CacheDir: filepath.Join(b.TempDir(), "compiled"), Extensions: wasisock.Functions()})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close(ctx)
	benchShortTasks(b, eng, func(wasm []byte) func() {
		engine := wt.NewEngine()
		linker := wt.NewLinker(engine)
		if err := linker.DefineWasi(); err != nil {
			b.Fatal(err)
		}
		module, err := wt.NewModule(engine, wasm)
		if err != nil {
			b.Fatal(err)
		}
		return func() {
			store := wt.NewStore(engine)
			defer store.Close()
			wc := wt.NewWasiConfig()
			wc.SetArgv([]string{"hello", "a"})
			wc.SetEnv([]string{"POD_NAME"}, []string{"raw"})
			if err := wc.SetStdoutFile("/dev/null"); err != nil {
				b.Fatal(err)
			}
			store.SetWasi(wc)
			inst, err := linker.Instantiate(store, module)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := inst.GetFunc(store, "_start").Call(store); err != nil {
				if e, ok := err.(*wt.Error); !ok {
					b.Fatal(err)
				} else if code, ok := e.ExitStatus(); !ok || code != 0 {
					b.Fatal(err)
				}
			}
		}
	})
}
