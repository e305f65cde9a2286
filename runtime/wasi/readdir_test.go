package wasi

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// listed is one entry fd_readdir returned.
type listed struct {
	next uint64
	ino  uint64
	typ  Filetype
	name string
}

// callFunc calls a WASI function by name.
type callFunc func(name string, params ...uint64) Errno

// listDir reads directory fd from cookie to the end as wasi-libc's readdir
// does: a buffer of bufLen bytes, resuming from the cookie of the last
// whole entry; a buffer not filled is the end.
func listDir(tb testing.TB, call callFunc, m mem, fd uint32, bufLen uint32, cookie uint64) []listed {
	tb.Helper()
	const bufOff, usedOff = 8192, 100
	var out []listed
	for {
		if e := call("fd_readdir", uint64(fd), bufOff, uint64(bufLen), cookie, usedOff); e != 0 {
			tb.Fatalf("fd_readdir(cookie %d): %v", cookie, e)
		}
		used := binary.LittleEndian.Uint32(m[usedOff:])
		if used > bufLen {
			tb.Fatalf("fd_readdir used %d of a %d-byte buffer", used, bufLen)
		}
		b := m[bufOff : bufOff+used]
		whole := 0
		for len(b) >= 24 {
			n := binary.LittleEndian.Uint32(b[16:])
			if uint32(len(b)) < 24+n {
				break
			}
			ent := listed{next: binary.LittleEndian.Uint64(b), ino: binary.LittleEndian.Uint64(b[8:]),
				typ: Filetype(b[20]), name: string(b[24 : 24+n])}
			out = append(out, ent)
			cookie = ent.next
			b = b[24+n:]
			whole++
		}
		if used < bufLen {
			if len(b) != 0 {
				tb.Fatalf("fd_readdir: a short buffer (%d of %d) ends with a cut entry", used, bufLen)
			}
			return out
		}
		if whole == 0 {
			tb.Fatalf("fd_readdir: a %d-byte buffer holds no whole entry", bufLen)
		}
	}
}

func (g *guest) callFunc() callFunc {
	return func(name string, params ...uint64) Errno { return g.call(name, params...) }
}

