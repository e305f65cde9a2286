package wazero

import (
	"cmp"
	"encoding/binary"
	"slices"

	"github.com/wasmpod/wasmpod/runtime/wasmdata"
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
//   - no instruction names a segment by its index (memory.init and
//     data.drop, which need the data count section that clang, Rust and
//     AssemblyScript always write; wasmdata.NamesSegments): then the data
//     count section, if any, is rewritten to the new number of segments;
//   - the memory is not imported (a failed instantiation's partial
//     writes cannot be seen).
//
// Otherwise (or on anything runtime/wasmdata does not parse) the module
// is returned as it is; wazero validates the result as it would have
// the original.
const dataMergeGap = 1024

// dataMergeVersion is part of the instrumented modules' cache key
// (instrumented.go): bump it with any change to mergeDataSegments.
const dataMergeVersion = "d2"

// mergeDataSegments is wasm with its data segments merged where possible.
func mergeDataSegments(wasm []byte) []byte {
	l, ok := wasmdata.Read(wasm)
	if !ok || (l.CountStart != 0 && (l.NamesSegments(wasm) || l.CountStart > l.DataStart)) {
		return wasm // an instruction names segments by index (or sections out of order)
	}
	segs, ok := l.Segments(wasm)
	if !ok || len(segs) < 2 {
		return wasm
	}
	slices.SortStableFunc(segs, func(a, b wasmdata.Segment) int { return cmp.Compare(a.Offset, b.Offset) })
	var merged []wasmdata.Segment
	for _, s := range segs {
		if len(merged) > 0 {
			last := &merged[len(merged)-1]
			end := uint64(last.Offset) + uint64(len(last.Init))
			if uint64(s.Offset) < end {
				return wasm // overlap: the order matters
			}
			if gap := uint64(s.Offset) - end; gap <= dataMergeGap {
				last.Init = append(last.Init, make([]byte, gap)...)
				last.Init = append(last.Init, s.Init...)
				continue
			}
		}
		merged = append(merged, wasmdata.Segment{Offset: s.Offset, Init: slices.Clip(s.Init)})
	}
	if len(merged) == len(segs) {
		return wasm
	}
	body := wasmdata.AppendSegments(nil, merged)
	out := make([]byte, 0, len(wasm)-(l.DataEnd-l.DataStart)+len(body)+6)
	if l.CountStart != 0 { // before the code section, so before the data section
		count := binary.AppendUvarint(nil, uint64(len(merged)))
		out = append(out, wasm[:l.CountStart]...)
		out = append(out, wasmdata.SecDataCount)
		out = binary.AppendUvarint(out, uint64(len(count)))
		out = append(out, count...)
		out = append(out, wasm[l.CountEnd:l.DataStart]...)
	} else {
		out = append(out, wasm[:l.DataStart]...)
	}
	out = append(out, wasmdata.SecData)
	out = binary.AppendUvarint(out, uint64(len(body)))
	out = append(out, body...)
	return append(out, wasm[l.DataEnd:]...)
}
