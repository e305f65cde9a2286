package images

// shared.go: the module store of an HA control plane, shared by its
// replicas through the store they already share (etcd), so that a module
// uploaded to one replica is served by every replica, also once that one
// is gone. Under the records (SharedKV keys):
//
//	modules/blobs/<hex>           {"size":N,"chunks":K}: the module is complete
//	modules/chunks/<hex>/<i>      its bytes, SharedChunkSize each (the last shorter)
//	modules/tags/<NAME>:<TAG>     a digest
//	modules/usage                 {"bytes":N,"modules":M,"tags":T}: what the
//	                              bounds count, reserved before writing
//
// The chunks are written first and the blob record last, with a create
// compare, so a record names a complete module. The replica's own store
// (its data dir) is a cache of the shared one: a module it lacks is read
// chunk by chunk through Put, which checks the header, the size bound and
// the digest, and every read of the cache verifies the digest again.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// SharedKV is the key/value store a Store shares with the other replicas
// (Store.SetShared): an etcd prefix outside the API's keyspace.
type SharedKV interface {
	// Get reads key; found is false when there is none.
	Get(ctx context.Context, key string) (value []byte, found bool, err error)
	// Put writes key.
	Put(ctx context.Context, key string, value []byte) error
	// Create writes key unless it exists; created tells which.
	Create(ctx context.Context, key string, value []byte) (created bool, err error)
	// Update replaces key by f of its value, atomically (f may run again).
	Update(ctx context.Context, key string, f func(old []byte, found bool) ([]byte, error)) error
	// List reads the keys under prefix (names without it), at most limit.
	List(ctx context.Context, prefix string, limit int) (map[string][]byte, error)
}

// Bounds of a shared store. A chunk stays under etcd's default request
// limit (--max-request-bytes, 1.5 MiB) and the etcd client's 2 MiB
// message bound; the totals keep modules from filling etcd's quota
// (--quota-backend-bytes, 2 GiB by default), which would stop every
// write of the cluster.
const (
	SharedChunkSize               = 1 << 20
	DefaultMaxSharedBytes   int64 = 1 << 30
	DefaultMaxSharedModules       = 1000
	DefaultMaxSharedTags          = 10000
)

// sharedTimeout bounds one request to the shared store.
var sharedTimeout = 30 * time.Second

type sharedBlob struct {
	Size   int64 `json:"size"`
	Chunks int   `json:"chunks"`
}

type sharedUsage struct {
	Bytes   int64 `json:"bytes"`
	Modules int   `json:"modules"`
	Tags    int   `json:"tags"`
}

type sharedStore struct {
	kv                  SharedKV
	maxBytes            int64
	maxModules, maxTags int
	chunk               int
}

// SetShared makes kv the store's shared backing: uploads are written to
// it, modules and tags are read from it, and this store keeps a cache.
// maxBytes and maxModules bound the modules kept in kv (<= 0: the
// defaults).
func (s *Store) SetShared(kv SharedKV, maxBytes int64, maxModules int) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxSharedBytes
	}
	if maxModules <= 0 {
		maxModules = DefaultMaxSharedModules
	}
	s.mu.Lock()
	s.shared = &sharedStore{kv: kv, maxBytes: maxBytes, maxModules: maxModules, maxTags: DefaultMaxSharedTags, chunk: SharedChunkSize}
	s.mu.Unlock()
}

func (s *Store) sharedBacking() *sharedStore {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shared
}

func hexOf(digest string) string { return strings.TrimPrefix(digest, "sha256:") }

// sharedRecord reads the blob record of digest, checked against the
// store's bounds (a record is data from another process).
func (s *Store) sharedRecord(ctx context.Context, sh *sharedStore, digest string) (sharedBlob, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	defer cancel()
	key := "modules/blobs/" + hexOf(digest)
	b, found, err := sh.kv.Get(ctx, key)
	if err != nil || !found {
		return sharedBlob{}, false, err
	}
	var rec sharedBlob
	if err := json.Unmarshal(b, &rec); err != nil {
		return sharedBlob{}, false, fmt.Errorf("module store: shared record %s: %w", key, err)
	}
	want := int((rec.Size + int64(sh.chunk) - 1) / int64(sh.chunk))
	if rec.Size < 8 || rec.Size > s.MaxSize() || rec.Chunks != want {
		return sharedBlob{}, false, fmt.Errorf("module store: shared record %s: size %d in %d chunks is not a module this store takes (at most %d bytes, %d-byte chunks)", key, rec.Size, rec.Chunks, s.MaxSize(), sh.chunk)
	}
	return rec, true, nil
}

// reserveShared counts a module of size bytes (or a tag) against the
// shared bounds; a negative size and count release.
func (sh *sharedStore) reserve(ctx context.Context, size int64, modules, tags int) error {
	ctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	defer cancel()
	return sh.kv.Update(ctx, "modules/usage", func(old []byte, found bool) ([]byte, error) {
		var u sharedUsage
		if found {
			if err := json.Unmarshal(old, &u); err != nil {
				return nil, fmt.Errorf("module store: shared usage record: %w", err)
			}
		}
		u.Bytes += size
		u.Modules += modules
		u.Tags += tags
		switch {
		case size > 0 && u.Bytes > sh.maxBytes:
			return nil, fmt.Errorf("%w: the replicas' shared store holds %d bytes, of at most %d; the module is %d bytes", ErrStoreFull, u.Bytes-size, sh.maxBytes, size)
		case modules > 0 && u.Modules > sh.maxModules:
			return nil, fmt.Errorf("%w: the replicas' shared store holds %d modules, of at most %d", ErrStoreFull, u.Modules-modules, sh.maxModules)
		case tags > 0 && u.Tags > sh.maxTags:
			return nil, fmt.Errorf("%w: the replicas' shared store holds %d tags, of at most %d", ErrStoreFull, u.Tags-tags, sh.maxTags)
		}
		u.Bytes, u.Modules, u.Tags = max(u.Bytes, 0), max(u.Modules, 0), max(u.Tags, 0)
		return json.Marshal(u)
	})
}

