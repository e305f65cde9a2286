// Package interrupt makes a WebAssembly module interruptible, and keeps a
// busy module from stalling the Go runtime, at a cost of a few instructions
// per loop iteration.
//
// Instrument rewrites a module's binary: it appends two mutable i32
// globals, $interrupt (exported) and $budget, and a function $slow,
//
//	if $interrupt { unreachable }
//	ref.func $f; drop       ;; a round trip to the engine's Go code
//	$budget = Budget
//
// and inserts at the entry of every other function and at the header of
// every loop
//
//	$budget = $budget - 1
//	if $budget < 1 { call $slow }
//
// Every unbounded execution path of a WebAssembly function goes through a
// loop header or a function entry (the only backward branches target
// loops; recursion and tail calls enter functions), so once the host sets
// $interrupt to a non-zero value the guest traps within Budget iterations
// or calls, whatever it is doing. An engine reads globals from the module
// instance's own storage, so a store from another thread is seen.
//
// The round trip matters as much as the trap: a goroutine running compiled
// wasm code cannot be preempted by the Go scheduler, so a guest spinning
// without host calls would stall every stop-the-world phase of the garbage
// collector, i.e. the whole process. wazero compiles ref.func as a call
// into Go (an exit of its native code), which is a preemption point; $f is
// the module's first exported function, always a valid ref.func target.
//
// The guest counts on its own because nothing else can be relied on: a
// host goroutine that set a "yield now" flag periodically would itself be
// stopped once a stop-the-world began, and the spinning guest would then
// wait for it forever (tried: the GC test deadlocks).
//
// Engines offer their own mechanism (wazero's WithCloseOnContextDone), but
// wazero 1.12 implements it as an exit to Go at every loop header, which
// makes Go guests, whose code loops back to a dispatch header at almost
// every branch, 3 to 3.8 times slower on a compute-bound Go guest; this
// check costs 1.02 to 1.25 times (same guest, same run).
//
// Instrument also bounds the module's tables, which live in host memory
// (MaxTableElements).
//
// Existing function, type and global indices are unchanged (what Instrument
// adds goes after the module's own), so name sections and exports stay
// valid. DWARF custom sections (.debug_*), whose
// code offsets the rewrite would invalidate, are dropped.
package interrupt

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Export is the name under which Instrument exports the interrupt global
// (a suffix is added if the module already exports this name).
const Export = "wasmpod.interrupt"

// Budget is the number of loop iterations and calls between two round
// trips to Go (about 10 to 100 µs of guest work), and so the most a guest
// runs after its interrupt is set.
const Budget = 10000

// ErrUnsupported wraps rewrite failures for instructions this package does
// not know (an unsupported proposal); the module is otherwise not touched.
var ErrUnsupported = errors.New("unsupported instruction")

// ErrBound wraps the refusal of a module past one of this package's bounds
// (MaxNesting, MaxTableElements): the module must not be handed to the
// engine at all, not even to diagnose it, since the nesting bound is what
// keeps its compilation from running for hours.
var ErrBound = errors.New("module past a host bound")

const (
	secCustom   = 0
	secType     = 1
	secImport   = 2
	secFunction = 3
	secGlobal   = 6
	secExport   = 7
	secCode     = 10
	kindGlobal  = 3
	opUnreach   = 0x00
	opIf        = 0x04
	opEnd       = 0x0b
	opGlobalGet = 0x23
	opGlobalSet = 0x24
	opDrop      = 0x1a
	opRefFunc   = 0xd2
	opCall      = 0x10
	opI32Add    = 0x6a
	opI32LtS    = 0x48
	kindFunc    = 0
	typeEmpty   = 0x40
	typeI32     = 0x7f
	opI32Const  = 0x41
	globalMut   = 0x01
)

// sectionRank orders the known sections as the binary format requires
// (custom sections, rank 0, may appear anywhere).
var sectionRank = map[byte]int{
	1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13,
}

type section struct {
	id      byte
	payload []byte
}

