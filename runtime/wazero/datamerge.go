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
//   - there is no data count section (which memory.init and data.drop,
//     the only instructions that name a segment, need);
//   - the memory is not imported (a failed instantiation's partial
//     writes cannot be seen).
//
// Otherwise (or on anything runtime/wasmdata does not parse) the module
// is returned as it is; wazero validates the result as it would have
// the original.
const dataMergeGap = 1024

// dataMergeVersion is part of the instrumented modules' cache key
// (instrumented.go): bump it with any change to mergeDataSegments.
const dataMergeVersion = "d1"

// mergeDataSegments is wasm with its data segments merged where possible.
func mergeDataSegments(wasm []byte) []byte {
	l, ok := wasmdata.Read(wasm)
	if !ok || l.CountStart != 0 { // a data count section: segments may be named by instructions
		return wasm
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
	out = append(out, wasm[:l.DataStart]...)
	out = append(out, wasmdata.SecData)
	out = binary.AppendUvarint(out, uint64(len(body)))
	out = append(out, body...)
	return append(out, wasm[l.DataEnd:]...)
}
