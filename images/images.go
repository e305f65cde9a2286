// Package images resolves a container's image reference to WebAssembly module
// bytes and a content digest.
//
// Supported references (see Resolver.Resolve):
//
//   - a path to a .wasm file, absolute or relative to the manifest's directory
//     (baseDir); a relative path must end in ".wasm" or start with "./" or "../";
//   - a file:// URL, absolute ("file:///abs/x.wasm") or relative ("file://x.wasm",
//     resolved against baseDir);
//   - go://<dir>, a Go main package directory (absolute or relative to baseDir),
//     built with the local Go toolchain for GOOS=wasip1 GOARCH=wasm and cached on
//     disk under Resolver.CacheDir, keyed by a hash of every build input. The
//     inputs the key was computed from are recorded beside it, so a later
//     resolve, in this process or another, validates them by stat (content
//     hashes for files changed within 2 s of being read) and uses the cached
//     module without running the go command;
//   - wasmpod.local/NAME[:TAG] or wasmpod.local/NAME@sha256:<hex>, a module
//     of Resolver.Store (store.go), by tag or by digest;
//   - any other OCI reference ("ghcr.io/x/y:1.0", "127.0.0.1:5000/hello@sha256:<hex>"),
//     pulled from its registry into Resolver.Store by the pull policy of the
//     context (oci.go, WithPullOptions); its Image.ID is REPO@sha256:<manifest>.
//
// Contract: the returned Image's Digest is "sha256:<hex>" of Bytes, and Bytes
// always start with the WebAssembly magic number and version 1. Every error
// returned by Resolve is an *Error naming the reference and matching, via
// errors.Is, exactly one of ErrNotFound, ErrInvalid (ErrUnsupported is also
// ErrInvalid) or ErrBuild; a go:// resolve cut short by its context is ErrBuild
// and also matches context.Canceled / DeadlineExceeded. Resolve is safe for
// concurrent use; concurrent resolves of the same go:// package share one build.
package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Sentinel errors for classifying resolve failures with errors.Is.
var (
	// ErrNotFound: the file or package directory does not exist.
	ErrNotFound = errors.New("image not found")
	// ErrInvalid: the reference is malformed, or the bytes are not a WebAssembly
	// module, or the go:// directory is not a main package.
	ErrInvalid = errors.New("invalid image")
	// ErrUnsupported: a well-formed reference of a kind not supported yet (OCI,
	// unknown URL schemes). errors.Is(ErrUnsupported, ErrInvalid) is true.
	ErrUnsupported = fmt.Errorf("%w: unsupported image reference", ErrInvalid)
	// ErrBuild: building a go:// image failed (compile error, missing toolchain,
	// go list failure, unwritable cache).
	ErrBuild = errors.New("image build failed")
)

// Error is the error type returned by Resolve.
type Error struct {
	Ref  string // the image reference as given
	Kind error  // ErrNotFound, ErrInvalid, ErrUnsupported or ErrBuild
	Err  error  // the underlying cause, shown in the message

	// probe: the cause tells something about the host's files (missing,
	// unreadable, not a module, not a package), which Resolver.Opaque hides.
	probe bool
}

func probe(e *Error) *Error {
	e.probe = true
	return e
}

// Error is `image "<ref>": <cause>`: it names the reference once, so a
// caller adds where the reference was written (file, document, field) in
// front, and never repeats the reference. A build failure's cause is
// "go build failed:" followed by the go command's output, one line each.
func (e *Error) Error() string { return fmt.Sprintf("image %q: %v", e.Ref, e.Err) }

// maxSummary bounds the line Summary returns.
const maxSummary = 512

// Summary returns the cause in one line, for an Event or a one-line log:
// its first informative line (for a build failure, the first compiler
// message; package headers "# pkg" are skipped), at most 512 bytes, and
// how many more informative lines the whole cause (e.Err) has.
func (e *Error) Summary() (first string, more int) {
	var lines []string
	for i, l := range strings.Split(e.Err.Error(), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "# ") || (i == 0 && errors.Is(e.Kind, ErrBuild) && strings.HasSuffix(l, "failed:")) {
			continue
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return strings.TrimSpace(strings.ReplaceAll(e.Err.Error(), "\n", " ")), 0
	}
	first = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, lines[0])
	if len(first) > maxSummary {
		first = strings.ToValidUTF8(first[:maxSummary], "") + "..."
	}
	return first, len(lines) - 1
}

