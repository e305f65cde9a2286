package wazero

import (
	"bytes"
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
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
func dataSegmentCount(t testing.TB, wasm []byte) int {
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

// withCode is a module with one memory of one page, a data count section,
// a data section of segs and one function (no parameters or results) of
// body (instructions, without the end).
func withCode(body []byte, segs ...[]byte) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	section := func(id byte, body []byte) {
		b = append(b, id)
		b = binary.AppendUvarint(b, uint64(len(body)))
		b = append(b, body...)
	}
	section(1, []byte{1, 0x60, 0, 0})    // type () -> ()
	section(3, []byte{1, 0})             // function 0: type 0
	section(5, []byte{1, 0, 1})          // memory min 1
	section(12, []byte{byte(len(segs))}) // data count
	fn := append([]byte{0}, body...)     // no locals
	fn = append(fn, 0x0b)
	section(10, append([]byte{1, byte(len(fn))}, fn...))
	data := binary.AppendUvarint(nil, uint64(len(segs)))
	for _, s := range segs {
		data = append(data, s...)
	}
	section(11, data)
	return b
}

// memoryInit is memory.init of segment 1 into memory 0 with its operands,
// op the prefix and sub-opcode as encoded.
func memoryInit(op ...byte) []byte {
	b := []byte{0x41, 0, 0x41, 0, 0x41, 0} // i32.const 0 (dest, offset, size)
	b = append(b, op...)
	return append(b, 1, 0) // segment 1, memory 0
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
		{"data count", module(false, true, active(0, "aa"), active(10, "bb")), 1},
		{"data count, code", withCode(nil, active(0, "aa"), active(10, "bb")), 1},
		{"memory.init", withCode(memoryInit(0xfc, 0x08), active(0, "aa"), active(10, "bb")), 0},
		{"memory.init non-minimal", withCode(memoryInit(0xfc, 0x88, 0x80, 0x00), active(0, "aa"), active(10, "bb")), 0},
		{"data.drop", withCode([]byte{0xfc, 0x09, 1}, active(0, "aa"), active(10, "bb")), 0},
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

// foreignGuests are the C, Rust and AssemblyScript probes of the
// conformance suite (each skipped without its toolchain): modules with a
// data count section.
func foreignGuests() []struct {
	name  string
	build func(testing.TB) []byte
} {
	return []struct {
		name  string
		build func(testing.TB) []byte
	}{{"c", enginetest.CProbe}, {"rust", enginetest.BuildRustProbe}, {"as", enginetest.ASProbe}}
}

// TestMergeDataSegmentsForeign: the C, Rust and AssemblyScript probes
// (with a data count section when their toolchain enables bulk memory, as
// clang 19 and Rust 1.87 do by default; Debian 12's clang 14 and rustc
// 1.63 write none) merged have the same memory after instantiation, byte
// for byte.
func TestMergeDataSegmentsForeign(t *testing.T) {
	for _, g := range foreignGuests() {
		t.Run(g.name, func(t *testing.T) {
			wasm := g.build(t)
			l, ok := wasmdata.Read(wasm)
			if !ok {
				t.Fatalf("the %s probe does not parse", g.name)
			}
			out := mergeDataSegments(wasm)
			before, after := dataSegmentCount(t, wasm), dataSegmentCount(t, out)
			t.Logf("data count section %v; %d data segments, %d merged; %d bytes, %d", l.CountStart != 0, before, after, len(wasm), len(out))
			if after > before {
				t.Errorf("%d data segments became %d", before, after)
			}
			if !bytes.Equal(memoryAfterInstantiate(t, wasm), memoryAfterInstantiate(t, out)) {
				t.Fatal("the merged module's memory differs after instantiation")
			}
		})
	}
}

// withDataCount is wasm (which has none) with a data count section of n
// inserted before its code section.
func withDataCount(t testing.TB, wasm []byte, n int) []byte {
	t.Helper()
	for i := 8; i < len(wasm); {
		size, l := binary.Uvarint(wasm[i+1:])
		if wasm[i] == 10 {
			count := binary.AppendUvarint(nil, uint64(n))
			out := append([]byte(nil), wasm[:i]...)
			out = append(out, 12)
			out = binary.AppendUvarint(out, uint64(len(count)))
			out = append(out, count...)
			return append(out, wasm[i:]...)
		}
		i += 1 + l + int(size)
	}
	t.Fatal("no code section")
	return nil
}

// TestMergeDataSegmentsDataCount: Go's hello module given a data count
// section (as a toolchain with bulk memory writes one) is merged as
// without it, its data count section rewritten to the merged segments
// (wazero checks it against the data section), and its memory after
// instantiation is the same byte for byte.
func TestMergeDataSegmentsDataCount(t *testing.T) {
	plain := testwasm.Build(t, filepath.Join(testwasm.RepoRoot(t), "wasm-examples", "hello"))
	wasm := withDataCount(t, plain, dataSegmentCount(t, plain))
	out := mergeDataSegments(wasm)
	before, after := dataSegmentCount(t, wasm), dataSegmentCount(t, out)
	if after > before/100 {
		t.Fatalf("%d data segments became %d", before, after)
	}
	if l, ok := wasmdata.Read(out); !ok || l.CountStart == 0 {
		t.Fatalf("the merged module lost its data count section (ok %v)", ok)
	} else if c, _ := binary.Uvarint(out[l.CountEnd-1:]); int(c) != after {
		t.Fatalf("data count %d, want %d", c, after)
	}
	if !bytes.Equal(memoryAfterInstantiate(t, wasm), memoryAfterInstantiate(t, out)) {
		t.Fatal("the merged module's memory differs after instantiation")
	}
}

// BenchmarkInstantiateMerged: instantiating (data segments applied, _start
// not run) the C, Rust and AssemblyScript probes, and Go's hello module
// given a data count section, merged against as built, alternating in the
// same run; ratio is merged/unmerged time.
func BenchmarkInstantiateMerged(b *testing.B) {
	guests := append(foreignGuests(), struct {
		name  string
		build func(testing.TB) []byte
	}{"go-datacount", func(tb testing.TB) []byte {
		wasm := testwasm.Build(tb, filepath.Join(testwasm.RepoRoot(tb), "wasm-examples", "hello"))
		return withDataCount(tb, wasm, dataSegmentCount(tb, wasm))
	}})
	for _, g := range guests {
		b.Run(g.name, func(b *testing.B) {
			ctx := context.Background()
			wasm := g.build(b)
			rt := wazero.NewRuntime(ctx)
			defer rt.Close(ctx)
			wasi_snapshot_preview1.MustInstantiate(ctx, rt)
			plain, err := rt.CompileModule(ctx, wasm)
			if err != nil {
				b.Fatal(err)
			}
			merged, err := rt.CompileModule(ctx, mergeDataSegments(wasm))
			if err != nil {
				b.Fatal(err)
			}
			cfg := wazero.NewModuleConfig().WithStartFunctions().WithName("")
			inst := func(m wazero.CompiledModule) time.Duration {
				t0 := time.Now()
				mod, err := rt.InstantiateModule(ctx, m, cfg)
				if err != nil {
					b.Fatal(err)
				}
				d := time.Since(t0)
				mod.Close(ctx)
				return d
			}
			var tp, tm time.Duration
			b.ResetTimer()
			for range b.N {
				tp += inst(plain)
				tm += inst(merged)
			}
			b.ReportMetric(float64(tp.Nanoseconds())/float64(b.N)/1e3, "unmerged-µs")
			b.ReportMetric(float64(tm.Nanoseconds())/float64(b.N)/1e3, "merged-µs")
			b.ReportMetric(float64(tm)/float64(tp), "ratio")
		})
	}
}
