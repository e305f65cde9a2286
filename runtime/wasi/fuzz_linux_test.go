package wasi_test

// FuzzHostCalls calls every host function of wasi_snapshot_preview1 (the
// WASI layer and the socket extension) from a guest generated in the test:
// a wasm module, assembled here, whose _start makes a sequence of calls
// with arguments taken from the fuzz input (pointers into a dictionary of
// strings, iovecs, addresses and subscriptions laid out in its memory,
// pointers at and past the end of memory, random values, fds, flags).
//
// Each run gets a fresh read-write mount with a size quota, a read-only
// mount opened from a handle (Mount.Root) and, beside them, a directory
// outside every mount (with host-made symlinks into it from the mounts), a
// small host fd budget, and a pod network with egress denied whose dialer
// and resolver count every use. Two containers run the guest at once,
// sharing all of it. It asserts:
//   - no host function panics (the functions are bound without the guard
//     that turns a panic into EFAULT);
//   - every errno is a WASI errno;
//   - the run ends: the System is killed at a deadline and must then end
//     within hangBound;
//   - nothing outside the read-write mount is written, and nothing outside
//     the mounts is even opened (inotify), the read-only mount is
//     unchanged, and nothing tried to leave the machine;
//   - no guest-made symlink in the read-write mount resolves outside it
//     as the kernel follows it;
//   - after Close the fd budget is whole, and the quota counts what the
//     volume holds (MeasureDir), within its limit.
//
// Run it with
//
//	go test -run '^$' -fuzz '^FuzzHostCalls$' -fuzztime 30s ./runtime/wasi/

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	wsys "github.com/tetratelabs/wazero/sys"

	wasiruntime "github.com/wasmpod/wasmpod/runtime"

	"github.com/wasmpod/wasmpod/network"
	"github.com/wasmpod/wasmpod/runtime/wasi"
	"github.com/wasmpod/wasmpod/runtime/wasi/wasisock"
)

const (
	fuzzPages    = 2
	fuzzMemSize  = fuzzPages * 65536
	fuzzMaxCalls = 48
	fuzzMaxFDs   = 12
	// runBudget is how long a run may take before its System is killed
	// (blocking reads, accepts and polls end there with EINTR).
	runBudget = 40 * time.Millisecond
	// hangBound is how long a run may take after the kill.
	hangBound = 10 * time.Second
	// fuzzQuota is the read-write mount's size limit, fuzzHostFDs the host
	// fd budget (each container's two mounts take 4).
	fuzzQuota   = 256 << 10
	fuzzHostFDs = 16
	// fuzzContainers run the guest at once in one pod.
	fuzzContainers = 2
	// maxErrno is the largest WASI preview-1 errno (ENOTCAPABLE).
	maxErrno = 76
)

// Guest fds of a run: stdio, the virtual "/" (always the first preopen),
// then the two mounts.
const (
	fdData = 4 // read-write mount at /data
	fdRO   = 5 // read-only mount at /ro
)

var (
	guestIP = netip.MustParseAddr("10.244.0.2")
	peerIP  = netip.MustParseAddr("10.244.0.3")
)

// fuzzHost is one wazero runtime with the host functions bound, shared by
// all runs of a fuzz worker. It is wazero's interpreter: the host
// functions under test are the same in either mode, and compiling each
// generated guest would triple the cost of a run.
type fuzzHost struct {
	rt    wazero.Runtime
	funcs []wasi.HostFunc
}

type runKey struct{}

// runState is what the host functions of one run report to the test.
type runState struct {
	sys *wasi.System
	fx  fixture

	mu       sync.Mutex
	problems []string
	trace    []string // with WASMPOD_FUZZ_TRACE set: every call and its errno
}

var traceCalls = os.Getenv("WASMPOD_FUZZ_TRACE") != ""

func (s *runState) problem(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.problems) < 10 {
		s.problems = append(s.problems, fmt.Sprintf(format, args...))
	}
}

// newFuzzHost binds funcs (nil: every WASI and socket function, unguarded).
func newFuzzHost(tb testing.TB, funcs []wasi.HostFunc) *fuzzHost {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCloseOnContextDone(true))
	tb.Cleanup(func() { rt.Close(context.Background()) })
	if funcs == nil {
		funcs = wasi.UnguardedFunctions(wasisock.Functions()...)
	}
	h := &fuzzHost{rt: rt, funcs: funcs}
	b := rt.NewHostModuleBuilder(wasi.ModuleName)
	for _, hf := range h.funcs {
		b.NewFunctionBuilder().
			WithGoModuleFunction(bindUnguarded(hf), valTypes(hf.Params), valTypes(hf.Results)).
			Export(hf.Name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		tb.Fatal(err)
	}
	return h
}

func valTypes(ts []wasi.ValType) []api.ValueType {
	out := make([]api.ValueType, len(ts))
	for i, t := range ts {
		out[i] = api.ValueTypeI32
		if t == wasi.I64 {
			out[i] = api.ValueTypeI64
		}
	}
	return out
}

