//go:build linux

package wazero

import (
	"sync"

	"golang.org/x/sys/unix"
)

// memPool keeps the reservations of ended instances for the next ones, so
// that a new instance's data segments and first growth land on pages the
// process already has instead of faulting fresh ones in (and mmap, mprotect
// and munmap, which serialise on the process's mm lock, are mostly
// skipped). A pooled reservation keeps at most poolKeep of its pages, and
// the pool at most poolMaxResident in all; every kept byte the previous
// guest could reach is zeroed before the reservation is pooled, and the
// pages beyond are dropped (MADV_DONTNEED: they read as zeros), so a guest
// never sees another's memory. The kept pages are the only host memory the
// pool holds beyond the guests' budgets. Close unmaps it all. Linux only:
// elsewhere MADV_DONTNEED need not zero (memory_pool_other.go).
type memPool struct {
	mu       sync.Mutex
	free     []*mmapReservation // most recently pooled last
	resident uint64             // pages kept by the pooled reservations
	closed   bool
}

func newMemPool() *memPool { return &memPool{} }

// reserve returns a reservation for a memory of at most limit bytes: a
// pooled one large enough if there is one, else a new one.
func (p *memPool) reserve(limit uint64) reservation {
	if p == nil {
		return newReservation(limit)
	}
	length := roundUp(limit, osPage)
	p.mu.Lock()
	for i := len(p.free) - 1; i >= 0; i-- {
		r := p.free[i]
		if uint64(len(r.mem)) < length {
			continue
		}
		p.free = append(p.free[:i], p.free[i+1:]...)
		p.resident -= r.kept
		p.mu.Unlock()
		r.limit, r.kept = limit, 0
		return r
	}
	p.mu.Unlock()
	res := newReservation(limit)
	if _, ok := res.(*mmapReservation); !ok && length > 0 && length <= 1<<32 && p.drain() {
		// Out of address space (a low RLIMIT_AS): the pool's goes first.
		res = newReservation(limit)
	}
	return res
}

// recycle takes back a reservation whose memory no guest uses any more
// (used: the bytes its last guest could reach), or releases it.
func (p *memPool) recycle(res reservation, used uint64) {
	r, ok := res.(*mmapReservation)
	if p == nil || !ok || r.mem == nil {
		res.release()
		return
	}
	used = min(roundUp(used, osPage), r.committed)
	p.mu.Lock()
	if p.closed || len(p.free) >= poolMaxFree || p.resident >= poolMaxResident {
		p.mu.Unlock()
		r.release()
		return
	}
	keep := min(used, poolKeep, poolMaxResident-p.resident) &^ (osPage - 1)
	p.resident += keep // claimed now, so that concurrent recycles stay within the bound
	p.mu.Unlock()

	clear(r.mem[:keep])
	if keep < r.committed {
		// Drop the rest (it reads as zeros; it stays accessible, so the
		// next guest grows into it without an mprotect).
		if err := unix.Madvise(r.mem[keep:r.committed], unix.MADV_DONTNEED); err != nil {
			p.mu.Lock()
			p.resident -= keep
			p.mu.Unlock()
			r.release()
			return
		}
	}
	r.kept = keep
	p.mu.Lock()
	if p.closed {
		p.resident -= keep
		p.mu.Unlock()
		r.release()
		return
	}
	p.free = append(p.free, r)
	p.mu.Unlock()
}

// drain unmaps the pooled reservations; it reports whether there were any.
func (p *memPool) drain() bool {
	p.mu.Lock()
	free := p.free
	p.free, p.resident = nil, 0
	p.mu.Unlock()
	for _, r := range free {
		r.release()
	}
	return len(free) > 0
}

// close unmaps the pooled reservations and releases every later one.
func (p *memPool) close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.drain()
}

// residentBytes is what the pooled reservations keep.
func (p *memPool) residentBytes() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.resident
}
