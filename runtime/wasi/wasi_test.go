package wasi

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// mem is a guest memory for tests.
type mem []byte

func (m mem) Read(off, n uint32) ([]byte, bool) {
	if uint64(off)+uint64(n) > uint64(len(m)) {
		return nil, false
	}
	return m[off : off+n], true
}

func (m mem) Write(off uint32, b []byte) bool {
	if uint64(off)+uint64(len(b)) > uint64(len(m)) {
		return false
	}
	copy(m[off:], b)
	return true
}

type guest struct {
	t   *testing.T
	sys *System
	m   mem
	fns map[string]HostFunc
}

func newGuest(t *testing.T, cfg Config) *guest {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	g := &guest{t: t, sys: s, m: make(mem, 1<<16), fns: map[string]HostFunc{}}
	for _, f := range Functions() {
		g.fns[f.Name] = f
	}
	return g
}

// call calls a WASI function and returns its errno.
func (g *guest) call(name string, params ...uint64) Errno {
	g.t.Helper()
	f, ok := g.fns[name]
	if !ok {
		g.t.Fatalf("no function %s", name)
	}
	if len(params) != len(f.Params) {
		g.t.Fatalf("%s: %d params, want %d", name, len(params), len(f.Params))
	}
	c := &Call{Params: params, Results: make([]uint64, len(f.Results)), Mem: g.m, Sys: g.sys}
	f.Fn(context.Background(), c)
	return Errno(c.Results[0])
}

// str places s at off and returns (off, len).
func (g *guest) str(off uint32, s string) (uint64, uint64) {
	copy(g.m[off:], s)
	return uint64(off), uint64(len(s))
}

func (g *guest) u32(off uint32) uint32 { return binary.LittleEndian.Uint32(g.m[off:]) }

// open path_opens p relative to dirfd and returns the new fd.
func (g *guest) open(dirfd uint64, p string, oflags uint64, rights uint64) (uint32, Errno) {
	po, pl := g.str(1000, p)
	e := g.call("path_open", dirfd, 1, po, pl, oflags, rights, 0, 0, 900)
	return g.u32(900), e
}

func fixture(t *testing.T) (mount, outside string) {
	base := t.TempDir()
	mount, outside = filepath.Join(base, "mount"), filepath.Join(base, "outside")
	for _, d := range []string{mount, outside, filepath.Join(mount, "dir")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mount, "file"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"abslink": filepath.Join(outside, "secret"), "rellink": "../outside/secret",
		"absdir": outside, "reldir": "../outside", "oklink": "file",
	} {
		if err := os.Symlink(target, filepath.Join(mount, link)); err != nil {
			t.Fatal(err)
		}
	}
	return mount, outside
}

func TestConfinement(t *testing.T) {
	mount, outside := fixture(t)
	g := newGuest(t, Config{Mounts: []Mount{{HostPath: mount, GuestPath: "/"}}})
	const read, write = rightFdRead, rightFdWrite
	for _, p := range []string{"../outside/secret", "dir/../../outside/secret", "abslink", "rellink",
		"absdir/secret", "reldir/secret", filepath.Join(outside, "secret"), "/etc/passwd", "", "file\x00x"} {
		if _, e := g.open(3, p, 0, read); e == 0 {
			t.Errorf("open(%q) escaped", p)
		}
		po, pl := g.str(1000, p)
		if e := g.call("path_filestat_get", 3, 1, po, pl, 2000); e == 0 {
			t.Errorf("stat(%q) escaped", p)
		}
	}
	for _, p := range []string{"../outside/new", "absdir/new", "reldir/new"} {
		if _, e := g.open(3, p, oflagCreat, write); e == 0 {
			t.Errorf("create %q escaped", p)
		}
		po, pl := g.str(1000, p+"d")
		if e := g.call("path_create_directory", 3, po, pl); e == 0 {
			t.Errorf("mkdir %q escaped", p)
		}
	}
	fo, fl := g.str(1000, "file")
	to, tl := g.str(1100, "../outside/moved")
	if e := g.call("path_rename", 3, fo, fl, 3, to, tl); e == 0 {
		t.Error("rename out of the mount succeeded")
	}
	for _, target := range []string{"/etc/passwd", "../x", "dir/../../x", ""} {
		so, sl := g.str(1200, target)
		lo, ll := g.str(1300, "evil")
		if e := g.call("path_symlink", so, sl, 3, lo, ll); e != EPERM {
			t.Errorf("symlink(%q) = %v, want EPERM", target, e)
		}
	}
	so, sl := g.str(1200, "../file")
	lo, ll := g.str(1300, "dir/ok")
	if e := g.call("path_symlink", so, sl, 3, lo, ll); e != 0 {
		t.Errorf("symlink inside: %v", e)
	}
	// A directory fd confines its own paths too.
	dfd, e := g.open(3, "dir", oflagDirectory, read)
	if e != 0 {
		t.Fatal(e)
	}
	if _, e := g.open(uint64(dfd), "../../outside/secret", 0, read); e == 0 {
		t.Error("open via a directory fd escaped")
	}
	// Like cap-std, a directory fd is a capability for its own subtree:
	// dir/ok -> ../file resolves from the mount, not from the dir fd.
	if _, e := g.open(uint64(dfd), "ok", 0, read); e != EPERM {
		t.Errorf("open ok (-> ../file) via the dir fd: %v, want EPERM", e)
	}
	if fd, e := g.open(3, "dir/ok", 0, read); e != 0 {
		t.Errorf("open dir/ok (-> ../file) via the mount: %v", e)
	} else {
		g.call("fd_close", uint64(fd))
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("outside changed: %v", ents)
	}
}

