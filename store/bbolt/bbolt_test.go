package bbolt_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/store"
	"github.com/wasmpod/wasmpod/store/bbolt"
	"github.com/wasmpod/wasmpod/store/memory"
	"github.com/wasmpod/wasmpod/store/storetest"

	berrors "go.etcd.io/bbolt/errors"
)

var testOpts = bbolt.Options{History: storetest.History, WatchBacklog: storetest.WatchBacklog}

func openAt(t testing.TB, dir string) *bbolt.Store {
	t.Helper()
	s, err := bbolt.Open(filepath.Join(dir, "state.db"), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openAt(t, t.TempDir()) })
}

func TestRestart(t *testing.T) {
	storetest.RunRestart(t, func(t *testing.T, dir string) store.Store { return openAt(t, dir) })
}

func TestOpenLockedFile(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	defer s.Close()
	path := filepath.Join(dir, "state.db")
	start := time.Now()
	_, err := bbolt.Open(path, bbolt.Options{LockTimeout: 200 * time.Millisecond})
	if err == nil {
		t.Fatal("second Open of a locked file succeeded")
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "locked") || !errors.Is(err, berrors.ErrTimeout) {
		t.Fatalf("error %q should name %s and say it is locked", err, path)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Open of a locked file took %v", d)
	}
}

func TestOpenBadPath(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("not a bolt file ", 512)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{notDB, filepath.Join(dir, "missing-dir", "x.db"), ""} {
		_, err := bbolt.Open(p, bbolt.Options{LockTimeout: 100 * time.Millisecond})
		if err == nil {
			t.Fatalf("Open(%q) succeeded", p)
		}
		if p != "" && !strings.Contains(err.Error(), p) {
			t.Fatalf("Open(%q) error %q does not name the path", p, err)
		}
	}
}

// BenchmarkCreate reports writes/s and, as x-baseline, the ratio to the
// memory store under the same load, measured in the same run.
func BenchmarkCreate(b *testing.B) {
	storetest.BenchCreate(b,
		func(b *testing.B) store.Store { return openAt(b, b.TempDir()) },
		func() store.Store { return memory.New() })
}
