package wazero

import (
	"context"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmpod/wasmpod/runtime/wasi"
)

// instantiateWASI binds runtime/wasi's functions (plus ext) as the host
// module wasi_snapshot_preview1 of rt. Each call finds its instance's
// wasi.System in the call's ctx (wasi.WithSystem on the ctx of _start).
func instantiateWASI(ctx context.Context, rt wazero.Runtime, ext []wasi.HostFunc) error {
	b := rt.NewHostModuleBuilder(wasi.ModuleName)
	for _, hf := range wasi.Functions(ext...) {
		b.NewFunctionBuilder().
			WithGoModuleFunction(hostFunc(hf), valTypes(hf.Params), valTypes(hf.Results)).
			Export(hf.Name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

func valTypes(ts []wasi.ValType) []api.ValueType {
	out := make([]api.ValueType, len(ts))
	for i, t := range ts {
		if t == wasi.I64 {
			out[i] = api.ValueTypeI64
		} else {
			out[i] = api.ValueTypeI32
		}
	}
	return out
}

func hostFunc(hf wasi.HostFunc) api.GoModuleFunc {
	np, nr := len(hf.Params), len(hf.Results)
	parks := wasi.MayWait(hf.Name) // instrumented.go
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		defer func() {
			if r := recover(); r != nil {
				if pe, ok := r.(*wasi.ProcExit); ok {
					// As wazero's own proc_exit: close the module with the
					// code and unwind the guest.
					_ = mod.CloseWithExitCode(ctx, pe.Code)
					panic(sys.NewExitError(pe.Code))
				}
				panic(r)
			}
		}()
		if in := meteredFrom(ctx); parks && in != nil {
			// The guest may wait here: its CPU meter pauses (instrumented.go).
			in.CPU().Pause()
			defer in.CPU().Resume()
		}
		sys := wasi.FromContext(ctx)
		if sys != nil && sys.IsKilled() {
			// Killed: unwind the guest before the call acts. The interrupt
			// global stops a guest that makes no calls.
			panic(sysExit137)
		}
		var buf [16]uint64
		params := buf[:0]
		if np > len(buf) {
			params = make([]uint64, 0, np)
		}
		c := wasi.Call{
			Params:  append(params, stack[:np]...),
			Results: stack[:nr],
			Sys:     sys,
		}
		if m := mod.Memory(); m != nil {
			c.Mem = m
		} else {
			c.Mem = noMemory{}
		}
		hf.Fn(ctx, &c)
	}
}

// sysExit137 unwinds a killed guest (finish reports it as killed).
var sysExit137 = sys.NewExitError(137)

// noMemory is the memory of a guest that has none.
type noMemory struct{}

func (noMemory) Read(uint32, uint32) ([]byte, bool) { return nil, false }
func (noMemory) Write(uint32, []byte) bool          { return false }
