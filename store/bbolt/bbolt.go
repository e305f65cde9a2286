// Package bbolt is the persistent store.Store, one bbolt file, fsync'd on
// every commit. Data, the global revision and the event history survive a
// restart: a Watch from a revision taken before the restart resumes after
// reopening, provided that revision is still in the kept history.
//
// Layout (buckets):
//
//	kv:   key → createRev(8, big-endian) modRev(8) value
//	log:  rev(8, big-endian) → type(1) createRev(8) uvarint(len(key)) key value
//	      (one entry per revision; for Deleted, value is the key's last value)
//	meta: "rev" → current revision, "compact" → highest revision removed from log
//
// The log is compacted as it grows so that the last Options.History entries
// are kept.
//
// Writes are group-committed: one committer goroutine takes every write that
// is waiting, applies them in order in one read-write transaction (one fsync)
// and, after the commit, publishes their events to watchers in revision order
// and answers the callers. A lone writer pays one fsync and no batching delay;
// N concurrent writers share fsyncs, so throughput grows with concurrency.
// A write whose ctx is done before the committer takes it fails with
// ctx.Err() and has no effect; once taken it is carried to its outcome.
//
// Reads (Get, List, Revision) use read-only transactions and run concurrently
// with writes. Open fails with a clear error naming the path when another
// process holds the file (after Options.LockTimeout).
//
// Open never trusts the file: it checks it read-only first (Check: bbolt's
// page structure read with bounds-checked code before bbolt maps it, then the
// store's own invariants) and refuses a corrupt file with store.ErrCorrupt,
// leaving it untouched. A marker file next to the store records that it held
// data (marker.go), so a store that was lost, emptied or rolled back is
// refused (ErrReset) rather than silently replaced by an empty one.
// Snapshot writes a consistent copy of the file for backups; Restore puts one
// in place offline.
package bbolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/wasmpod/wasmpod/store"
	"github.com/wasmpod/wasmpod/store/internal/watch"
)

// Defaults for Options.
const (
	DefaultHistory     = 100_000
	DefaultLockTimeout = 2 * time.Second
	DefaultMaxBatch    = 1000
	// DefaultMarkerInterval: see Options.MarkerInterval.
	DefaultMarkerInterval = time.Minute
)

// Options tune a bbolt store. Zero values mean the defaults.
type Options struct {
	// History is the number of events kept in the log for Watch resumption
	// (default DefaultHistory).
	History int
	// WatchBacklog is the number of undelivered events a watcher may
	// accumulate before it is cut off with an Error event (default 50,000).
	WatchBacklog int
	// LockTimeout bounds the wait for the file lock held by another process
	// (default DefaultLockTimeout).
	LockTimeout time.Duration
	// MaxBatch caps the writes committed in one transaction (default 1000).
	MaxBatch int
	// MarkerInterval is how often, at most, the committed revision is
	// recorded in the marker file while writes continue (default
	// DefaultMarkerInterval). The first write of an empty store is
	// recorded at once.
	MarkerInterval time.Duration
	// AllowReset accepts a store file that is missing, empty or older than
	// its marker (after a deliberate deletion); the marker is reset.
	AllowReset bool
}

var (
	bucketKV   = []byte("kv")
	bucketLog  = []byte("log")
	bucketMeta = []byte("meta")
	keyRev     = []byte("rev")
	keyCompact = []byte("compact")
)

// Store is the bbolt backend. Create it with Open.
type Store struct {
	db   *bolt.DB
	path string
	opts Options
	hub  *watch.Hub

	reqs      chan *op // unbuffered: a send succeeds only when the committer takes it
	closing   chan struct{}
	committed chan struct{} // closed when the committer has exited
	closeOnce sync.Once
	closeErr  error

	lastRev  atomic.Int64 // the last committed revision
	markerMu sync.Mutex   // serialises marker writes
	marked   atomic.Int64 // the revision the marker records
}

var _ store.Store = (*Store)(nil)

type opKind int

const (
	opCreate opKind = iota
	opUpdate
	opDelete
)

