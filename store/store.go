// Package store defines wasmpod's versioned key/value store with watch, the
// persistence layer under the apiserver. Backends live in subpackages
// (store/memory, store/bbolt) and all pass the conformance suite in
// store/storetest.
//
// The model follows etcd:
//
//   - The store has one global revision, starting at 0, that every successful
//     write (Create, Update, Delete) increments by exactly one. Failed writes
//     do not change it. A key's ModRevision is the revision of its last write,
//     its CreateRevision the revision that created it; the apiserver uses
//     ModRevision as an object's resourceVersion.
//   - Update and Delete are compare-and-swap on ModRevision (expectedRev 0
//     means "any").
//   - List returns a consistent snapshot and the revision it is consistent at;
//     Watch(prefix, rev) then delivers exactly the changes after that
//     revision, in revision order, with no gap and no duplicate.
//   - Backends keep a bounded event history; a Watch that starts before it
//     fails with ErrCompacted, and the client re-lists.
//   - A watcher that does not keep up is not allowed to block writers: once
//     its backlog exceeds the backend's limit it receives one final
//     Event{Type: Error, Err: <wraps ErrCompacted>} and its channel closes.
//
// Concurrency: every Store method is safe for concurrent use. Values passed in
// are copied; Values returned (by Get, List, writes and in Events) may be
// shared with other callers and must be treated as read-only.
//
// Context: every call checks ctx before doing work. A write that has been
// handed to the backend is carried through to its outcome (it is never
// reported as cancelled after it may have committed). A Watch channel closes
// when its ctx is done or the store is closed.
//
// Errors are the sentinels below, checked with errors.Is; backends wrap them
// with the key involved.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Sentinel errors. Backends wrap them (e.g. "store: /pods/a: not found") so
// callers must use errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict reports a compare-and-swap failure: the key's ModRevision
	// is not the expected one.
	ErrConflict = errors.New("conflict: revision mismatch")
	// ErrCompacted reports that the requested revision is older than the
	// history kept, or that a watcher fell too far behind. Re-list and
	// watch again from the list revision.
	ErrCompacted = errors.New("revision compacted")
	ErrClosed    = errors.New("store closed")
	// ErrCorrupt reports a persistent store whose file fails its checks at
	// open. The file is left as it is; the error names it and says how to
	// restore it.
	ErrCorrupt = errors.New("store file is corrupt")
)

// KV is one key's value with its revisions.
type KV struct {
	Key            string
	Value          []byte
	CreateRevision int64
	ModRevision    int64
}

// EventType says what happened to a key.
type EventType int

const (
	Added EventType = iota + 1
	Modified
	Deleted
	// Error is the last event on a watch channel that ends abnormally (the
	// watcher fell behind, or its history was compacted during replay).
	Error
)

func (t EventType) String() string {
	switch t {
	case Added:
		return "ADDED"
	case Modified:
		return "MODIFIED"
	case Deleted:
		return "DELETED"
	case Error:
		return "ERROR"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is one change delivered by Watch. KV.ModRevision is the revision of
// the change. For Deleted, KV holds the last value of the key, with
// ModRevision set to the deletion's revision. Err is set only for Type Error.
type Event struct {
	Type EventType
	KV   KV
	Err  error
}

// Store is a versioned key/value store with watch. See the package doc for
// the contract.
type Store interface {
	// Get returns the key's current KV, or ErrNotFound.
	Get(ctx context.Context, key string) (KV, error)
	// List returns the keys with prefix, sorted by key, and the store
	// revision the snapshot is consistent at.
	List(ctx context.Context, prefix string) ([]KV, int64, error)
	// Create stores a new key; ErrAlreadyExists if it exists.
	Create(ctx context.Context, key string, value []byte) (KV, error)
	// Update replaces the value if the key's ModRevision == expectedRev
	// (0 = any); ErrNotFound, ErrConflict. CreateRevision is kept.
	Update(ctx context.Context, key string, value []byte, expectedRev int64) (KV, error)
	// Delete removes the key if its ModRevision == expectedRev (0 = any) and
	// returns its last value, with ModRevision set to the deletion's
	// revision (as in the Deleted event); ErrNotFound, ErrConflict.
	Delete(ctx context.Context, key string, expectedRev int64) (KV, error)
	// Watch sends, in revision order, every change to keys with prefix
	// whose revision > afterRev (afterRev 0 = from now). No event is lost
	// or duplicated. If afterRev is older than the history kept it returns
	// ErrCompacted. The channel closes when ctx is done or the store
	// closes; a watcher that falls too far behind gets a final Error event
	// (wrapping ErrCompacted) and the channel closes.
	Watch(ctx context.Context, prefix string, afterRev int64) (<-chan Event, error)
	// Revision returns the store's current revision.
	Revision(ctx context.Context) (int64, error)
	// Close releases the store; watch channels close and later calls
	// return ErrClosed. Close is idempotent.
	Close() error
}

// SnapshotRefuser is the optional capability of a backend that is no
// Snapshotter to say why, and how it is backed up instead.
type SnapshotRefuser interface {
	SnapshotRefusal() string
}

// Snapshotter is the optional capability of a persistent backend to write a
// consistent copy of itself, for backups (found by type assertion).
type Snapshotter interface {
	// Snapshot writes a consistent copy of the store to w while reads and
	// writes continue. start is called once, before the first byte, with
	// the copy's size in bytes and the revision it holds. Cancelling ctx
	// stops the copy.
	Snapshot(ctx context.Context, w io.Writer, start func(size, rev int64)) error
}
