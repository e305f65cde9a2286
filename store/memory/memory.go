// Package memory is an in-memory store.Store: maps plus a bounded event
// history (a ring of the last Options.History events) for watch resumption.
// Nothing survives Close. It serves tests and embedders who want no disk.
//
// All methods are safe for concurrent use; writes are serialized by one
// mutex, and events are published to watchers under it, so watchers see
// revisions in order.
package memory

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/wasmpod/wasmpod/store"
	"github.com/wasmpod/wasmpod/store/internal/watch"
)

// DefaultHistory is the number of events kept for Watch resumption.
const DefaultHistory = 100_000

// Options tune a memory store. Zero values mean the defaults.
type Options struct {
	// History is the number of past events kept for Watch from an older
	// revision (default DefaultHistory).
	History int
	// WatchBacklog is the number of undelivered events a watcher may
	// accumulate before it is cut off with an Error event
	// (default watch.DefaultBacklog, 50,000).
	WatchBacklog int
}

// Store is the in-memory backend. Create it with New or NewWithOptions.
type Store struct {
	history int
	hub     *watch.Hub

	mu        sync.RWMutex
	closed    bool
	rev       int64
	kvs       map[string]store.KV
	dirs      map[string]map[string]struct{} // the keys of kvs by dir(key)
	hist      []store.Event                  // ring buffer, oldest at hist[start]
	start     int
	compacted int64 // highest revision dropped from hist
}

var _ store.Store = (*Store)(nil)

// New returns an empty store with default options.
func New() *Store { return NewWithOptions(Options{}) }

// NewWithOptions returns an empty store.
func NewWithOptions(o Options) *Store {
	if o.History <= 0 {
		o.History = DefaultHistory
	}
	return &Store{history: o.History, hub: watch.New(0, o.WatchBacklog), kvs: map[string]store.KV{},
		dirs: map[string]map[string]struct{}{}}
}

func (s *Store) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed {
		return store.ErrClosed
	}
	return nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) (store.KV, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return store.KV{}, err
	}
	kv, ok := s.kvs[key]
	if !ok {
		return store.KV{}, fmt.Errorf("store: %s: %w", key, store.ErrNotFound)
	}
	return kv, nil
}

// List implements store.Store. It looks only at the keys of the dirs
// (see dir) that can hold keys with prefix, not at every key: the API
// server lists a namespace's LimitRanges on every pod create, in a store
// that also holds thousands of Events and pods.
func (s *Store) List(ctx context.Context, prefix string) ([]store.KV, int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return nil, 0, err
	}
	var out []store.KV
	for d, keys := range s.dirs {
		switch {
		case strings.HasPrefix(d, prefix): // every key of d
			for k := range keys {
				out = append(out, s.kvs[k])
			}
		case strings.HasPrefix(prefix, d): // the prefix ends inside d's names
			for k := range keys {
				if strings.HasPrefix(k, prefix) {
					out = append(out, s.kvs[k])
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, s.rev, nil
}

// dir is key up to and including its last "/" ("" if it has none): a key
// is its dir and a name without "/", so a key has a prefix p exactly when
// its dir has p or p has its dir and the key has p.
func dir(key string) string {
	return key[:strings.LastIndexByte(key, '/')+1]
}

// Revision implements store.Store.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	return s.rev, nil
}

// commit records ev (with the next revision) and publishes it. s.mu held.
func (s *Store) commit(typ store.EventType, kv store.KV) {
	s.rev++
	kv.ModRevision = s.rev
	ev := store.Event{Type: typ, KV: kv}
	d := dir(kv.Key)
	if typ == store.Deleted {
		delete(s.kvs, kv.Key)
		if keys := s.dirs[d]; keys != nil {
			delete(keys, kv.Key)
			if len(keys) == 0 {
				delete(s.dirs, d)
			}
		}
	} else {
		s.kvs[kv.Key] = kv
		keys := s.dirs[d]
		if keys == nil {
			keys = map[string]struct{}{}
			s.dirs[d] = keys
		}
		keys[kv.Key] = struct{}{}
	}
	if len(s.hist) < s.history {
		s.hist = append(s.hist, ev)
	} else {
		s.compacted = s.hist[s.start].KV.ModRevision
		s.hist[s.start] = ev
		s.start = (s.start + 1) % len(s.hist)
	}
	s.hub.Publish(ev)
}

// Create implements store.Store.
func (s *Store) Create(ctx context.Context, key string, value []byte) (store.KV, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return store.KV{}, err
	}
	if _, ok := s.kvs[key]; ok {
		return store.KV{}, fmt.Errorf("store: %s: %w", key, store.ErrAlreadyExists)
	}
	s.commit(store.Added, store.KV{Key: key, Value: clone(value), CreateRevision: s.rev + 1})
	return s.kvs[key], nil
}

// current returns key's KV if it exists with ModRevision expectedRev (0 =
// any); s.mu is held.
func (s *Store) current(key string, expectedRev int64) (store.KV, error) {
	old, ok := s.kvs[key]
	if !ok {
		return store.KV{}, fmt.Errorf("store: %s: %w", key, store.ErrNotFound)
	}
	if expectedRev != 0 && old.ModRevision != expectedRev {
		return store.KV{}, fmt.Errorf("store: %s: %w (have %d, expected %d)", key, store.ErrConflict, old.ModRevision, expectedRev)
	}
	return old, nil
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, key string, value []byte, expectedRev int64) (store.KV, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return store.KV{}, err
	}
	old, err := s.current(key, expectedRev)
	if err != nil {
		return store.KV{}, err
	}
	s.commit(store.Modified, store.KV{Key: key, Value: clone(value), CreateRevision: old.CreateRevision})
	return s.kvs[key], nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string, expectedRev int64) (store.KV, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return store.KV{}, err
	}
	old, err := s.current(key, expectedRev)
	if err != nil {
		return store.KV{}, err
	}
	s.commit(store.Deleted, old)
	old.ModRevision = s.rev
	return old, nil
}

// Watch implements store.Store.
func (s *Store) Watch(ctx context.Context, prefix string, afterRev int64) (<-chan store.Event, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if afterRev < 0 {
		return nil, fmt.Errorf("store: watch %s: negative revision %d", prefix, afterRev)
	}
	if afterRev == 0 || afterRev >= s.rev {
		return s.hub.Add(ctx, prefix, afterRev, nil)
	}
	if afterRev < s.compacted {
		return nil, fmt.Errorf("store: watch %s from revision %d (oldest kept %d): %w", prefix, afterRev, s.compacted+1, store.ErrCompacted)
	}
	// Snapshot the matching history (afterRev, s.rev] while writers are held off.
	var snap []store.Event
	oldest := s.compacted + 1
	for r := afterRev + 1; r <= s.rev; r++ {
		ev := s.hist[(s.start+int(r-oldest))%len(s.hist)]
		if strings.HasPrefix(ev.KV.Key, prefix) {
			snap = append(snap, ev)
		}
	}
	replay := func(ctx context.Context, _ string, from, to int64, emit func(store.Event) bool) error {
		for _, ev := range snap {
			if !emit(ev) {
				return nil
			}
		}
		return nil
	}
	return s.hub.Add(ctx, prefix, afterRev, replay)
}

// Close implements store.Store: watch channels close, later calls fail with
// store.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.hub.Close()
	return nil
}

func clone(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return append([]byte(nil), b...)
}