type op struct {
	ctx      context.Context
	kind     opKind
	key      string
	value    []byte
	expected int64

	kv   store.KV
	err  error
	done chan struct{}
}

// Open opens (creating if needed) the store file at path.
//
// An existing file is checked first, read-only (see Check): a file bbolt
// would crash or loop on, or whose contents break the store's invariants, is
// refused with an error wrapping store.ErrCorrupt that names it, and is never
// modified. A file that is missing, empty or older than the revision its
// marker recorded (see MarkerPath) is refused with ErrReset unless
// opts.AllowReset is set. A file locked by another process is refused after
// opts.LockTimeout.
func Open(path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("store/bbolt: open: empty path")
	}
	if opts.History <= 0 {
		opts.History = DefaultHistory
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.MarkerInterval <= 0 {
		opts.MarkerInterval = DefaultMarkerInterval
	}
	mk, err := readMarker(path)
	if err != nil {
		return nil, err
	}
	var checked int64
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("store/bbolt: open %s: %w", path, err)
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("store/bbolt: open %s: not a regular file (%s)", path, st.Mode().Type())
	case st.Size() > 0:
		if checked, err = Check(path, opts.LockTimeout); err != nil {
			return nil, err
		}
	}
	if mk.Revision > checked && !opts.AllowReset {
		what := fmt.Sprintf("is at revision %d, older than", checked)
		switch {
		case st == nil:
			what = "does not exist, but"
		case st.Size() == 0:
			what = "is empty (0 bytes), but"
		case checked == 0:
			what = "is a freshly initialised, empty store, but"
		}
		return nil, fmt.Errorf("store/bbolt: %s %s %s records that it held data up to revision %d (%s): %w. "+
			"Restore it from a backup made with `wasmpod backup` (`wasmpod restore --data-dir DIR BACKUP`); "+
			"to start over with an empty store instead, allow it explicitly (`wasmpod serve --allow-store-reset`)",
			path, what, MarkerPath(path), mk.Revision, mk.Updated.Format(time.RFC3339), ErrReset)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, lockedErr(path, opts.LockTimeout, err)
		}
		return nil, fmt.Errorf("store/bbolt: open %s: %w", path, err)
	}
	var rev int64
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketKV, bucketLog, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		rev = getInt(tx.Bucket(bucketMeta), keyRev)
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store/bbolt: open %s: %w", path, err)
	}
	if rev != mk.Revision {
		// Record where the store is (after a reset too, so that the
		// marker never refers to data that is gone).
		if err := writeMarker(path, rev); err != nil {
			db.Close()
			return nil, fmt.Errorf("store/bbolt: open %s: writing marker: %w", path, err)
		}
	}
	s := &Store{
		db: db, path: path, opts: opts,
		hub:       watch.New(rev, opts.WatchBacklog),
		reqs:      make(chan *op),
		closing:   make(chan struct{}),
		committed: make(chan struct{}),
	}
	s.lastRev.Store(rev)
	s.marked.Store(rev)
	go s.committer()
	go s.markerLoop()
	return s, nil
}

// mark records rev in the marker if it is newer than the last one recorded
// (only when nothing was recorded yet, with firstOnly). rev must be
// committed.
func (s *Store) mark(rev int64, firstOnly bool) {
	if firstOnly && s.marked.Load() > 0 {
		return // the committer's fast path
	}
	s.markerMu.Lock()
	defer s.markerMu.Unlock()
	if rev <= s.marked.Load() || (firstOnly && s.marked.Load() > 0) {
		return
	}
	if writeMarker(s.path, rev) == nil {
		s.marked.Store(rev)
	}
}

// markerLoop records the committed revision every MarkerInterval while it
// changes, until the store closes.
func (s *Store) markerLoop() {
	t := time.NewTicker(s.opts.MarkerInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.mark(s.lastRev.Load(), false)
		case <-s.closing:
			return
		}
	}
}

// Path returns the file the store was opened on.
func (s *Store) Path() string { return s.path }

func (s *Store) isClosing() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

func (s *Store) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosing() {
		return store.ErrClosed
	}
	return nil
}

