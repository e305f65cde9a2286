// Package wasi is wasmpod's own WASI preview-1 layer: the host side of the
// "wasi_snapshot_preview1" import module, engine-neutral (it works over the
// Memory interface, so any engine binding can use it).
//
// A System is one container instance's WASI state: argv, environment,
// clocks, the fd table (stdio pipes, preopened mounts, files, sockets) and
// the kill channel. Functions returns the host functions; an engine binds
// them and, for each call, supplies the calling instance's System and
// memory in a Call.
//
// Contracts:
//   - A System serves one guest instance. Its host functions are called from
//     the guest's goroutine; Kill, the Stdin pipe's host side and the engine
//     may be used concurrently from other goroutines.
//   - Mounts are confined with os.Root: "..", absolute paths and symlinks
//     (host-made or guest-made) never resolve outside a mount. path_symlink
//     refuses absolute targets, targets with a ".." after a normal
//     component ("a/../b") and targets whose leading ".."s climb above the
//     mount from the link's real directory (see escapes).
//     A directory fd opened with path_open is a capability for its own
//     subtree (as in cap-std/wasmtime): ".." or symlinks leaving it are
//     refused from that fd. Read-only mounts refuse every write with EROFS. When no mount is at
//     "/", "/" is an empty read-only directory.
//   - On Linux a path's directory is resolved through os.Root and its last
//     component applied with *at calls on that directory's fd (fs_linux.go):
//     no-follow lookups do not follow a final symlink (O_NOFOLLOW,
//     AT_SYMLINK_NOFOLLOW), rename, link, unlink, rmdir and symlink answer
//     as the kernel does (trailing slashes, "x/.", a directory renamed over
//     an empty one), and rename and link work between two directory fds of
//     one mount (EXDEV between two mounts).
//   - No escaping link is ever made: path_symlink judges a target from the
//     link's real directory, and path_rename/path_link refuse (EPERM) to
//     move a relative symlink, or a directory holding one, where it would
//     point outside (see dirFile.checkMove).
//   - Every fd has rights, as in wasmtime (rights.go): a directory holds
//     directory rights only and passes on directory and file rights, a
//     file holds file rights less FD_READ/the write rights when not opened
//     for them; path_open masks the rights asked for with the directory
//     fd's inheriting rights; fd_fdstat_set_rights only drops rights; each
//     call checks its right: EBADF when the fd was never open for it,
//     ENOTCAPABLE when it was dropped. A directory has no position
//     (fd_seek, fd_tell: EBADF).
//   - FDFLAG_APPEND is the host file's O_APPEND (set with fcntl, also by
//     fd_fdstat_set_flags); fd_pwrite on a file in append mode appends and
//     keeps the position, as wasmtime and Linux's pwrite(2).
//   - A mount with a Quota is bounded as a size-limited tmpfs: ENOSPC past
//     it, shared by every mount of the volume (see Quota).
//   - Every fd is non-blocking inside the host. A blocking guest read or
//     write (fd without FDFLAG_NONBLOCK) and poll_oneoff wait on the
//     entries' Poll channels, a timer and the kill channel: no busy waiting,
//     and Kill wakes every blocked call (it then returns EINTR; the engine is
//     expected to stop the guest).
//   - Regular files and directories are always ready in poll_oneoff; pipes
//     and sockets report real readiness through File.Poll.
//   - The fd table holds at most Config.MaxFDs entries (default 1024);
//     opening more fails with EMFILE.
//   - fd_readdir streams a directory: a directory fd holds one batch of
//     entries (one 8 KiB getdents64 buffer), never the whole listing;
//     entries are not stat'ed (d_type); a cookie before the batch re-reads
//     from the start; Kill stops a long listing between batches (EINTR).
//   - Bad guest pointers or lengths give EFAULT (or EINVAL), never a host
//     panic. proc_exit panics with *ProcExit, which the engine binding
//     recovers to end the guest with that code.
//   - Extensions (e.g. runtime/wasi/wasisock) add HostFuncs to the same
//     module and put their own File implementations in the fd table with
//     System.InsertFD.
package wasi

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path"
	"sync"
	"sync/atomic"
	"time"
)

// ModuleName is the import module name of WASI preview 1.
const ModuleName = "wasi_snapshot_preview1"

// ValType is a wasm value type of a host function's parameter or result.
type ValType byte

// Wasm value types (their binary encoding).
const (
	I32 ValType = 0x7f
	I64 ValType = 0x7e
)