// bindUnguarded binds hf as runtime/wazero does (a killed System unwinds
// the guest, proc_exit ends it with its code), but records any other
// panic and every result that is not an errno.
func bindUnguarded(hf wasi.HostFunc) api.GoModuleFunc {
	np, nr := len(hf.Params), len(hf.Results)
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		st := ctx.Value(runKey{}).(*runState)
		if st.sys.IsKilled() {
			panic(wsys.NewExitError(137))
		}
		params := append([]uint64(nil), stack[:np]...)
		for i, t := range hf.Params {
			if t == wasi.I32 {
				params[i] = uint64(uint32(params[i])) // the upper half is not the guest's
			}
		}
		defer func() {
			if r := recover(); r != nil {
				if pe, ok := r.(*wasi.ProcExit); ok {
					_ = mod.CloseWithExitCode(ctx, pe.Code)
					panic(wsys.NewExitError(pe.Code))
				}
				st.problem("host panic in %s%v: %v\n%s", hf.Name, params, r, debug.Stack())
				panic(r)
			}
		}()
		c := wasi.Call{Params: params, Results: stack[:nr], Sys: st.sys, Mem: mod.Memory()}
		hf.Fn(ctx, &c)
		if nr > 0 && stack[0] > maxErrno {
			st.problem("%s%v returned %d, not a WASI errno", hf.Name, params, stack[0])
		}
		if traceCalls && nr > 0 {
			st.mu.Lock()
			st.trace = append(st.trace, fmt.Sprintf("%s%v = %v", hf.Name, params, wasi.Errno(stack[0])))
			st.mu.Unlock()
		}
	}
}

// --- the guest's memory: a dictionary of useful arguments -----------------

// dict is the initial memory of the guest: values the fuzz input picks by
// index. ptrs[i] and lens[i] go together (a string and its length, an
// iovec array and its count...), so picking the same index for a pointer
// and a length gives a well-formed argument.
type dict struct {
	mem  []byte
	ptrs []uint32
	lens []uint32
	// named are the indices of the entries that seeds use.
	named map[string]int
}

// name names the entry added last.
func (d *dict) name(n string) { d.named[n] = len(d.ptrs) - 1 }

func (d *dict) alloc(n int) uint32 {
	for len(d.mem)%8 != 0 {
		d.mem = append(d.mem, 0)
	}
	off := uint32(len(d.mem))
	d.mem = append(d.mem, make([]byte, n)...)
	return off
}

// add puts b in memory and registers (ptr, n).
func (d *dict) add(b []byte, n uint32) uint32 {
	off := d.alloc(len(b))
	copy(d.mem[off:], b)
	d.ptrs = append(d.ptrs, off)
	d.lens = append(d.lens, n)
	return off
}

func (d *dict) str(s string) uint32 { return d.add([]byte(s), uint32(len(s))) }

func le32(vs ...uint32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	return b
}

// sub is a poll_oneoff subscription.
func sub(userdata uint64, tag byte, fdOrClock uint32, timeout uint64, flags uint16) []byte {
	b := make([]byte, 48)
	binary.LittleEndian.PutUint64(b, userdata)
	b[8] = tag
	binary.LittleEndian.PutUint32(b[16:], fdOrClock)
	binary.LittleEndian.PutUint64(b[24:], timeout)
	binary.LittleEndian.PutUint16(b[40:], flags)
	return b
}

