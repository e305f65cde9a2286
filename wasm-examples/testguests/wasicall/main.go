//go:build wasip1

// Command wasicall runs a script of raw WASI preview-1 calls, read from
// stdin, and prints one line per call: the errno ("OK" or its name, e.g.
// "ENOENT") and, on success, the call's outputs as key=value pairs. It is
// the guest of runtime/enginetest's WASI conformance table
// (runtime/wasi/conformance).
//
// A script line is
//
//	[$var =] call arg...
//
// Arguments are integers (decimal or 0x hex, possibly negative),
// symbolic constants joined by "|" (CREAT|EXCL, FD_READ|FD_WRITE, ALL,
// SET, FOLLOW...; see constants) with "&~" before bits to clear, $var or $var.field (a value bound by an
// earlier line: $var is the call's fd or main result, fields are its
// outputs), @/guest/path (the preopened fd whose fd_prestat_dir_name is
// that path) and "quoted strings" (Go syntax). Lines that are empty or
// start with # are skipped. A malformed line ends the guest with exit
// code 2 and a message on stderr.
//
// The guest's own runtime uses fds 0-2 and reads the preopens (3...) only
// through fd_prestat_get at start-up; the script is read from stdin before
// the first call runs.
package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

type kv struct {
	k string
	v string
}

// result is one call's errno, its printed outputs and its bound value.
type result struct {
	errno  uint32
	out    []kv
	value  int64
	fields map[string]int64
}

func (r *result) add(k string, v any) { r.out = append(r.out, kv{k, fmt.Sprint(v)}) }

func (r *result) field(k string, v int64) {
	if r.fields == nil {
		r.fields = map[string]int64{}
	}
	r.fields[k] = v
}

type command struct {
	args string // one letter per argument: i integer, s string
	run  func(a []arg) result
}

type arg struct {
	i int64
	s string
}

func (a arg) fd() int32   { return int32(a.i) }
func (a arg) u32() uint32 { return uint32(a.i) }
func (a arg) u64() uint64 { return uint64(a.i) }

var (
	vars     = map[string]int64{}
	preopens = map[string]int32{}
	out      = bufio.NewWriter(os.Stdout)
)

func main() {
	script, err := io.ReadAll(os.Stdin)
	if err != nil {
		die("read script: %v", err)
	}
	findPreopens()
	for n, line := range strings.Split(string(script), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		runLine(n+1, line)
	}
	out.Flush()
}

func die(format string, a ...any) {
	out.Flush()
	fmt.Fprintf(os.Stderr, "wasicall: "+format+"\n", a...)
	os.Exit(2)
}

// findPreopens names the preopened fds: fd_prestat_get from 3 on until
// EBADF.
func findPreopens() {
	for fd := int32(3); ; fd++ {
		var st [8]byte
		if fdPrestatGet(fd, ptr(&st[0])) != 0 {
			return
		}
		n := binary.LittleEndian.Uint32(st[4:])
		name := make([]byte, n+1)
		if fdPrestatDirName(fd, ptr(&name[0]), n) != 0 {
			die("fd_prestat_dir_name %d failed", fd)
		}
		preopens[string(name[:n])] = fd
	}
}

func runLine(n int, line string) {
	toks, err := tokens(line)
	if err != nil {
		die("line %d: %v", n, err)
	}
	bind := ""
	if len(toks) >= 2 && strings.HasPrefix(toks[0], "$") && toks[1] == "=" {
		bind, toks = toks[0], toks[2:]
	}
	if len(toks) == 0 {
		die("line %d: no call", n)
	}
	name := toks[0]
	cmd, ok := commands[name]
	if !ok {
		die("line %d: unknown call %q", n, name)
	}
	toks = toks[1:]
	if len(toks) != len(cmd.args) {
		die("line %d: %s takes %d arguments, got %d", n, name, len(cmd.args), len(toks))
	}
	args := make([]arg, len(toks))
	for i, t := range toks {
		if cmd.args[i] == 's' {
			args[i].s = str(n, t)
		} else {
			args[i].i = integer(n, t)
		}
	}
	r := cmd.run(args)
	var b strings.Builder
	b.WriteString(errnoName(r.errno))
	if r.errno == 0 {
		for _, o := range r.out {
			fmt.Fprintf(&b, " %s=%s", o.k, o.v)
		}
		if bind != "" {
			vars[bind] = r.value
			for k, v := range r.fields {
				vars[bind+"."+k] = v
			}
		}
	}
	fmt.Fprintln(out, b.String())
	out.Flush()
}

// tokens splits a line at spaces, keeping quoted strings whole (quotes
// included).
func tokens(line string) ([]string, error) {
	var toks []string
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimSpace(line) {
		if line[0] == '"' {
			q, err := strconv.QuotedPrefix(line)
			if err != nil {
				return nil, fmt.Errorf("bad string at %q", line)
			}
			toks = append(toks, q)
			line = line[len(q):]
			continue
		}
		i := strings.IndexAny(line, " \t")
		if i < 0 {
			i = len(line)
		}
		toks = append(toks, line[:i])
		line = line[i:]
	}
	return toks, nil
}

