package wasmpod_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/store/bbolt"
)

// TestDataDirMadePrivate: a pre-existing data dir readable by every local
// user is made 0700, and the store files in it are not group/world readable.
func TestDataDirMadePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	c, err := wasmpod.New(context.Background(), wasmpod.Config{Store: wasmpod.StoreBbolt, DataDir: dir, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Fatalf("data dir mode %04o, want 0700", st.Mode().Perm())
	}
	for _, f := range []string{wasmpod.StorePath(dir), bbolt.MarkerPath(wasmpod.StorePath(dir))} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %04o, readable by others", f, st.Mode().Perm())
		}
	}
}

// TestDataDirOfAnotherUserRefused: a data dir owned by someone else is
// refused, not chmod'ed or used.
func TestDataDirOfAnotherUserRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "theirs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(dir, 65534, 65534); err != nil {
			t.Skip("cannot chown:", err)
		}
	} else {
		dir = "/" // owned by root, not by this user
	}
	_, err := wasmpod.New(context.Background(), wasmpod.Config{Store: wasmpod.StoreBbolt, DataDir: dir, CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "owned by uid") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("New with another user's data dir: %v", err)
	}
	if st, _ := os.Stat(dir); dir != "/" && st.Mode().Perm() != 0o755 {
		t.Fatalf("the other user's dir was chmod'ed to %04o", st.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(dir, "wasmpod.db")); err == nil {
		t.Fatal("a store was created in another user's dir")
	}
}
