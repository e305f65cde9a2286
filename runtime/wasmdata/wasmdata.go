// Package wasmdata reads what both engines need of a module's data to
// initialise its memory faster than the module says: where its data and
// data count sections are, its memory's initial size, whether it imports
// its memory, and its active data segments. wazero merges the segments
// (runtime/wazero/datamerge.go); wasmtime makes a copy-on-write image of
// them (runtime/wasmtime/image.go). Both rewrite a module only when no
// guest can tell, and both give up on anything this package does not
// parse.
package wasmdata

import "encoding/binary"

// Section ids of the sections read here.
const (
	secImport    = 2
	secMemory    = 5
	secCode      = 10
	SecData      = 11
	SecDataCount = 12
)

// Layout is where a module's data lives. Start and end offsets span a
// whole section (its id byte to its end); a start of 0 means none.
type Layout struct {
	DataStart, DataBody, DataEnd int // the data section; DataBody: its contents
	CountStart, CountEnd         int // the data count section
	CodeStart, CodeEnd           int // the code section's contents
	// MinPages is the defined memory's initial size, HasMemory whether the
	// module defines exactly one (neither shared nor 64-bit).
	MinPages  uint64
	HasMemory bool
}

// Segment is an active data segment of memory 0 at a constant offset.
type Segment struct {
	Offset uint32
	Init   []byte
}

// Read walks wasm's sections. ok is false for a malformed module and for
// one that imports its memory (its contents are not the module's to
// know).
func Read(wasm []byte) (l Layout, ok bool) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return l, false
	}
	for p := 8; p < len(wasm); {
		id := wasm[p]
		size, n := binary.Uvarint(wasm[p+1:])
		if n <= 0 || uint64(len(wasm)-p-1-n) < size {
			return l, false
		}
		body := p + 1 + n
		end := body + int(size)
		switch id {
		case secImport:
			if importsMemory(wasm[body:end]) {
				return l, false
			}
		case secMemory:
			cnt, n1 := binary.Uvarint(wasm[body:end])
			if n1 > 0 && cnt == 1 && body+n1 < end && wasm[body+n1]&^1 == 0 { // not shared, not 64-bit
				if min, n2 := binary.Uvarint(wasm[body+n1+1 : end]); n2 > 0 {
					l.MinPages, l.HasMemory = min, true
				}
			}
		case SecData:
			l.DataStart, l.DataBody, l.DataEnd = p, body, end
		case SecDataCount:
			l.CountStart, l.CountEnd = p, end
		case secCode:
			l.CodeStart, l.CodeEnd = body, end
		}
		p = end
	}
	return l, true
}

// Segments parses the data section of wasm (laid out as l). ok is false
// unless there is one and every segment is active, on memory 0, at an
// i32.const offset.
func (l Layout) Segments(wasm []byte) (segs []Segment, ok bool) {
	if l.DataStart == 0 {
		return nil, false
	}
	b := wasm[l.DataBody:l.DataEnd]
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return nil, false
	}
	b = b[n:]
	segs = make([]Segment, 0, count)
	for range count {
		if len(b) < 2 || b[0] != 0x00 || b[1] != 0x41 { // active, memory 0; i32.const
			return nil, false
		}
		off, n := sleb32(b[2:])
		if n <= 0 || len(b) < 2+n+1 || b[2+n] != 0x0b { // end
			return nil, false
		}
		b = b[2+n+1:]
		size, n := binary.Uvarint(b)
		if n <= 0 || size > uint64(len(b)-n) {
			return nil, false
		}
		segs = append(segs, Segment{Offset: uint32(off), Init: b[n : n+int(size)]})
		b = b[n+int(size):]
	}
	return segs, len(b) == 0
}

// NamesSegments reports whether an instruction of wasm (laid out as l) may
// name a data segment by its index: memory.init or data.drop (0xFC 8 and
// 0xFC 9). It decodes every function body of the code section instruction
// by instruction (WebAssembly 2.0 with threads and tail calls); an opcode
// it does not know, or a body it cannot decode, counts as naming segments.
// (Constant expressions name none in 2.0; the GC proposal's
// array.new_data, which would, is not in it.)
func (l Layout) NamesSegments(wasm []byte) bool {
	if l.CodeStart == 0 {
		return false
	}
	d := decoder{b: wasm[l.CodeStart:l.CodeEnd]}
	count := d.u32()
	for range count {
		if d.bad {
			return true
		}
		size := d.u32()
		if d.bad || uint64(size) > uint64(len(d.b)) {
			return true
		}
		body := decoder{b: d.b[:size]}
		d.b = d.b[size:]
		if body.namesSegments() {
			return true
		}
	}
	return d.bad || len(d.b) != 0
}

// decoder reads a function body; bad is set once it cannot.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) byte1() byte {
	if len(d.b) == 0 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// leb skips a LEB128 of at most max bytes and returns its value (the
// low 64 bits).
func (d *decoder) leb(max int) uint64 {
	var v uint64
	for i := 0; i < max; i++ {
		c := d.byte1()
		if d.bad {
			return 0
		}
		if i < 10 {
			v |= uint64(c&0x7f) << (7 * i)
		}
		if c < 0x80 {
			return v
		}
	}
	d.bad = true
	return 0
}

