package bbolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/wasmpod/wasmpod/store"
)

// ErrReset reports a store file that is missing, empty or older than the
// revision its marker recorded: the data it held is gone. Open refuses it
// unless Options.AllowReset is set.
var ErrReset = errors.New("store is missing, empty or older than its marker")

// restoreHint says how to recover; it ends every corrupt-store error.
const restoreHint = "The file has not been modified. Restore the data directory from a backup made with `wasmpod backup` " +
	"(`wasmpod restore --data-dir DIR BACKUP`), or move the file aside to start over"

func corruptErr(path string, cause error) error {
	return fmt.Errorf("store/bbolt: %s: %w: %v. %s", path, store.ErrCorrupt, cause, restoreHint)
}

func lockedErr(path string, timeout time.Duration, err error) error {
	return fmt.Errorf("store/bbolt: open %s: file is locked by another process (waited %v); is another wasmpod serve using this data directory? %w", path, timeout, err)
}

// Check verifies the store file at path without modifying it: it opens it
// read-only (a shared lock, so it fails after lockTimeout while a server
// holds the file), checks bbolt's structure and then the store's own
// invariants, and returns the store's revision. A defect is reported as an
// error wrapping store.ErrCorrupt that names the file.
func Check(path string, lockTimeout time.Duration) (rev int64, err error) {
	if lockTimeout <= 0 {
		lockTimeout = DefaultLockTimeout
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return 0, lockedErr(path, lockTimeout, err)
		}
		return 0, corruptErr(path, err)
	}
	defer db.Close()
	// bbolt has only mapped the file and read its two meta pages; check
	// the structure before it follows any pointer through the mapping.
	m, err := verifyPath(path)
	if err != nil {
		var ce *corruptError
		if errors.As(err, &ce) {
			return 0, corruptErr(path, err)
		}
		return 0, fmt.Errorf("store/bbolt: checking %s: %w", path, err)
	}
	if err := guarded(func() error {
		return db.View(func(tx *bolt.Tx) error {
			if uint64(tx.ID()) != m.txid {
				return fmt.Errorf("bbolt uses transaction %d, the check read %d", tx.ID(), m.txid)
			}
			var err error
			rev, err = checkContents(tx)
			return err
		})
	}); err != nil {
		return 0, corruptErr(path, err)
	}
	return rev, nil
}

// guarded runs f on a goroutine of its own that turns a memory fault (a
// read past the mapping) into a panic, and the panic into an error.
func guarded(f func() error) error {
	ch := make(chan error, 1)
	go func() {
		debug.SetPanicOnFault(true)
		defer func() {
			if p := recover(); p != nil {
				ch <- fmt.Errorf("reading the file failed: %v", p)
			}
		}()
		ch <- f()
	}()
	return <-ch
}

// checkContents checks the store's layout: its buckets, the meta values,
// every key's revisions and the event log's continuity. A bbolt file with
// no bucket at all (initialised, never used) is revision 0.
func checkContents(tx *bolt.Tx) (int64, error) {
	kvb, logb, meta := tx.Bucket(bucketKV), tx.Bucket(bucketLog), tx.Bucket(bucketMeta)
	if kvb == nil || logb == nil || meta == nil {
		empty := true
		if err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			empty = false
			return nil
		}); err != nil {
			return 0, err
		}
		if empty {
			return 0, nil
		}
		return 0, errors.New("not a wasmpod store (its buckets kv, log and meta are missing)")
	}
	for _, k := range [][]byte{keyRev, keyCompact} {
		if v := meta.Get(k); v != nil && len(v) != 8 {
			return 0, fmt.Errorf("meta %q is %d bytes, want 8", k, len(v))
		}
	}
	rev, compact := getInt(meta, keyRev), getInt(meta, keyCompact)
	if rev < 0 || compact < 0 || compact > rev {
		return 0, fmt.Errorf("revision %d and compaction point %d are inconsistent", rev, compact)
	}
	if err := kvb.ForEach(func(k, v []byte) error {
		create, mod, ok := kvRevisions(v)
		if !ok {
			return fmt.Errorf("corrupt value for key %s (%d bytes)", k, len(v))
		}
		if create < 1 || create > mod || mod > rev {
			return fmt.Errorf("key %s has revisions %d/%d beyond the store's %d", k, create, mod, rev)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	next := compact + 1
	if err := logb.ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			return fmt.Errorf("event log key of %d bytes", len(k))
		}
		r := int64(binary.BigEndian.Uint64(k))
		if r != next {
			return fmt.Errorf("event log has revision %d where %d was expected", r, next)
		}
		next++
		typ, _, _, _, ok := splitEvent(v)
		if !ok {
			return fmt.Errorf("corrupt event log entry at revision %d", r)
		}
		if typ < store.Added || typ > store.Deleted {
			return fmt.Errorf("event log entry at revision %d has type %d", r, typ)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	if next != rev+1 {
		return 0, fmt.Errorf("event log ends at revision %d, the store is at %d", next-1, rev)
	}
	return rev, nil
}
