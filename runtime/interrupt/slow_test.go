package interrupt_test

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmpod/wasmpod/runtime/interrupt"
)

// slowCounter is a listener factory that counts the calls of one function.
type slowCounter struct {
	idx   uint32
	calls int
	g     api.MutableGlobal
}

func (c *slowCounter) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	if def.Index() != c.idx {
		return nil
	}
	return experimental.FunctionListenerFunc(func(context.Context, api.Module, api.FunctionDefinition, []uint64, experimental.StackIterator) {
		if c.calls++; c.calls == 5 {
			c.g.Set(1) // the fifth round trip interrupts
		}
	})
}

// TestSlowFunc: SlowFunc names the slow path, the function a spinning guest
// calls every Budget iterations (what an engine hooks for CPU accounting),
// also when the module imports functions (which come first in the index
// space).
func TestSlowFunc(t *testing.T) {
	imported := func() []byte {
		typ := sec(1, vec([]byte{0x60, 0, 0}))
		imp := sec(2, vec(cat(name("env"), name("f"), []byte{0, 0}), cat(name("env"), name("g"), []byte{0, 0})))
		funcs := sec(3, vec([]byte{0}, []byte{0}))
		export := sec(7, vec(cat(name("spin"), []byte{0, 2}), cat(name("nop"), []byte{0, 3})))
		loop := body(nil, []byte{0x03, 0x40, 0x0c, 0, 0x0b})
		return module(typ, imp, funcs, export, sec(10, cat(u32(2), loop, body(nil))))
	}
	for _, tc := range []struct {
		name string
		wasm []byte
		want uint32
	}{
		{"no imports", spin(false), 2},
		{"two imported functions", imported(), 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, exp, err := interrupt.Instrument(tc.wasm)
			if err != nil {
				t.Fatal(err)
			}
			idx, err := interrupt.SlowFunc(out)
			if err != nil || idx != tc.want {
				t.Fatalf("SlowFunc = %d, %v; want %d", idx, err, tc.want)
			}
			if tc.name != "no imports" {
				return
			}
			ctx := context.Background()
			rt := newRuntime(t, api.CoreFeaturesV2)
			counter := &slowCounter{idx: idx}
			c, err := rt.CompileModule(experimental.WithFunctionListenerFactory(ctx, counter), out)
			if err != nil {
				t.Fatal(err)
			}
			mod, err := rt.InstantiateModule(ctx, c, wazero.NewModuleConfig().WithName(""))
			if err != nil {
				t.Fatal(err)
			}
			counter.g = mod.ExportedGlobal(exp).(api.MutableGlobal)
			if _, err := mod.ExportedFunction("spin").Call(ctx); err == nil {
				t.Fatal("spin returned: the listener never interrupted it")
			}
			if counter.calls != 5 {
				t.Errorf("the slow path was called %d times, want 5", counter.calls)
			}
		})
	}
	if _, err := interrupt.SlowFunc([]byte("junk")); err == nil {
		t.Error("SlowFunc of junk: no error")
	}
}
