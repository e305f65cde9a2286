package wasmpod

import (
	"context"
	"path/filepath"

	wruntime "github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/wasi/wasisock"
	"github.com/wasmpod/wasmpod/runtime/wasmtime"
)

// defaultEngines returns the nodes' runtime handlers beside the default
// engine when Config.Engines is nil: "wasmtime" over CacheDir/compiled
// when the build has it (-tags wasmtime, CGO_ENABLED=1), else none. The
// engines made here are closed with the cluster.
func (c *Cluster) defaultEngines(ctx context.Context, cfg *Config) (map[string]wruntime.Engine, error) {
	if cfg.Engines != nil || !wasmtime.Built || (cfg.Engine != nil && cfg.Engine.Name() == "wasmtime") {
		return cfg.Engines, nil
	}
	eng, err := wasmtime.New(ctx, wasmtime.Config{
		CacheDir:   filepath.Join(cfg.CacheDir, "compiled"),
		Extensions: wasisock.Functions(),
		HostFDs:    hostFDsOf(cfg.Engine),
	})
	if err != nil {
		return nil, err
	}
	c.onClose(func() { _ = eng.Close(context.Background()) })
	return map[string]wruntime.Engine{"wasmtime": eng}, nil
}

// hostFDsOf is an engine's budget of host fds for guests, nil if it has
// none; engines of one node share it.
func hostFDsOf(e wruntime.Engine) *wruntime.Budget {
	if hf, ok := e.(interface{ HostFDs() *wruntime.Budget }); ok {
		return hf.HostFDs()
	}
	return nil
}
