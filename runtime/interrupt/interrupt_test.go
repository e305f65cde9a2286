package interrupt_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime/interrupt"
)

// A tiny assembler for hand-written test modules.

func u32(v uint32) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func vec(items ...[]byte) []byte { return cat(u32(uint32(len(items))), cat(items...)) }

func sec(id byte, payload []byte) []byte { return cat([]byte{id}, u32(uint32(len(payload))), payload) }

func name(s string) []byte { return cat(u32(uint32(len(s))), []byte(s)) }

func module(sections ...[]byte) []byte {
	return cat([]byte("\x00asm\x01\x00\x00\x00"), cat(sections...))
}

// body is a function body: local declarations, then code (without the final
// end, which body adds).
func body(locals [][]byte, code ...[]byte) []byte {
	b := cat(vec(locals...), cat(code...), []byte{0x0b})
	return cat(u32(uint32(len(b))), b)
}

const (
	i32  = 0x7f
	v128 = 0x7b
)

// kitchenSink has an instruction with every kind of immediate the rewriter
// must skip: block types, branch tables, memargs, constants of each width,
// typed select, SIMD constants, shuffles, lanes and lane loads, bulk
// memory, tables and references. main returns 141 when run correctly.
func kitchenSink() []byte {
	typ := sec(1, vec(
		[]byte{0x60, 0, 1, i32},      // 0: () -> i32
		[]byte{0x60, 1, i32, 1, i32}, // 1: (i32) -> i32
	))
	funcs := sec(3, vec([]byte{0}, []byte{1}))
	table := sec(4, vec([]byte{0x70, 0x00, 1}))
	mem := sec(5, vec([]byte{0x00, 1}))
	global := sec(6, vec([]byte{i32, 0x01, 0x41, 0, 0x0b}))
	export := sec(7, vec(cat(name("main"), []byte{0, 0}), cat(name("mem"), []byte{2, 0})))
	elem := sec(9, vec([]byte{0x00, 0x41, 0, 0x0b, 1, 1}))
	datacount := sec(12, u32(1))
	sixteen := bytes.Repeat([]byte{1}, 16)
	lanes := []byte{0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23}
	main := body([][]byte{{1, v128}, {1, i32}},
		[]byte{0x41, 0, 0x41, 0xc4, 0x00, 0x36, 2, 0}, // i32.store (0, 68)
		// block loop: local1 += 1 while local1 < 3
		[]byte{0x02, 0x40, 0x03, 0x40},
		[]byte{0x20, 1, 0x41, 1, 0x6a, 0x22, 1, 0x41, 3, 0x48, 0x0d, 0},
		[]byte{0x0b, 0x0b},
		// br_table in nested blocks, with a multi-value-style type index block
		[]byte{0x02, 0x40, 0x02, 0x40, 0x41, 1, 0x0e, 2, 0, 1, 0, 0x0b, 0x0b},
		[]byte{0x02, 0x00, 0x41, 5, 0x0b, 0x1a}, // block (type 0) i32.const 5 end; drop
		// SIMD
		cat([]byte{0xfd, 12}, sixteen, []byte{0xfd, 12}, sixteen, []byte{0xfd, 13}, lanes, []byte{0xfd, 27, 0, 0x1a}),
		[]byte{0x41, 0, 0xfd, 0, 4, 0, 0x21, 0},              // v128.load; local.set 0
		[]byte{0x41, 0, 0x20, 0, 0xfd, 86, 2, 0, 1, 0x21, 0}, // v128.load32_lane lane 1
		[]byte{0x41, 0, 0xfd, 92, 2, 0, 0x1a},                // v128.load32_zero; drop
		// bulk memory
		[]byte{0x41, 8, 0x41, 0, 0x41, 4, 0xfc, 8, 0, 0}, // memory.init 0
		[]byte{0xfc, 9, 0}, // data.drop 0
		[]byte{0x41, 16, 0x41, 8, 0x41, 4, 0xfc, 10, 0, 0},
		[]byte{0x41, 32, 0x41, 0x61, 0x41, 4, 0xfc, 11, 0},
		// references and tables
		[]byte{0xd0, 0x70, 0xd1, 0x1a},
		[]byte{0xd2, 1, 0x1a},
		[]byte{0x41, 0, 0x25, 0, 0x1a},
		[]byte{0xfc, 16, 0, 0x1a},
		// typed select, constants, saturating truncation
		[]byte{0x41, 1, 0x41, 2, 0x41, 0, 0x1c, 1, i32, 0x1a},
		[]byte{0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f, 0x1a},
		[]byte{0x43, 0, 0, 0xc0, 0x3f, 0xfc, 0, 0x1a},
		[]byte{0x44, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0x1a},
		// result: call_indirect(41) + local1 (3) + mem[16] ('a' = 97) + global 0
		[]byte{0x41, 41, 0x41, 0, 0x11, 1, 0},
		[]byte{0x20, 1, 0x6a},
		[]byte{0x41, 16, 0x2d, 0, 0, 0x6a},
		[]byte{0x23, 0, 0x6a},
	)
	ident := body(nil, []byte{0x20, 0})
	code := sec(10, cat(u32(2), main, ident))
	data := sec(11, vec(cat([]byte{0x01}, name("abcd"))))
	dwarf := sec(0, cat(name(".debug_info"), []byte{1, 2, 3}))
	names := sec(0, cat(name("name"), []byte{1}, u32(uint32(len(vec(cat(u32(0), name("main")))))), vec(cat(u32(0), name("main")))))
	return module(typ, funcs, table, mem, global, export, elem, datacount, code, data, dwarf, names)
}