// Instrument returns a copy of wasm with an exported interrupt global and a
// check of it at every function entry and loop header; name is the export
// name used (Export, or Export with a suffix). The input is not modified.
// Errors name the byte offset of the problem; a module Instrument cannot
// parse should be reported with the engine's own compile error.
func Instrument(wasm []byte) (out []byte, name string, err error) {
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], []byte("\x00asm")) {
		return nil, "", errors.New("not a WebAssembly module (bad magic)")
	}
	if !bytes.Equal(wasm[4:8], []byte{1, 0, 0, 0}) {
		return nil, "", fmt.Errorf("unsupported binary version % x (want a core module, version 1)", wasm[4:8])
	}
	var secs []section
	r := &reader{b: wasm, pos: 8}
	for r.pos < len(r.b) {
		id := r.byte()
		size := r.u32()
		if r.err != nil {
			return nil, "", r.err
		}
		if uint64(size) > uint64(len(r.b)-r.pos) {
			return nil, "", fmt.Errorf("offset %d: section %d of %d bytes overruns the module", r.pos, id, size)
		}
		payload := r.b[r.pos : r.pos+int(size)]
		r.pos += int(size)
		if id == secCustom && isDWARF(payload) {
			continue
		}
		if id != secCustom && sectionRank[id] == 0 {
			return nil, "", fmt.Errorf("offset %d: unknown section id %d: %w", r.pos-int(size), id, ErrUnsupported)
		}
		secs = append(secs, section{id: id, payload: payload})
	}

	// Index spaces: imports first, then the module's own; what Instrument
	// adds goes last, so no existing index changes.
	var globalIdx, funcIdx, typeIdx uint32
	have := map[byte]bool{}
	exports := map[string]bool{}
	refFunc := int64(-1) // the first exported function
	for _, s := range secs {
		have[s.id] = true
		pr := &reader{b: s.payload}
		switch s.id {
		case secType:
			typeIdx = pr.u32()
		case secImport:
			var funcs, globals uint32
			funcs, globals, pr.err = imports(s.payload)
			funcIdx += funcs
			globalIdx += globals
		case secFunction:
			funcIdx += pr.u32()
		case secGlobal:
			globalIdx += pr.u32()
		case secExport:
			var names []string
			names, refFunc, pr.err = exportNames(s.payload)
			for _, n := range names {
				exports[n] = true
			}
		}
		if pr.err != nil {
			return nil, "", fmt.Errorf("section %d: %w", s.id, pr.err)
		}
	}
	if refFunc < 0 {
		return nil, "", errors.New("the module exports no function (not a WASI command)")
	}
	name = Export
	for i := 2; exports[name]; i++ {
		name = fmt.Sprintf("%s.%d", Export, i)
	}
	interruptIdx, budgetIdx, slowIdx := globalIdx, globalIdx+1, funcIdx

	newType := []byte{0x60, 0, 0} // () -> ()
	newGlobals := []byte{typeI32, globalMut, opI32Const, 0, opEnd, typeI32, globalMut, opI32Const}
	newGlobals = appendS32(newGlobals, Budget)
	newGlobals = append(newGlobals, opEnd)
	newExport := appendName(nil, name)
	newExport = append(newExport, kindGlobal)
	newExport = appendU32(newExport, interruptIdx)

	// The check, inline; the slow path is a function of its own.
	getBudget := appendU32([]byte{opGlobalGet}, budgetIdx)
	setBudget := appendU32([]byte{opGlobalSet}, budgetIdx)
	check := append([]byte{}, getBudget...)
	check = append(check, opI32Const, 0x7f, opI32Add) // - 1
	check = append(check, setBudget...)
	check = append(check, getBudget...)
	check = append(check, opI32Const, 1, opI32LtS, opIf, typeEmpty)
	check = appendU32(append(check, opCall), slowIdx)
	check = append(check, opEnd)

	slow := []byte{0} // no locals
	slow = appendU32(append(slow, opGlobalGet), interruptIdx)
	slow = append(slow, opIf, typeEmpty, opUnreach, opEnd)
	slow = appendU32(append(slow, opRefFunc), uint32(refFunc))
	slow = append(slow, opDrop, opI32Const)
	slow = appendS32(slow, Budget)
	slow = append(slow, setBudget...)
	slow = append(slow, opEnd)
	slowEntry := appendU32(nil, uint32(len(slow)))
	slowEntry = append(slowEntry, slow...)

	for _, id := range []byte{secType, secFunction, secGlobal, secExport, secCode} {
		if !have[id] {
			secs = insertSection(secs, section{id: id, payload: []byte{0}})
		}
	}
	out = make([]byte, 0, len(wasm)+len(wasm)/8+64)
	out = append(out, wasm[:8]...)
	for _, s := range secs {
		p := s.payload
		switch s.id {
		case secType:
			p, err = appendEntries(p, 1, newType)
		case secFunction:
			p, err = appendEntries(p, 1, appendU32(nil, typeIdx))
		case secGlobal:
			p, err = appendEntries(p, 2, newGlobals)
		case secExport:
			p, err = appendEntries(p, 1, newExport)
		case secTable:
			p, err = boundTables(p)
		case secCode:
			if p, err = instrumentCode(p, check); err == nil {
				p, err = appendEntries(p, 1, slowEntry)
			}
		}
		if err != nil {
			return nil, "", err
		}
		out = append(out, s.id)
		out = appendU32(out, uint32(len(p)))
		out = append(out, p...)
	}
	return out, name, nil
}

func isDWARF(payload []byte) bool {
	r := &reader{b: payload}
	n := r.u32()
	if r.err != nil || uint64(n) > uint64(len(payload)-r.pos) {
		return false
	}
	return strings.HasPrefix(string(payload[r.pos:r.pos+int(n)]), ".debug_")
}