// HostFunc is one import of the "wasi_snapshot_preview1" module.
type HostFunc struct {
	Name    string
	Params  []ValType
	Results []ValType
	// Fn runs the function. c.Params holds the arguments (i32 in the low
	// 32 bits); Fn sets c.Results (already sized to len(Results)).
	Fn func(ctx context.Context, c *Call)
}

// Memory is the calling guest's linear memory. wazero's api.Memory
// satisfies it.
type Memory interface {
	// Read returns n bytes at off; the slice may alias guest memory (writes
	// to it reach the guest) and stays valid for the duration of the host
	// call. ok is false when the range is out of bounds.
	Read(off, n uint32) ([]byte, bool)
	// Write copies b to guest memory at off; false when out of bounds.
	Write(off uint32, b []byte) bool
}

// Call is one host function call.
type Call struct {
	Params  []uint64
	Results []uint64
	Mem     Memory
	Sys     *System
	// quiet is set by a call that could not have woken another instance
	// (fd_write to a file): no yield after it (see yieldAfter).
	quiet bool
}

// U32 returns parameter i as a uint32.
func (c *Call) U32(i int) uint32 { return uint32(c.Params[i]) }

// I32 returns parameter i as an int32.
func (c *Call) I32(i int) int32 { return int32(uint32(c.Params[i])) }

// U64 returns parameter i.
func (c *Call) U64(i int) uint64 { return c.Params[i] }

// SetErrno sets the errno result.
func (c *Call) SetErrno(e Errno) { c.Results[0] = uint64(e) }

// Bytes reads n bytes at off (a view of guest memory).
func (c *Call) Bytes(off, n uint32) ([]byte, Errno) {
	if uint64(off)+uint64(n) > 1<<32 {
		return nil, EFAULT
	}
	b, ok := c.Mem.Read(off, n)
	if !ok {
		return nil, EFAULT
	}
	return b, 0
}

// ReadU32 reads a little-endian uint32 at off.
func (c *Call) ReadU32(off uint32) (uint32, Errno) {
	b, e := c.Bytes(off, 4)
	if e != 0 {
		return 0, e
	}
	return binary.LittleEndian.Uint32(b), 0
}

// ReadU64 reads a little-endian uint64 at off.
func (c *Call) ReadU64(off uint32) (uint64, Errno) {
	b, e := c.Bytes(off, 8)
	if e != 0 {
		return 0, e
	}
	return binary.LittleEndian.Uint64(b), 0
}

// WriteU32 writes a little-endian uint32 at off.
func (c *Call) WriteU32(off, v uint32) Errno {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	return c.Write(off, b[:])
}

// WriteU64 writes a little-endian uint64 at off.
func (c *Call) WriteU64(off uint32, v uint64) Errno {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	return c.Write(off, b[:])
}

// Write copies b to guest memory at off.
func (c *Call) Write(off uint32, b []byte) Errno {
	if uint64(off)+uint64(len(b)) > 1<<32 || !c.Mem.Write(off, b) {
		return EFAULT
	}
	return 0
}

// String reads a guest string (ptr, len).
func (c *Call) String(off, n uint32) (string, Errno) {
	b, e := c.Bytes(off, n)
	if e != 0 {
		return "", e
	}
	return string(b), 0
}

// Iovecs reads an array of n iovecs (or ciovecs) at off and returns views
// of the buffers they name.
func (c *Call) Iovecs(off, n uint32) ([][]byte, Errno) {
	if n > 1024 {
		return nil, EINVAL
	}
	raw, e := c.Bytes(off, n*8)
	if e != 0 {
		return nil, e
	}
	vecs := make([][]byte, n)
	for i := range vecs {
		p := binary.LittleEndian.Uint32(raw[i*8:])
		l := binary.LittleEndian.Uint32(raw[i*8+4:])
		if vecs[i], e = c.Bytes(p, l); e != 0 {
			return nil, e
		}
	}
	return vecs, 0
}

// ProcExit is the panic value of proc_exit: the engine binding recovers it
// and ends the guest with Code.
type ProcExit struct{ Code uint32 }

func (p *ProcExit) Error() string { return fmt.Sprintf("wasi: proc_exit(%d)", p.Code) }

// Events are readiness events of a File (the same bits as network.Events,
// so a conversion suffices).
type Events uint8

// Readiness events.
const (
	Readable Events = 1 << iota
	Writable
	Hangup
)

