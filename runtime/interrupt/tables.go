package interrupt

import "fmt"

// MaxTableElements bounds the elements of all of a module's tables
// together. A table lives in host memory (8 bytes an element in wazero),
// outside the linear memory a pod's memory limit bounds, and a table
// declared without a maximum can grow to 2^32 elements: a guest looping on
// table.grow made the host allocate (and copy) tens of GiB. Instrument
// sets each table's maximum to at most its share of this bound (the bound
// divided by the number of tables; table.grow past it fails with -1, as
// past any declared maximum) and refuses a module whose tables start
// larger than their share. A Go guest has one table of one element per
// function it calls indirectly, far below it.
const MaxTableElements = 1 << 20

const (
	secTable   = 4
	limitsMin  = 0x00
	limitsBoth = 0x01
)

// boundTables returns the table section payload p with every table's
// maximum at most MaxTableElements/n for n tables.
func boundTables(p []byte) ([]byte, error) {
	r := &reader{b: p}
	n := r.u32()
	if r.err != nil {
		return nil, fmt.Errorf("table section: %w", r.err)
	}
	if n == 0 {
		return p, nil
	}
	share := uint32(MaxTableElements) / n
	if share == 0 {
		return nil, fmt.Errorf("table section: %d tables, more than the %d a module may have: %w", n, MaxTableElements, ErrBound)
	}
	out := appendU32(nil, n)
	for i := uint32(0); i < n; i++ {
		ref := r.byte()
		if ref == 0x40 { // a table with an initializer expression
			return nil, fmt.Errorf("table section: table %d: initializer expressions: %w", i, ErrUnsupported)
		}
		flags := r.byte()
		if r.err == nil && flags != limitsMin && flags != limitsBoth {
			return nil, fmt.Errorf("table section: table %d: limits flags %#x: %w", i, flags, ErrUnsupported)
		}
		lo := r.u32()
		hi := share
		if flags == limitsBoth {
			hi = min(r.u32(), share)
		}
		if r.err != nil {
			return nil, fmt.Errorf("table section: table %d: %w", i, r.err)
		}
		if lo > share {
			return nil, fmt.Errorf("table section: table %d has %d elements at start, more than the %d allowed (at most %d elements in all a module's tables): %w", i, lo, share, MaxTableElements, ErrBound)
		}
		out = append(out, ref, limitsBoth)
		out = appendU32(out, lo)
		out = appendU32(out, hi) // below lo only when declared so: the engine refuses it
	}
	if r.pos != len(p) {
		return nil, fmt.Errorf("table section: %d trailing bytes", len(p)-r.pos)
	}
	return out, nil
}
