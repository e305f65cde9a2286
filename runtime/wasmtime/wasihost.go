//go:build wasmtime && cgo

package wasmtime

import (
	wt "github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmpod/wasmpod/runtime/wasi"
)

// defineWASI binds runtime/wasi's functions (plus ext) in l as the host
// module wasi_snapshot_preview1. Each call finds its instance as the data
// of the caller's Store.
func defineWASI(l *wt.Linker, ext []wasi.HostFunc) error {
	for _, hf := range wasi.Functions(ext...) {
		ty := wt.NewFuncType(valTypes(hf.Params), valTypes(hf.Results))
		if err := l.FuncNew(wasi.ModuleName, hf.Name, ty, hostFunc(hf)); err != nil {
			return err
		}
	}
	return nil
}

func valTypes(ts []wasi.ValType) []*wt.ValType {
	out := make([]*wt.ValType, len(ts))
	for i, t := range ts {
		if t == wasi.I64 {
			out[i] = wt.NewValType(wt.KindI64)
		} else {
			out[i] = wt.NewValType(wt.KindI32)
		}
	}
	return out
}

// errKilled unwinds a killed guest (finish reports it as killed); errExit
// one that called proc_exit (finish reads the code from the instance).
const (
	msgKilled = "wasmpod: killed"
	msgExit   = "wasmpod: proc_exit"
)

func hostFunc(hf wasi.HostFunc) func(*wt.Caller, []wt.Val) ([]wt.Val, *wt.Trap) {
	nr := len(hf.Results)
	i64 := make([]bool, len(hf.Results))
	for i, t := range hf.Results {
		i64[i] = t == wasi.I64
	}
	parks := wasi.MayWait(hf.Name)
	return func(caller *wt.Caller, args []wt.Val) (results []wt.Val, trap *wt.Trap) {
		in, _ := caller.Data().(*instance)
		if in == nil {
			return nil, wt.NewTrap("wasmpod: WASI call outside a wasmpod instance")
		}
		if parks {
			// The guest may wait here: its CPU meter pauses.
			in.CPU().Pause()
			defer in.CPU().Resume()
		}
		if in.System().IsKilled() {
			// Killed: unwind the guest before the call acts. The epoch
			// deadline stops a guest that makes no calls.
			return nil, wt.NewTrap(msgKilled)
		}
		defer func() {
			if r := recover(); r != nil {
				pe, ok := r.(*wasi.ProcExit)
				if !ok {
					panic(r)
				}
				code := pe.Code
				in.exitCode = &code
				results, trap = nil, wt.NewTrap(msgExit)
			}
		}()
		var pbuf, rbuf [16]uint64
		params := pbuf[:0]
		if len(args) > len(pbuf) {
			params = make([]uint64, 0, len(args))
		}
		for _, a := range args {
			if a.Kind() == wt.KindI64 {
				params = append(params, uint64(a.I64()))
			} else {
				params = append(params, uint64(uint32(a.I32())))
			}
		}
		c := wasi.Call{Params: params, Results: rbuf[:nr], Sys: in.System()}
		if in.mem.m != nil {
			c.Mem = in.mem
		} else if m := in.acct.memory(); m.m != nil {
			c.Mem = m
		} else {
			c.Mem = noMemory{}
		}
		hf.Fn(in.Context(), &c)
		if in.System().IsKilled() {
			return nil, wt.NewTrap(msgKilled)
		}
		results = make([]wt.Val, nr)
		for i := range nr {
			if i64[i] {
				results[i] = wt.ValI64(int64(c.Results[i]))
			} else {
				results[i] = wt.ValI32(int32(uint32(c.Results[i])))
			}
		}
		return results, nil
	}
}

// noMemory is the memory of a guest that has none.
type noMemory struct{}

func (noMemory) Read(uint32, uint32) ([]byte, bool) { return nil, false }
func (noMemory) Write(uint32, []byte) bool          { return false }