func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	err := s.db.View(fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return store.ErrClosed
	}
	return err
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) (store.KV, error) {
	if err := s.check(ctx); err != nil {
		return store.KV{}, err
	}
	var kv store.KV
	var found bool
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketKV).Get([]byte(key))
		if v == nil {
			return nil
		}
		var err error
		kv, err = decodeKV(key, v)
		found = err == nil
		return err
	})
	if err != nil {
		return store.KV{}, fmt.Errorf("store/bbolt: get %s: %w", key, err)
	}
	if !found {
		return store.KV{}, fmt.Errorf("store: %s: %w", key, store.ErrNotFound)
	}
	return kv, nil
}

// List implements store.Store.
func (s *Store) List(ctx context.Context, prefix string) ([]store.KV, int64, error) {
	if err := s.check(ctx); err != nil {
		return nil, 0, err
	}
	var out []store.KV
	var rev int64
	err := s.view(func(tx *bolt.Tx) error {
		rev = getInt(tx.Bucket(bucketMeta), keyRev)
		p := []byte(prefix)
		c := tx.Bucket(bucketKV).Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			kv, err := decodeKV(string(k), v)
			if err != nil {
				return err
			}
			out = append(out, kv)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store/bbolt: list %s: %w", prefix, err)
	}
	return out, rev, nil
}

// Revision implements store.Store.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	var rev int64
	err := s.view(func(tx *bolt.Tx) error {
		rev = getInt(tx.Bucket(bucketMeta), keyRev)
		return nil
	})
	return rev, err
}

// Create implements store.Store.
func (s *Store) Create(ctx context.Context, key string, value []byte) (store.KV, error) {
	return s.write(ctx, &op{kind: opCreate, key: key, value: value})
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, key string, value []byte, expectedRev int64) (store.KV, error) {
	return s.write(ctx, &op{kind: opUpdate, key: key, value: value, expected: expectedRev})
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string, expectedRev int64) (store.KV, error) {
	return s.write(ctx, &op{kind: opDelete, key: key, expected: expectedRev})
}

func (s *Store) write(ctx context.Context, o *op) (store.KV, error) {
	if err := s.check(ctx); err != nil {
		return store.KV{}, err
	}
	if o.key == "" {
		return store.KV{}, errors.New("store/bbolt: empty key")
	}
	o.ctx = ctx
	o.done = make(chan struct{})
	select {
	case s.reqs <- o:
	case <-s.closing:
		return store.KV{}, store.ErrClosed
	case <-ctx.Done():
		return store.KV{}, ctx.Err()
	}
	<-o.done // the committer always answers an op it took
	return o.kv, o.err
}

func (s *Store) committer() {
	defer close(s.committed)
	batch := make([]*op, 0, s.opts.MaxBatch)
	for {
		batch = batch[:0]
		select {
		case o := <-s.reqs:
			batch = append(batch, o)
		case <-s.closing:
			return
		}
	drain:
		for len(batch) < s.opts.MaxBatch {
			select {
			case o := <-s.reqs:
				batch = append(batch, o)
			default:
				break drain
			}
		}
		s.commit(batch)
		clear(batch)
	}
}

