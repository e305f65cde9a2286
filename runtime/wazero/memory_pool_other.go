//go:build !linux

package wazero

// memPool pools nothing here: outside Linux MADV_DONTNEED need not zero the
// pages it drops, so every reservation is unmapped at the end
// (memory_pool.go has the Linux pool).
type memPool struct{}

func newMemPool() *memPool { return &memPool{} }

func (p *memPool) reserve(limit uint64) reservation { return newReservation(limit) }

func (p *memPool) recycle(res reservation, used uint64) { res.release() }

func (p *memPool) close() {}

func (p *memPool) drain() bool { return false }

func (p *memPool) residentBytes() uint64 { return 0 }