func TestReadOnlyMount(t *testing.T) {
	mount, _ := fixture(t)
	g := newGuest(t, Config{Mounts: []Mount{{HostPath: mount, GuestPath: "/", ReadOnly: true}}})
	if _, e := g.open(3, "new", oflagCreat, rightFdWrite); e != EROFS {
		t.Errorf("create: %v", e)
	}
	if _, e := g.open(3, "file", 0, rightFdWrite|rightFdRead); e != EROFS {
		t.Errorf("open rdwr: %v", e)
	}
	if _, e := g.open(3, "file", oflagTrunc, rightFdRead); e != EROFS {
		t.Errorf("trunc: %v", e)
	}
	po, pl := g.str(1000, "file")
	qo, ql := g.str(1100, "file2")
	for name, e := range map[string]Errno{
		"mkdir":   g.call("path_create_directory", 3, qo, ql),
		"unlink":  g.call("path_unlink_file", 3, po, pl),
		"rmdir":   g.call("path_remove_directory", 3, qo, ql),
		"rename":  g.call("path_rename", 3, po, pl, 3, qo, ql),
		"link":    g.call("path_link", 3, 0, po, pl, 3, qo, ql),
		"symlink": g.call("path_symlink", po, pl, 3, qo, ql),
		"times":   g.call("path_filestat_set_times", 3, 1, po, pl, 0, 0, fstMtimNow),
	} {
		if e != EROFS {
			t.Errorf("%s: %v, want EROFS", name, e)
		}
	}
	fd, e := g.open(3, "file", 0, rightFdRead)
	if e != 0 {
		t.Fatal(e)
	}
	// read it through an iovec
	binary.LittleEndian.PutUint32(g.m[100:], 200)
	binary.LittleEndian.PutUint32(g.m[104:], 16)
	if e := g.call("fd_read", uint64(fd), 100, 1, 120); e != 0 || string(g.m[200:200+g.u32(120)]) != "inside" {
		t.Fatalf("fd_read: %v %q", e, g.m[200:200+g.u32(120)])
	}
	if e := g.call("fd_write", uint64(fd), 100, 1, 120); e == 0 {
		t.Error("write to a read-only fd succeeded")
	}
	if e := g.call("fd_filestat_set_size", uint64(fd), 0); e != EROFS {
		t.Errorf("ftruncate: %v", e)
	}
}

func TestFDLimit(t *testing.T) {
	g := newGuest(t, Config{MaxFDs: 8})
	var fds []int32
	for {
		fd, e := g.sys.InsertFD(NewPipe())
		if e == EMFILE {
			break
		}
		if e != 0 {
			t.Fatal(e)
		}
		fds = append(fds, fd)
		if len(fds) > 8 {
			t.Fatal("no limit")
		}
	}
	// stdio + the virtual "/" take 4.
	if len(fds) != 4 || fds[0] != 4 {
		t.Fatalf("fds %v", fds)
	}
	if _, e := g.open(3, ".", 0, rightFdRead); e != EMFILE {
		t.Errorf("path_open at the limit: %v", e)
	}
	if e := g.call("fd_close", uint64(fds[1])); e != 0 {
		t.Fatal(e)
	}
	if e := g.call("fd_close", uint64(fds[1])); e != EBADF {
		t.Errorf("double close: %v", e)
	}
	if fd, e := g.sys.InsertFD(NewPipe()); e != 0 || fd != fds[1] {
		t.Errorf("reuse: fd %d %v, want %d", fd, e, fds[1])
	}
}