// Filetype is a WASI filetype.
type Filetype uint8

// WASI filetypes.
const (
	FiletypeUnknown Filetype = iota
	FiletypeBlockDevice
	FiletypeCharacterDevice
	FiletypeDirectory
	FiletypeRegularFile
	FiletypeSocketDgram
	FiletypeSocketStream
	FiletypeSymbolicLink
)

// File is an fd table entry. Every method is non-blocking: Read and Write
// return EAGAIN (an Errno or syscall.EAGAIN) when they would block; the
// System waits on Poll for fds in blocking mode. Errors map to errnos with
// ErrnoOf.
type File interface {
	Filetype() Filetype
	// Read reads into p; (0, nil) at EOF.
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	// Poll reports the events that hold now and a channel closed at the
	// next change (nil if the state never changes, e.g. regular files).
	Poll() (Events, <-chan struct{})
	Close() error
}

// Socket is a File that also serves sock_recv, sock_send, sock_shutdown
// and sock_accept. All methods are non-blocking (EAGAIN).
type Socket interface {
	File
	// Recv reads into p; peek leaves the data queued. (0, nil) at EOF.
	Recv(p []byte, peek bool) (int, error)
	Send(p []byte) (int, error)
	// Shutdown shuts down the read and/or write side.
	Shutdown(read, write bool) error
	// Accept returns a pending connection (EAGAIN when none).
	Accept() (Socket, error)
}

// Filestat is the WASI filestat.
type Filestat struct {
	Dev, Ino         uint64
	Filetype         Filetype
	Nlink, Size      uint64
	Atim, Mtim, Ctim uint64
}

// Stater is implemented by files with metadata; files without it report
// only their filetype.
type Stater interface {
	Stat() (Filestat, error)
}

// Mount is a host directory preopened at GuestPath.
type Mount struct {
	HostPath  string
	GuestPath string
	ReadOnly  bool
	// Root, when set, is the directory already opened: New takes its own
	// handle on it (HostPath is then for diagnostics) and the caller keeps
	// Root. A path resolved safely by the caller is thus the directory
	// mounted, with no re-resolution of HostPath.
	Root *os.Root
	// Quota, when set, bounds the bytes of the volume this mount shows
	// (shared by every mount of it, in every System): ENOSPC past it.
	Quota *Quota
	// File, when set, makes this a single-file mount (filemount.go): the
	// regular file the caller opened (and checked) is shown at GuestPath,
	// over a mount point in the directory mount holding GuestPath's
	// directory, made there if missing. New takes its own handle; the
	// caller keeps File. Root is then unused.
	File *os.File
	// FileByPath makes this a single-file mount of the regular file at
	// HostPath, opened by that path at each use instead of held open, so
	// that an idle guest holds no host fd for it. Only for a file in a
	// host directory no guest reaches (the termination-message file): a
	// name a guest could change is what File (pinned) is for.
	FileByPath bool
}

// isFile reports whether m is a single-file mount.
func (m *Mount) isFile() bool { return m.File != nil || m.FileByPath }

// Config configures a System.
type Config struct {
	Args []string
	// Env is "KEY=VALUE" pairs.
	Env    []string
	Mounts []Mount
	// Stdin is fd 0; nil gives a pipe that stays open until Kill.
	Stdin File
	// Stdout and Stderr receive fds 1 and 2; nil discards.
	Stdout, Stderr io.Writer
	// MaxFDs caps the fd table (0 means 1024).
	MaxFDs int
	// FDBudget, when set, is the host fd budget shared with other Systems
	// (see FDBudget): past it opens fail with EMFILE.
	FDBudget FDBudget
	// Rand is random_get's source (nil: crypto/rand).
	Rand io.Reader
	// Net is the pod network (a network.PodNet) for extensions; the WASI
	// layer itself does not use it.
	Net any
}

// DefaultMaxFDs is the default per-instance fd limit.
const DefaultMaxFDs = 1024

type fdEntry struct {
	file    File
	flags   uint16 // FDFLAG_*
	preopen string // guest path of a preopened directory, "" otherwise
	// rightsB and rightsI are the fd's base and inheriting rights;
	// excluded the rights its kind or open mode rules out (see need).
	rightsB  uint64
	rightsI  uint64
	excluded uint64
	// mountRoot is the (dev, ino) of the mount a directory fd is in (zero
	// when unknown), for the inode of "..".
	mountRoot fileID
	readOnly  bool
	hostFDs   int64 // acquired from System.fdBudget
}

