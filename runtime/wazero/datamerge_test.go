package wazero

import (
	"bytes"
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime/wasmdata"
)

// memoryAfterInstantiate is module wasm's memory 0 right after it was
// instantiated (data segments applied, _start not run).
func memoryAfterInstantiate(t *testing.T, wasm []byte) []byte {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	m, err := rt.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		t.Fatal(err)
	}
	mem := m.Memory()
	b, ok := mem.Read(0, mem.Size())
	if !ok {
		t.Fatal("cannot read the memory")
	}
	return bytes.Clone(b)
}

// dataSegmentCount is the number of segments of wasm's data section.
func dataSegmentCount(t *testing.T, wasm []byte) int {
	t.Helper()
	for i := 8; i < len(wasm); {
		n, l := binary.Uvarint(wasm[i+1:])
		if wasm[i] == 11 {
			c, _ := binary.Uvarint(wasm[i+1+l:])
			return int(c)
		}
		i += 1 + l + int(n)
	}
	return 0
}

// TestMergeDataSegmentsGo: Go's hello module (tens of thousands of data
// segments, split at runs of zeros) gets a few, and its memory after
// instantiation is the same byte for byte.
func TestMergeDataSegmentsGo(t *testing.T) {
	wasm := testwasm.Build(t, filepath.Join(testwasm.RepoRoot(t), "wasm-examples", "hello"))
	out := mergeDataSegments(wasm)
	before, after := dataSegmentCount(t, wasm), dataSegmentCount(t, out)
	t.Logf("%d data segments, %d merged; %d bytes, %d", before, after, len(wasm), len(out))
	if before < 1000 || after > before/100 {
		t.Fatalf("%d data segments became %d", before, after)
	}
	if !bytes.Equal(memoryAfterInstantiate(t, wasm), memoryAfterInstantiate(t, out)) {
		t.Fatal("the merged module's memory differs after instantiation")
	}
	if again := mergeDataSegments(out); !bytes.Equal(again, out) {
		t.Fatal("merging a merged module changed it")
	}
}

// module is a module with one memory of one page (or an imported one),
// an optional data count section, and a data section of segs (raw
// segment encodings).
func module(importMem, dataCount bool, segs ...[]byte) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	section := func(id byte, body []byte) {
		b = append(b, id)
		b = binary.AppendUvarint(b, uint64(len(body)))
		b = append(b, body...)
	}
	if importMem {
		section(2, []byte{1, 1, 'm', 1, 'm', 2, 0, 1}) // "m"."m": memory min 1
	} else {
		section(5, []byte{1, 0, 1}) // memory min 1
	}
	if dataCount {
		section(12, []byte{byte(len(segs))})
	}
	body := binary.AppendUvarint(nil, uint64(len(segs)))
	for _, s := range segs {
		body = append(body, s...)
	}
	section(11, body)
	return b
}

// active is an active segment on memory 0 at off.
func active(off int32, init string) []byte {
	// a data section's contents of this one segment, without its count (1)
	return wasmdata.AppendSegments(nil, []wasmdata.Segment{{Offset: uint32(off), Init: []byte(init)}})[1:]
}

func TestMergeDataSegments(t *testing.T) {
	truncated := module(false, false, active(0, "aa"), active(10, "bb"))
	truncated = truncated[:len(truncated)-3]
	for _, tc := range []struct {
		name  string
		wasm  []byte
		merge int // segments after; 0: unchanged
	}{
		{"gaps", module(false, false, active(100, "cc"), active(0, "aa"), active(10, "bb"), active(5000, "dd")), 2},
		{"adjacent", module(false, false, active(0, "aa"), active(2, "bb")), 1},
		{"overlap", module(false, false, active(0, "aaaa"), active(2, "bb")), 0},
		{"same offset", module(false, false, active(8, "a"), active(8, "b")), 0},
		{"data count", module(false, true, active(0, "aa"), active(10, "bb")), 0},
		{"imported memory", module(true, false, active(0, "aa"), active(10, "bb")), 0},
		{"passive", module(false, false, active(0, "aa"), []byte{0x01, 2, 'b', 'b'}), 0},
		{"global offset", module(false, false, active(0, "aa"), []byte{0x00, 0x23, 0, 0x0b, 2, 'b', 'b'}), 0},
		{"one", module(false, false, active(0, "aa")), 0},
		{"truncated", truncated, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := mergeDataSegments(tc.wasm)
			if tc.merge == 0 {
				if !bytes.Equal(out, tc.wasm) {
					t.Fatalf("changed: % x", out)
				}
				return
			}
			if n := dataSegmentCount(t, out); n != tc.merge {
				t.Fatalf("%d segments, want %d", n, tc.merge)
			}
			if !bytes.Equal(memoryAfterInstantiate(t, tc.wasm), memoryAfterInstantiate(t, out)) {
				t.Fatal("the merged module's memory differs after instantiation")
			}
		})
	}
	// Out of bounds stays out of bounds.
	oob := module(false, false, active(0, "aa"), active(65535, "bb"))
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	if _, err := rt.Instantiate(ctx, mergeDataSegments(oob)); err == nil {
		t.Fatal("a segment past the memory instantiated once merged")
	}
}
