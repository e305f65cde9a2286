//go:build unix && wasmtime && cgo

package wasmpod

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/wasmpod/wasmpod/runtime/enginetest"
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
		raw := enginetest.NewRawWasmtime(b, wasm, []string{"hello", "a"}, map[string]string{"POD_NAME": "raw"})
		return func() { raw.Run(b) }
	})
}
