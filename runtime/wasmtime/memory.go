//go:build wasmtime && cgo

package wasmtime

import (
	"fmt"
	"sync"

	"github.com/wasmpod/wasmpod/runtime"
)

// memAcct is one instance's memory accounting, called by the memory
// creator (cgo.go) as its linear memories are made, grow and are freed:
// growth is charged to ContainerConfig.Memory and refused past the
// container's limit or the budget. Start prepays the module's initial
// memory, so that a start is refused before instantiation when the budget
// cannot hold it.
type memAcct struct {
	limit uint64          // bytes, all memories of the instance together
	node  *runtime.Budget // nil: no budget

	mu      sync.Mutex
	prepaid int64  // taken by Start, not yet grown into
	charged uint64 // bytes of linear memory now
	hit     string // why growth was refused, "" if never
	mem     memView
}

func (a *memAcct) prepay(n int64) bool {
	if !a.node.Acquire(n) {
		return false
	}
	a.mu.Lock()
	a.prepaid += n
	a.mu.Unlock()
	return true
}

// refund gives back what prepay took and no memory grew into.
func (a *memAcct) refund() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.node.Release(a.prepaid)
	a.prepaid = 0
}

// newMemory accounts a new linear memory of minimum bytes; the first one
// is the memory WASI calls see.
func (a *memAcct) newMemory(v memView, minimum uint64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.chargeLocked(minimum) {
		return false
	}
	if a.mem.m == nil {
		a.mem = v
	}
	return true
}

func (a *memAcct) grow(oldSize, newSize uint64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.chargeLocked(newSize - oldSize)
}

func (a *memAcct) chargeLocked(n uint64) bool {
	if a.charged+n > a.limit {
		a.refuse(fmt.Sprintf("memory limit of %d bytes reached", a.limit))
		return false
	}
	paid := min(int64(n), a.prepaid)
	if by := a.node.TryAcquire(int64(n) - paid); by != nil {
		a.refuse(fmt.Sprintf("%s exhausted (%d of %d bytes in use)", by.Name(), by.Used(), by.Limit()))
		return false
	}
	a.prepaid -= paid
	a.charged += n
	return true
}

func (a *memAcct) free(size uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.node.Release(int64(size))
	a.charged -= size
}

func (a *memAcct) refuse(why string) {
	if a.hit == "" {
		a.hit = why
	}
}

// hitLimit returns why growth was refused, "" if it never was.
func (a *memAcct) hitLimit() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hit
}

// memory is the instance's WASI memory (nil m before instantiation).
func (a *memAcct) memory() memView {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mem
}
