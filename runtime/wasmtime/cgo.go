//go:build wasmtime && cgo

package wasmtime

// The parts of wasmtime's C API that wasmtime-go does not wrap: the epoch
// deadline callback (Kill) and the host memory creator (per-instance
// memory limits and the node's memory budget). The declarations below are
// copied by hand from wasmtime's C headers (config.h, store.h, error.h of
// the wasmtime-go version in go.mod); the symbols come from the libwasmtime
// that wasmtime-go links.

/*
#include "wp.h"
*/
import "C"

import (
	"runtime"
	"runtime/cgo"
	"unsafe"

	wt "github.com/bytecodealliance/wasmtime-go/v39"
)

// rawPtr is the C pointer wasmtime-go keeps as the first field of its
// Config and Store (an unexported _ptr); wasmtime-go does not expose it.
func rawPtr[T any](p *T) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(p)) }

// memPool is an engine's pool of freed linear memories, kept resident and
// reset for the next instance (wp.c); the engine's config owns it.
type memPool struct{ p *C.wp_pool }

// setMemoryCreator makes cfg create every linear memory with wp_new_memory,
// reusing memories from the pool it returns.
func setMemoryCreator(cfg *wt.Config) memPool {
	p := C.wp_pool_new()
	C.wp_set_memory_creator(rawPtr(cfg), p)
	runtime.KeepAlive(cfg)
	return memPool{p}
}

// trim unmaps the pooled memories.
func (p memPool) trim() { C.wp_pool_trim(p.p) }

// close trims the pool and pools nothing after (it is freed with the
// engine).
func (p memPool) close() { C.wp_pool_close(p.p) }

// len is the number of pooled memories.
func (p memPool) len() int { return int(C.wp_pool_len(p.p)) }

// bytes is the size of the pooled memories' resident pages.
func (p memPool) bytes() int { return int(C.wp_pool_bytes(p.p)) }

// ctl is an instance's kill flag in C memory (the epoch callback's data).
type ctl struct{ p *C.wp_ctl }

func newCtl(inst cgo.Handle) ctl {
	c := ctl{(*C.wp_ctl)(C.calloc(1, C.size_t(unsafe.Sizeof(C.wp_ctl{}))))}
	c.p.inst = C.uintptr_t(inst)
	return c
}

func (c ctl) kill() { C.wp_kill(c.p) }

func (c ctl) free() { C.free(unsafe.Pointer(c.p)) }

// watchEpoch makes store call wp_epoch at each epoch deadline: it traps
// once c is killed, else it moves the deadline one tick on.
func watchEpoch(store *wt.Store, c ctl) {
	C.wp_set_epoch_callback(rawPtr(store), c.p)
	runtime.KeepAlive(store)
	store.SetEpochDeadline(1)
}

// instantiateAs runs instantiate on a locked thread whose new memories are
// accounted to acct.
func instantiateAs(acct cgo.Handle, img memImage, instantiate func() (*wt.Instance, error)) (*wt.Instance, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	C.wp_set_current(C.uintptr_t(acct), img.p)
	defer C.wp_set_current(0, nil)
	return instantiate()
}

// memImage is a module's initial memory image (image.go): split is true
// for a module compiled without its data segments, p its image (a memfd;
// nil when the segments were empty).
type memImage struct {
	p     *C.wp_image
	split bool
}

var noImage = memImage{}

func newMemImage(image []byte) (memImage, bool) {
	if len(image) == 0 {
		return memImage{split: true}, true
	}
	p := C.wp_image_new(unsafe.Pointer(&image[0]), C.size_t(len(image)))
	if p == nil {
		return noImage, false
	}
	return memImage{p: p, split: true}, true
}

// close drops the module's reference: the image goes with the last memory
// that maps it.
func (m memImage) close() {
	if m.p != nil {
		C.wp_image_release(m.p)
	}
}

// memView is a linear memory as runtime/wasi sees it (wasi.Memory).
type memView struct{ m *C.wp_mem }

func (v memView) Read(off, n uint32) ([]byte, bool) {
	if v.m == nil || uint64(off)+uint64(n) > uint64(v.m.size) {
		return nil, false
	}
	if n == 0 {
		return []byte{}, true
	}
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(v.m.base), off)), n), true
}

func (v memView) Write(off uint32, b []byte) bool {
	dst, ok := v.Read(off, uint32(len(b)))
	if !ok || uint64(len(b)) > 1<<32 {
		return false
	}
	copy(dst, b)
	return true
}

//export wpYield
func wpYield(h C.uintptr_t) {
	in := cgo.Handle(h).Value().(*instance)
	in.CPU().Yield(in.System().Killed())
}

//export wpMemNew
func wpMemNew(h C.uintptr_t, m *C.wp_mem, minimum C.size_t) C.int {
	a := cgo.Handle(h).Value().(*memAcct)
	if a.newMemory(memView{m}, uint64(minimum)) {
		return 1
	}
	return 0
}

//export wpMemGrow
func wpMemGrow(h C.uintptr_t, m *C.wp_mem, oldSize, newSize C.size_t) C.int {
	a := cgo.Handle(h).Value().(*memAcct)
	if a.grow(uint64(oldSize), uint64(newSize)) {
		return 1
	}
	return 0
}

//export wpMemFree
func wpMemFree(h C.uintptr_t, size C.size_t) {
	cgo.Handle(h).Value().(*memAcct).Free(uint64(size))
}