// makeFiles creates n empty files in dir, with names of varied lengths.
func makeFiles(tb testing.TB, dir string, n int) {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		name := fmt.Sprintf("f%05d-%s", i, strings.Repeat("x", i%37))
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// checkListing checks a whole listing of dir: "." and ".." first, cookies
// in sequence, every entry once with the inode and type lstat reports.
func checkListing(t *testing.T, dir string, got []listed) {
	t.Helper()
	if len(got) < 2 || got[0].name != "." || got[1].name != ".." ||
		got[0].typ != FiletypeDirectory || got[1].typ != FiletypeDirectory {
		t.Fatalf("listing does not start with . and ..: %v", got[:min(len(got), 2)])
	}
	for i, ent := range got {
		if ent.next != uint64(i)+1 {
			t.Fatalf("entry %d (%q) has d_next %d, want %d", i, ent.name, ent.next, i+1)
		}
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want, names []string
	for _, de := range des {
		want = append(want, de.Name())
	}
	for _, ent := range got[2:] {
		names = append(names, ent.name)
		fi, err := os.Lstat(filepath.Join(dir, ent.name))
		if err != nil {
			t.Fatalf("listed %q: %v", ent.name, err)
		}
		st := statOf(fi)
		if ent.ino != st.Ino || ent.typ != st.Filetype {
			t.Errorf("%q: ino %d type %d, lstat says ino %d type %d", ent.name, ent.ino, ent.typ, st.Ino, st.Filetype)
		}
	}
	sort.Strings(names)
	if !slices.Equal(names, want) {
		t.Fatalf("listed %d names, the directory has %d (lost or duplicated entries)", len(names), len(want))
	}
}

// TestReaddirCookies: listings spanning many batches, with buffers that cut
// entries, resumed from cookies before, in and after the current batch,
// rewound with cookie 0 and fd_seek, are whole and in one order.
func TestReaddirCookies(t *testing.T) {
	mount := t.TempDir()
	dir := filepath.Join(mount, "d")
	makeFiles(t, dir, 3000)
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub", filepath.Join(dir, "ln")); err != nil {
		t.Fatal(err)
	}
	g := newGuest(t, Config{Mounts: []Mount{{HostPath: mount, GuestPath: "/"}}})
	fd, e := g.open(3, "d", oflagDirectory, rightFdRead)
	if e != 0 {
		t.Fatal(e)
	}
	full := listDir(t, g.callFunc(), g.m, fd, 100, 0)
	checkListing(t, dir, full)
	for _, bufLen := range []uint32{24 + 64, 24 + 64 + 23, 4096, 50000} {
		if got := listDir(t, g.callFunc(), g.m, fd, bufLen, 0); !slices.Equal(got, full) {
			t.Errorf("a %d-byte buffer lists %d entries, a 100-byte one %d, or another order", bufLen, len(got), len(full))
		}
	}
	// Resume from cookies before the window (a re-read), in it, past it.
	for _, c := range []uint64{2, 1500, 1, 2999, 3000, 1501, 700, uint64(len(full)) - 1} {
		if got := listDir(t, g.callFunc(), g.m, fd, 4096, c); !slices.Equal(got, full[c:]) {
			t.Errorf("from cookie %d: %d entries, want %d", c, len(got), len(full)-int(c))
		}
	}
	for _, c := range []uint64{uint64(len(full)), 1 << 40} {
		if got := listDir(t, g.callFunc(), g.m, fd, 4096, c); len(got) != 0 {
			t.Errorf("from cookie %d (the end): %d entries", c, len(got))
		}
	}
	// A directory has no position (EBADF, as wasmtime: issue 10); cookie 0
	// rewinds it.
	if e := g.call("fd_seek", uint64(fd), 0, uint64(io.SeekStart), 200); e != EBADF {
		t.Fatalf("fd_seek a directory to 0: %v, want EBADF", e)
	}
	if got := listDir(t, g.callFunc(), g.m, fd, 4096, 0); !slices.Equal(got, full) {
		t.Errorf("from cookie 0 again: %d entries, want %d", len(got), len(full))
	}
	// The mount's own fd and a read-only one list too.
	checkListing(t, mount, listDir(t, g.callFunc(), g.m, 3, 4096, 0))
}

// TestReaddirRewindSeesChanges: cookie 0 is rewinddir, which re-reads the
// directory (fd_readdir.rs): an entry made after a listing reached the
// end shows up in the next listing from cookie 0, and a removed one goes.
func TestReaddirRewindSeesChanges(t *testing.T) {
	mount := t.TempDir()
	dir := filepath.Join(mount, "d")
	makeFiles(t, dir, 2)
	g := newGuest(t, Config{Mounts: []Mount{{HostPath: mount, GuestPath: "/"}}})
	fd, e := g.open(3, "d", oflagDirectory, rightFdRead)
	if e != 0 {
		t.Fatal(e)
	}
	checkListing(t, dir, listDir(t, g.callFunc(), g.m, fd, 4096, 0))
	if err := os.WriteFile(filepath.Join(dir, "new"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	checkListing(t, dir, listDir(t, g.callFunc(), g.m, fd, 4096, 0))
	if err := os.Remove(filepath.Join(dir, "new")); err != nil {
		t.Fatal(err)
	}
	checkListing(t, dir, listDir(t, g.callFunc(), g.m, fd, 4096, 0))
	// An empty directory read to its end, then given an entry.
	empty := filepath.Join(mount, "e")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	efd, e := g.open(3, "e", oflagDirectory, rightFdRead)
	if e != 0 {
		t.Fatal(e)
	}
	checkListing(t, empty, listDir(t, g.callFunc(), g.m, efd, 4096, 0))
	if err := os.WriteFile(filepath.Join(empty, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	checkListing(t, empty, listDir(t, g.callFunc(), g.m, efd, 4096, 0))
}

// TestReaddirMemoryBounded: a directory fd holds one bounded batch of its
// listing, not the whole listing, whatever the directory's size (before, 40
// fds reading one entry each of a 100,000-entry directory took ~14 MB each).
func TestReaddirMemoryBounded(t *testing.T) {
	mount := t.TempDir()
	makeFiles(t, filepath.Join(mount, "big"), 20000)
	g := newGuest(t, Config{Mounts: []Mount{{HostPath: mount, GuestPath: "/"}}})
	const fds = 8
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	for range fds {
		fd, e := g.open(3, "big", oflagDirectory, rightFdRead)
		if e != 0 {
			t.Fatal(e)
		}
		// ".", ".." and one entry of the directory.
		if e := g.call("fd_readdir", uint64(fd), 8192, 3*24+2+40, 0, 100); e != 0 {
			t.Fatal(e)
		}
		if used := g.u32(100); used != 3*24+2+40 {
			t.Fatalf("fd_readdir used %d bytes", used)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	perFD := (int64(ms.HeapAlloc) - int64(before)) / fds
	t.Logf("heap per directory fd reading one entry of 20,000: %d bytes", perFD)
	const bound = 64 << 10
	if perFD > bound {
		t.Errorf("a directory fd reading one entry holds %d bytes of heap, want at most %d", perFD, bound)
	}
	runtime.KeepAlive(g)
}

// TestReaddirKilled: a listing the guest asks from far in a large directory
// stops with EINTR once the instance is killed, between batches.
func TestReaddirKilled(t *testing.T) {
	mount := t.TempDir()
	makeFiles(t, filepath.Join(mount, "big"), 2000)
	g := newGuest(t, Config{Mounts: []Mount{{HostPath: mount, GuestPath: "/"}}})
	fd, e := g.open(3, "big", oflagDirectory, rightFdRead)
	if e != 0 {
		t.Fatal(e)
	}
	if e := g.call("fd_readdir", uint64(fd), 8192, 4096, 1000, 100); e != 0 || g.u32(100) != 4096 {
		t.Fatalf("fd_readdir before the kill: %v, %d bytes", e, g.u32(100))
	}
	g.sys.Kill()
	if e := g.call("fd_readdir", uint64(fd), 8192, 4096, 0, 100); e != EINTR {
		t.Errorf("fd_readdir of a killed instance: %v, want EINTR", e)
	}
}

// BenchmarkReaddir lists a 10,000-entry directory through fd_readdir (a
// 4 KiB buffer, as wasi-libc) and, in the same iterations, with os.ReadDir
// and as the listing cached per fd did (File.Readdir(-1), which stats every
// entry). Reported: the ratios of fd_readdir's time to each.
func BenchmarkReaddir(b *testing.B) {
	mount := b.TempDir()
	dir := filepath.Join(mount, "d")
	makeFiles(b, dir, 10000)
	s, err := New(Config{Mounts: []Mount{{HostPath: mount, GuestPath: "/"}}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	fns := map[string]HostFunc{}
	for _, f := range Functions() {
		fns[f.Name] = f
	}
	m := make(mem, 1<<16)
	call := func(name string, params ...uint64) Errno {
		f := fns[name]
		c := &Call{Params: params, Results: make([]uint64, len(f.Results)), Mem: m, Sys: s}
		f.Fn(context.Background(), c)
		return Errno(c.Results[0])
	}
	copy(m[1000:], "d")
	var ours, readDir, old time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if e := call("path_open", 3, 1, 1000, 1, oflagDirectory, rightFdRead, 0, 0, 900); e != 0 {
			b.Fatal(e)
		}
		fd := binary.LittleEndian.Uint32(m[900:])
		if n := len(listDir(b, call, m, fd, 4096, 0)); n != 10002 {
			b.Fatalf("listed %d", n)
		}
		call("fd_close", uint64(fd))
		t1 := time.Now()
		if des, err := os.ReadDir(dir); err != nil || len(des) != 10000 {
			b.Fatal(err)
		}
		t2 := time.Now()
		f, err := os.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		fis, err := f.Readdir(-1)
		f.Close()
		if err != nil || len(fis) != 10000 {
			b.Fatal(err)
		}
		for _, fi := range fis {
			_ = statOf(fi).Ino
		}
		t3 := time.Now()
		ours, readDir, old = ours+t1.Sub(t0), readDir+t2.Sub(t1), old+t3.Sub(t2)
	}
	b.ReportMetric(float64(ours)/float64(readDir), "x-os.ReadDir")
	b.ReportMetric(float64(ours)/float64(old), "x-cached-Readdir")
}
