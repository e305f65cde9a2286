package wasmpod

import (
	"context"

	"github.com/wasmpod/wasmpod/internal/nodeutil"
	wruntime "github.com/wasmpod/wasmpod/runtime"
)

// defaultEngines returns the nodes' runtime handlers beside the default
// engine when Config.Engines is nil (nodeutil.Engines). The engines made
// here are closed with the cluster.
func (c *Cluster) defaultEngines(ctx context.Context, cfg *Config) (map[string]wruntime.Engine, error) {
	engines, closeFn, err := nodeutil.Engines(ctx, cfg.Engine, cfg.Engines, cfg.CacheDir)
	if err != nil {
		return nil, err
	}
	if closeFn != nil {
		c.onClose(closeFn)
	}
	return engines, nil
}

// hostFDsOf is an engine's budget of host fds for guests, nil if it has
// none; engines of one node share it.
func hostFDsOf(e wruntime.Engine) *wruntime.Budget { return nodeutil.HostFDsOf(e) }