// Unwrap lets errors.Is match both the Kind sentinel and the cause.
func (e *Error) Unwrap() []error { return []error{e.Kind, e.Err} }

func newErr(ref string, kind error, format string, args ...any) *Error {
	return &Error{Ref: ref, Kind: kind, Err: fmt.Errorf(format, args...)}
}

// Image is a resolved module.
type Image struct {
	Ref    string // as written in the manifest
	Digest string // "sha256:<hex>" of Bytes; the module's identity
	Bytes  []byte // module bytes; shared between callers, do not modify
	Path   string // the .wasm file it came from (the cached build artifact for go://)
	// ID is the image's ID for a container status (an OCI image's
	// REGISTRY/REPO@sha256:<manifest>); "" means Digest (ImageID).
	ID string
	// Entrypoint and Cmd are an OCI container image's (see Argv).
	Entrypoint, Cmd []string

	inputs  *fingerprint // what it was made from, for Current
	current func() bool  // for Current, instead of inputs (store images)
}

// fingerprint records the metadata (size, mtime, mode, inode change) of
// every file and directory an image was made from, taken before their
// contents were read, so that Current can tell cheaply, with stats only,
// whether they may have changed since.
type fingerprint struct {
	entries []statEntry
	index   map[string]int // entry of each path
	since   time.Time      // when the first stat was taken
	// racy: an entry changed so shortly before it was read that a later
	// change could keep the same mtime (timestamp granularity); such a
	// fingerprint proves nothing and Current re-resolves.
	racy bool
}

type statEntry struct {
	path string
	info fs.FileInfo // nil: the path did not exist
	hash []byte      // sha256 of the content read after the stat (files read only)
}

// racyWindow: a file modified this close to the moment it was read may be
// modified again without a visible mtime change (as git's "racy" entries).
const racyWindow = 2 * time.Second

func newFingerprint() (*fingerprint, time.Time) {
	now := time.Now()
	return &fingerprint{since: now, index: map[string]int{}}, now
}

// add stats path (before it is read) and records it; a path already
// recorded keeps its first stat.
func (f *fingerprint) add(path string, since time.Time) (fs.FileInfo, error) {
	if i, ok := f.index[path]; ok {
		return f.entries[i].info, nil
	}
	st, err := os.Stat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err == nil && !st.ModTime().Before(since.Add(-racyWindow)) {
		f.racy = true
	}
	f.index[path] = len(f.entries)
	f.entries = append(f.entries, statEntry{path: path, info: st})
	return st, nil
}

func sameStat(a, b fs.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && a.Mode() == b.Mode() && os.SameFile(a, b) && sameCtime(a, b)
}

// Current reports, with a few stats and no hashing, whether img was made
// from files that are still as they were: a path image's file; a go://
// image's every source, embedded and module file, package directory (a
// file added or removed) and the go command. False means "may have
// changed": resolve again (which rebuilds only if the content hash of the
// inputs changed). An Image not made by Resolve is never current.
func (r *Resolver) Current(img *Image) bool {
	if img != nil && img.current != nil {
		return img.current()
	}
	if img == nil || img.inputs == nil || img.inputs.racy {
		return false
	}
	for _, e := range img.inputs.entries {
		st, err := os.Stat(e.path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false
		}
		if err != nil {
			st = nil
		}
		if !sameStat(e.info, st) {
			return false
		}
	}
	return true
}

