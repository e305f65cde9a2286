package wasmpod

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	wruntime "github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/wasi/wasisock"
	"github.com/wasmpod/wasmpod/runtime/wazero"
)

// TestNetworkHostFDsShareEngineBudget: hostPort and NodePort connections
// are charged to half of the engine's host fd budget, and every unit they
// take comes out of the engine's budget too.
func TestNetworkHostFDsShareEngineBudget(t *testing.T) {
	ctx := context.Background()
	guests := wruntime.NewBudget("guest fds", 1000)
	eng, err := wazero.New(ctx, wazero.Config{CacheDir: testwasm.CompileCacheDir(), Extensions: wasisock.Functions(), HostFDs: guests})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(ctx)
	c, err := New(ctx, Config{CacheDir: filepath.Join(t.TempDir(), "cache"), Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, ok := c.network.HostFDs().(*wruntime.Budget)
	if !ok {
		t.Fatalf("network host fd budget is %T, want a *runtime.Budget", c.network.HostFDs())
	}
	if b.Limit() != 500 {
		t.Errorf("network share %d, want 500 (half of 1000)", b.Limit())
	}
	if !b.Acquire(10) {
		t.Fatal("network budget refused 10 fds")
	}
	if guests.Used() != 10 {
		t.Errorf("the engine's budget shows %d used after the network took 10", guests.Used())
	}
	b.Release(10)
	if guests.Used() != 0 {
		t.Errorf("the engine's budget shows %d used after the network gave back", guests.Used())
	}
}