// insertSection puts s before the first known section that must follow it.
func insertSection(secs []section, s section) []section {
	rank := sectionRank[s.id]
	for i, o := range secs {
		if o.id != secCustom && sectionRank[o.id] > rank {
			return append(secs[:i], append([]section{s}, secs[i:]...)...)
		}
	}
	return append(secs, s)
}

// appendEntries returns a vector section payload with k more entries.
func appendEntries(payload []byte, k uint32, entry []byte) ([]byte, error) {
	r := &reader{b: payload}
	n := r.u32()
	if r.err != nil {
		return nil, r.err
	}
	if n > 1<<32-1-k {
		return nil, errors.New("too many entries")
	}
	p := appendU32(make([]byte, 0, len(payload)+len(entry)+5), n+k)
	p = append(p, payload[r.pos:]...)
	return append(p, entry...), nil
}

// imports counts the imported functions and globals.
func imports(p []byte) (funcs, globals uint32, err error) {
	r := &reader{b: p}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		r.name()
		r.name()
		switch kind := r.byte(); kind {
		case 0: // func: type index
			r.u32()
			funcs++
		case 1: // table: reftype, limits
			r.leb()
			r.limits()
		case 2: // memory: limits
			r.limits()
		case 3: // global: valtype, mutability
			r.leb()
			r.byte()
			globals++
		case 4: // tag: attribute, type index
			r.byte()
			r.u32()
		default:
			r.fail("import kind %d: %w", kind, ErrUnsupported)
		}
	}
	return funcs, globals, r.err
}

// exportNames returns the export names and the first exported function
// (-1 if none).
func exportNames(p []byte) ([]string, int64, error) {
	r := &reader{b: p}
	var names []string
	fn := int64(-1)
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		names = append(names, r.name())
		kind := r.byte()
		idx := r.u32()
		if kind == kindFunc && fn < 0 && r.err == nil {
			fn = int64(idx)
		}
	}
	return names, fn, r.err
}

// instrumentCode rewrites every function body of a code section payload.
func instrumentCode(p, check []byte) ([]byte, error) {
	r := &reader{b: p}
	n := r.u32()
	if r.err != nil {
		return nil, fmt.Errorf("code section: %w", r.err)
	}
	out := appendU32(make([]byte, 0, len(p)+len(p)/8), n)
	var body []byte
	for i := uint32(0); i < n; i++ {
		size := r.u32()
		if r.err == nil && uint64(size) > uint64(len(p)-r.pos) {
			r.fail("body of %d bytes overruns the section", size)
		}
		if r.err != nil {
			return nil, fmt.Errorf("code section: function body %d: %w", i, r.err)
		}
		start := r.pos
		var err error
		body, err = instrumentBody(body[:0], p[start:start+int(size)], check)
		if err != nil {
			return nil, fmt.Errorf("code section: function body %d: %w", i, err)
		}
		r.pos = start + int(size)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	if r.pos != len(p) {
		return nil, fmt.Errorf("code section: %d trailing bytes", len(p)-r.pos)
	}
	return out, nil
}

// MaxNesting bounds how deeply a function's blocks, loops, ifs and trys
// nest. wazero's compile time grows with the square of the nesting depth
// (a function of 10,000 nested blocks compiles in ~0.4 s, one of 1,000,000
// in about an hour, and a compilation cannot be cancelled), so a module
// nested deeper is refused at compile time. Compilers nest only a switch's
// cases this way: the deepest function of a Go guest (toolbox) nests 549.
const MaxNesting = 10000

// instrumentBody appends the instrumented body b to out.
func instrumentBody(out, b, check []byte) ([]byte, error) {
	r := &reader{b: b}
	for n := r.u32(); n > 0 && r.err == nil; n-- { // locals
		r.u32()
		r.leb()
	}
	if r.err != nil {
		return nil, fmt.Errorf("locals: %w", r.err)
	}
	out = append(out, b[:r.pos]...)
	out = append(out, check...)
	copied := r.pos
	depth := 0
	for r.pos < len(b) && r.err == nil {
		op := r.byte()
		r.skipImmediates(op)
		switch op {
		case 0x02, 0x03, 0x04, 0x06, 0x1f: // block, loop, if, try, try_table
			if depth++; depth > MaxNesting {
				return nil, fmt.Errorf("offset %d in body: control structures nested deeper than %d: %w", r.pos, MaxNesting, ErrBound)
			}
		case 0x0b: // end
			depth--
		}
		if op == 0x03 && r.err == nil { // loop: check at the header
			out = append(out, b[copied:r.pos]...)
			out = append(out, check...)
			copied = r.pos
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("offset %d in body: %w", r.pos, r.err)
	}
	return append(out, b[copied:]...), nil
}

// reader decodes the binary format; the first error sticks and later reads
// return zero values.
type reader struct {
	b   []byte
	pos int
	err error
}

func (r *reader) fail(format string, a ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, a...)
	}
	r.pos = len(r.b)
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.pos >= len(r.b) {
		r.fail("unexpected end")
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

func (r *reader) skip(n int) {
	if r.err == nil && n > len(r.b)-r.pos {
		r.fail("unexpected end")
		return
	}
	r.pos += n
}

// leb skips a LEB128 number of up to 10 bytes (any width, either sign).
func (r *reader) leb() {
	for i := 0; i < 10; i++ {
		if r.byte()&0x80 == 0 {
			return
		}
	}
	r.fail("LEB128 number too long")
}

func (r *reader) u32() uint32 {
	var v uint64
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if v > 1<<32-1 {
				r.fail("u32 out of range")
				return 0
			}
			return uint32(v)
		}
	}
	r.fail("u32 too long")
	return 0
}

