package bbolt

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// The marker is a small file next to the store (<path>.marker) recording
// that the store held data, and a revision it had reached. It lets Open
// refuse a store file that is missing, empty (0 bytes or freshly
// initialised) or older than that revision, which is what a lost or
// truncated file looks like after bbolt re-initialised it.
//
// Crash safety: the marker is written (temporary file, fsync, rename,
// fsync of the directory) only with a revision that has already been
// committed and fsync'd to the store, so after any crash the store's
// revision is at least the marker's. It is written when the store first
// becomes non-empty, at most once per Options.MarkerInterval while writes
// continue, at Open and at Close: a few small writes, not one per commit.

// MarkerSuffix is appended to the store's path to name its marker file.
const MarkerSuffix = ".marker"

type marker struct {
	Revision int64     `json:"revision"`
	Updated  time.Time `json:"updated"`
}

// MarkerPath is the marker file of the store at path.
func MarkerPath(path string) string { return path + MarkerSuffix }

func readMarker(path string) (marker, error) {
	var m marker
	b, err := os.ReadFile(MarkerPath(path))
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, fmt.Errorf("store/bbolt: reading marker %s: %w", MarkerPath(path), err)
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Revision < 0 {
		return m, fmt.Errorf("store/bbolt: marker %s is unreadable (%v); it records the last revision of %s: restore the store or remove the marker", MarkerPath(path), err, path)
	}
	return m, nil
}

// writeMarker records rev in path's marker, atomically and durably.
func writeMarker(path string, rev int64) error {
	b, err := json.Marshal(marker{Revision: rev, Updated: time.Now().UTC()})
	if err != nil {
		return err
	}
	return writeFileAtomic(MarkerPath(path), b)
}

// writeFileAtomic replaces name with data: a crash leaves the old or the
// new content, never a mix.
func writeFileAtomic(name string, data []byte) error {
	dir := filepath.Dir(name)
	f, err := os.CreateTemp(dir, filepath.Base(name)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return err
	}
	return nil
}