func str(n int, t string) string {
	if strings.HasPrefix(t, `"`) {
		s, err := strconv.Unquote(t)
		if err != nil {
			die("line %d: bad string %s", n, t)
		}
		return s
	}
	return t
}

// integer evaluates an integer argument: terms joined by "|", then
// optionally "&~" and terms to clear (DIR_INHERITING&~FD_READ|FD_WRITE).
func integer(n int, t string) int64 {
	set, clear, ok := strings.Cut(t, "&~")
	if ok {
		return integer(n, set) &^ integer(n, clear)
	}
	var v int64
	for _, part := range strings.Split(t, "|") {
		switch {
		case strings.HasPrefix(part, "$"):
			x, ok := vars[part]
			if !ok {
				die("line %d: %s is not bound", n, part)
			}
			v |= x
		case strings.HasPrefix(part, "@"):
			fd, ok := preopens[part[1:]]
			if !ok {
				die("line %d: no preopen %s (have %v)", n, part[1:], preopens)
			}
			v |= int64(fd)
		default:
			if c, ok := constants[part]; ok {
				v |= c
				continue
			}
			x, err := strconv.ParseInt(part, 0, 64)
			if err != nil {
				u, uerr := strconv.ParseUint(part, 0, 64)
				if uerr != nil {
					die("line %d: bad integer %q", n, part)
				}
				x = int64(u)
			}
			v |= x
		}
	}
	return v
}

// buf returns a pointer to b's data, or to a byte when b is empty (a
// valid address with length 0).
func buf(b []byte) ptr {
	if len(b) == 0 {
		var z [1]byte
		return ptr(&z[0])
	}
	return ptr(unsafe.SliceData(b))
}

// iovec is one (c)iovec over b.
func iovec(b []byte) *[2]uint32 {
	return &[2]uint32{uint32(uintptr(buf(b))), uint32(len(b))}
}

func quote(b []byte) string { return strconv.Quote(string(b)) }

func errOnly(e uint32) result { return result{errno: e} }

// filestat prints a filestat: type, size and nlink, and binds every field.
func filestat(e uint32, st []byte) result {
	r := result{errno: e}
	if e != 0 {
		return r
	}
	le := binary.LittleEndian
	r.add("type", filetypeName(st[16]))
	r.add("size", le.Uint64(st[32:]))
	r.add("nlink", le.Uint64(st[24:]))
	r.field("dev", int64(le.Uint64(st[0:])))
	r.field("ino", int64(le.Uint64(st[8:])))
	r.field("size", int64(le.Uint64(st[32:])))
	r.field("atim", int64(le.Uint64(st[40:])))
	r.field("mtim", int64(le.Uint64(st[48:])))
	r.field("ctim", int64(le.Uint64(st[56:])))
	r.value = int64(le.Uint64(st[8:]))
	return r
}

// readdir decodes a fd_readdir buffer: entries sorted by name with their
// types, the cookies in buffer order, and whether the last entry is cut.
func readdir(b []byte) result {
	var r result
	var ents []string
	var cookies []string
	le := binary.LittleEndian
	cut := false
	for i := 0; len(b) > 0; i++ {
		if len(b) < 24 {
			cut = true
			break
		}
		next, ino, n, typ := le.Uint64(b), le.Uint64(b[8:]), le.Uint32(b[16:]), b[20]
		b = b[24:]
		cookies = append(cookies, strconv.FormatUint(next, 10))
		if uint32(len(b)) < n {
			cut = true
			ents = append(ents, fmt.Sprintf("%s~:%s", b, filetypeName(typ)))
			break
		}
		name := string(b[:n])
		b = b[n:]
		ents = append(ents, name+":"+filetypeName(typ))
		r.field("ino."+name, int64(ino))
		r.field("cookie."+name, int64(next))
	}
	slices.SortFunc(ents, func(a, b string) int {
		an, _, _ := strings.Cut(a, ":")
		bn, _, _ := strings.Cut(b, ":")
		return strings.Compare(an, bn)
	})
	r.add("n", len(cookies))
	r.add("ents", strings.Join(ents, ","))
	r.add("cookies", strings.Join(cookies, ","))
	if cut {
		r.add("cut", true)
	}
	return r
}

func strList(count, size uint32, get func(ptrs, data ptr) uint32) result {
	ptrs := make([]uint32, count+1)
	data := make([]byte, size+1)
	e := get(ptr(&ptrs[0]), ptr(&data[0]))
	r := result{errno: e}
	if e != 0 {
		return r
	}
	base := uint32(uintptr(ptr(&data[0])))
	var list []string
	for _, p := range ptrs[:count] {
		s := data[p-base:]
		if i := slices.Index(s, 0); i >= 0 {
			s = s[:i]
		}
		list = append(list, strconv.Quote(string(s)))
	}
	r.add("list", "["+strings.Join(list, ",")+"]")
	return r
}

func sizes(get func(count, size ptr) uint32) (uint32, uint32, uint32) {
	var count, size uint32
	e := get(ptr(&count), ptr(&size))
	return e, count, size
}