func (r *reader) name() string {
	n := r.u32()
	if r.err == nil && uint64(n) > uint64(len(r.b)-r.pos) {
		r.fail("name of %d bytes overruns", n)
	}
	if r.err != nil {
		return ""
	}
	s := string(r.b[r.pos : r.pos+int(n)])
	r.pos += int(n)
	return s
}

func (r *reader) limits() {
	flags := r.byte()
	r.leb()
	if flags&1 != 0 {
		r.leb()
	}
}

func (r *reader) memarg() {
	align := r.u32()
	if align&0x40 != 0 { // multi-memory: a memory index follows
		r.u32()
	}
	r.leb() // offset (u32, or u64 with memory64)
}

// skipImmediates skips the immediates of the instruction with opcode op.
// It knows the instructions of WebAssembly 2.0 (with SIMD), threads and
// tail calls.
func (r *reader) skipImmediates(op byte) {
	switch {
	case op == 0x00, op == 0x01, op == 0x05, op == 0x0b, op == 0x0f, op == 0x1a, op == 0x1b,
		op >= 0x45 && op <= 0xc4, op == 0xd1:
		// no immediates
	case op >= 0x02 && op <= 0x04: // block, loop, if: block type
		r.leb()
	case op == 0x0c, op == 0x0d, op == 0x10, op == 0x12, op >= 0x20 && op <= 0x26,
		op == 0x3f, op == 0x40, op == 0xd2:
		r.u32()
	case op == 0x11, op == 0x13: // call_indirect, return_call_indirect
		r.u32()
		r.u32()
	case op == 0x0e: // br_table
		n := r.u32()
		for i := uint64(0); i <= uint64(n) && r.err == nil; i++ {
			r.u32()
		}
	case op == 0x1c: // select with types
		n := r.u32()
		for i := uint32(0); i < n && r.err == nil; i++ {
			r.leb()
		}
	case op >= 0x28 && op <= 0x3e: // loads and stores
		r.memarg()
	case op == 0x41, op == 0x42:
		r.leb()
	case op == 0x43:
		r.skip(4)
	case op == 0x44:
		r.skip(8)
	case op == 0xd0: // ref.null heaptype
		r.leb()
	case op == 0xfc:
		switch sub := r.u32(); {
		case sub <= 7: // saturating truncations
		case sub == 8, sub == 10, sub == 12, sub == 14: // memory.init, memory.copy, table.init, table.copy
			r.u32()
			r.u32()
		case sub == 9, sub == 11, sub == 13, sub == 15, sub == 16, sub == 17:
			r.u32()
		default:
			r.fail("0xfc %d: %w", sub, ErrUnsupported)
		}
	case op == 0xfd: // SIMD
		switch sub := r.u32(); {
		case sub <= 11, sub == 92, sub == 93: // v128 loads and stores
			r.memarg()
		case sub == 12, sub == 13: // v128.const, i8x16.shuffle
			r.skip(16)
		case sub >= 21 && sub <= 34: // extract and replace lane
			r.skip(1)
		case sub >= 84 && sub <= 91: // load and store lane
			r.memarg()
			r.skip(1)
		case sub <= 0x113:
			// no immediates
		default:
			r.fail("0xfd %d: %w", sub, ErrUnsupported)
		}
	case op == 0xfe: // threads
		switch sub := r.u32(); {
		case sub == 3: // atomic.fence
			r.skip(1)
		case sub <= 2, sub >= 0x10 && sub <= 0x4e:
			r.memarg()
		default:
			r.fail("0xfe %d: %w", sub, ErrUnsupported)
		}
	default:
		r.fail("opcode 0x%02x: %w", op, ErrUnsupported)
	}
}

func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// appendS32 appends a signed LEB128 number.
func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName(b []byte, s string) []byte {
	return append(appendU32(b, uint32(len(s))), s...)
}
