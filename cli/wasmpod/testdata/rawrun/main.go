// Command rawrun is BenchmarkWarmRunHello's process baseline: raw wazero,
// as a minimal wazero program runs a WASI command with an on-disk
// compilation cache (as `wazero run -cachedir` does): a new runtime, the
// module compiled (from the cache when warm), instantiated and run.
//
//	rawrun CACHEDIR MODULE.wasm ARGS...
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

func main() {
	if err := run(os.Args[1], os.Args[2], os.Args[3:]); err != nil {
		fmt.Fprintln(os.Stderr, "rawrun:", err)
		os.Exit(1)
	}
}

func run(cacheDir, path string, args []string) error {
	ctx := context.Background()
	wasm, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	cache, err := wazero.NewCompilationCacheWithDir(cacheDir)
	if err != nil {
		return err
	}
	defer cache.Close(ctx)
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(true).WithCompilationCache(cache))
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	mod, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return err
	}
	cfg := wazero.NewModuleConfig().WithArgs(args...).WithEnv("POD_NAME", "raw").
		WithStdout(os.Stdout).WithStderr(os.Stderr).WithSysWalltime().WithSysNanotime().WithSysNanosleep()
	m, err := rt.InstantiateModule(ctx, mod, cfg)
	if err != nil {
		return err
	}
	return m.Close(ctx)
}