// sub writes a poll subscription at off.
func (g *guest) sub(off uint32, userdata uint64, tag uint8, fdOrClock uint32, timeout uint64, flags uint16) {
	b := g.m[off : off+subSize]
	clear(b)
	binary.LittleEndian.PutUint64(b[0:], userdata)
	b[8] = tag
	binary.LittleEndian.PutUint32(b[16:], fdOrClock)
	binary.LittleEndian.PutUint64(b[24:], timeout)
	binary.LittleEndian.PutUint16(b[40:], flags)
}

func (g *guest) events(out uint32, n uint32) (userdata []uint64) {
	for i := range n {
		userdata = append(userdata, binary.LittleEndian.Uint64(g.m[out+i*eventSize:]))
	}
	return userdata
}

func TestPoll(t *testing.T) {
	stdin := NewPipe()
	g := newGuest(t, Config{Stdin: stdin})
	const in, out, nev = 0, 4096, 8000

	// A relative clock.
	g.sub(in, 7, eventClock, clockMonotonic, uint64(30*time.Millisecond), 0)
	t0 := time.Now()
	if e := g.call("poll_oneoff", in, out, 1, nev); e != 0 || g.u32(nev) != 1 || g.events(out, 1)[0] != 7 {
		t.Fatalf("clock: %v n=%d", e, g.u32(nev))
	}
	if d := time.Since(t0); d < 30*time.Millisecond {
		t.Fatalf("clock fired after %v", d)
	}
	// An absolute realtime clock in the past fires at once.
	g.sub(in, 8, eventClock, clockRealtime, uint64(time.Now().Add(-time.Second).UnixNano()), subclockAbstime)
	if e := g.call("poll_oneoff", in, out, 1, nev); e != 0 || g.u32(nev) != 1 {
		t.Fatalf("abs clock: %v", e)
	}

	// stdin + a long clock: wakes when data arrives; stdout is writable.
	g.sub(in, 1, eventFdRead, 0, 0, 0)
	g.sub(in+subSize, 2, eventClock, clockMonotonic, uint64(time.Hour), 0)
	go func() {
		time.Sleep(20 * time.Millisecond)
		stdin.HostWrite([]byte("x"))
	}()
	if e := g.call("poll_oneoff", in, out, 2, nev); e != 0 || g.u32(nev) != 1 || g.events(out, 1)[0] != 1 {
		t.Fatalf("fd_read: %v n=%d", e, g.u32(nev))
	}
	g.sub(in, 3, eventFdWrite, 1, 0, 0)
	g.sub(in+subSize, 4, eventFdRead, 99, 0, 0) // bad fd: an event with EBADF
	if e := g.call("poll_oneoff", in, out, 2, nev); e != 0 || g.u32(nev) != 2 {
		t.Fatalf("fd_write: %v n=%d", e, g.u32(nev))
	}
	if errno := binary.LittleEndian.Uint16(g.m[out+eventSize+8:]); errno != uint16(EBADF) {
		t.Errorf("bad fd event errno %d", errno)
	}
	if e := g.call("poll_oneoff", in, out, 0, nev); e != EINVAL {
		t.Errorf("no subscriptions: %v", e)
	}

	// Drain stdin, then block; Kill wakes it.
	binary.LittleEndian.PutUint32(g.m[100:], 200)
	binary.LittleEndian.PutUint32(g.m[104:], 16)
	if e := g.call("fd_read", 0, 100, 1, 120); e != 0 || g.u32(120) != 1 {
		t.Fatal(e)
	}
	g.sub(in, 1, eventFdRead, 0, 0, 0)
	g.sub(in+subSize, 2, eventFdRead, 0, 0, 0) // several channels: the reflect.Select path
	g.sub(in+2*subSize, 3, eventFdRead, 0, 0, 0)
	done := make(chan Errno)
	go func() { done <- g.call("poll_oneoff", in, out, 3, nev) }()
	select {
	case e := <-done:
		t.Fatalf("poll returned %v with nothing ready", e)
	case <-time.After(50 * time.Millisecond):
	}
	g.sys.Kill()
	select {
	case e := <-done:
		if e != EINTR {
			t.Fatalf("killed poll: %v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Kill did not wake poll_oneoff")
	}
}

func TestBlockingReadAndKill(t *testing.T) {
	stdin := NewPipe()
	g := newGuest(t, Config{Stdin: stdin})
	binary.LittleEndian.PutUint32(g.m[100:], 200)
	binary.LittleEndian.PutUint32(g.m[104:], 16)
	// fd 0 starts in blocking mode.
	go func() {
		time.Sleep(20 * time.Millisecond)
		stdin.HostWrite([]byte("hi"))
	}()
	if e := g.call("fd_read", 0, 100, 1, 120); e != 0 || string(g.m[200:200+g.u32(120)]) != "hi" {
		t.Fatalf("blocking read: %v %q", e, g.m[200:200+g.u32(120)])
	}
	// Non-blocking: EAGAIN.
	if e := g.call("fd_fdstat_set_flags", 0, fdflagNonblock); e != 0 {
		t.Fatal(e)
	}
	if e := g.call("fd_read", 0, 100, 1, 120); e != EAGAIN {
		t.Fatalf("non-blocking read: %v", e)
	}
	if e := g.call("fd_fdstat_get", 0, 300); e != 0 || binary.LittleEndian.Uint16(g.m[302:]) != fdflagNonblock {
		t.Fatalf("fdstat flags: %v", e)
	}
	if e := g.call("fd_fdstat_set_flags", 0, 0); e != 0 {
		t.Fatal(e)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	var got Errno
	go func() { defer wg.Done(); got = g.call("fd_read", 0, 100, 1, 120) }()
	time.Sleep(20 * time.Millisecond)
	g.sys.Kill()
	wg.Wait()
	if got != EINTR {
		t.Fatalf("killed blocking read: %v", got)
	}
}

func TestBadPointers(t *testing.T) {
	g := newGuest(t, Config{Args: []string{"a", "bb"}, Env: []string{"K=V"}})
	far := uint64(len(g.m) - 2)
	for name, c := range map[string]struct {
		params []uint64
		want   Errno
	}{
		"args_get":            {[]uint64{far, 0}, EFAULT},
		"args_sizes_get":      {[]uint64{0, far}, EFAULT},
		"environ_get":         {[]uint64{0, far}, EFAULT},
		"random_get":          {[]uint64{far, 100}, EFAULT},
		"clock_time_get":      {[]uint64{0, 0, far}, EFAULT},
		"clock_res_get":       {[]uint64{9, 0}, EINVAL},
		"fd_write":            {[]uint64{1, far, 1, 0}, EFAULT},
		"fd_read":             {[]uint64{0, 0, 1 << 20, 0}, EINVAL},
		"fd_prestat_get":      {[]uint64{3, far}, EFAULT},
		"path_open":           {[]uint64{3, 0, far, 100, 0, 0, 0, 0, 0}, EFAULT},
		"path_unlink_file":    {[]uint64{3, 0, 1 << 20}, ENAMETOOLONG},
		"poll_oneoff":         {[]uint64{far, 0, 1, 0}, EFAULT},
		"fd_readdir":          {[]uint64{3, far, 100, 0, 0}, EFAULT},
		"fd_close":            {[]uint64{1000}, EBADF},
		"fd_seek":             {[]uint64{1, 0, 0, 0}, ESPIPE},
		"fd_renumber":         {[]uint64{0, 77}, EBADF},
		"sock_recv":           {[]uint64{1, 0, 0, 0, 0, 0}, ENOTSOCK},
		"proc_raise":          {[]uint64{9}, ENOTSUP},
		"fd_filestat_get":     {[]uint64{1, far}, EFAULT},
		"path_symlink":        {[]uint64{far, 10, 3, 0, 1}, EFAULT},
		"fd_prestat_dir_name": {[]uint64{3, 0, 0}, ENAMETOOLONG},
	} {
		if e := g.call(name, c.params...); e != c.want {
			t.Errorf("%s: %v, want %v", name, e, c.want)
		}
	}
	// A function whose memory access panics gets EFAULT, not a host panic.
	hf := HostFunc{Name: "x", Results: []ValType{I32}, Fn: func(context.Context, *Call) { panic("boom") }}
	f := Functions(hf)
	for _, fn := range f {
		if fn.Name == "x" {
			c := &Call{Results: make([]uint64, 1)}
			fn.Fn(context.Background(), c)
			if Errno(c.Results[0]) != EFAULT {
				t.Errorf("panicking extension: %v", Errno(c.Results[0]))
			}
		}
	}
}

func TestArgsEnvAndExit(t *testing.T) {
	g := newGuest(t, Config{Args: []string{"prog", "x y"}, Env: []string{"A=1"}})
	if e := g.call("args_sizes_get", 0, 4); e != 0 || g.u32(0) != 2 || g.u32(4) != 9 {
		t.Fatalf("args sizes: %v %d %d", e, g.u32(0), g.u32(4))
	}
	if e := g.call("args_get", 100, 200); e != 0 {
		t.Fatal(e)
	}
	if got := string(g.m[g.u32(104) : g.u32(104)+3]); got != "x y" {
		t.Fatalf("argv[1] %q", got)
	}
	if e := g.call("environ_get", 100, 200); e != 0 || string(g.m[200:204]) != "A=1\x00" {
		t.Fatalf("environ: %v %q", e, g.m[200:204])
	}
	defer func() {
		if pe, ok := recover().(*ProcExit); !ok || pe.Code != 3 {
			t.Fatalf("proc_exit panicked with %v", pe)
		}
	}()
	f := g.fns["proc_exit"]
	f.Fn(context.Background(), &Call{Params: []uint64{3}, Mem: g.m, Sys: g.sys})
}

func TestBadConfig(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Env: []string{"A=1", "B"}}, "env[1]"},
		{Config{Mounts: []Mount{{HostPath: dir, GuestPath: "rel"}}}, "mounts[0].guestPath"},
		{Config{Mounts: []Mount{{HostPath: dir, GuestPath: "/a"}, {HostPath: dir, GuestPath: "/a/"}}}, "mounts[1]"},
		{Config{Mounts: []Mount{{HostPath: filepath.Join(dir, "no"), GuestPath: "/a"}}}, "mounts[0].hostPath"},
	} {
		if _, err := New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
}

