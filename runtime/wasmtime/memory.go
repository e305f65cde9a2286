//go:build wasmtime && cgo

package wasmtime

import (
	"sync"

	"github.com/wasmpod/wasmpod/runtime"
)

// memAcct is one instance's memory accounting (a runtime.MemoryAccount),
// called by the memory creator (cgo.go) as its linear memories are made,
// grow and are freed. Start prepays the module's initial memory
// (runtime.NewMemoryAccount), so that a start is refused before
// instantiation when the budget cannot hold it.
type memAcct struct {
	*runtime.MemoryAccount

	mu  sync.Mutex
	mem memView
}

// newMemory accounts a new linear memory of minimum bytes; the first one
// is the memory WASI calls see.
func (a *memAcct) newMemory(v memView, minimum uint64) bool {
	if !a.Charge(minimum) {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mem.m == nil {
		a.mem = v
	}
	return true
}

func (a *memAcct) grow(oldSize, newSize uint64) bool { return a.Charge(newSize - oldSize) }

// memory is the instance's WASI memory (nil m before instantiation).
func (a *memAcct) memory() memView {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mem
}
