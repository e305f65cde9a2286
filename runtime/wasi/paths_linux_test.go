package wasi

import (
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPathsParentSwapRace: while another process keeps exchanging a
// directory of the mount with a symlink to a host directory outside it
// (renameat2 RENAME_EXCHANGE), the calls that resolve a path's directory
// and then act on its last name with *at calls (no-follow open with
// O_CREAT|O_TRUNC, set_times without follow, rename, link, unlink,
// symlink) never reach the outside directory: the directory fd they act
// on was resolved inside the mount.
func TestPathsParentSwapRace(t *testing.T) {
	g, m, _ := pathFixture(t)
	outside := filepath.Join(filepath.Dir(m), "outside")
	old := time.Unix(1_000_000, 0)
	if err := os.Chtimes(filepath.Join(outside, "secret"), old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(m, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	hostFile(t, filepath.Join(m, "d", "secret"), "inside")
	if err := os.Symlink(outside, filepath.Join(m, "alt")); err != nil {
		t.Fatal(err)
	}
	swap := func() error {
		return unix.Renameat2(unix.AT_FDCWD, filepath.Join(m, "d"), unix.AT_FDCWD, filepath.Join(m, "alt"), unix.RENAME_EXCHANGE)
	}
	if err := swap(); err != nil {
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
			t.Skipf("RENAME_EXCHANGE: %v", err)
		}
		t.Fatal(err)
	}
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			if err := swap(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	deadline := time.Now().Add(time.Second)
	hits := 0
	for i := 0; time.Now().Before(deadline) || i < 200; i++ {
		if fd, e := g.pathOpen(3, 0, "d/secret", oflagCreat|oflagTrunc, rightFdRead|rightFdWrite); e == 0 {
			hits++
			g.closeFD(fd)
		}
		g.setMtim(3, 0, "d/secret", 5)
		if g.rename(3, "d/secret", 3, "stolen") == 0 {
			g.rename(3, "stolen", 3, "d/secret")
		}
		g.rename(3, "stolen", 3, "d/planted")
		if g.link(3, 0, "d/secret", 3, "l") == 0 {
			g.onePath("path_unlink_file", 3, "l")
		}
		g.link(3, 0, "stolen", 3, "d/planted2")
		g.symlink("x", 3, "d/planted3")
		g.onePath("path_unlink_file", 3, "d/planted3")
	}
	stop.Store(true)
	<-done
	if hits == 0 {
		t.Error("no open through the swapped directory succeeded: the race was not exercised")
	}
	fi, err := os.Stat(filepath.Join(outside, "secret"))
	if err != nil || fi.Size() != int64(len("secret")) || !fi.ModTime().Equal(old) {
		t.Errorf("outside/secret changed: %v %v", fi, err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("outside changed: %v", ents)
	}
}
