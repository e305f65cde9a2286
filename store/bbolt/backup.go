package bbolt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/wasmpod/wasmpod/store"
)

var _ store.Snapshotter = (*Store)(nil)

// Snapshot implements store.Snapshotter: it copies the file as of one
// read-only transaction (bbolt's Tx.WriteTo), which does not block writers.
func (s *Store) Snapshot(ctx context.Context, w io.Writer, start func(size, rev int64)) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	return s.view(func(tx *bolt.Tx) error {
		if start != nil {
			start(tx.Size(), getInt(tx.Bucket(bucketMeta), keyRev))
		}
		_, err := tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
}

type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// Restore puts the snapshot file backup in place of the store file at path,
// offline. It checks backup first (a corrupt or non-store file is refused),
// refuses while another process holds path (a running server), keeps the
// file it replaces as path.before-restore-<time> (returned as aside), and
// records the snapshot's revision in the marker. progress, when set, is
// called as the copy advances.
func Restore(backup, path string, lockTimeout time.Duration, progress func(done, total int64)) (rev int64, aside string, err error) {
	if lockTimeout <= 0 {
		lockTimeout = DefaultLockTimeout
	}
	if rev, err = Check(backup, lockTimeout); err != nil {
		return 0, "", fmt.Errorf("backup %s cannot be restored: %w", backup, err)
	}
	if rev == 0 {
		return 0, "", fmt.Errorf("backup %s holds an empty store (revision 0): nothing to restore", backup)
	}
	// Hold a shared lock on the current file until it has been replaced, so
	// that a server cannot open it meanwhile; one that holds it now makes
	// this fail.
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			return 0, "", fmt.Errorf("cannot restore into %s: it is locked by another process (waited %v); stop the wasmpod serve using this data directory first", path, lockTimeout)
		case err == nil:
			defer db.Close()
		}
		// Another error: the file is unreadable (corrupt), so no server
		// can be using it; it is kept aside below.
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, "", fmt.Errorf("cannot restore into %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return 0, "", err
	}
	src, err := os.Open(backup)
	if err != nil {
		return 0, "", err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return 0, "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".restore-*.tmp")
	if err != nil {
		return 0, "", err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := copyProgress(tmp, src, st.Size(), progress); err != nil {
		tmp.Close()
		return 0, "", fmt.Errorf("copying %s: %w", backup, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return 0, "", err
	}
	if err := tmp.Close(); err != nil {
		return 0, "", err
	}
	if _, err := os.Stat(path); err == nil {
		aside = fmt.Sprintf("%s.before-restore-%s", path, time.Now().UTC().Format("20060102T150405Z"))
		if err := os.Rename(path, aside); err != nil {
			return 0, "", fmt.Errorf("keeping the current store aside: %w", err)
		}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, aside, err
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return 0, aside, err
	}
	if err := writeMarker(path, rev); err != nil {
		return 0, aside, fmt.Errorf("writing marker: %w", err)
	}
	return rev, aside, nil
}

func copyProgress(dst io.Writer, src io.Reader, total int64, progress func(done, total int64)) error {
	buf := make([]byte, 1<<20)
	var done int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
			done += int64(n)
			if progress != nil {
				progress(done, total)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// SnapshotFile writes a consistent copy of the store file at path, which no
// server holds, to w (an offline backup): it checks the file first (see
// Check) and copies it under a shared lock. start is called as in Snapshot.
func SnapshotFile(path string, w io.Writer, lockTimeout time.Duration, start func(size, rev int64)) error {
	if lockTimeout <= 0 {
		lockTimeout = DefaultLockTimeout
	}
	if _, err := Check(path, lockTimeout); err != nil {
		return err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return lockedErr(path, lockTimeout, err)
		}
		return corruptErr(path, err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		if start != nil {
			start(tx.Size(), getInt(tx.Bucket(bucketMeta), keyRev))
		}
		_, err := tx.WriteTo(w)
		return err
	})
}