func (d *decoder) u32() uint32 { return uint32(d.leb(5)) }

func (d *decoder) skip(n int) {
	if len(d.b) < n {
		d.bad = true
		return
	}
	d.b = d.b[n:]
}

// memarg skips a memory argument (alignment, with the multi-memory flag's
// memory index, and offset).
func (d *decoder) memarg() {
	if d.u32()&0x40 != 0 {
		d.u32()
	}
	d.leb(10)
}

// namesSegments decodes a function body (locals, then instructions).
func (d *decoder) namesSegments() bool {
	for n := d.u32(); n > 0 && !d.bad; n-- {
		d.u32()
		d.byte1()
	}
	for len(d.b) > 0 && !d.bad {
		op := d.byte1()
		switch {
		case op == 0x02 || op == 0x03 || op == 0x04: // block, loop, if: a block type
			if len(d.b) > 0 && (d.b[0] == 0x40 || d.b[0] >= 0x6f && d.b[0] <= 0x7f) {
				d.skip(1)
			} else {
				d.leb(5) // s33 type index
			}
		case op == 0x05 || op == 0x0b || op == 0x00 || op == 0x01 || op == 0x0f || op == 0x1a || op == 0x1b:
			// else, end, unreachable, nop, return, drop, select
		case op == 0x0c || op == 0x0d || op == 0x10 || op == 0x12 || op == 0xd2 ||
			op >= 0x20 && op <= 0x26: // br, br_if, call, return_call, ref.func, locals, globals, table.get/set
			d.u32()
		case op == 0x0e: // br_table
			for n := d.u32(); n > 0 && !d.bad; n-- {
				d.u32()
			}
			d.u32()
		case op == 0x11 || op == 0x13: // call_indirect, return_call_indirect
			d.u32()
			d.u32()
		case op == 0x1c: // select t*
			for n := d.u32(); n > 0 && !d.bad; n-- {
				d.byte1()
			}
		case op >= 0x28 && op <= 0x3e: // loads and stores
			d.memarg()
		case op == 0x3f || op == 0x40: // memory.size, memory.grow
			d.u32()
		case op == 0x41: // i32.const
			d.leb(5)
		case op == 0x42: // i64.const
			d.leb(10)
		case op == 0x43:
			d.skip(4)
		case op == 0x44:
			d.skip(8)
		case op >= 0x45 && op <= 0xc4, op == 0xd1: // numeric, ref.is_null
		case op == 0xd0: // ref.null
			d.byte1()
		case op == 0xfc:
			switch sub := d.u32(); {
			case sub <= 7: // saturating truncations
			case sub == 8 || sub == 9: // memory.init, data.drop
				return true
			case sub == 10: // memory.copy
				d.u32()
				d.u32()
			case sub == 11 || sub >= 13 && sub <= 17: // memory.fill, elem.drop, table.copy (below), table.grow/size/fill
				d.u32()
				if sub == 14 {
					d.u32()
				}
			case sub == 12: // table.init
				d.u32()
				d.u32()
			default:
				return true
			}
		case op == 0xfd: // SIMD
			switch sub := d.u32(); {
			case sub <= 11 || sub == 92 || sub == 93: // loads, stores
				d.memarg()
			case sub == 12 || sub == 13: // v128.const, i8x16.shuffle
				d.skip(16)
			case sub >= 21 && sub <= 34: // extract and replace lane
				d.byte1()
			case sub >= 84 && sub <= 91: // load and store lane
				d.memarg()
				d.byte1()
			case sub <= 275:
			default:
				return true
			}
		case op == 0xfe: // threads
			if d.u32() == 3 { // atomic.fence
				d.byte1()
			} else {
				d.memarg()
			}
		default: // exceptions, GC, or unknown: as if it named segments
			return true
		}
	}
	return d.bad
}

// AppendSegments appends the contents of a data section holding segs.
func AppendSegments(b []byte, segs []Segment) []byte {
	b = binary.AppendUvarint(b, uint64(len(segs)))
	for _, s := range segs {
		b = append(b, 0x00, 0x41) // active, memory 0; i32.const
		b = appendSleb32(b, int32(s.Offset))
		b = append(b, 0x0b) // end
		b = binary.AppendUvarint(b, uint64(len(s.Init)))
		b = append(b, s.Init...)
	}
	return b
}

// importsMemory reports whether an import section's contents import a
// memory (or cannot be parsed: then as if they did).
func importsMemory(b []byte) bool {
	count, n := binary.Uvarint(b)
	if n <= 0 {
		return true
	}
	b = b[n:]
	skip := func() bool { // a LEB128
		_, n := binary.Uvarint(b)
		if n <= 0 {
			return false
		}
		b = b[n:]
		return true
	}
	name := func() bool {
		size, n := binary.Uvarint(b)
		if n <= 0 || size > uint64(len(b)-n) {
			return false
		}
		b = b[n+int(size):]
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
			if !skip() {
				return true
			}
		case 1: // table: reftype, limits
			if len(b) < 2 {
				return true
			}
			flags := b[1]
			b = b[2:]
			for range 1 + int(flags&1) {
				if !skip() {
					return true
				}
			}
		case 3: // global: valtype, mutability
			if len(b) < 2 {
				return true
			}
			b = b[2:]
		default: // 2, a memory; or a tag: give up
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