// Resolver resolves image references. The zero value resolves files; go://
// references need CacheDir. A Resolver must not be copied after first use.
type Resolver struct {
	CacheDir string    // content-addressed cache (go:// build outputs); required for go://
	Progress io.Writer // progress lines for long work (builds); nil = silent
	GoCmd    string    // "go" when empty
	// Opaque makes every failure to find or read a path or file:// image,
	// or to find a go:// main package, one ErrNotFound that does not say
	// whether the path is missing, unreadable, not a regular file, not a
	// module or not a package, so that whoever writes image references
	// (clients of the API) cannot probe the host's files; the details go to
	// Progress, the admin's log. Build failures of a real main package are
	// reported as they are.
	Opaque bool
	// MaxModuleSize bounds the size of a path image (DefaultMaxModuleSize
	// when zero).
	MaxModuleSize int64
	// Store resolves wasmpod.local references (store.go); without it they
	// are ErrUnsupported.
	Store *Store
	// StoreSource, when set, is where Store's wasmpod.local references
	// come from: tags are looked up there and modules missing from Store
	// are fetched from it into Store, as a kubelet pulls from a registry
	// into its node's image store (a node agent's Store caches serve's
	// module store, nodeagent/modules.go).
	StoreSource StoreSource
	// Registry configures pulls of OCI references (oci.go); nil: HTTPS
	// only, no node credentials, DefaultMaxLayerSize.
	Registry *RegistryConfig

	mu      sync.Mutex
	flights map[string]*flight // in-progress go:// resolves by package dir
	ociSeen map[string]*Image  // verified OCI images by reference (oci.go ociImage)

	builds atomic.Int64 // number of go build runs (for tests)
}

type flight struct {
	done chan struct{}
	img  *Image
	err  error
}

// Digest returns "sha256:<hex>" of b.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

var wasmHeader = []byte{0x00, 'a', 's', 'm'}

// checkWasm reports why b is not a WebAssembly (core, version 1) module, or nil.
func checkWasm(b []byte) error {
	if len(b) < 8 || !bytes.Equal(b[:4], wasmHeader) {
		return errors.New("bad magic number")
	}
	if v := binary.LittleEndian.Uint32(b[4:8]); v != 1 {
		return fmt.Errorf("unsupported version %d (want 1)", v)
	}
	return nil
}

// DefaultMaxModuleSize is the default of Resolver.MaxModuleSize.
const DefaultMaxModuleSize = 512 << 20

// Resolve turns ref into module bytes. Relative paths are resolved against
// baseDir (the manifest's directory; the working directory when empty).
func (r *Resolver) Resolve(ctx context.Context, ref, baseDir string) (*Image, error) {
	img, err := r.resolve(ctx, ref, baseDir)
	var e *Error
	if err != nil && r.Opaque && ctx.Err() == nil && errors.As(err, &e) && e.probe {
		r.progressf("%v\n", err)
		what := "readable WebAssembly module"
		if strings.HasPrefix(ref, "go://") {
			what = "Go main package"
		}
		return nil, &Error{Ref: ref, Kind: ErrNotFound,
			Err: fmt.Errorf("not found: no %s there (missing, unreadable or not one; the server's log has the details)", what)}
	}
	return img, err
}

func (r *Resolver) resolve(ctx context.Context, ref, baseDir string) (*Image, error) {
	if strings.TrimSpace(ref) == "" {
		return nil, newErr(ref, ErrInvalid, "empty image reference")
	}
	if ref != strings.TrimSpace(ref) {
		return nil, newErr(ref, ErrInvalid, "image reference has leading or trailing spaces")
	}
	switch {
	case strings.HasPrefix(ref, "go://"):
		return r.resolveGo(ctx, ref, baseDir)
	case strings.HasPrefix(ref, "file://"):
		p, err := fileURLPath(ref)
		if err != nil {
			return nil, newErr(ref, ErrInvalid, "%v", err)
		}
		return r.readFile(ref, absPath(baseDir, p))
	case IsStoreRef(ref):
		return r.resolveStore(ctx, ref)
	case strings.Contains(ref, "://"):
		scheme, _, _ := strings.Cut(ref, "://")
		return nil, &Error{Ref: ref, Kind: ErrUnsupported,
			Err: fmt.Errorf("unsupported scheme %q; use a path to a .wasm file, file:// or go://", scheme)}
	case isPath(ref):
		return r.readFile(ref, absPath(baseDir, ref))
	}
	return r.resolveOCI(ctx, ref) // oci.go
}

// ImageID is the image's ID for a container status: ID, else Digest.
func (img *Image) ImageID() string {
	if img.ID != "" {
		return img.ID
	}
	return img.Digest
}

