package wasmpod

import (
	"fmt"
	"os"
)

// prepareDataDir creates dir (mode 0700) or makes a pre-existing one
// private: it holds the store, pod logs and volumes, which other local
// users must not read. A directory owned by another user is refused rather
// than taken over; one of ours that is group- or world-accessible is
// chmod'ed to 0700 (the files inside are then out of other users' reach
// whatever their own modes).
func prepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir %s: %w", dir, err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data dir %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("data dir %s: not a directory", dir)
	}
	if uid, ok := fileOwner(st); ok && uid != os.Geteuid() {
		return fmt.Errorf("data dir %s is owned by uid %d, not by this user (uid %d): refusing to use it; choose a directory of your own (--data-dir)", dir, uid, os.Geteuid())
	}
	if st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("data dir %s is accessible to other users (mode %04o) and cannot be made private: %w", dir, st.Mode().Perm(), err)
		}
	}
	return nil
}
