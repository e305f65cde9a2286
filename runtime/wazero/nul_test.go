package wazero_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
)

// TestStartRefusesNUL: an argument or environment entry with a NUL byte is
// refused at start, naming it, instead of reaching the guest cut short.
func TestStartRefusesNUL(t *testing.T) {
	eng := newEngine(t)
	defer eng.Close(context.Background())
	wasm := testwasm.Build(t, testwasm.GuestDir(t, "probe"))
	mod, err := eng.Compile(context.Background(), enginetest.Digest(wasm), wasm)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg  runtime.ContainerConfig
		want string
	}{
		{runtime.ContainerConfig{Name: "t/nul-arg", Args: []string{"probe", "echo", "a\x00b"}}, `args[2] "a\x00b": contains a NUL byte`},
		{runtime.ContainerConfig{Name: "t/nul-env", Args: []string{"probe"}, Env: []string{"A=1", "B=x\x00y"}}, `env[1] "B=x\x00y": contains a NUL byte`},
	} {
		inst, err := eng.Start(context.Background(), mod, tc.cfg)
		if err == nil {
			inst.Kill()
			<-inst.Done()
			t.Fatalf("%s: started", tc.cfg.Name)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.cfg.Name, err, tc.want)
		}
	}
}