// commit applies batch in one transaction, then publishes and answers.
func (s *Store) commit(batch []*op) {
	var evs []store.Event
	err := s.db.Update(func(tx *bolt.Tx) error {
		evs = evs[:0]
		kvb, logb, meta := tx.Bucket(bucketKV), tx.Bucket(bucketLog), tx.Bucket(bucketMeta)
		rev := getInt(meta, keyRev)
		compact := getInt(meta, keyCompact)
		for _, o := range batch {
			o.kv, o.err = store.KV{}, nil
			if err := o.ctx.Err(); err != nil {
				o.err = err
				continue
			}
			ev, err := apply(kvb, o, rev+1)
			if err != nil {
				o.err = err
				continue
			}
			rev++
			if err := kvPut(kvb, ev); err != nil {
				return err
			}
			if err := logb.Put(be(rev), encodeEvent(ev)); err != nil {
				return err
			}
			for ; compact < rev-int64(s.opts.History); compact++ {
				if err := logb.Delete(be(compact + 1)); err != nil {
					return err
				}
			}
			o.kv = ev.KV
			evs = append(evs, ev)
		}
		if len(evs) == 0 {
			return nil
		}
		if err := meta.Put(keyRev, be(rev)); err != nil {
			return err
		}
		return meta.Put(keyCompact, be(compact))
	})
	if err != nil {
		for _, o := range batch {
			o.kv, o.err = store.KV{}, fmt.Errorf("store/bbolt: %s: commit: %w", o.key, err)
		}
	} else if len(evs) > 0 {
		rev := evs[len(evs)-1].KV.ModRevision
		s.lastRev.Store(rev)
		s.mark(rev, true) // the first data in an empty store is recorded at once
		s.hub.Publish(evs...)
	}
	for _, o := range batch {
		close(o.done)
	}
}

// apply checks o against the current state and returns the event it makes
// at revision rev, or a store error.
func apply(kvb *bolt.Bucket, o *op, rev int64) (store.Event, error) {
	cur := kvb.Get([]byte(o.key))
	if o.kind == opCreate {
		if cur != nil {
			return store.Event{}, fmt.Errorf("store: %s: %w", o.key, store.ErrAlreadyExists)
		}
		return store.Event{Type: store.Added, KV: store.KV{Key: o.key, Value: clone(o.value), CreateRevision: rev, ModRevision: rev}}, nil
	}
	if cur == nil {
		return store.Event{}, fmt.Errorf("store: %s: %w", o.key, store.ErrNotFound)
	}
	old, err := decodeKV(o.key, cur)
	if err != nil {
		return store.Event{}, err
	}
	if o.expected != 0 && old.ModRevision != o.expected {
		return store.Event{}, fmt.Errorf("store: %s: %w (have %d, expected %d)", o.key, store.ErrConflict, old.ModRevision, o.expected)
	}
	if o.kind == opDelete {
		old.ModRevision = rev
		return store.Event{Type: store.Deleted, KV: old}, nil
	}
	return store.Event{Type: store.Modified, KV: store.KV{Key: o.key, Value: clone(o.value), CreateRevision: old.CreateRevision, ModRevision: rev}}, nil
}

func kvPut(kvb *bolt.Bucket, ev store.Event) error {
	if ev.Type == store.Deleted {
		return kvb.Delete([]byte(ev.KV.Key))
	}
	v := make([]byte, 16+len(ev.KV.Value))
	binary.BigEndian.PutUint64(v[0:], uint64(ev.KV.CreateRevision))
	binary.BigEndian.PutUint64(v[8:], uint64(ev.KV.ModRevision))
	copy(v[16:], ev.KV.Value)
	return kvb.Put([]byte(ev.KV.Key), v)
}

// Watch implements store.Store.
func (s *Store) Watch(ctx context.Context, prefix string, afterRev int64) (<-chan store.Event, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if afterRev < 0 {
		return nil, fmt.Errorf("store/bbolt: watch %s: negative revision %d", prefix, afterRev)
	}
	if afterRev > 0 {
		var compact int64
		if err := s.view(func(tx *bolt.Tx) error {
			compact = getInt(tx.Bucket(bucketMeta), keyCompact)
			return nil
		}); err != nil {
			return nil, err
		}
		if afterRev < compact {
			return nil, fmt.Errorf("store: watch %s from revision %d (oldest kept %d): %w", prefix, afterRev, compact+1, store.ErrCompacted)
		}
	}
	return s.hub.Add(ctx, prefix, afterRev, s.replay)
}

const replayChunk = 512