// publish writes the module digest, held by this store, to the shared
// store unless it is there.
func (s *Store) publish(ctx context.Context, sh *sharedStore, digest string, size int64) (err error) {
	if _, found, err := s.sharedRecord(ctx, sh, digest); err != nil || found {
		return sharedErr(err)
	}
	if err := sh.reserve(ctx, size, 1, 0); err != nil {
		return sharedErr(err)
	}
	created := false
	defer func() {
		if !created {
			sh.reserve(context.WithoutCancel(ctx), -size, -1, 0)
		}
	}()
	b, err := s.getLocal(digest)
	if err != nil {
		return err
	}
	h := hexOf(digest)
	n := 0
	for off := 0; off < len(b); off += sh.chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(off+sh.chunk, len(b))
		wctx, cancel := context.WithTimeout(ctx, sharedTimeout)
		err := sh.kv.Put(wctx, "modules/chunks/"+h+"/"+strconv.Itoa(n), b[off:end])
		cancel()
		if err != nil {
			return sharedErr(err)
		}
		n++
	}
	rec, _ := json.Marshal(sharedBlob{Size: size, Chunks: n})
	wctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	defer cancel()
	created, err = sh.kv.Create(wctx, "modules/blobs/"+h, rec)
	if err != nil {
		return sharedErr(err)
	}
	// Not created: another replica recorded the same bytes first (its
	// reservation counts them; ours is released).
	return nil
}

// sharedErr marks an error of the shared store as the server's (ErrStoreIO)
// unless it already says what it is.
func sharedErr(err error) error {
	if err == nil || errors.Is(err, ErrStoreFull) || errors.Is(err, ErrStoreIO) || errors.Is(err, context.Canceled) {
		return err
	}
	return storeIO(err)
}

// chunkReader reads a shared module's chunks in order, each checked
// against the record's sizes (the digest is checked by Put).
type chunkReader struct {
	ctx  context.Context
	sh   *sharedStore
	hex  string
	rec  sharedBlob
	next int
	buf  []byte
	read int64
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.next == r.rec.Chunks {
			return 0, io.EOF
		}
		key := "modules/chunks/" + r.hex + "/" + strconv.Itoa(r.next)
		ctx, cancel := context.WithTimeout(r.ctx, sharedTimeout)
		b, found, err := r.sh.kv.Get(ctx, key)
		cancel()
		if err != nil {
			return 0, storeIO(err)
		}
		want := int64(r.sh.chunk)
		if r.next == r.rec.Chunks-1 {
			want = r.rec.Size - r.read
		}
		if !found || int64(len(b)) != want {
			return 0, fmt.Errorf("%w: shared chunk %s is missing or %d bytes, not %d", ErrDigestMismatch, key, len(b), want)
		}
		r.buf, r.read = b, r.read+int64(len(b))
		r.next++
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// fetchShared copies the module digest from the shared store into this
// one (checked by Put: header, size bound, digest). found is false when
// the shared store has no such module.
func (s *Store) fetchShared(ctx context.Context, sh *sharedStore, digest string) (found bool, err error) {
	rec, found, err := s.sharedRecord(ctx, sh, digest)
	if err != nil || !found {
		return false, sharedErr(err)
	}
	if _, _, err := s.putLocal(ctx, digest, &chunkReader{ctx: ctx, sh: sh, hex: hexOf(digest), rec: rec}); err != nil {
		return true, fmt.Errorf("module store: reading %s from the replicas' shared store: %w", digest, err)
	}
	return true, nil
}

// sharedTag points NAME:TAG at digest in the shared store.
func (s *Store) sharedTag(ctx context.Context, sh *sharedStore, name, tag, digest string) error {
	key := "modules/tags/" + name + ":" + tag
	rctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	_, had, err := sh.kv.Get(rctx, key)
	cancel()
	if err != nil {
		return sharedErr(err)
	}
	if !had {
		if err := sh.reserve(ctx, 0, 0, 1); err != nil {
			return sharedErr(err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	defer cancel()
	if err := sh.kv.Put(wctx, key, []byte(digest)); err != nil {
		if !had {
			sh.reserve(context.WithoutCancel(ctx), 0, 0, -1)
		}
		return sharedErr(err)
	}
	return nil
}

func (s *Store) sharedLookup(ctx context.Context, sh *sharedStore, name, tag string) (string, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	defer cancel()
	b, found, err := sh.kv.Get(ctx, "modules/tags/"+name+":"+tag)
	if err != nil || !found {
		return "", false, sharedErr(err)
	}
	d := string(bytes.TrimSpace(b))
	if err := ValidDigest(d); err != nil {
		return "", false, fmt.Errorf("module store: shared tag %s:%s: %w", name, tag, err)
	}
	return d, true, nil
}

func (s *Store) sharedTags(ctx context.Context, sh *sharedStore) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	defer cancel()
	kvs, err := sh.kv.List(ctx, "modules/tags/", sh.maxTags+1)
	if err != nil {
		return nil, sharedErr(err)
	}
	out := make(map[string]string, len(kvs))
	for k, v := range kvs {
		if ValidDigest(string(v)) == nil {
			out[k] = string(v)
		}
	}
	return out, nil
}
