//go:build linux || darwin || freebsd

package wazero

import (
	"os"

	"golang.org/x/sys/unix"
)

// mmapReservation is a linear memory reserved as address space only
// (PROT_NONE, and MAP_NORESERVE where the OS has it: no commit charge) and
// made readable and writable as it grows: it never moves, growth never
// copies, and the host holds only the pages the guest touched. release
// unmaps it, which returns every page to the OS at once.
type mmapReservation struct {
	mem       []byte // the whole reservation
	limit     uint64 // bytes the guest may grow to (<= len(mem))
	committed uint64 // bytes made accessible (a multiple of the OS page)
	kept      uint64 // while pooled: the resident (zeroed) bytes it keeps
}

var osPage = uint64(os.Getpagesize())

func newReservation(limit uint64) reservation {
	length := roundUp(limit, osPage)
	if length == 0 || length > 1<<32 {
		return newSliceReservation(limit)
	}
	mem, err := unix.Mmap(-1, 0, int(length), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON|mapNoReserve)
	if err != nil {
		// No address space for it (e.g. a low RLIMIT_AS): grow a slice.
		return newSliceReservation(limit)
	}
	return &mmapReservation{mem: mem, limit: limit}
}

func (r *mmapReservation) max() uint64 { return r.limit }

func (r *mmapReservation) bytes(size uint64) []byte {
	if r.mem == nil {
		return nil
	}
	return r.mem[:size:size]
}

func (r *mmapReservation) grow(size uint64) ([]byte, error) {
	if r.mem == nil {
		return nil, os.ErrClosed
	}
	end := roundUp(size, osPage)
	if end > r.committed {
		if err := unix.Mprotect(r.mem[r.committed:end], unix.PROT_READ|unix.PROT_WRITE); err != nil {
			return nil, err
		}
		r.committed = end
	}
	return r.mem[:size:size], nil
}

// drop gives the pages back but keeps the range mapped: a late access reads
// zeros instead of faulting.
func (r *mmapReservation) drop() {
	if r.mem != nil && r.committed > 0 {
		_ = unix.Madvise(r.mem[:r.committed], unix.MADV_DONTNEED)
	}
}

func (r *mmapReservation) release() {
	if r.mem != nil {
		_ = unix.Munmap(r.mem)
		r.mem = nil
		r.committed = 0
	}
}
