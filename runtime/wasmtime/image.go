//go:build wasmtime && cgo

package wasmtime

import "github.com/wasmpod/wasmpod/runtime/wasmdata"

// Memory images: wasmtime initialises a linear memory from a copy-on-write
// image of the module's data segments, but only in memories it makes
// itself; the engine's memory creator (cgo.go) makes them all, so without
// an image of its own every instantiation would copy the data segments
// (a Go module has thousands: 8 ms of a 13 ms start). So a module whose
// data segments are all active, for memory 0, at constant offsets within
// its initial memory is compiled without them (splitImage), and its
// initial memory image is a memfd that each new instance maps privately
// (copy-on-write) at the start of its memory. Any other module keeps its
// data segments.

// splitImage returns wasm without its data segments and the initial
// memory they make, or ok false when the module does not qualify.
func splitImage(wasm []byte) (stripped, image []byte, ok bool) {
	l, ok := wasmdata.Read(wasm)
	if !ok || !l.HasMemory {
		return nil, nil, false
	}
	segs, ok := l.Segments(wasm)
	if !ok {
		return nil, nil, false
	}
	limit := l.MinPages * wasmPage
	var top uint64
	for _, s := range segs {
		end := uint64(s.Offset) + uint64(len(s.Init))
		if end > limit {
			return nil, nil, false
		}
		top = max(top, end)
	}
	image = make([]byte, top)
	for _, s := range segs {
		copy(image[s.Offset:], s.Init)
	}
	out := make([]byte, 0, len(wasm))
	for p := 0; p < len(wasm); {
		if p == l.DataStart {
			out = append(out, wasmdata.SecData, 1, 0) // an empty data section
			p = l.DataEnd
			continue
		}
		if p == l.CountStart && l.CountEnd > 0 {
			out = append(out, wasmdata.SecDataCount, 1, 0) // data count 0
			p = l.CountEnd
			continue
		}
		next := len(wasm)
		for _, b := range []int{l.DataStart, l.CountStart} {
			if b > p && b < next {
				next = b
			}
		}
		out = append(out, wasm[p:next]...)
		p = next
	}
	return out, image, true
}