// fakeSock is an in-memory Socket: data written by the test is readable.
type fakeSock struct {
	*Pipe
	sent     []byte
	shut     [2]bool
	backlog  []Socket
	accepted bool
}

func (s *fakeSock) Filetype() Filetype                    { return FiletypeSocketStream }
func (s *fakeSock) Recv(p []byte, peek bool) (int, error) { return s.Read(p) }
func (s *fakeSock) Send(p []byte) (int, error)            { s.sent = append(s.sent, p...); return len(p), nil }
func (s *fakeSock) Shutdown(r, w bool) error              { s.shut = [2]bool{r, w}; return nil }
func (s *fakeSock) Accept() (Socket, error) {
	if len(s.backlog) == 0 {
		return nil, EAGAIN
	}
	c := s.backlog[0]
	s.backlog = s.backlog[1:]
	return c, nil
}

func TestSocketDispatch(t *testing.T) {
	g := newGuest(t, Config{})
	sk := &fakeSock{Pipe: NewPipe(), backlog: []Socket{&fakeSock{Pipe: NewPipe()}}}
	fd, e := g.sys.InsertFD(sk)
	if e != 0 {
		t.Fatal(e)
	}
	if e := g.call("fd_fdstat_get", uint64(fd), 300); e != 0 || Filetype(g.m[300]) != FiletypeSocketStream {
		t.Fatalf("fdstat: %v %d", e, g.m[300])
	}
	copy(g.m[200:], "ping")
	binary.LittleEndian.PutUint32(g.m[100:], 200)
	binary.LittleEndian.PutUint32(g.m[104:], 4)
	if e := g.call("sock_send", uint64(fd), 100, 1, 0, 120); e != 0 || string(sk.sent) != "ping" || g.u32(120) != 4 {
		t.Fatalf("sock_send: %v %q", e, sk.sent)
	}
	sk.HostWrite([]byte("pong"))
	if e := g.call("sock_recv", uint64(fd), 100, 1, 0, 120, 124); e != 0 || string(g.m[200:204]) != "pong" {
		t.Fatalf("sock_recv: %v %q", e, g.m[200:204])
	}
	if e := g.call("sock_shutdown", uint64(fd), 2); e != 0 || sk.shut != [2]bool{false, true} {
		t.Fatalf("sock_shutdown: %v %v", e, sk.shut)
	}
	if e := g.call("sock_accept", uint64(fd), fdflagNonblock, 130); e != 0 || g.u32(130) == uint32(fd) {
		t.Fatalf("sock_accept: %v", e)
	}
	if !g.sys.Nonblocking(int32(g.u32(130))) {
		t.Error("accepted fd is not non-blocking")
	}
	// A blocking accept with an empty backlog waits; Kill wakes it.
	done := make(chan Errno)
	go func() { done <- g.call("sock_accept", uint64(fd), 0, 130) }()
	time.Sleep(20 * time.Millisecond)
	g.sys.Kill()
	select {
	case e := <-done:
		if e != EINTR {
			t.Fatalf("killed accept: %v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Kill did not wake sock_accept")
	}
}