// replay reads the log in chunks (never holding a transaction while emitting).
func (s *Store) replay(ctx context.Context, prefix string, from, to int64, emit func(store.Event) bool) error {
	p := []byte(prefix)
	for from < to {
		var evs []store.Event
		next := from
		err := s.view(func(tx *bolt.Tx) error {
			if compact := getInt(tx.Bucket(bucketMeta), keyCompact); from < compact {
				return fmt.Errorf("store: watch %s from revision %d (oldest kept %d): %w", prefix, from, compact+1, store.ErrCompacted)
			}
			c := tx.Bucket(bucketLog).Cursor()
			k, v := c.Seek(be(from + 1))
			for n := 0; k != nil && n < replayChunk; n++ {
				rev := int64(binary.BigEndian.Uint64(k))
				if rev > to {
					break
				}
				if rev != next+1 {
					return fmt.Errorf("store/bbolt: event log gap: revision %d follows %d", rev, next)
				}
				next = rev
				ev, ok, err := decodeEvent(rev, v, p)
				if err != nil {
					return err
				}
				if ok {
					evs = append(evs, ev)
				}
				k, v = c.Next()
			}
			return nil
		})
		if err != nil {
			return err
		}
		if next == from {
			return fmt.Errorf("store/bbolt: event log ends at revision %d, before %d", from, to)
		}
		for _, ev := range evs {
			if !emit(ev) {
				return nil
			}
		}
		if err := ctx.Err(); err != nil {
			return nil
		}
		from = next
	}
	return nil
}

// Close implements store.Store: it stops the committer (writes still waiting
// get store.ErrClosed), closes watch channels, then closes the file.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		<-s.committed
		s.mark(s.lastRev.Load(), false)
		s.hub.Close()
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

func be(n int64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(n))
	return b
}

func getInt(b *bolt.Bucket, k []byte) int64 {
	if b == nil {
		return 0
	}
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func decodeKV(key string, v []byte) (store.KV, error) {
	create, mod, ok := kvRevisions(v)
	if !ok {
		return store.KV{}, fmt.Errorf("store/bbolt: corrupt value for key %s (%d bytes)", key, len(v))
	}
	return store.KV{Key: key, CreateRevision: create, ModRevision: mod, Value: clone(v[16:])}, nil
}

// kvRevisions reads a stored value's create and mod revisions (false: v is
// too short to hold them).
func kvRevisions(v []byte) (create, mod int64, ok bool) {
	if len(v) < 16 {
		return 0, 0, false
	}
	return int64(binary.BigEndian.Uint64(v[0:])), int64(binary.BigEndian.Uint64(v[8:])), true
}

func encodeEvent(ev store.Event) []byte {
	b := make([]byte, 0, 1+8+binary.MaxVarintLen64+len(ev.KV.Key)+len(ev.KV.Value))
	b = append(b, byte(ev.Type))
	b = binary.BigEndian.AppendUint64(b, uint64(ev.KV.CreateRevision))
	b = binary.AppendUvarint(b, uint64(len(ev.KV.Key)))
	b = append(b, ev.KV.Key...)
	return append(b, ev.KV.Value...)
}

// decodeEvent decodes a log entry; ok is false when its key lacks prefix.
func decodeEvent(rev int64, v, prefix []byte) (ev store.Event, ok bool, err error) {
	typ, create, key, value, wellFormed := splitEvent(v)
	if !wellFormed {
		return ev, false, fmt.Errorf("store/bbolt: corrupt event log entry at revision %d", rev)
	}
	if !bytes.HasPrefix(key, prefix) {
		return ev, false, nil
	}
	return store.Event{Type: typ, KV: store.KV{
		Key: string(key), Value: clone(value), CreateRevision: create, ModRevision: rev,
	}}, true, nil
}

// splitEvent splits a log entry into its parts without copying them
// (false: the entry is too short for the lengths it states).
func splitEvent(v []byte) (typ store.EventType, create int64, key, value []byte, ok bool) {
	if len(v) < 9 {
		return 0, 0, nil, nil, false
	}
	n, w := binary.Uvarint(v[9:])
	if w <= 0 || uint64(len(v)-9-w) < n {
		return 0, 0, nil, nil, false
	}
	end := 9 + w + int(n)
	return store.EventType(v[0]), int64(binary.BigEndian.Uint64(v[1:9])), v[9+w : end], v[end:], true
}

func clone(b []byte) []byte {
	return append(make([]byte, 0, len(b)), b...)
}