func buildDict() *dict {
	d := &dict{mem: make([]byte, 16), named: map[string]int{}} // 0..15 stay zero (NULL)
	for _, s := range []string{
		".", "", "f", "d", "d/f", "new", "d/new", "link", "escape", "escape/x",
		"..", "../outside/secret.txt", "../../outside", "/etc/passwd", "d/../..",
		"d/sub", "d/up", "d/sub/s", "d/sub/up", "../..", "s/../../../outside/secret.txt", "s", "a\x00b", strings.Repeat("a", 300), "d/./f/", "up",
		"localhost", "peer", "peer.default.svc.cluster.local", "example.com",
		"10.244.0.3", "::1", "80", "http", "8080",
	} {
		d.str(s)
		d.name(s)
	}
	// A path longer than NAME_MAX and one longer than the 4096 limit.
	d.str(strings.Repeat("b/", 200) + "c")
	d.str(strings.Repeat("x", 4097))

	scratch := d.add(make([]byte, 4096), 4096)
	d.name("scratch")
	scratch2 := d.add(make([]byte, 256), 256)
	// iovec arrays.
	d.add(le32(scratch, 16, scratch+16, 4080), 2)
	d.name("iov")
	d.add(le32(scratch, 0), 1)
	d.add(le32(fuzzMemSize-8, 16), 1)
	d.add(le32(0xffff0000, 0x20000), 1)
	d.add(le32(scratch2, 256, scratch2, 256, scratch2, 256), 3)
	// Address buffers {buf, len} of the socket extension.
	ip4 := func(a netip.Addr) uint32 { b := a.As4(); return d.add(b[:], 4) }
	lo := ip4(netip.MustParseAddr("127.0.0.1"))
	peer := ip4(peerIP)
	self := ip4(guestIP)
	ext := ip4(netip.MustParseAddr("192.0.2.1")) // TEST-NET-1: egress, must be refused
	any4 := ip4(netip.IPv4Unspecified())
	v6 := d.add(netip.IPv6Loopback().AsSlice(), 16)
	sa := make([]byte, 128)
	binary.LittleEndian.PutUint16(sa, 1)
	copy(sa[2:], peerIP.AsSlice())
	saAny := d.add(sa, 128)
	for i, ab := range [][2]uint32{{lo, 4}, {peer, 4}, {self, 4}, {ext, 4}, {any4, 4}, {v6, 16}, {saAny, 128}, {scratch2, 128}, {scratch2, 18}, {fuzzMemSize - 4, 16}, {peer, 5}} {
		d.add(le32(ab[0], ab[1]), 8)
		d.name([]string{"addr:lo", "addr:peer", "addr:self", "addr:ext", "addr:any", "addr:v6", "addr:sa", "addr:out", "addr:out18", "addr:end", "addr:bad"}[i])
	}
	// setsockopt values.
	d.add(le32(1), 4)
	d.add(le32(0xffffffff), 4)
	d.add(le32(1<<20), 4)
	// poll_oneoff subscriptions: clocks, stdio, the mounts, a socket fd.
	var subs []byte
	subs = append(subs, sub(1, 0, 1, uint64(time.Millisecond), 0)...)
	subs = append(subs, sub(2, 1, 0, 0, 0)...)
	subs = append(subs, sub(3, 2, 1, 0, 0)...)
	subs = append(subs, sub(4, 1, 6, 0, 0)...)
	subs = append(subs, sub(5, 2, 7, 0, 0)...)
	subs = append(subs, sub(6, 1, fdData, 0, 0)...)
	d.add(subs, 6)
	d.name("subs")
	d.add(sub(7, 0, 0, 0, 1), 1)                                  // realtime, absolute, in the past
	d.add(sub(8, 0, 1, 1<<63, 0), 1)                              // monotonic, far future
	d.add(sub(9, 1, 6, 0, 0), 1)                                  // read fd 6
	d.add(append(sub(10, 1, 0, 0, 0), sub(11, 9, 0, 0, 0)...), 2) // an unknown tag
	// addrinfo: hints, a result list of two entries and a cycle.
	hints := make([]byte, 28)
	hints[2], hints[3] = 1, 2
	d.add(hints, 28)
	d.name("hints")
	data1 := d.alloc(18)
	data2 := d.alloc(18)
	sa1 := d.alloc(16)
	copy(d.mem[sa1:], le32(0, 18, data1))
	sa2 := d.alloc(16)
	copy(d.mem[sa2:], le32(0, 18, data2))
	ai2 := d.alloc(28)
	copy(d.mem[ai2+12:], le32(sa2))
	ai1 := d.alloc(28)
	copy(d.mem[ai1+12:], le32(sa1, 0, 0, ai2))
	d.add(le32(ai1), 2) // res: a pointer to the first entry
	d.name("res")
	cyc := d.alloc(28)
	copy(d.mem[cyc+12:], le32(sa1, 0, 0, cyc))
	d.add(le32(cyc), 16)
	d.name("cycle")
	return d
}

// --- the generated guest -----------------------------------------------

// reader yields the fuzz input, then zeros.
type reader struct{ b []byte }

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u32() uint32 {
	return uint32(r.byte()) | uint32(r.byte())<<8 | uint32(r.byte())<<16 | uint32(r.byte())<<24
}

func (r *reader) u64() uint64 { return uint64(r.u32()) | uint64(r.u32())<<32 }

// arg draws one argument.
func (r *reader) arg(d *dict, i64 bool) uint64 {
	switch k := r.byte() % 11; k {
	case 0:
		return uint64(r.byte())
	case 1:
		return uint64(r.byte() % (fuzzMaxFDs + 2))
	case 2:
		return uint64(d.ptrs[int(r.byte())%len(d.ptrs)])
	case 3:
		return uint64(d.lens[int(r.byte())%len(d.lens)])
	case 4:
		if i64 {
			return r.u64()
		}
		return uint64(r.u32())
	case 5:
		return uint64(fuzzMemSize - uint32(r.byte()))
	case 6:
		return 0
	case 7:
		if i64 {
			return ^uint64(0) - uint64(r.byte())
		}
		return uint64(^uint32(0) - uint32(r.byte()))
	case 8:
		if i64 {
			return 1 << (r.byte() % 64)
		}
		return 1 << (r.byte() % 32)
	case 9: // a valid fd of the run: stdio, mounts, opened files, sockets
		return uint64(r.byte() % 9)
	default: // a small flag set
		return uint64(r.byte() % 32)
	}
}

type guestCall struct {
	fn   int
	args []uint64
}

// plan decodes the fuzz input into a memory patch and a call sequence.
func plan(in []byte, d *dict, funcs []wasi.HostFunc) (patchOff uint32, patch []byte, calls []guestCall) {
	r := &reader{b: in}
	n := int(r.byte() % 64)
	patchOff = uint32(r.byte())<<8 | uint32(r.byte())
	patchOff %= uint32(len(d.mem))
	for i := 0; i < n && len(r.b) > 0; i++ {
		patch = append(patch, r.byte())
	}
	for len(r.b) > 0 && len(calls) < fuzzMaxCalls {
		fi := int(r.byte()) % len(funcs)
		hf := funcs[fi]
		c := guestCall{fn: fi}
		for _, t := range hf.Params {
			c.args = append(c.args, r.arg(d, t == wasi.I64))
		}
		calls = append(calls, c)
	}
	return patchOff, patch, calls
}

func describe(calls []guestCall, funcs []wasi.HostFunc) string {
	var b strings.Builder
	for _, c := range calls {
		fmt.Fprintf(&b, "\n  %s%v", funcs[c.fn].Name, c.args)
	}
	return b.String()
}