// isPath reports whether ref (with no scheme) names a file rather than an OCI image.
func isPath(ref string) bool {
	if filepath.IsAbs(ref) || strings.HasPrefix(ref, "/") {
		return true
	}
	if ref == "." || ref == ".." || strings.HasPrefix(ref, "./") || strings.HasPrefix(ref, "../") ||
		strings.HasPrefix(ref, `.\`) || strings.HasPrefix(ref, `..\`) {
		return true
	}
	return strings.HasSuffix(strings.ToLower(ref), ".wasm")
}

// fileURLPath extracts the (possibly relative) path from a file:// URL.
func fileURLPath(ref string) (string, error) {
	rest := strings.TrimPrefix(ref, "file://")
	if strings.HasPrefix(rest, "localhost/") {
		rest = rest[len("localhost"):]
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	if p, err := url.PathUnescape(rest); err == nil {
		rest = p
	}
	if rest == "" {
		return "", errors.New("file:// URL has no path")
	}
	return filepath.FromSlash(rest), nil
}

func absPath(baseDir, p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(baseDir, p)
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

// readFile reads the module at path: a regular file only (a FIFO or a
// device would block or never end), of at most MaxModuleSize bytes, whose
// header is checked before the rest is read.
func (r *Resolver) readFile(ref, path string) (*Image, error) {
	fp, now := newFingerprint()
	if _, err := fp.add(path, now); err != nil {
		return nil, probe(&Error{Ref: ref, Kind: ErrInvalid, Err: err})
	}
	b, err := r.readModule(path)
	if err != nil {
		kind := ErrInvalid
		if errors.Is(err, fs.ErrNotExist) {
			kind = ErrNotFound
		}
		return nil, probe(&Error{Ref: ref, Kind: kind, Err: err})
	}
	return &Image{Ref: ref, Digest: Digest(b), Bytes: b, Path: path, inputs: fp}, nil
}

func (r *Resolver) readModule(path string) ([]byte, error) {
	limit := r.MaxModuleSize
	if limit <= 0 {
		limit = DefaultMaxModuleSize
	}
	// O_NONBLOCK: opening a FIFO must not wait for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	switch {
	case st.IsDir():
		return nil, fmt.Errorf("%s is a directory, not a module file", path)
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file (a device, pipe or socket)", path)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes, over the %d-byte limit for a module", path, st.Size(), limit)
	}
	head := make([]byte, 8)
	if n, _ := io.ReadFull(f, head); checkWasm(head[:n]) != nil {
		return nil, fmt.Errorf("%s is not a WebAssembly module (%v)", path, checkWasm(head[:n]))
	}
	rest, err := io.ReadAll(io.LimitReader(f, limit-8+1))
	if err != nil {
		return nil, err
	}
	if int64(len(rest))+8 > limit {
		return nil, fmt.Errorf("%s grew over the %d-byte limit for a module", path, limit)
	}
	return append(head, rest...), nil
}

// resolveGo resolves a go:// reference, sharing work between concurrent
// callers for the same package directory. The shared build runs under the
// context of the caller that started it.
func (r *Resolver) resolveGo(ctx context.Context, ref, baseDir string) (*Image, error) {
	rel := strings.TrimPrefix(ref, "go://")
	if rel == "" {
		return nil, newErr(ref, ErrInvalid, "go:// reference has no package path (use go://. for the manifest's directory)")
	}
	dir := absPath(baseDir, filepath.FromSlash(rel))
	if err := ctx.Err(); err != nil {
		return nil, &Error{Ref: ref, Kind: ErrBuild, Err: err}
	}

	r.mu.Lock()
	if f, ok := r.flights[dir]; ok {
		r.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, &Error{Ref: ref, Kind: ErrBuild, Err: ctx.Err()}
		}
		return withRef(f.img, f.err, ref)
	}
	f := &flight{done: make(chan struct{})}
	if r.flights == nil {
		r.flights = map[string]*flight{}
	}
	r.flights[dir] = f
	r.mu.Unlock()

	f.img, f.err = r.buildGo(ctx, ref, dir)

	r.mu.Lock()
	delete(r.flights, dir)
	r.mu.Unlock()
	close(f.done)
	return f.img, f.err
}

// withRef adapts a shared result to a caller whose ref may be spelled differently.
func withRef(img *Image, err error, ref string) (*Image, error) {
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Ref != ref {
			c := *e
			c.Ref = ref
			return nil, &c
		}
		return nil, err
	}
	c := *img
	c.Ref = ref
	return &c, nil
}

// goPackage is the subset of `go list -json` output we use.
type goPackage struct {
	Dir        string
	ImportPath string
	Name       string
	Standard   bool
	GoFiles    []string
	CgoFiles   []string
	SFiles     []string
	EmbedFiles []string
	// IgnoredGoFiles, IgnoredOtherFiles: excluded by build constraints.
	IgnoredGoFiles    []string
	IgnoredOtherFiles []string
	Module            *struct {
		Path  string
		Dir   string
		GoMod string
		Main  bool
	}
	Error *struct{ Err string }
}

const (
	targetOS   = "wasip1"
	targetArch = "wasm"
)

// buildFlags are passed to go build and included in the cache key.
var buildFlags = []string{"-trimpath", "-buildvcs=false"}

func (r *Resolver) goCmd() string {
	if r.GoCmd != "" {
		return r.GoCmd
	}
	return "go"
}

func (r *Resolver) command(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, r.goCmd(), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS="+targetOS, "GOARCH="+targetArch)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs cmd and returns its stdout; on failure the error carries stderr.
func run(cmd *exec.Cmd) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return nil, err
		}
		return nil, fmt.Errorf("%w\n%s", err, msg)
	}
	return stdout.Bytes(), nil
}

func (r *Resolver) buildGo(ctx context.Context, ref, dir string) (*Image, error) {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, probe(newErr(ref, ErrNotFound, "package directory %s does not exist", dir))
	case err != nil:
		return nil, probe(&Error{Ref: ref, Kind: ErrInvalid, Err: err})
	case !st.IsDir():
		return nil, probe(newErr(ref, ErrInvalid, "%s is not a directory (go:// names a Go main package directory)", dir))
	}
	if r.CacheDir == "" {
		return nil, newErr(ref, ErrBuild, "no cache directory configured for go:// builds (Resolver.CacheDir)")
	}
	goBin, err := exec.LookPath(r.goCmd())
	if err != nil {
		return nil, newErr(ref, ErrBuild, "Go toolchain not found: %v", err)
	}
	if abs, err := filepath.Abs(goBin); err == nil {
		goBin = abs
	}
	cacheDir := filepath.Join(r.CacheDir, "go-build")
	env := goEnv()
	recPath := recordPath(r.CacheDir, dir, goBin, env)
	// A warm start: the record of the last build proves, by stats (and
	// content hashes for racy entries), that no input changed.
	if img := r.warm(ref, recPath, dir, goBin, env, cacheDir); img != nil {
		return img, nil
	}
	// remember records the inputs of the artifact whose digest is digest;
	// st, if not nil, is the artifact's stat taken before it was read.
	remember := func(in *buildInputs, digest string, st fs.FileInfo) {
		rec := newRecord(dir, goBin, env, in.key, digest, in.fp)
		if rec == nil {
			return
		}
		if st != nil {
			rec.Artifact = entryOf(filepath.Join(cacheDir, in.key+".wasm"), st)
			rec.Artifact.Racy = !st.ModTime().Before(time.Now().Add(-racyWindow))
		}
		_ = rec.save(recPath) // best effort: without it the next start runs go list again
	}

	in, err := r.inputKey(ctx, ref, dir, goBin)
	if err != nil {
		return nil, err
	}
	out := filepath.Join(cacheDir, in.key+".wasm")
	cached, _ := os.Stat(out) // taken before the read
	if b, err := os.ReadFile(out); err == nil && checkWasm(b) == nil {
		digest := Digest(b)
		remember(in, digest, cached)
		return &Image{Ref: ref, Digest: digest, Bytes: b, Path: out, inputs: in.fp}, nil
	}

	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, newErr(ref, ErrBuild, "creating cache directory: %v", err)
	}
	tmp, err := os.CreateTemp(cacheDir, in.key+".*.tmp")
	if err != nil {
		return nil, newErr(ref, ErrBuild, "creating cache file: %v", err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName) // no-op after a successful rename

	start := time.Now()
	r.builds.Add(1)
	if err := r.goBuild(ctx, ref, dir, tmpName, in); err != nil {
		if ctx.Err() != nil {
			return nil, &Error{Ref: ref, Kind: ErrBuild, Err: ctx.Err()}
		}
		r.progressf("Failed to build %s in %s\n", ref, roundDuration(time.Since(start)))
		return nil, err
	}
	built, _ := os.Stat(tmpName)
	b, err := os.ReadFile(tmpName)
	if err != nil {
		return nil, newErr(ref, ErrBuild, "reading build output: %v", err)
	}
	if err := checkWasm(b); err != nil {
		return nil, newErr(ref, ErrBuild, "go build produced %s, which is not a WebAssembly module (%v)", tmpName, err)
	}
	digest := Digest(b)
	r.progressf("Built %s (%s, %s) in %s\n", ref, humanSize(len(b)), shortDigest(digest), roundDuration(time.Since(start)))

	// Cache the artifact only if the inputs did not change during the build;
	// otherwise we cannot tell which version was compiled.
	in2, err := r.inputKey(ctx, ref, dir, goBin)
	if err != nil || in2.key != in.key {
		stale := filepath.Join(cacheDir, "uncached-"+digest[len("sha256:"):]+".wasm")
		if err := os.Rename(tmpName, stale); err != nil {
			return nil, newErr(ref, ErrBuild, "writing build output: %v", err)
		}
		return &Image{Ref: ref, Digest: digest, Bytes: b, Path: stale}, nil
	}
	if err := os.Rename(tmpName, out); err != nil {
		return nil, newErr(ref, ErrBuild, "writing cache: %v", err)
	}
	// The file read is the one in place (a rename keeps the inode, and
	// changes the inode change time, hence the stat again).
	if st, err := os.Stat(out); err == nil && built != nil && os.SameFile(built, st) && st.Size() == int64(len(b)) {
		remember(in2, digest, st)
	} else {
		remember(in2, digest, nil)
	}
	// The image keeps the fingerprint taken before the build: a change
	// just before it stays racy (not current) however long the build took.
	return &Image{Ref: ref, Digest: digest, Bytes: b, Path: out, inputs: in.fp}, nil
}

// maxBuildOutput bounds the compiler output kept in a build error.
const maxBuildOutput = 64 << 10

// goBuild runs go build for dir, writing the module to out, and shows
// progress: the packages compiled so far (go build -v names each) out of
// the packages the main package depends on.
func (r *Resolver) goBuild(ctx context.Context, ref, dir, out string, in *buildInputs) error {
	r.progressf("Building %s for %s/%s...\n", ref, targetOS, targetArch)
	args := append([]string{"build", "-v"}, buildFlags...)
	args = append(args, "-o", out, ".")
	cmd := r.command(ctx, dir, args...)
	deps := make(map[string]bool, len(in.deps))
	for _, d := range in.deps {
		deps[d] = false
	}
	var (
		mu     sync.Mutex
		built  int
		output bytes.Buffer // what go printed, but the package names of -v
		cut    bool
	)
	lines := &lineWriter{line: func(line string) {
		mu.Lock()
		defer mu.Unlock()
		if done, ok := deps[line]; ok {
			if !done {
				deps[line] = true
				built++
			}
			return
		}
		if output.Len()+len(line) >= maxBuildOutput {
			cut = true
			return
		}
		output.WriteString(line + "\n")
	}}
	cmd.Stdout, cmd.Stderr = lines, lines
	last := -1
	stop := startTicker(r.Progress, func(elapsed time.Duration) (string, bool) {
		mu.Lock()
		n := built
		mu.Unlock()
		news := n != last
		last = n
		return buildStatus(ref, n, len(in.deps), elapsed), news
	})
	err := cmd.Run()
	stop()
	lines.flush()
	if err != nil {
		msg := strings.TrimSpace(output.String())
		if msg == "" {
			msg = err.Error()
		}
		if cut {
			msg += "\n(more output cut)"
		}
		return newErr(ref, ErrBuild, "go build failed:\n%s", msg)
	}
	return nil
}

// lineWriter calls line for each line written to it.
type lineWriter struct {
	line func(string)
	buf  []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.line(strings.TrimSuffix(string(l.buf[:i]), "\r"))
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > maxBuildOutput { // a line without end
		l.flush()
	}
	return len(p), nil
}

func (l *lineWriter) flush() {
	if len(l.buf) > 0 {
		l.line(string(l.buf))
		l.buf = nil
	}
}

// buildInputs is what inputKey learns about a go:// package.
type buildInputs struct {
	key  string       // hash of every build input
	fp   *fingerprint // the stat (and content hash) of each input, taken before it was read
	deps []string     // import paths of the packages built, standard ones included
}

// goEnvVars are the go env values asked for; the first seven go into the
// key (the key's format is unchanged since they were the only ones).
var goEnvVars = []string{"GOVERSION", "GOROOT", "GOFLAGS", "GOWORK", "GOWASM", "GOEXPERIMENT", "GOTOOLCHAIN", "GOENV", "GOMODCACHE"}

const keyedEnvVars = 7

// inputKey hashes everything that determines the build output: toolchain
// version and settings, target, build flags, the main module's go.mod/go.sum
// (and go.work, if any) and the contents of every source and embedded file of
// every non-standard-library package the main package depends on.
//
// Its fingerprint (see Current and the on-disk record) covers more than the
// key: the go binary, the go env files, the package, module and embed
// directories (a file added or removed), the files the build ignores (a
// changed build constraint), and the go.mod and go.work files that could
// appear in a parent directory and change the module or workspace.
func (r *Resolver) inputKey(ctx context.Context, ref, dir, goBin string) (*buildInputs, error) {
	fp, since := newFingerprint()
	hashErr := func(err error) error { return newErr(ref, ErrBuild, "hashing inputs: %v", err) }
	if _, err := fp.add(goBin, since); err != nil {
		return nil, probe(newErr(ref, ErrBuild, "hashing inputs: %v", err))
	}
	if _, err := fp.add(dir, since); err != nil {
		return nil, probe(newErr(ref, ErrBuild, "hashing inputs: %v", err))
	}
	envOut, err := run(r.command(ctx, dir, append([]string{"env"}, goEnvVars...)...))
	if err != nil {
		return nil, probe(newErr(ref, ErrBuild, "go env failed: %v", err))
	}
	listOut, err := run(r.command(ctx, dir, "list", "-e", "-deps",
		"-json=Dir,ImportPath,Name,Standard,GoFiles,CgoFiles,SFiles,EmbedFiles,IgnoredGoFiles,IgnoredOtherFiles,Module,Error", "."))
	if err != nil {
		return nil, probe(newErr(ref, ErrBuild, "go list failed: %v", err))
	}
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(listOut))
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, probe(newErr(ref, ErrBuild, "parsing go list output: %v", err))
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		return nil, probe(newErr(ref, ErrBuild, "go list printed no packages for %s", dir))
	}
	// -deps lists packages in post-order: the named package comes last.
	root := pkgs[len(pkgs)-1]
	if root.Error != nil && len(root.GoFiles)+len(root.CgoFiles) == 0 {
		return nil, probe(newErr(ref, ErrInvalid, "%s is not a Go main package: %s", dir, root.Error.Err))
	}
	if root.Name != "" && root.Name != "main" {
		return nil, probe(newErr(ref, ErrInvalid, "%s is not a Go main package (it is package %s)", dir, root.Name))
	}
	var pkgErrs []string
	for _, p := range pkgs {
		if p.Error != nil {
			pkgErrs = append(pkgErrs, p.Error.Err)
		}
	}
	if len(pkgErrs) > 0 {
		return nil, newErr(ref, ErrBuild, "go build failed:\n%s", strings.Join(pkgErrs, "\n"))
	}

	envLines := strings.Split(string(envOut), "\n")
	keyed := strings.Join(envLines[:min(keyedEnvVars, len(envLines))], "\n") + "\n"
	h := sha256.New()
	fmt.Fprintf(h, "wasmpod-go-build v1\nGOOS=%s GOARCH=%s\nflags=%q\nenv:\n%s\n", targetOS, targetArch, buildFlags, keyed)
	// hashFile stats path, reads it and records its content hash; keyed
	// files also go into the key.
	hashFile := func(label, path string, keyed bool) error {
		if _, err := fp.add(path, since); err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) && label != "file" {
			if keyed {
				fmt.Fprintf(h, "%s %s absent\n", label, path)
			}
			return nil
		}
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		if e := &fp.entries[fp.index[path]]; e.hash == nil {
			e.hash = sum[:]
		}
		if keyed {
			fmt.Fprintf(h, "%s %s %x\n", label, path, sum)
		}
		return nil
	}
	// The go env files: the user's (go env -w) and the toolchain's.
	if f := strings.TrimSpace(lineN(envOut, 7)); f != "" && f != "off" {
		if _, err := fp.add(f, since); err != nil {
			return nil, hashErr(err)
		}
	}
	if goroot := strings.TrimSpace(lineN(envOut, 1)); goroot != "" {
		if _, err := fp.add(filepath.Join(goroot, "go.env"), since); err != nil {
			return nil, hashErr(err)
		}
	}
	modDir := ""
	if root.Module != nil && root.Module.GoMod != "" {
		modDir = filepath.Dir(root.Module.GoMod)
		if err := hashFile("go.mod", root.Module.GoMod, true); err != nil {
			return nil, hashErr(err)
		}
		if err := hashFile("go.sum", filepath.Join(modDir, "go.sum"), true); err != nil {
			return nil, hashErr(err)
		}
		// A vendor directory appearing changes how dependencies resolve.
		if _, err := fp.add(modDir, since); err != nil {
			return nil, hashErr(err)
		}
	}
	// A go.mod appearing between the package and its module root, or a
	// go.work in any parent, changes the build.
	for d, inModule := dir, true; ; {
		if inModule {
			if _, err := fp.add(filepath.Join(d, "go.mod"), since); err != nil {
				return nil, hashErr(err)
			}
		}
		if d == modDir {
			inModule = false
		}
		if _, err := fp.add(filepath.Join(d, "go.work"), since); err != nil {
			return nil, hashErr(err)
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if work := strings.TrimSpace(lineN(envOut, 3)); work != "" && work != "off" {
		for _, f := range []string{work, work + ".sum"} {
			if err := hashFile("go.work", f, true); err != nil {
				return nil, hashErr(err)
			}
		}
	}
	// The go.mod of a module outside the module cache (a replace by a
	// local directory, a workspace module) can change as a source can.
	modCache := strings.TrimSpace(lineN(envOut, 8))
	var deps []string
	for _, p := range pkgs {
		deps = append(deps, p.ImportPath)
		if p.Standard {
			continue
		}
		if m := p.Module; m != nil && m.GoMod != "" && (root.Module == nil || m.GoMod != root.Module.GoMod) &&
			(modCache == "" || !strings.HasPrefix(m.GoMod, modCache+string(filepath.Separator))) {
			if _, seen := fp.index[m.GoMod]; !seen {
				if err := hashFile("modfile", m.GoMod, true); err != nil {
					return nil, hashErr(err)
				}
			}
		}
		fmt.Fprintf(h, "package %s %s\n", p.ImportPath, p.Dir)
		// A file added to or removed from the package changes its
		// directory's mtime. (Taken after go list: a racy mtime is caught
		// by the window.)
		if _, err := fp.add(p.Dir, since); err != nil {
			return nil, hashErr(err)
		}
		var files []string
		for _, list := range [][]string{p.GoFiles, p.CgoFiles, p.SFiles, p.EmbedFiles} {
			files = append(files, list...)
		}
		sort.Strings(files)
		for _, f := range files {
			if err := hashFile("file", filepath.Join(p.Dir, f), true); err != nil {
				return nil, hashErr(err)
			}
		}
		// A file added to an embedded directory changes what is embedded.
		for _, f := range p.EmbedFiles {
			for d := filepath.Dir(filepath.Join(p.Dir, f)); len(d) > len(p.Dir) && strings.HasPrefix(d, p.Dir); d = filepath.Dir(d) {
				if _, err := fp.add(d, since); err != nil {
					return nil, hashErr(err)
				}
			}
		}
		// Files excluded by build constraints: an edited constraint could
		// bring one in. They are watched, not keyed.
		for _, list := range [][]string{p.IgnoredGoFiles, p.IgnoredOtherFiles} {
			for _, f := range list {
				if err := hashFile("ignored", filepath.Join(p.Dir, f), false); err != nil {
					return nil, hashErr(err)
				}
			}
		}
	}
	return &buildInputs{key: hex.EncodeToString(h.Sum(nil)), fp: fp, deps: deps}, nil
}

// lineN returns the n-th (0-based) line of b.
func lineN(b []byte, n int) string {
	lines := strings.Split(string(b), "\n")
	if n < len(lines) {
		return lines[n]
	}
	return ""
}

func (r *Resolver) progressf(format string, args ...any) {
	if r.Progress != nil {
		fmt.Fprintf(r.Progress, format, args...)
	}
}

func humanSize(n int) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1_000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}

func roundDuration(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}
