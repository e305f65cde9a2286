package wazero

import (
	"encoding/binary"
	"slices"
)

// Data segments: wazero applies a module's active data segments one by
// one at every instantiation, evaluating each one's offset expression
// (with an allocation) before copying it. Go's linker splits a module's
// data at every run of zeros, so the hello module has about 30,000
// segments, and applying them was most of a short pod's start (about 4 ms
// of the ~5 ms of Engine.Start on the project's CI machine, the guest's
// run ~0.7 ms). mergeDataSegments rewrites the data section so that
// segments whose gap is at most dataMergeGap bytes are one segment,
// the gap written as the zeros it holds anyway: memory is zero when a
// module without an imported memory instantiates. It does so only when
// nothing can tell the difference:
//
//   - every segment is active, on memory 0, at an i32.const offset, and
//     no two overlap (so their order does not matter);
//   - there is no data count section (which memory.init and data.drop,
//     the only instructions that name a segment, need);
//   - the memory is not imported (a failed instantiation's partial
//     writes cannot be seen).
//
// Otherwise (or on anything it does not parse) the module is returned as
// it is; wazero validates the result as it would have the original.
const dataMergeGap = 1024

// dataMergeVersion is part of the instrumented modules' cache key
// (instrumented.go): bump it with any change to mergeDataSegments.
const dataMergeVersion = "d1"

type dataSegment struct {
	off  uint32
	init []byte
}

// mergeDataSegments is wasm with its data segments merged where possible.
func mergeDataSegments(wasm []byte) []byte {
	if len(wasm) < 8 {
		return wasm
	}
	var dataStart, dataEnd, bodyStart int // the data section, and its contents
	for i := 8; i < len(wasm); {
		id := wasm[i]
		n, l := binary.Uvarint(wasm[i+1:])
		if l <= 0 || n > uint64(len(wasm)) {
			return wasm
		}
		body := i + 1 + l
		end := body + int(n)
		if end > len(wasm) {
			return wasm
		}
		switch id {
		case 2: // imports: no memory import
			if importsMemory(wasm[body:end]) {
				return wasm
			}
		case 11:
			dataStart, bodyStart, dataEnd = i, body, end
		case 12: // data count: segments may be named by instructions
			return wasm
		}
		i = end
	}
	if dataStart == 0 {
		return wasm
	}
	segs, ok := parseDataSegments(wasm[bodyStart:dataEnd])
	if !ok || len(segs) < 2 {
		return wasm
	}
	slices.SortStableFunc(segs, func(a, b dataSegment) int {
		switch {
		case a.off < b.off:
			return -1
		case a.off > b.off:
			return 1
		}
		return 0
	})
	var merged []dataSegment
	for _, s := range segs {
		if len(merged) > 0 {
			last := &merged[len(merged)-1]
			end := uint64(last.off) + uint64(len(last.init))
			if uint64(s.off) < end {
				return wasm // overlap: the order matters
			}
			if gap := uint64(s.off) - end; gap <= dataMergeGap {
				last.init = append(last.init, make([]byte, gap)...)
				last.init = append(last.init, s.init...)
				continue
			}
		}
		merged = append(merged, dataSegment{off: s.off, init: slices.Clip(s.init)})
	}
	if len(merged) == len(segs) {
		return wasm
	}
	var body []byte
	body = binary.AppendUvarint(body, uint64(len(merged)))
	for _, s := range merged {
		body = append(body, 0x00, 0x41) // active, memory 0; i32.const
		body = appendSleb32(body, int32(s.off))
		body = append(body, 0x0b) // end
		body = binary.AppendUvarint(body, uint64(len(s.init)))
		body = append(body, s.init...)
	}
	out := make([]byte, 0, len(wasm)-(dataEnd-dataStart)+len(body)+6)
	out = append(out, wasm[:dataStart]...)
	out = append(out, 11)
	out = binary.AppendUvarint(out, uint64(len(body)))
	out = append(out, body...)
	return append(out, wasm[dataEnd:]...)
}

// parseDataSegments parses a data section's contents; ok is false unless
// every segment is active on memory 0 at an i32.const offset.
func parseDataSegments(b []byte) (segs []dataSegment, ok bool) {
	count, l := binary.Uvarint(b)
	if l <= 0 || count > uint64(len(b)) {
		return nil, false
	}
	b = b[l:]
	segs = make([]dataSegment, 0, count)
	for range count {
		if len(b) < 2 || b[0] != 0x00 || b[1] != 0x41 {
			return nil, false
		}
		off, l := sleb32(b[2:])
		if l <= 0 || len(b) < 2+l+1 || b[2+l] != 0x0b {
			return nil, false
		}
		b = b[2+l+1:]
		n, l := binary.Uvarint(b)
		if l <= 0 || n > uint64(len(b)-l) {
			return nil, false
		}
		segs = append(segs, dataSegment{off: uint32(off), init: b[l : l+int(n)]})
		b = b[l+int(n):]
	}
	return segs, len(b) == 0
}

// importsMemory reports whether an import section's contents import a
// memory (or cannot be parsed: then as if it did).
func importsMemory(b []byte) bool {
	count, l := binary.Uvarint(b)
	if l <= 0 {
		return true
	}
	b = b[l:]
	name := func() bool { // skips a name
		n, l := binary.Uvarint(b)
		if l <= 0 || n > uint64(len(b)-l) {
			return false
		}
		b = b[l+int(n):]
		return true
	}
	skipLimits := func() bool {
		if len(b) < 1 {
			return false
		}
		flags := b[0]
		b = b[1:]
		for range 1 + int(flags&1) {
			_, l := binary.Uvarint(b)
			if l <= 0 {
				return false
			}
			b = b[l:]
		}
		return true
	}
	for range count {
		if !name() || !name() || len(b) < 1 {
			return true
		}
		kind := b[0]
		b = b[1:]
		switch kind {
		case 0: // function: type index
			_, l := binary.Uvarint(b)
			if l <= 0 {
				return true
			}
			b = b[l:]
		case 1: // table: reftype, limits
			if len(b) < 1 {
				return true
			}
			b = b[1:]
			if !skipLimits() {
				return true
			}
		case 2: // memory
			return true
		case 3: // global: valtype, mutability
			if len(b) < 2 {
				return true
			}
			b = b[2:]
		default:
			return true
		}
	}
	return false
}

// sleb32 decodes a signed LEB128 of at most 5 bytes.
func sleb32(b []byte) (int32, int) {
	var r int64
	var s uint
	for i := 0; i < len(b) && i < 5; i++ {
		x := b[i]
		r |= int64(x&0x7f) << s
		s += 7
		if x < 0x80 {
			if s < 64 && x&0x40 != 0 {
				r |= -1 << s
			}
			return int32(r), i + 1
		}
	}
	return 0, 0
}

func appendSleb32(b []byte, v int32) []byte {
	x := int64(v)
	for {
		c := byte(x & 0x7f)
		x >>= 7
		if (x == 0 && c&0x40 == 0) || (x == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
