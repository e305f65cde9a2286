package wazero

import (
	"fmt"
	"sync"

	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmpod/wasmpod/runtime"
)

const pageSize = runtime.PageSize

// Bounds of an Engine's pool of released reservations (memPool).
const (
	// poolMaxResident bounds the pages all pooled reservations keep.
	poolMaxResident = 64 << 20
	// poolKeep bounds the pages one pooled reservation keeps; the pages
	// the guest had beyond it are dropped when it is pooled.
	poolKeep = 16 << 20
	// poolMaxFree bounds the number of pooled reservations (their address
	// space; each is at most 4 GiB of PROT_NONE/NORESERVE mappings).
	poolMaxFree = 64
)

// memAllocator backs one instance's linear memory. The memory is reserved
// once at its maximum size (the container's limit, or the module's maximum)
// and grows in place, so growth never copies and the host holds only the
// pages the guest has grown into (memory_mmap.go: an mmap'd PROT_NONE
// reservation made readable page by page where the OS has mmap;
// memory_slice.go: a plain growing []byte elsewhere). Growth is charged to
// ContainerConfig.Memory (node: in production the container's budget
// within its pod's and node's) and refused past the container's limit or
// the budget (acct, a runtime.MemoryAccount); the instance then reports
// OOMKilled when the guest exits non-zero. Start prepays the initial memory
// (runtime.NewMemoryAccount).
//
// Free releases the budget and gives the reservation back to the Engine's
// pool (memory_pool.go: zeroed, most of its pages dropped, reused by a later
// instance) or unmaps it. A Free while guest code is still on the stack (the
// start section during instantiation, or _start: wazero frees memory from
// proc_exit, which then unwinds) leaves the range to exitCall, so a late
// access never faults and no other instance gets it while this one runs.
type memAllocator struct {
	acct *runtime.MemoryAccount // its Limit bounds the reservation
	pool *memPool               // nil: unmap at the end
	// copying: back the memory with the portable growing slice.
	copying bool

	mu      sync.Mutex
	mem     *linearMemory
	inCall  bool
	pending bool // freed during the call: unmap at exitCall
}

func newMemAllocator(acct *runtime.MemoryAccount, pool *memPool) *memAllocator {
	return &memAllocator{acct: acct, pool: pool}
}

// Allocate implements experimental.MemoryAllocator.
func (a *memAllocator) Allocate(capacity, maxBytes uint64) experimental.LinearMemory {
	var res reservation
	if a.copying {
		res = newSliceReservation(min(maxBytes, a.acct.Limit()))
	} else {
		res = a.pool.reserve(min(maxBytes, a.acct.Limit()))
	}
	m := &linearMemory{a: a, res: res}
	a.mu.Lock()
	a.mem = m
	a.mu.Unlock()
	return m
}

// abandon gives back what a failed start holds: what prepay took and the
// memory has not grown into, and the memory if it was allocated (wazero
// does not free it when instantiation fails after allocating it, e.g. on
// a data segment out of bounds or a trap in the start section).
func (a *memAllocator) abandon() {
	a.mu.Lock()
	m := a.mem
	a.acct.Refund()
	a.mu.Unlock()
	if m != nil {
		m.Free()
	}
}

// bytes is the linear memory's size now.
func (a *memAllocator) bytes() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mem == nil {
		return 0
	}
	return int64(a.mem.size)
}

func (a *memAllocator) enterCall() {
	a.mu.Lock()
	a.inCall = true
	a.mu.Unlock()
}

// exitCall recycles a memory freed while the guest ran.
func (a *memAllocator) exitCall() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inCall = false
	if a.pending && a.mem != nil {
		a.mem.recycle()
		a.pending = false
	}
}

// linearMemory implements experimental.LinearMemory over a reservation.
type linearMemory struct {
	a     *memAllocator
	res   reservation
	size  uint64 // bytes the guest has (charged to the node budget)
	used  uint64 // the most bytes it had: all it may have written
	freed bool
}

// recycle hands the reservation to the pool (or unmaps it); a.mu is held.
func (m *linearMemory) recycle() {
	if m.res != nil {
		m.a.pool.recycle(m.res, m.used)
		m.res = nil
	}
}

// Reallocate implements experimental.LinearMemory: it grows the memory in
// place to size bytes, or returns nil when the container's limit or the
// node's budget refuses.
func (m *linearMemory) Reallocate(size uint64) []byte {
	a := m.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if m.freed {
		return nil
	}
	if size <= m.size {
		return m.res.bytes(size)
	}
	if size > m.res.max() {
		a.acct.Refuse(fmt.Sprintf("memory limit of %d bytes reached", a.acct.Limit()))
		return nil
	}
	grow := size - m.size
	if !a.acct.Charge(grow) {
		return nil
	}
	b, err := m.res.grow(size)
	if err != nil {
		a.acct.Free(grow)
		a.acct.Refuse(fmt.Sprintf("growing linear memory to %d bytes: %v", size, err))
		return nil
	}
	m.size = size
	m.used = max(m.used, size)
	return b
}

// Free implements experimental.LinearMemory.
func (m *linearMemory) Free() {
	a := m.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if m.freed {
		return
	}
	m.freed = true
	a.acct.Free(m.size)
	a.acct.Refund()
	m.size = 0
	if a.inCall {
		if a.pool == nil {
			m.res.drop() // nothing will reuse them: give the pages back now
		}
		a.pending = true
		return
	}
	m.recycle()
}