// The wasm binary encoding, just what the generated guest needs.

func uleb(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func sleb(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func name(b []byte, s string) []byte { return append(uleb(b, uint64(len(s))), s...) }

func section(b []byte, id byte, content []byte) []byte {
	b = append(b, id)
	b = uleb(b, uint64(len(content)))
	return append(b, content...)
}

// assemble builds the guest: it imports every host function, has a memory
// of fuzzPages pages holding the dictionary (and the patch over it), and a
// _start that makes the calls and drops their results.
func assemble(funcs []wasi.HostFunc, mem []byte, patchOff uint32, patch []byte, calls []guestCall) []byte {
	type sig struct{ params, results string }
	var sigs []sig
	typeOf := map[sig]int{}
	typeIdx := func(s sig) int {
		if i, ok := typeOf[s]; ok {
			return i
		}
		typeOf[s] = len(sigs)
		sigs = append(sigs, s)
		return len(sigs) - 1
	}
	enc := func(ts []wasi.ValType) string {
		b := make([]byte, len(ts))
		for i, t := range ts {
			b[i] = byte(t)
		}
		return string(b)
	}
	imports := make([]int, len(funcs))
	for i, hf := range funcs {
		imports[i] = typeIdx(sig{enc(hf.Params), enc(hf.Results)})
	}
	start := typeIdx(sig{})

	out := []byte("\x00asm\x01\x00\x00\x00")
	var s []byte
	s = uleb(s, uint64(len(sigs)))
	for _, t := range sigs {
		s = append(s, 0x60)
		s = name(s, t.params)
		s = name(s, t.results)
	}
	out = section(out, 1, s)

	s = uleb(nil, uint64(len(funcs)))
	for i, hf := range funcs {
		s = name(s, wasi.ModuleName)
		s = name(s, hf.Name)
		s = append(s, 0x00)
		s = uleb(s, uint64(imports[i]))
	}
	out = section(out, 2, s)

	out = section(out, 3, uleb(uleb(nil, 1), uint64(start)))
	out = section(out, 5, []byte{1, 0x01, fuzzPages, fuzzPages})

	s = uleb(nil, 2)
	s = name(s, "_start")
	s = append(s, 0x00)
	s = uleb(s, uint64(len(funcs)))
	s = name(s, "memory")
	s = append(s, 0x02, 0)
	out = section(out, 7, s)

	body := []byte{0} // no locals
	for _, c := range calls {
		hf := funcs[c.fn]
		for i, t := range hf.Params {
			if t == wasi.I64 {
				body = append(body, 0x42)
				body = sleb(body, int64(c.args[i]))
			} else {
				body = append(body, 0x41)
				body = sleb(body, int64(int32(uint32(c.args[i]))))
			}
		}
		body = append(body, 0x10)
		body = uleb(body, uint64(c.fn))
		for range hf.Results {
			body = append(body, 0x1a) // drop
		}
	}
	body = append(body, 0x0b)
	s = uleb(nil, 1)
	s = uleb(s, uint64(len(body)))
	s = append(s, body...)
	out = section(out, 10, s)

	segs := [][2]any{{uint32(0), mem}}
	if len(patch) > 0 {
		segs = append(segs, [2]any{patchOff, patch})
	}
	s = uleb(nil, uint64(len(segs)))
	for _, seg := range segs {
		s = append(s, 0x00, 0x41)
		s = sleb(s, int64(int32(seg[0].(uint32))))
		s = append(s, 0x0b)
		data := seg[1].([]byte)
		s = uleb(s, uint64(len(data)))
		s = append(s, data...)
	}
	return section(out, 11, s)
}

// --- the host around a run ---------------------------------------------

// fixture is a run's directories: base/{data,ro,outside}, data and ro
// mounted.
type fixture struct {
	base, data, ro, outside string
}

func newFixture(tb testing.TB) fixture {
	base := tb.TempDir()
	fx := fixture{base: base, data: filepath.Join(base, "data"), ro: filepath.Join(base, "ro"), outside: filepath.Join(base, "outside")}
	for _, dir := range []string{fx.data, filepath.Join(fx.data, "d", "sub"), fx.ro, filepath.Join(fx.ro, "d"), fx.outside} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(fx.data, "f"):             "data file\n",
		filepath.Join(fx.data, "d", "f"):        "nested\n",
		filepath.Join(fx.ro, "f"):               "read-only\n",
		filepath.Join(fx.ro, "d", "f"):          "read-only nested\n",
		filepath.Join(fx.outside, "secret.txt"): "outside every mount\n",
	}
	for p, s := range files {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	// Host-made links that point out of the mounts.
	for _, l := range [][2]string{
		{"../outside/secret.txt", filepath.Join(fx.data, "escape")},
		{"../../outside", filepath.Join(fx.data, "d", "up")},
		{"f", filepath.Join(fx.data, "link")},
		{"../outside", filepath.Join(fx.ro, "up")},
	} {
		if err := os.Symlink(l[0], l[1]); err != nil {
			tb.Fatal(err)
		}
	}
	return fx
}

// fixtureLinks are the targets of the host-made links of newFixture that
// point out of the read-write mount.
var fixtureLinks = map[string]bool{"../outside/secret.txt": true, "../../outside": true}

// escapingLinks lists the symlinks under root, other than the fixture's,
// that lead outside root when resolved as the kernel does (a symlinked
// component followed by ".." climbs from where the link points).
func escapingLinks(root string) []string {
	var out []string
	filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		t, err := os.Readlink(p)
		if err != nil || fixtureLinks[t] {
			return nil
		}
		dir, _ := filepath.Rel(root, filepath.Dir(p))
		if resolvesOutside(root, dir+"/"+t) {
			out = append(out, fmt.Sprintf("%s -> %s", p, t))
		}
		return nil
	})
	return out
}

