package wasisock_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/network"
	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
)

// TestWebExample runs the programs of wasm-examples/web as its pod.yaml
// wires them: two servers behind Service web, and the client.
func TestWebExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two more guests")
	}
	e := newEnv(t, 0)
	dir := filepath.Join(testwasm.RepoRoot(t), "wasm-examples", "web")
	compile := func(name string) runtime.CompiledModule {
		wasm := testwasm.Build(t, filepath.Join(dir, name))
		sum := sha256.Sum256(wasm)
		mod, err := e.Engine.Compile(context.Background(), "sha256:"+hex.EncodeToString(sum[:]), wasm)
		if err != nil {
			t.Fatal(err)
		}
		return mod
	}
	server, client := compile("server"), compile("client")
	startMod := func(mod runtime.CompiledModule, name string, pn network.PodNet, env ...string) *run {
		out := enginetest.NewBuffer()
		inst, err := e.Engine.Start(context.Background(), mod, runtime.ContainerConfig{Name: name, Args: []string{name}, Env: env, Stdout: out, Stderr: out, Net: pn})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { inst.Kill(); <-inst.Done() })
		return &run{t: t, name: name, inst: inst, out: out}
	}
	var eps []netip.AddrPort
	for i, name := range []string{"web-1", "web-2"} {
		ip := netip.AddrFrom4([4]byte{10, 244, 1, byte(10 + i)})
		startMod(server, name, e.Pod(name, ip.String()), "POD_NAME="+name).waitFor("listening")
		eps = append(eps, netip.AddrPortFrom(ip, 8080))
	}
	if err := e.Net.SetService(network.Service{Namespace: "default", Name: "web", ClusterIP: netip.MustParseAddr("10.96.1.1"),
		Ports: []network.ServicePort{{Name: "http", Port: 80, Endpoints: eps}}}); err != nil {
		t.Fatal(err)
	}
	out := startMod(client, "client", e.Pod("client", "10.244.1.20")).wait(0)
	mustContain(t, out, "request 6: hello from web-", "2 backends answered: hello from web-1, hello from web-2")
	if strings.Count(out, "request ") != 6 {
		t.Errorf("want 6 requests:\n%s", out)
	}
}
