package images

// store.go: the module store, content addressed as an OCI image layout's
// blobs, so that the local image store of OCI images can grow from it:
//
//	DIR/blobs/sha256/<hex>   a module, named by the sha256 of its bytes
//	DIR/tags.json            the name index {"NAME:TAG": "sha256:<hex>"}
//	DIR/tmp/                 uploads in progress (never visible as blobs)
//
// A blob is written to DIR/tmp, synced, checked (WebAssembly header, size
// bound, digest) and only then renamed into place; tags.json is replaced
// the same way. A blob is verified against its name again whenever it is
// read, so a corrupt file is never run.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Store errors, for errors.Is; each is wrapped with the details.
var (
	// ErrTooLarge: the module is over the store's size bound.
	ErrTooLarge = errors.New("module too large")
	// ErrDigestMismatch: the bytes do not hash to the digest they were sent under.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrNotModule: the bytes are not a WebAssembly (core, version 1) module.
	ErrNotModule = errors.New("not a WebAssembly module")
	// ErrUnknown: no blob with that digest, or no such NAME:TAG.
	ErrUnknown = errors.New("not in the module store")
	// ErrStoreIO: the store could not write (a full or failing disk): the
	// server's fault, not the module's.
	ErrStoreIO = errors.New("module store")
	// ErrStoreFull: the module would take the store over its total bound
	// (MaxTotal).
	ErrStoreFull = errors.New("module store full")
)

// Bounds on the total size of a store's modules, so that the users who
// may upload (any authenticated user, by default) cannot fill the
// server's disk or memory: the modules stored and those being uploaded
// count together.
const (
	DefaultMaxStoreBytes       int64 = 16 << 30 // a store on disk (OpenStore)
	DefaultMaxMemoryStoreBytes int64 = 1 << 30  // a memory store (NewMemoryStore)
)

func storeIO(err error) error { return fmt.Errorf("%w: %w", ErrStoreIO, err) }

// Store is a content-addressed store of modules with a name index. It is
// safe for concurrent use (and concurrent puts of one blob).
type Store struct {
	dir string // "" for a memory store
	max int64

	mu       sync.Mutex
	blobs    map[string][]byte // memory store only
	layers   map[string][]byte // memory store only: kept layer blobs (oci_source.go)
	tags     map[string]string // "NAME:TAG" -> digest
	maxTotal int64             // bound on total+pending
	total    int64             // bytes of the stored blobs
	pending  int64             // bytes read by uploads in progress

	oci ociIndex // oci_index.go: pulled OCI images

	shared *sharedStore // shared.go: the replicas' store, when set
}

// OpenStore opens (creating it if needed) the store in dir. Uploads left
// half-written by a crash are removed.
func OpenStore(dir string) (*Store, error) {
	for _, d := range []string{filepath.Join(dir, "blobs", "sha256"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("module store: %w", err)
		}
	}
	if ents, err := os.ReadDir(filepath.Join(dir, "tmp")); err == nil {
		for _, e := range ents {
			os.Remove(filepath.Join(dir, "tmp", e.Name()))
		}
	}
	s := &Store{dir: dir, max: DefaultMaxModuleSize, tags: map[string]string{}, maxTotal: DefaultMaxStoreBytes}
	if ents, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256")); err == nil {
		for _, e := range ents {
			if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
				s.total += info.Size()
			}
		}
	}
	s.total += layersUsage(dir) // oci_source.go
	b, err := os.ReadFile(filepath.Join(dir, "tags.json"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("module store: %w", err)
	default:
		if err := json.Unmarshal(b, &s.tags); err != nil {
			return nil, fmt.Errorf("module store: %s: %w", filepath.Join(dir, "tags.json"), err)
		}
	}
	return s, nil
}

// NewMemoryStore returns a store that keeps its modules in memory (for an
// in-process cluster and tests).
func NewMemoryStore() *Store {
	return &Store{max: DefaultMaxModuleSize, blobs: map[string][]byte{}, tags: map[string]string{}, maxTotal: DefaultMaxMemoryStoreBytes}
}

// MaxTotal is the bound on the total size of the store's modules.
func (s *Store) MaxTotal() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxTotal
}

// SetMaxTotal changes the total bound; n <= 0 restores the default.
func (s *Store) SetMaxTotal(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case n > 0:
		s.maxTotal = n
	case s.dir == "":
		s.maxTotal = DefaultMaxMemoryStoreBytes
	default:
		s.maxTotal = DefaultMaxStoreBytes
	}
}

// Usage is the total size of the stored modules.
func (s *Store) Usage() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// reserve counts n more bytes of an upload in progress against the total
// bound (ErrStoreFull beyond it).
func (s *Store) reserve(n int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.total+s.pending+n > s.maxTotal {
		return fmt.Errorf("%w: %d bytes stored and %d being uploaded, of at most %d", ErrStoreFull, s.total, s.pending, s.maxTotal)
	}
	s.pending += n
	return nil
}

