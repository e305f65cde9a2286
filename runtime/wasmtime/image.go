//go:build wasmtime && cgo

package wasmtime

import (
	"encoding/binary"
)

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
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return nil, nil, false
	}
	var dataStart, dataEnd, countStart, countEnd int
	var minPages uint64
	haveMem := false
	p := 8
	for p < len(wasm) {
		id := wasm[p]
		size, n := binary.Uvarint(wasm[p+1:])
		if n <= 0 || uint64(len(wasm)-p-1-n) < size {
			return nil, nil, false
		}
		body := p + 1 + n
		end := body + int(size)
		switch id {
		case 2: // imports: an imported memory has no initial size here
			if importsMemory(wasm[body:end]) {
				return nil, nil, false
			}
		case 5: // memory
			cnt, n1 := binary.Uvarint(wasm[body:end])
			if n1 <= 0 || cnt != 1 || body+n1 >= end {
				return nil, nil, false
			}
			flags := wasm[body+n1]
			if flags&^1 != 0 { // shared or 64-bit
				return nil, nil, false
			}
			min, n2 := binary.Uvarint(wasm[body+n1+1 : end])
			if n2 <= 0 {
				return nil, nil, false
			}
			minPages, haveMem = min, true
		case 11:
			dataStart, dataEnd = p, end
		case 12:
			countStart, countEnd = p, end
		}
		p = end
	}
	if !haveMem || dataStart == 0 {
		return nil, nil, false
	}
	limit := minPages * wasmPage
	d := wasm[dataStart:dataEnd]
	_, n := binary.Uvarint(d[1:])
	q := 1 + n
	cnt, n := binary.Uvarint(d[q:])
	if n <= 0 {
		return nil, nil, false
	}
	q += n
	type seg struct {
		off  uint64
		data []byte
	}
	segs := make([]seg, 0, cnt)
	var top uint64
	for range cnt {
		if q >= len(d) || d[q] != 0 { // active, memory 0, only
			return nil, nil, false
		}
		q++
		if q >= len(d) || d[q] != 0x41 { // i32.const
			return nil, nil, false
		}
		off, n := sleb32(d[q+1:])
		if n <= 0 || q+1+n >= len(d) || d[q+1+n] != 0x0b {
			return nil, nil, false
		}
		q += 1 + n + 1
		size, n2 := binary.Uvarint(d[q:])
		if n2 <= 0 || uint64(len(d)-q-n2) < size {
			return nil, nil, false
		}
		q += n2
		o := uint64(uint32(off))
		if o+size > limit {
			return nil, nil, false
		}
		segs = append(segs, seg{o, d[q : q+int(size)]})
		top = max(top, o+size)
		q += int(size)
	}
	if q != len(d) {
		return nil, nil, false
	}
	image = make([]byte, top)
	for _, s := range segs {
		copy(image[s.off:], s.data)
	}
	out := make([]byte, 0, len(wasm))
	for p := 0; p < len(wasm); {
		if p == dataStart {
			out = append(out, 11, 1, 0) // an empty data section
			p = dataEnd
			continue
		}
		if p == countStart && countEnd > 0 {
			out = append(out, 12, 1, 0) // data count 0
			p = countEnd
			continue
		}
		next := len(wasm)
		for _, b := range []int{dataStart, countStart} {
			if b > p && b < next {
				next = b
			}
		}
		out = append(out, wasm[p:next]...)
		p = next
	}
	return out, image, true
}

// importsMemory reports whether an import section imports a memory.
func importsMemory(b []byte) bool {
	cnt, n := binary.Uvarint(b)
	if n <= 0 {
		return true
	}
	p := n
	name := func() bool {
		l, n := binary.Uvarint(b[p:])
		if n <= 0 || uint64(len(b)-p-n) < l {
			return false
		}
		p += n + int(l)
		return true
	}
	for range cnt {
		if !name() || !name() || p >= len(b) {
			return true
		}
		kind := b[p]
		p++
		switch kind {
		case 0: // func: type index
			_, n := binary.Uvarint(b[p:])
			if n <= 0 {
				return true
			}
			p += n
		default: // table, memory, global, tag: give up rather than parse
			return true
		}
	}
	return false
}

// sleb32 decodes a signed LEB128 i32.
func sleb32(b []byte) (int32, int) {
	var result int64
	var shift uint
	for i := 0; i < len(b) && i < 5; i++ {
		c := b[i]
		result |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				result |= -1 << shift
			}
			return int32(result), i + 1
		}
	}
	return 0, 0
}