// resolvesOutside reports whether p (relative to root) climbs above root
// when resolved component by component, symlinks expanded in place.
func resolvesOutside(root, p string) bool {
	var out []string
	rest := strings.Split(p, "/")
	for links := 0; len(rest) > 0; {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(out) == 0 {
				return true
			}
			out = out[:len(out)-1]
			continue
		}
		cur := filepath.Join(append([]string{root}, append(out, c)...)...)
		fi, err := os.Lstat(cur)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			out = append(out, c)
			continue
		}
		if links++; links > 40 {
			return false // a loop: resolves nowhere
		}
		t, err := os.Readlink(cur)
		if err != nil {
			return false
		}
		if filepath.IsAbs(t) {
			return true
		}
		rest = append(strings.Split(t, "/"), rest...)
	}
	return false
}

// snapshot describes every entry under root except the subtree skip.
func snapshot(tb testing.TB, root, skip string) string {
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == skip {
			return filepath.SkipDir
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d %d", p, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			t, _ := os.Readlink(p)
			fmt.Fprintf(&b, " -> %s", t)
		case fi.Mode().IsRegular():
			c, _ := os.ReadFile(p)
			fmt.Fprintf(&b, " %q", c)
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return b.String()
}

// watcher reports every inotify event under dirs (not recursive: each dir
// listed is watched).
type watcher struct {
	fd    int
	names map[int32]string
}

const watchMask = syscall.IN_ACCESS | syscall.IN_MODIFY | syscall.IN_ATTRIB | syscall.IN_OPEN |
	syscall.IN_CREATE | syscall.IN_DELETE | syscall.IN_MOVED_FROM | syscall.IN_MOVED_TO |
	syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF | syscall.IN_CLOSE_WRITE

func newWatcher(tb testing.TB, dirs ...string) *watcher {
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		tb.Fatal(err)
	}
	w := &watcher{fd: fd, names: map[int32]string{}}
	for _, d := range dirs {
		wd, err := syscall.InotifyAddWatch(fd, d, watchMask)
		if err != nil {
			syscall.Close(fd)
			tb.Fatal(err)
		}
		w.names[int32(wd)] = d
	}
	return w
}

type event struct {
	dir, name string
	mask      uint32
}

// drain returns the events so far and closes the watcher.
func (w *watcher) drain() []event {
	defer syscall.Close(w.fd)
	var evs []event
	buf := make([]byte, 64<<10)
	for {
		n, err := syscall.Read(w.fd, buf)
		if n <= 0 || err != nil {
			return evs
		}
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameBytes := buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+int(ev.Len)]
			evs = append(evs, event{dir: w.names[ev.Wd], name: string(bytes.TrimRight(nameBytes, "\x00")), mask: ev.Mask})
			off += syscall.SizeofInotifyEvent + int(ev.Len)
		}
	}
}

// limitedWriter keeps at most 64 KiB and discards the rest.
type limitedWriter struct {
	mu sync.Mutex
	n  int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.n += len(p)
	w.mu.Unlock()
	return len(p), nil
}

// egressGuard counts every attempt to reach outside the machine.
type egressGuard struct{ attempts atomic.Int32 }

func (g *egressGuard) config() network.Config {
	refuse := errors.New("fuzz: egress attempted")
	return network.Config{
		DenyEgress: true,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			g.attempts.Add(1)
			return nil, refuse
		},
		ListenPacket: func(context.Context, string, string) (net.PacketConn, error) {
			g.attempts.Add(1)
			return nil, refuse
		},
		Resolver: &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
			g.attempts.Add(1)
			return nil, refuse
		}},
	}
}