// Dir is the store's directory, "" for a memory store.
func (s *Store) Dir() string { return s.dir }

// MaxSize is the largest module the store accepts.
func (s *Store) MaxSize() int64 { return s.max }

// SetMaxSize changes the size bound (for tests); n <= 0 restores the default.
func (s *Store) SetMaxSize(n int64) {
	if n <= 0 {
		n = DefaultMaxModuleSize
	}
	s.mu.Lock()
	s.max = n
	s.mu.Unlock()
}

func (s *Store) blobPath(digest string) string {
	return filepath.Join(s.dir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:"))
}

// Has reports whether the blob digest is stored, and its size: here, or
// with a shared store (SetShared) there.
func (s *Store) Has(digest string) (int64, bool) {
	if ValidDigest(digest) != nil {
		return 0, false
	}
	if n, ok := s.hasLocal(digest); ok {
		return n, ok
	}
	return s.Published(digest)
}

// Published reports whether the blob digest can be had from every
// replica, and its size: with a shared store (SetShared), whether the
// shared store has it, else whether this store has it.
func (s *Store) Published(digest string) (int64, bool) {
	if ValidDigest(digest) != nil {
		return 0, false
	}
	if sh := s.sharedBacking(); sh != nil {
		rec, found, err := s.sharedRecord(context.Background(), sh, digest)
		return rec.Size, err == nil && found
	}
	return s.hasLocal(digest)
}

func (s *Store) hasLocal(digest string) (int64, bool) {
	if s.dir == "" {
		s.mu.Lock()
		b, ok := s.blobs[digest]
		s.mu.Unlock()
		return int64(len(b)), ok
	}
	st, err := os.Stat(s.blobPath(digest))
	if err != nil || !st.Mode().IsRegular() {
		return 0, false
	}
	return st.Size(), true
}

// Put stores the module read from r. want, when not empty, is the digest
// the bytes must have (ErrDigestMismatch otherwise). The module must be at
// most MaxSize bytes (ErrTooLarge) and start with the WebAssembly header
// (ErrNotModule, found from the first 8 bytes). Nothing is visible until
// every check passed. ctx cancels a slow put between reads. With a
// shared store (SetShared) the module is written to it too before Put
// returns.
func (s *Store) Put(ctx context.Context, want string, r io.Reader) (digest string, size int64, err error) {
	sh := s.sharedBacking()
	_, had := s.hasLocal(want)
	digest, size, err = s.putLocal(ctx, want, r)
	if err != nil {
		return "", 0, err
	}
	if sh != nil {
		if err := s.publish(ctx, sh, digest, size); err != nil {
			if want == "" || !had { // not kept: the upload failed
				s.dropCorrupt(digest)
			}
			return "", 0, err
		}
	}
	return digest, size, nil
}

func (s *Store) putLocal(ctx context.Context, want string, r io.Reader) (digest string, size int64, err error) {
	if want != "" {
		if err := ValidDigest(want); err != nil {
			return "", 0, err
		}
	}
	s.mu.Lock()
	limit := s.max
	s.mu.Unlock()
	head := make([]byte, 8)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", 0, err
	}
	if cerr := checkWasm(head[:n]); cerr != nil {
		return "", 0, fmt.Errorf("%w (%v)", ErrNotModule, cerr)
	}
	if err := s.reserve(8); err != nil {
		return "", 0, err
	}
	reserved := int64(8)
	defer func() {
		s.mu.Lock()
		s.pending -= reserved
		s.mu.Unlock()
	}()
	h := sha256.New()
	h.Write(head)
	var (
		sink io.Writer
		buf  *bytes.Buffer
		tmp  *os.File
	)
	if s.dir == "" {
		buf = bytes.NewBuffer(append([]byte(nil), head...))
		sink = buf
	} else {
		tmp, err = os.CreateTemp(filepath.Join(s.dir, "tmp"), "upload-*")
		if err != nil {
			return "", 0, storeIO(err)
		}
		defer func() {
			if tmp != nil {
				tmp.Close()
				os.Remove(tmp.Name())
			}
		}()
		if _, err := tmp.Write(head); err != nil {
			return "", 0, storeIO(err)
		}
		sink = tmp
	}
	size = 8
	chunk := make([]byte, 256<<10)
	for {
		if err := ctx.Err(); err != nil {
			return "", 0, err
		}
		m, rerr := r.Read(chunk)
		if m > 0 {
			size += int64(m)
			if size > limit {
				return "", 0, fmt.Errorf("%w: over the %d-byte limit for a module", ErrTooLarge, limit)
			}
			if err := s.reserve(int64(m)); err != nil {
				return "", 0, err
			}
			reserved += int64(m)
			h.Write(chunk[:m])
			if _, err := sink.Write(chunk[:m]); err != nil {
				return "", 0, storeIO(err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return "", 0, rerr
		}
	}
	digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	if want != "" && digest != want {
		return "", 0, fmt.Errorf("%w: the %d bytes received have digest %s, not %s", ErrDigestMismatch, size, digest, want)
	}
	if s.dir == "" {
		s.mu.Lock()
		if _, ok := s.blobs[digest]; !ok {
			s.blobs[digest] = buf.Bytes()
			s.total += size
		}
		s.mu.Unlock()
		return digest, size, nil
	}
	if err := tmp.Sync(); err != nil {
		return "", 0, storeIO(err)
	}
	if err := tmp.Close(); err != nil {
		return "", 0, storeIO(err)
	}
	// Concurrent puts of one blob each rename a complete, verified copy;
	// the store's total counts it once.
	s.mu.Lock()
	old, statErr := os.Stat(s.blobPath(digest))
	if err := os.Rename(tmp.Name(), s.blobPath(digest)); err != nil {
		s.mu.Unlock()
		return "", 0, storeIO(err)
	}
	if statErr == nil && old.Mode().IsRegular() {
		s.total -= old.Size()
	}
	s.total += size
	s.mu.Unlock()
	tmp = nil
	syncDir(filepath.Join(s.dir, "blobs", "sha256"))
	return digest, size, nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Get returns the module digest, verified against its digest. With a
// shared store (SetShared), a module this store lacks is first copied
// from it.
func (s *Store) Get(digest string) ([]byte, error) {
	b, err := s.getLocal(digest)
	if sh := s.sharedBacking(); sh != nil && errors.Is(err, ErrUnknown) {
		ctx, cancel := context.WithTimeout(context.Background(), storeSourceTimeout)
		defer cancel()
		if found, ferr := s.fetchShared(ctx, sh, digest); ferr != nil {
			return nil, ferr
		} else if found {
			return s.getLocal(digest)
		}
	}
	return b, err
}

func (s *Store) getLocal(digest string) ([]byte, error) {
	if err := ValidDigest(digest); err != nil {
		return nil, err
	}
	if s.dir == "" {
		s.mu.Lock()
		b, ok := s.blobs[digest]
		s.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("%w: no module %s", ErrUnknown, digest)
		}
		return b, nil
	}
	b, err := (&Resolver{MaxModuleSize: s.MaxSize()}).readModule(s.blobPath(digest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no module %s", ErrUnknown, digest)
	}
	corrupt := err != nil && strings.Contains(err.Error(), "is not a WebAssembly module")
	if err == nil {
		if d := Digest(b); d != digest {
			err, corrupt = fmt.Errorf("module store: blob %s is corrupt (its bytes have digest %s)", digest, d), true
		}
	}
	if corrupt {
		// A blob that no longer verifies (a failing disk, a hand edit) is
		// removed, so that HEAD says it is missing and the next upload of
		// the module replaces it rather than being told it is there.
		s.dropCorrupt(digest)
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}

// dropCorrupt removes the blob digest, which failed verification.
func (s *Store) dropCorrupt(digest string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.blobPath(digest)
	if st, err := os.Lstat(p); err == nil && os.Remove(p) == nil && st.Mode().IsRegular() {
		s.total -= st.Size()
	}
}

// Tag points NAME:TAG at the stored blob digest.
func (s *Store) Tag(name, tag, digest string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if err := ValidTag(tag); err != nil {
		return err
	}
	if err := ValidDigest(digest); err != nil {
		return err
	}
	if _, ok := s.Published(digest); !ok {
		return fmt.Errorf("%w: no module %s (upload it first)", ErrUnknown, digest)
	}
	if sh := s.sharedBacking(); sh != nil {
		return s.sharedTag(context.Background(), sh, name, tag, digest)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := name + ":" + tag
	old, had := s.tags[k]
	s.tags[k] = digest
	if err := s.saveTags(); err != nil {
		if had {
			s.tags[k] = old
		} else {
			delete(s.tags, k)
		}
		return err
	}
	return nil
}

// saveTags replaces tags.json atomically; s.mu is held.
func (s *Store) saveTags() error {
	if err := s.writeTags(); err != nil {
		return storeIO(err)
	}
	return nil
}

func (s *Store) writeTags() error {
	if s.dir == "" {
		return nil
	}
	return s.replaceJSON("tags.json", s.tags)
}

// replaceJSON writes v as indented JSON to DIR/file atomically: a
// temporary file in DIR/tmp, synced, renamed over it, the directory synced.
func (s *Store) replaceJSON(file string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), strings.TrimSuffix(file, ".json")+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(s.dir, file)); err != nil {
		return err
	}
	syncDir(s.dir)
	return nil
}

// Lookup returns the digest NAME:TAG points at.
func (s *Store) Lookup(name, tag string) (string, error) {
	var d string
	var ok bool
	if sh := s.sharedBacking(); sh != nil {
		var err error
		if d, ok, err = s.sharedLookup(context.Background(), sh, name, tag); err != nil {
			return "", err
		}
	} else {
		s.mu.Lock()
		d, ok = s.tags[name+":"+tag]
		s.mu.Unlock()
	}
	if !ok {
		return "", fmt.Errorf("%w: no image %s/%s:%s (wasmpod image import FILE %s:%s adds it)", ErrUnknown, StoreHost, name, tag, name, tag)
	}
	return d, nil
}

// Tags lists the name index as "NAME:TAG" -> digest, sorted by name.
func (s *Store) Tags() [][2]string {
	tags := s.tags
	if sh := s.sharedBacking(); sh != nil {
		var err error
		if tags, err = s.sharedTags(context.Background(), sh); err != nil {
			tags = nil
		}
	} else {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	out := make([][2]string, 0, len(tags))
	for k, d := range tags {
		out = append(out, [2]string{k, d})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// resolveStore resolves a wasmpod.local reference from r.Store. A digest
// reference is immutable (always current); a tag reference is current
// while the tag points at the same digest.
//
// A module fetched from r.StoreSource is a pull: the PullOptions of pctx
// (WithPullOptions) are told of it, as an OCI pull tells them.
func (r *Resolver) resolveStore(pctx context.Context, ref string) (*Image, error) {
	sr, err := ParseStoreRef(ref)
	if err != nil {
		return nil, &Error{Ref: ref, Kind: ErrInvalid, Err: err}
	}
	if r.Store == nil {
		return nil, &Error{Ref: ref, Kind: ErrUnsupported, Err: errors.New("this node has no module store")}
	}
	digest := sr.Digest
	var check func() bool
	ctx, cancel := context.WithTimeout(context.Background(), storeSourceTimeout)
	defer cancel()
	if digest == "" {
		tag := sr.Tag
		if tag == "" {
			tag = DefaultTag
		}
		if r.StoreSource != nil {
			if digest, err = r.StoreSource.Lookup(ctx, sr.Name, tag); err != nil {
				return nil, &Error{Ref: ref, Kind: ErrNotFound, Err: err}
			}
			src := r.StoreSource
			// Current while the source's tag is the same digest (or the
			// source cannot be asked: the module in hand keeps running).
			check = func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), storeSourceTimeout)
				defer cancel()
				d, err := src.Lookup(ctx, sr.Name, tag)
				return err != nil || d == digest
			}
		} else {
			if digest, err = r.Store.Lookup(sr.Name, tag); err != nil {
				return nil, &Error{Ref: ref, Kind: ErrNotFound, Err: err}
			}
			check = func() bool { d, err := r.Store.Lookup(sr.Name, tag); return err == nil && d == digest }
		}
	}
	if _, ok := r.Store.Has(digest); !ok && r.StoreSource != nil {
		if po := pullOptionsFrom(pctx); po.OnPull != nil {
			po.OnPull()
		}
		if err := r.fetchFromSource(ctx, digest); err != nil {
			return nil, &Error{Ref: ref, Kind: ErrNotFound, Err: err}
		}
	}
	b, err := r.Store.Get(digest)
	if err != nil {
		kind := ErrInvalid
		if errors.Is(err, ErrUnknown) {
			kind = ErrNotFound
			err = fmt.Errorf("%w (upload it with wasmpod apply or wasmpod image import)", err)
		}
		return nil, &Error{Ref: ref, Kind: kind, Err: err}
	}
	path := ""
	if r.Store.dir != "" {
		path = r.Store.blobPath(digest)
	}
	if check == nil {
		check = func() bool { return true }
	}
	return &Image{Ref: ref, Digest: digest, Bytes: b, Path: path, current: check}, nil
}

// StoreSource is where a Store's wasmpod.local modules come from
// (Resolver.StoreSource).
type StoreSource interface {
	// Lookup is the digest of NAME:TAG.
	Lookup(ctx context.Context, name, tag string) (digest string, err error)
	// Fetch opens the module of digest.
	Fetch(ctx context.Context, digest string) (io.ReadCloser, error)
}

// storeSourceTimeout bounds one lookup or fetch from a StoreSource.
var storeSourceTimeout = 2 * time.Minute

// fetchFromSource copies the module of digest from r.StoreSource into
// r.Store, which checks its size bounds, header and digest.
func (r *Resolver) fetchFromSource(ctx context.Context, digest string) error {
	rc, err := r.StoreSource.Fetch(ctx, digest)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", digest, err)
	}
	defer rc.Close()
	if _, _, err := r.Store.Put(ctx, digest, rc); err != nil {
		return fmt.Errorf("fetching %s: %w", digest, err)
	}
	return nil
}
