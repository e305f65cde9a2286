// Package testnet is test support: a wazero engine with the WasmEdge socket
// ABI, one compiled test guest and an in-process network, as the socket
// tests and the network benchmarks use them.
package testnet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"testing"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/network"
	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/wasi/wasisock"
	"github.com/wasmpod/wasmpod/runtime/wazero"
)

// Env is an engine with the socket functions, a compiled guest and a
// network; all are closed when the test ends.
type Env struct {
	TB     testing.TB
	Engine *wazero.Engine
	Module runtime.CompiledModule
	Net    *network.Network
}

// New compiles wasm on a new engine (maxFDs: the per-instance fd limit, 0
// for the default) and creates a network with cfg.
func New(tb testing.TB, wasm []byte, maxFDs int, cfg network.Config) *Env {
	tb.Helper()
	ctx := context.Background()
	eng, err := wazero.New(ctx, wazero.Config{CacheDir: testwasm.CompileCacheDir(), Extensions: wasisock.Functions(), MaxFDs: maxFDs})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { eng.Close(context.Background()) })
	sum := sha256.Sum256(wasm)
	mod, err := eng.Compile(ctx, "sha256:"+hex.EncodeToString(sum[:]), wasm)
	if err != nil {
		tb.Fatal(err)
	}
	n := network.New(cfg)
	tb.Cleanup(func() { n.Close() })
	return &Env{TB: tb, Engine: eng, Module: mod, Net: n}
}

// Pod adds a pod named name with IP ip (its hostname is its name) in the
// default namespace.
func (e *Env) Pod(name, ip string) network.PodNet {
	e.TB.Helper()
	pn, err := e.Net.AddPod(network.PodInfo{Namespace: "default", Name: name, Hostname: name, IP: netip.MustParseAddr(ip)})
	if err != nil {
		e.TB.Fatal(err)
	}
	return pn
}