// runGuest runs one generated guest against a fresh fixture and network
// and returns the host's invariants it broke.
func (h *fuzzHost) runGuest(t *testing.T, wasm []byte) []string {
	ctx := context.Background()
	fx := newFixture(t)

	var eg egressGuard
	nw := network.New(eg.config())
	defer nw.Close()
	pn, err := nw.AddPod(network.PodInfo{Namespace: "default", Name: "guest", Hostname: "guest", IP: guestIP})
	if err != nil {
		t.Fatal(err)
	}
	peer, err := nw.AddPod(network.PodInfo{Namespace: "default", Name: "peer", Hostname: "peer", IP: peerIP})
	if err != nil {
		t.Fatal(err)
	}
	// The peer listens on TCP 80 and 8080 and UDP 80, so connects and sends
	// from the guest reach something.
	for _, l := range []struct {
		typ  network.SockType
		port uint16
	}{{network.Stream, 80}, {network.Stream, 8080}, {network.Datagram, 80}} {
		s, err := peer.Socket(syscall.AF_INET, l.typ)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Bind(netip.AddrPortFrom(peerIP, l.port)); err != nil {
			t.Fatal(err)
		}
		if l.typ == network.Stream {
			if err := s.Listen(4); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The read-write mount has a size quota (as an emptyDir with a
	// sizeLimit), the read-only one is mounted from an opened handle (as a
	// subPath is), and host fds come from a small budget.
	quota, err := wasi.NewQuota("fuzz volume", fuzzQuota, fx.data)
	if err != nil {
		t.Fatal(err)
	}
	roRoot, err := os.OpenRoot(fx.ro)
	if err != nil {
		t.Fatal(err)
	}
	defer roRoot.Close()
	fds := wasiruntime.NewBudget("fuzz host fds", fuzzHostFDs)

	compiled, err := h.rt.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatalf("generated guest does not compile: %v", err)
	}
	defer compiled.Close(ctx)

	// Two containers of the pod run the guest at once: they share the
	// mounts, the quota, the fd budget and the pod network.
	type container struct {
		sys *wasi.System
		mod api.Module
		st  *runState
	}
	var ctrs []*container
	defer func() {
		for _, c := range ctrs {
			c.mod.Close(ctx)
			c.sys.Close()
		}
	}()
	for i := 0; i < fuzzContainers; i++ {
		stdin := wasi.NewPipe()
		sys, err := wasi.New(wasi.Config{
			Args:   []string{"fuzz", "arg"},
			Env:    []string{"A=1", "HOSTNAME=guest"},
			Mounts: []wasi.Mount{{HostPath: fx.data, GuestPath: "/data", Quota: quota}, {HostPath: fx.ro, GuestPath: "/ro", ReadOnly: true, Root: roRoot}},
			Stdin:  stdin,
			Stdout: &limitedWriter{}, Stderr: &limitedWriter{},
			MaxFDs:   fuzzMaxFDs,
			FDBudget: fds,
			Net:      pn,
		})
		if err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = stdin.HostWrite([]byte("stdin data\n")) }()
		mod, err := h.rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
		if err != nil {
			sys.Close()
			t.Fatalf("instantiate: %v", err)
		}
		ctrs = append(ctrs, &container{sys: sys, mod: mod, st: &runState{sys: sys, fx: fx}})
	}

	before := snapshot(t, fx.base, fx.data)
	w := newWatcher(t, fx.base, fx.outside, fx.ro, filepath.Join(fx.ro, "d"))

	st := &runState{fx: fx} // the run's own problems
	done := make(chan error, len(ctrs))
	for _, c := range ctrs {
		runCtx, cancel := context.WithTimeout(context.WithValue(ctx, runKey{}, c.st), runBudget+hangBound)
		defer cancel()
		kill := time.AfterFunc(runBudget, c.sys.Kill)
		defer kill.Stop()
		go func() {
			_, err := c.mod.ExportedFunction("_start").Call(runCtx)
			done <- err
		}()
	}
	hang := time.After(runBudget + hangBound)
	for range ctrs {
		var runErr error
		select {
		case runErr = <-done:
		case <-hang:
			w.drain()
			return []string{fmt.Sprintf("a guest did not end within %v of its kill", hangBound)}
		}
		var exit *wsys.ExitError
		if runErr != nil && !errors.As(runErr, &exit) {
			st.problem("a guest ended with %v", runErr)
		}
	}
	events := w.drain()
	if n := eg.attempts.Load(); n != 0 {
		st.problem("%d attempts to reach outside the machine", n)
	}
	for _, ev := range events {
		if ev.dir == fx.base && (ev.name == "data" || ev.name == "ro") && ev.mask&(syscall.IN_OPEN|syscall.IN_ACCESS|syscall.IN_CLOSE_NOWRITE) != 0 {
			continue // the mounts themselves are opened
		}
		if ev.dir == fx.base && ev.name == "data" && ev.mask&(syscall.IN_CREATE|syscall.IN_DELETE|syscall.IN_MOVED_FROM|syscall.IN_MOVED_TO) == 0 {
			continue // the read-write mount's own metadata (times: IN_ATTRIB, IN_MODIFY, IN_ACCESS)
		}
		if ev.dir == fx.ro && ev.mask&^(syscall.IN_OPEN|syscall.IN_ACCESS|syscall.IN_ISDIR) == 0 && ev.name != "up" {
			continue // reading the read-only mount is fine
		}
		if ev.dir == filepath.Join(fx.ro, "d") && ev.mask&^(syscall.IN_OPEN|syscall.IN_ACCESS|syscall.IN_ISDIR) == 0 {
			continue
		}
		st.problem("host file event outside the read-write mount: %s/%s mask %#x", ev.dir, ev.name, ev.mask)
	}
	if after := snapshot(t, fx.base, fx.data); after != before {
		st.problem("files outside the read-write mount changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// No symlink the guests made points outside the read-write mount, as
	// the kernel resolves it (a host process may follow it).
	for _, l := range escapingLinks(fx.data) {
		st.problem("a symlink in the read-write mount leads outside it: %s", l)
	}
	// With every fd closed, the budgets are whole again and the quota's
	// count is the volume's real usage, within its limit.
	for _, c := range ctrs {
		c.mod.Close(ctx)
		c.sys.Close()
		st.problems = append(st.problems, c.st.problems...)
		st.trace = append(st.trace, c.st.trace...)
	}
	ctrs = nil
	if n := fds.Used(); n != 0 {
		st.problem("%d host fds still charged to the budget after Close", n)
	}
	real, err := wasi.MeasureDir(fx.data)
	if err != nil {
		t.Fatal(err)
	}
	if used := quota.Used(); used != real {
		st.problem("the volume quota counts %d bytes, the volume holds %d", used, real)
	}
	if real > fuzzQuota {
		st.problem("the volume holds %d bytes, over its quota of %d", real, fuzzQuota)
	}
	for _, l := range st.trace {
		t.Log(l)
	}
	return st.problems
}

func FuzzHostCalls(f *testing.F) {
	h := newFuzzHost(f, nil)
	d := buildDict()
	for _, seed := range fuzzSeeds(d, h.funcs) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		off, patch, calls := plan(in, d, h.funcs)
		wasm := assemble(h.funcs, d.mem, off, patch, calls)
		if problems := h.runGuest(t, wasm); len(problems) > 0 {
			t.Fatalf("%s\ncalls:%s", strings.Join(problems, "\n"), describe(calls, h.funcs))
		}
	})
}

// seedCall encodes a call to the function name with arguments given as
// (kind, value bytes...) groups of reader.arg.
func seedCall(funcs []wasi.HostFunc, fn string, args ...[]byte) []byte {
	for i, hf := range funcs {
		if hf.Name == fn {
			out := []byte{byte(i)}
			for _, a := range args {
				out = append(out, a...)
			}
			return out
		}
	}
	panic("no host function " + fn)
}

// Argument encodings for seeds (see reader.arg).
func small(v byte) []byte { return []byte{0, v} }
func fdArg(v byte) []byte { return []byte{1, v} }
func ptr(i int) []byte    { return []byte{2, byte(i)} }
func ln(i int) []byte     { return []byte{3, byte(i)} }
func zero() []byte        { return []byte{6} }
func raw32(v uint32) []byte {
	return []byte{4, byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
}
func raw64(v uint64) []byte {
	b := []byte{4}
	for i := 0; i < 8; i++ {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// fuzzSeeds are hand-made call sequences that reach deep into each group
// of functions: files, directories, links, polling, sockets, DNS.
func fuzzSeeds(d *dict, funcs []wasi.HostFunc) [][]byte {
	idx := func(s string) int {
		i, ok := d.named[s]
		if !ok {
			panic("not in the dictionary: " + s)
		}
		return i
	}
	scratch, iov := idx("scratch"), idx("iov")
	path := func(s string) [][]byte { return [][]byte{ptr(idx(s)), ln(idx(s))} }
	call := func(fn string, args ...[]byte) []byte { return seedCall(funcs, fn, args...) }
	cat := func(parts ...[]byte) []byte {
		out := []byte{0, 0, 0} // no patch
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	join := func(a ...[][]byte) [][]byte {
		var out [][]byte
		for _, x := range a {
			out = append(out, x...)
		}
		return out
	}
	open := func(dirfd byte, p string, oflags byte, rights uint64) []byte {
		args := join([][]byte{fdArg(dirfd), small(1)}, path(p), [][]byte{small(oflags), raw64(rights), raw64(rights), small(0), ptr(scratch)})
		return call("path_open", args...)
	}
	return [][]byte{
		cat(open(fdData, "f", 0, 1<<30-1), call("fd_read", fdArg(6), ptr(iov), ln(iov), ptr(scratch)),
			call("fd_write", fdArg(6), ptr(iov), ln(iov), ptr(scratch)), call("fd_seek", fdArg(6), raw64(1<<62), small(2), ptr(scratch))),
		cat(open(fdData, "escape", 0, 1<<30-1), open(fdData, "d/up", 2, 0), open(fdRO, "up", 2, 0),
			call("path_filestat_get", append([][]byte{fdArg(fdData), small(1)}, append(path("escape"), ptr(scratch))...)...)),
		cat(call("path_symlink", append(path("../outside/secret.txt"), append([][]byte{fdArg(fdData)}, path("new")...)...)...),
			call("path_rename", join([][]byte{fdArg(fdData)}, path("link"), [][]byte{fdArg(fdData)}, path("d/new"))...),
			call("path_link", join([][]byte{fdArg(fdData), small(0)}, path("f"), [][]byte{fdArg(fdData)}, path("up"))...)),
		cat(call("fd_readdir", fdArg(fdData), ptr(scratch), ln(scratch), zero(), ptr(scratch)),
			call("fd_filestat_set_size", fdArg(fdRO), raw64(1<<40)), call("path_create_directory", append([]([]byte){fdArg(fdRO)}, path("new")...)...)),
		cat(call("poll_oneoff", ptr(idx("subs")), ptr(scratch), ln(idx("subs")), ptr(scratch))),
		cat(call("sock_open", small(1), small(2), ptr(scratch)), call("sock_connect", fdArg(6), ptr(idx("addr:peer")), small(80)),
			call("sock_send", fdArg(6), ptr(iov), ln(iov), small(0), ptr(scratch)),
			call("sock_recv", fdArg(6), ptr(iov), ln(iov), small(0), ptr(scratch), ptr(scratch))),
		cat(call("sock_open", small(1), small(1), ptr(scratch)), call("sock_send_to", fdArg(6), ptr(iov), ln(iov), ptr(idx("addr:ext")), small(53), small(0), ptr(scratch)),
			call("sock_recv_from", fdArg(6), ptr(iov), ln(iov), ptr(idx("addr:out")), small(0), ptr(scratch), ptr(scratch), ptr(scratch))),
		cat(call("sock_getaddrinfo", ptr(idx("peer")), ln(idx("peer")), ptr(idx("http")), ln(idx("http")), ptr(idx("hints")), ptr(idx("res")), small(4), ptr(scratch)),
			call("sock_getaddrinfo", ptr(idx("example.com")), ln(idx("example.com")), zero(), zero(), zero(), ptr(idx("cycle")), small(255), ptr(scratch))),
		cat(call("sock_open", small(1), small(2), ptr(scratch)), call("sock_bind", fdArg(6), ptr(idx("addr:lo")), small(9)),
			call("sock_listen", fdArg(6), small(1)), call("sock_accept", fdArg(6), small(0), ptr(scratch))),
		cat(call("fd_read", fdArg(0), ptr(iov), ln(iov), ptr(scratch)), call("fd_read", fdArg(0), ptr(iov), ln(iov), ptr(scratch))),
		cat(call("args_get", ptr(scratch), ptr(scratch+1)), call("environ_get", []byte{5, 4}, ptr(scratch)),
			call("random_get", []byte{5, 8}, small(16)), call("fd_prestat_dir_name", fdArg(3), []byte{5, 2}, small(5))),
		// The quota: a new file written past the limit, grown sparse,
		// unlinked while open, then closed.
		cat(open(fdData, "new", 1, 1<<30-1), call("fd_pwrite", fdArg(6), ptr(iov), ln(iov), raw64(1<<20), ptr(scratch)),
			call("fd_filestat_set_size", fdArg(6), raw64(1<<17)), call("fd_allocate", fdArg(6), raw64(0), raw64(1<<19)),
			call("path_unlink_file", append([][]byte{fdArg(fdData)}, path("new")...)...),
			call("fd_write", fdArg(6), ptr(iov), ln(iov), ptr(scratch)), call("fd_close", fdArg(6))),
		// The fd budget: directories (two host fds each) until it refuses.
		cat(open(fdData, "d", 2, 0), open(fdData, "d", 2, 0), open(fdData, "d", 2, 0), open(fdData, "d", 2, 0),
			open(fdData, "d", 2, 0), open(fdData, "f", 0, 1<<30-1), call("fd_renumber", fdArg(6), fdArg(7)), call("fd_close", fdArg(8))),
		// A symlinked directory followed by "..": the link must not lead out.
		cat(call("path_symlink", join(path("../.."), [][]byte{fdArg(fdData)}, path("d/sub/s"))...),
			call("path_symlink", join(path("s/../../../outside/secret.txt"), [][]byte{fdArg(fdData)}, path("d/up"))...),
			call("path_rename", join([][]byte{fdArg(fdData)}, path("d/sub"), [][]byte{fdArg(fdData)}, path("new"))...)),
	}
}

// TestHostCallsHarnessCatches checks that FuzzHostCalls's checks fire: a
// guest calls a deliberately broken host function (sock_listen replaced)
// that panics, returns a non-errno, reads the file outside the mounts,
// writes beside the mounts, changes the read-only mount or plants a
// symlink leading out of the read-write mount, as its first
// argument says; each must be reported, and a harmless call must not.
func TestHostCallsHarnessCatches(t *testing.T) {
	evil := wasi.HostFunc{Name: "sock_listen", Params: []wasi.ValType{wasi.I32, wasi.I32}, Results: []wasi.ValType{wasi.I32},
		Fn: func(ctx context.Context, c *wasi.Call) {
			fx := ctx.Value(runKey{}).(*runState).fx
			switch c.U32(0) {
			case 1:
				var m map[string]int
				m["x"]++ // a nil map write: a real runtime panic
			case 2:
				c.Results[0] = 1000
				return
			case 3:
				os.ReadFile(filepath.Join(fx.outside, "secret.txt"))
			case 4:
				os.WriteFile(filepath.Join(fx.base, "planted"), nil, 0o644)
			case 5:
				os.Chmod(filepath.Join(fx.ro, "f"), 0o600)
			case 6:
				os.Symlink("../../x", filepath.Join(fx.data, "d", "evil"))
			}
			c.SetErrno(0)
		}}
	h := newFuzzHost(t, wasi.UnguardedFunctions(append(wasisock.Functions(), evil)...))
	d := buildDict()
	fi := -1
	for i, f := range h.funcs {
		if f.Name == "sock_listen" {
			fi = i
		}
	}
	for mode, want := range map[uint64]string{
		0: "",
		1: "host panic in sock_listen",
		2: "not a WASI errno",
		3: "secret.txt",
		4: "planted",
		5: "changed",
		6: "leads outside",
	} {
		wasm := assemble(h.funcs, d.mem, 0, nil, []guestCall{{fn: fi, args: []uint64{mode, 0}}})
		problems := strings.Join(h.runGuest(t, wasm), "\n")
		switch {
		case want == "" && problems != "":
			t.Errorf("mode %d (harmless): reported %s", mode, problems)
		case want != "" && !strings.Contains(problems, want):
			t.Errorf("mode %d: want a report containing %q, got %q", mode, want, problems)
		}
	}
}