// spin: export "spin" loops forever (or, with tailCall, calls itself with
// return_call); "nop" returns at once.
func spin(tailCall bool) []byte {
	typ := sec(1, vec([]byte{0x60, 0, 0}))
	funcs := sec(3, vec([]byte{0}, []byte{0}))
	export := sec(7, vec(cat(name("spin"), []byte{0, 0}), cat(name("nop"), []byte{0, 1})))
	loop := body(nil, []byte{0x03, 0x40, 0x0c, 0, 0x0b})
	if tailCall {
		loop = body(nil, []byte{0x12, 0})
	}
	return module(typ, funcs, export, sec(10, cat(u32(2), loop, body(nil))))
}

func newRuntime(t *testing.T, features api.CoreFeatures) wazero.Runtime {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCoreFeatures(features))
	t.Cleanup(func() { rt.Close(ctx) })
	return rt
}

// instrumented instantiates the instrumented wasm and returns the module and
// its interrupt global.
func instrumented(t *testing.T, features api.CoreFeatures, wasm []byte) (api.Module, api.MutableGlobal) {
	t.Helper()
	out, exp, err := interrupt.Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := newRuntime(t, features).InstantiateWithConfig(context.Background(), out, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatalf("instantiate the instrumented module: %v", err)
	}
	g, ok := mod.ExportedGlobal(exp).(api.MutableGlobal)
	if !ok {
		t.Fatalf("no mutable global exported as %q", exp)
	}
	return mod, g
}

func call(t *testing.T, rt wazero.Runtime, wasm []byte, fn string) (api.Module, uint64) {
	t.Helper()
	ctx := context.Background()
	mod, err := rt.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	res, err := mod.ExportedFunction(fn).Call(ctx)
	if err != nil {
		t.Fatalf("%s: %v", fn, err)
	}
	return mod, res[0]
}

func TestInstrumentKeepsBehaviour(t *testing.T) {
	wasm := kitchenSink()
	rt := newRuntime(t, api.CoreFeaturesV2)
	_, want := call(t, rt, wasm, "main")
	if want != 141 {
		t.Fatalf("the original returns %d, want 141 (test module is wrong)", want)
	}
	out, exp, err := interrupt.Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	if exp != interrupt.Export {
		t.Errorf("export name %q, want %q", exp, interrupt.Export)
	}
	if bytes.Contains(out, []byte(".debug_info")) {
		t.Error("the DWARF section was kept, its code offsets are stale")
	}
	if !bytes.Contains(out, []byte("\x04name")) {
		t.Error("the name section was dropped")
	}
	if !bytes.Equal(wasm, kitchenSink()) {
		t.Error("Instrument modified its input")
	}
	mod, got := call(t, rt, out, "main")
	if got != want {
		t.Fatalf("instrumented module returns %d, want %d", got, want)
	}
	g, ok := mod.ExportedGlobal(exp).(api.MutableGlobal)
	if !ok {
		t.Fatalf("no mutable global exported as %q", exp)
	}
	if g.Get() != 0 {
		t.Fatalf("interrupt global starts at %d", g.Get())
	}
}

func TestTrapWithinBudget(t *testing.T) {
	mod, g := instrumented(t, api.CoreFeaturesV2, spin(false))
	ctx := context.Background()
	var err error
	nop := mod.ExportedFunction("nop") // one check per call
	for i := 0; i < 3*interrupt.Budget; i++ {
		if _, err := nop.Call(ctx); err != nil {
			t.Fatalf("call %d before the interrupt: %v", i, err)
		}
	}
	g.Set(1)
	calls := 0
	for err == nil && calls <= interrupt.Budget {
		_, err = nop.Call(ctx)
		calls++
	}
	if err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("%d calls after the interrupt: err %v, want an unreachable trap", calls, err)
	}
}

func TestInstrumentGoGuest(t *testing.T) {
	wasm := testwasm.Build(t, testwasm.GuestDir(t, "probe"))
	out, exp, err := interrupt.Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	rt := newRuntime(t, api.CoreFeaturesV2)
	ctx := context.Background()
	compiled, err := rt.CompileModule(ctx, out)
	if err != nil {
		t.Fatalf("compile the instrumented guest: %v", err)
	}
	if _, ok := compiled.ExportedFunctions()["_start"]; !ok {
		t.Error("_start lost")
	}
	if len(out) <= len(wasm) {
		t.Errorf("instrumented size %d <= original %d", len(out), len(wasm))
	}
	if exp != interrupt.Export {
		t.Errorf("export %q", exp)
	}
}