// System is one guest instance's WASI state.
type System struct {
	args, env []string
	rand      io.Reader
	net       any
	start     time.Time
	maxFDs    int
	fdBudget  FDBudget

	mu    sync.Mutex
	fds   []*fdEntry
	files *fileMounts // single-file mounts, nil if none

	killOnce sync.Once
	kill     chan struct{}
	isKilled atomic.Bool
}

// New creates a System: it opens the mounts (errors name mounts[i]) and
// sets up stdio. Close it to release host resources.
func New(cfg Config) (_ *System, err error) {
	s := &System{
		args:   cfg.Args,
		env:    cfg.Env,
		rand:   cfg.Rand,
		net:    cfg.Net,
		start:  time.Now(),
		maxFDs: cfg.MaxFDs,
		kill:   make(chan struct{}),

		fdBudget: cfg.FDBudget,
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.maxFDs <= 0 {
		s.maxFDs = DefaultMaxFDs
	}
	for i, kv := range cfg.Env {
		if k, _, ok := cutEq(kv); !ok || k == "" {
			return nil, fmt.Errorf("env[%d] %q: want KEY=VALUE", i, kv)
		}
	}
	stdin := cfg.Stdin
	if stdin == nil {
		stdin = NewPipe()
	}
	s.fds = []*fdEntry{
		{file: stdin, rightsB: rightsStdin, rightsI: rightsStdin, excluded: ^uint64(rightsStdin)},
		{file: &writerFile{w: cfg.Stdout}, rightsB: rightsStdout, rightsI: rightsStdout, excluded: ^uint64(rightsStdout)},
		{file: &writerFile{w: cfg.Stderr}, rightsB: rightsStdout, rightsI: rightsStdout, excluded: ^uint64(rightsStdout)},
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	// "/" is the first preopen (fd 3), a mount there or the virtual empty
	// one: Go's wasip1 port starts in the first preopen's directory when
	// PWD is unset (wasi-libc always starts in "/"), so a guest with no
	// workingDir starts in "/" whatever its mounts.
	order := make([]int, 0, len(cfg.Mounts))
	for i, m := range cfg.Mounts {
		if m.isFile() {
			continue // after the directories (filemount.go)
		}
		if path.Clean(m.GuestPath) == "/" && path.IsAbs(m.GuestPath) {
			order = append([]int{i}, order...)
		} else {
			order = append(order, i)
		}
	}
	if len(order) == 0 || path.Clean(cfg.Mounts[order[0]].GuestPath) != "/" {
		s.fds = append(s.fds, &fdEntry{file: &dirFile{readOnly: true}, preopen: "/", rightsB: rightsDir, rightsI: rightsDirInheriting, excluded: rightsFileOnly, readOnly: true})
	}
	seen := map[string]bool{}
	for _, i := range order {
		m := cfg.Mounts[i]
		if !path.IsAbs(m.GuestPath) {
			return nil, fmt.Errorf("mounts[%d].guestPath %q: must be an absolute path", i, m.GuestPath)
		}
		gp := path.Clean(m.GuestPath)
		if seen[gp] {
			return nil, fmt.Errorf("mounts[%d].guestPath %q: mounted twice", i, m.GuestPath)
		}
		seen[gp] = true
		root, err := openMount(m)
		if err != nil {
			return nil, fmt.Errorf("mounts[%d].hostPath: %w", i, err)
		}
		ent := &fdEntry{file: &dirFile{root: root, budget: s.fdBudget, readOnly: m.ReadOnly, q: m.Quota}, preopen: gp, rightsB: rightsDir, rightsI: rightsDirInheriting, excluded: rightsFileOnly, readOnly: m.ReadOnly}
		if fi, err := root.Stat("."); err == nil { // no fd kept open (the budget counts one per mount)
			st := statOf(fi)
			ent.mountRoot = fileID{st.Dev, st.Ino}
		}
		if !s.charge(ent) {
			_ = root.Close()
			return nil, fmt.Errorf("mounts[%d] %q: the host's file descriptor budget for guests is exhausted", i, m.GuestPath)
		}
		s.fds = append(s.fds, ent)
	}
	for i, m := range cfg.Mounts {
		if m.isFile() {
			if err := s.addFileMount(i, m); err != nil {
				return nil, err
			}
		}
	}
	if s.files != nil {
		for _, ent := range s.fds {
			if d, ok := ent.file.(*dirFile); ok && ent.preopen != "" {
				d.fm = s.files
			}
		}
	}
	return s, nil
}

// openMount opens a mount's directory: a new handle on m.Root when set,
// else m.HostPath.
func openMount(m Mount) (*os.Root, error) {
	if m.Root != nil {
		return m.Root.OpenRoot(".")
	}
	fi, err := os.Stat(m.HostPath)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%q: not a directory", m.HostPath)
	}
	return os.OpenRoot(m.HostPath)
}

func cutEq(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

// Net returns Config.Net.
func (s *System) Net() any { return s.net }

// Kill wakes every blocked call of the guest for good; later blocking
// calls return EINTR at once. Idempotent.
func (s *System) Kill() {
	s.killOnce.Do(func() {
		s.isKilled.Store(true)
		close(s.kill)
	})
}

// IsKilled reports whether Kill was called; it is cheaper than polling
// Killed, for a check on every call.
func (s *System) IsKilled() bool { return s.isKilled.Load() }

// Killed is closed by Kill.
func (s *System) Killed() <-chan struct{} { return s.kill }

// Close closes every fd. The System must not be used by the guest
// afterwards.
func (s *System) Close() error {
	s.mu.Lock()
	fds := s.fds
	s.fds = nil
	s.mu.Unlock()
	for _, e := range fds {
		if e != nil {
			_ = e.file.Close()
			s.uncharge(e)
		}
	}
	s.mu.Lock()
	files := s.files
	s.files = nil
	s.mu.Unlock()
	files.close()
	return nil
}

// InsertFD adds f to the fd table at the lowest free fd; EMFILE past the
// limit. The fd gets the rights of f's kind: a socket's, a directory's or
// a file's.
func (s *System) InsertFD(f File) (int32, Errno) {
	b, i, x := rightsOf(f)
	return s.insert(&fdEntry{file: f, rightsB: b, rightsI: i, excluded: x})
}

func (s *System) insert(e *fdEntry) (int32, Errno) {
	s.mu.Lock()
	defer s.mu.Unlock()
	free := -1
	for i, x := range s.fds {
		if x == nil {
			free = i
			break
		}
	}
	if free < 0 && len(s.fds) >= s.maxFDs {
		return -1, EMFILE
	}
	if !s.charge(e) {
		return -1, EMFILE
	}
	if free >= 0 {
		s.fds[free] = e
		return int32(free), 0
	}
	s.fds = append(s.fds, e)
	return int32(len(s.fds) - 1), 0
}

// FD returns the File at fd, EBADF if there is none.
func (s *System) FD(fd int32) (File, Errno) {
	e, errno := s.entry(fd)
	if errno != 0 {
		return nil, errno
	}
	return e.file, 0
}

// Nonblocking reports whether the guest set FDFLAG_NONBLOCK on fd.
func (s *System) Nonblocking(fd int32) bool {
	e, errno := s.entry(fd)
	return errno == 0 && e.flags&fdflagNonblock != 0
}

func (s *System) entry(fd int32) (*fdEntry, Errno) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fd < 0 || int(fd) >= len(s.fds) || s.fds[fd] == nil {
		return nil, EBADF
	}
	return s.fds[fd], 0
}

// remove takes fd out of the table and releases its host fds from the
// budget; the caller closes it.
func (s *System) remove(fd int32) (*fdEntry, Errno) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fd < 0 || int(fd) >= len(s.fds) || s.fds[fd] == nil {
		return nil, EBADF
	}
	e := s.fds[fd]
	s.fds[fd] = nil
	s.uncharge(e)
	return e, 0
}

// Wait blocks until ch is closed, the deadline passes (zero: none) or the
// System is killed; it returns EINTR when killed. Extensions use it to
// implement blocking calls.
func (s *System) Wait(ch <-chan struct{}, deadline time.Time) Errno {
	var timer <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ch:
		return 0
	case <-timer:
		return 0
	case <-s.kill:
		return EINTR
	}
}

// ctxKey keys a *System in a context.
type ctxKey struct{}

// WithSystem returns a ctx carrying s, for engine bindings that find the
// calling instance's System from the call's context.
func WithSystem(ctx context.Context, s *System) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

// FromContext returns the System of WithSystem, or nil.
func FromContext(ctx context.Context) *System {
	s, _ := ctx.Value(ctxKey{}).(*System)
	return s
}
