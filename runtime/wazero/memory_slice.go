package wazero

// reservation is the address range behind one linear memory.
type reservation interface {
	// max is the most bytes the memory can grow to.
	max() uint64
	// bytes is the memory's first size bytes (size <= the grown size).
	bytes(size uint64) []byte
	// grow makes the first size bytes usable (new bytes are zero).
	grow(size uint64) ([]byte, error)
	// drop returns the pages to the OS but keeps the range readable.
	drop()
	// release returns everything; the reservation is unusable after.
	release()
}

// sliceReservation is the portable fallback: a []byte that grows by copying
// (at most doubling, never past limit).
type sliceReservation struct {
	buf   []byte
	limit uint64
}

func newSliceReservation(limit uint64) *sliceReservation {
	return &sliceReservation{limit: limit}
}

func (r *sliceReservation) max() uint64 { return r.limit }

func (r *sliceReservation) bytes(size uint64) []byte { return r.buf[:size:size] }

func (r *sliceReservation) grow(size uint64) ([]byte, error) {
	if size <= uint64(cap(r.buf)) {
		old := len(r.buf)
		r.buf = r.buf[:size]
		clear(r.buf[old:])
		return r.buf, nil
	}
	nb := make([]byte, size, min(max(size, 2*uint64(cap(r.buf))), r.limit))
	copy(nb, r.buf)
	r.buf = nb
	return nb, nil
}

func (r *sliceReservation) drop() {}

func (r *sliceReservation) release() { r.buf = nil }

func roundUp(n, to uint64) uint64 { return (n + to - 1) / to * to }