func TestInterruptStopsSpin(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tailCall bool
	}{{"loop", false}, {"return_call", true}} {
		t.Run(tc.name, func(t *testing.T) {
			mod, g := instrumented(t, api.CoreFeaturesV2|experimental.CoreFeaturesTailCall, spin(tc.tailCall))
			ctx := context.Background()
			done := make(chan error, 1)
			go func() {
				_, err := mod.ExportedFunction("spin").Call(ctx)
				done <- err
			}()
			select {
			case err := <-done:
				t.Fatalf("spin returned before the interrupt: %v", err)
			case <-time.After(50 * time.Millisecond):
			}
			// A spinning guest must not stall the Go runtime: a
			// stop-the-world garbage collection completes.
			gc := make(chan struct{})
			go func() { runtime.GC(); close(gc) }()
			select {
			case <-gc:
			case <-time.After(30 * time.Second):
				t.Fatal("runtime.GC stalled for 30 s by a spinning guest")
			}
			g.Set(1)
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "unreachable") {
					t.Fatalf("err %v, want an unreachable trap", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("spin still running 30 s after the interrupt")
			}
		})
	}
}

func TestExportNameCollision(t *testing.T) {
	typ := sec(1, vec([]byte{0x60, 0, 0}))
	funcs := sec(3, vec([]byte{0}))
	export := sec(7, vec(cat(name(interrupt.Export), []byte{0, 0}), cat(name(interrupt.Export+".2"), []byte{0, 0})))
	code := sec(10, cat(u32(1), body(nil)))
	out, exp, err := interrupt.Instrument(module(typ, funcs, export, code))
	if err != nil {
		t.Fatal(err)
	}
	if want := interrupt.Export + ".3"; exp != want {
		t.Fatalf("export %q, want %q", exp, want)
	}
	rt := newRuntime(t, api.CoreFeaturesV2)
	mod, err := rt.InstantiateWithConfig(context.Background(), out, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	if mod.ExportedGlobal(exp) == nil {
		t.Fatalf("no global %q", exp)
	}
}

func TestModuleWithoutGlobals(t *testing.T) {
	typ := sec(1, vec([]byte{0x60, 0, 0}))
	funcs := sec(3, vec([]byte{0}))
	start := sec(8, u32(0))
	code := sec(10, cat(u32(1), body(nil, []byte{0x03, 0x40, 0x0b})))
	if _, _, err := interrupt.Instrument(module(typ, funcs, start, code)); err == nil || !strings.Contains(err.Error(), "exports no function") {
		t.Fatalf("no exports: err %v, want \"exports no function\"", err)
	}
	export := sec(7, vec(cat(name("f"), []byte{0, 0})))
	out, exp, err := interrupt.Instrument(module(typ, funcs, export, start, code))
	if err != nil {
		t.Fatal(err)
	}
	rt := newRuntime(t, api.CoreFeaturesV2)
	mod, err := rt.InstantiateWithConfig(context.Background(), out, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatalf("instantiate (sections out of order?): %v", err)
	}
	if mod.ExportedGlobal(exp) == nil {
		t.Fatalf("no global %q", exp)
	}
}

func TestBadInput(t *testing.T) {
	good := kitchenSink()
	for _, tc := range []struct {
		name string
		wasm []byte
		want string
	}{
		{"empty", nil, "bad magic"},
		{"not wasm", []byte("#!/bin/sh\necho hi\n"), "bad magic"},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), "binary version"},
		{"section overrun", module([]byte{1, 0x7f}), "overruns"},
		{"unknown opcode", module(sec(1, vec([]byte{0x60, 0, 0})), sec(3, vec([]byte{0})), sec(7, vec(cat(name("f"), []byte{0, 0}))),
			sec(10, cat(u32(1), body(nil, []byte{0x06, 0x40})))), "unsupported instruction"},
		{"unknown section", module(sec(42, nil)), "unknown section"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := interrupt.Instrument(tc.wasm)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
	// Every truncation of a valid module is refused, or (cut at a section
	// boundary) yields a module that wazero accepts exactly when it accepts
	// the truncated input; never a panic.
	rt := newRuntime(t, api.CoreFeaturesV2)
	ctx := context.Background()
	for n := 8; n < len(good); n++ {
		out, _, err := interrupt.Instrument(good[:n])
		if err != nil {
			if errors.Is(err, interrupt.ErrUnsupported) {
				t.Errorf("truncated at %d: %v, want a format error", n, err)
			}
			continue
		}
		_, errIn := rt.CompileModule(ctx, good[:n])
		_, errOut := rt.CompileModule(ctx, out)
		if (errIn == nil) != (errOut == nil) {
			t.Errorf("truncated at %d: wazero says %v of the input but %v of the output", n, errIn, errOut)
		}
	}
}

func FuzzInstrument(f *testing.F) {
	f.Add(kitchenSink())
	f.Add(spin(false))
	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, _, err := interrupt.Instrument(wasm)
		if err == nil && len(out) < 8 {
			t.Fatalf("output of %d bytes", len(out))
		}
	})
}
