package wasmdata

import "testing"

// TestImportsMemory: function, table and global imports are skipped as
// the binary format lays them out; a memory import, or one that does not
// parse, counts as importing the memory.
func TestImportsMemory(t *testing.T) {
	name := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	imp := func(kind byte, desc ...byte) []byte {
		b := append(name("env"), name("x")...)
		return append(append(b, kind), desc...)
	}
	fn := imp(0, 0)                      // type 0
	table := imp(1, 0x70, 1, 1, 0x80, 1) // funcref, limits min 1 max 128
	global := imp(3, 0x7f, 0)            // i32, const
	memory := imp(2, 0, 1)               // limits min 1
	for _, tc := range []struct {
		name    string
		entries [][]byte
		want    bool
	}{
		{"function, table and global", [][]byte{fn, table, global}, false},
		{"then a memory", [][]byte{fn, table, global, memory}, true},
		{"a truncated table", [][]byte{fn, table[:len(table)-2]}, true},
		{"no imports", nil, false},
	} {
		b := []byte{byte(len(tc.entries))}
		for _, e := range tc.entries {
			b = append(b, e...)
		}
		if got := importsMemory(b); got != tc.want {
			t.Errorf("%s: importsMemory %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSegmentsRoundTrip: what AppendSegments writes, Segments reads back,
// negative and multi-byte offsets included; a passive segment is refused.
func TestSegmentsRoundTrip(t *testing.T) {
	segs := []Segment{{0, []byte("a")}, {200, []byte("bc")}, {1 << 20, nil}, {0xffffffff, []byte("z")}}
	body := AppendSegments(nil, segs)
	wasm := append([]byte("\x00asm\x01\x00\x00\x00"), SecData, byte(len(body)))
	wasm = append(wasm, body...)
	l, ok := Read(wasm)
	if !ok || l.DataStart != 8 {
		t.Fatalf("Read: %+v %v", l, ok)
	}
	got, ok := l.Segments(wasm)
	if !ok || len(got) != len(segs) {
		t.Fatalf("Segments: %v %v", got, ok)
	}
	for i := range segs {
		if got[i].Offset != segs[i].Offset || string(got[i].Init) != string(segs[i].Init) {
			t.Errorf("segment %d: %+v, want %+v", i, got[i], segs[i])
		}
	}
	passive := append([]byte("\x00asm\x01\x00\x00\x00"), SecData, 4, 1, 1, 1, 'p')
	if l, ok := Read(passive); !ok {
		t.Fatal("Read of a passive segment's module")
	} else if _, ok := l.Segments(passive); ok {
		t.Error("a passive segment was read as active")
	}
}
