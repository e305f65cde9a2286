package enginetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/wasi"
)

// testQuota: a mount with a VolumeQuota behaves as a size-limited tmpfs
// (ENOSPC past the limit, sparse growth counted in full), shared by every
// instance mounting the volume.
func (s *suite) testQuota(t *testing.T) {
	const limit = 1 << 20
	newVol := func(t *testing.T) (string, *runtime.VolumeQuota) {
		dir := t.TempDir()
		q, err := runtime.NewVolumeQuota("test volume", limit, dir)
		if err != nil {
			t.Fatal(err)
		}
		return dir, q
	}
	// bounded checks that the volume holds no more than its limit, by the
	// quota's count and measured on the host.
	bounded := func(t *testing.T, dir string, q *runtime.VolumeQuota) {
		t.Helper()
		used, err := runtime.MeasureVolume(dir)
		if err != nil {
			t.Fatal(err)
		}
		if used > limit || q.Used() > limit || used != q.Used() {
			t.Errorf("volume holds %d bytes (quota counts %d), limit %d", used, q.Used(), limit)
		}
	}
	t.Run("FillAndSparse", func(t *testing.T) {
		dir, q := newVol(t)
		cfg := runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: dir, GuestPath: "/v", Quota: q}}}
		out := s.runHostile(t, cfg, "do", "truncate", "/v/sparse", "1T",
			"--", "allocate", "/v/sparse", "0", "1T",
			"--", "pwrite", "/v/sparse", "1T", "x",
			"--", "pwrite", "/v/sparse", "1048000", "x",
			"--", "fill", "/v/f", "65536",
			"--", "write", "/v/g", "x",
			"--", "mkdir", "/v/d",
			"--", "symlink", "f", "/v/l",
			"--", "truncate", "/v/f", "0",
			"--", "fill", "/v/f", "65536",
			"--", "rm", "/v/f",
			"--", "fill", "/v/f2", "65536")
		full := limit - 2*wasi.InodeCost // two files
		wantLines(t, "fill", out, "truncate: errno ENOSPC", "allocate: errno ENOSPC", "pwrite: errno ENOSPC",
			"pwrite: errno ENOSPC",
			fmt.Sprintf("fill: wrote %d", full), "fill: errno ENOSPC",
			"write: errno ENOSPC", "mkdir: errno ENOSPC", "symlink: errno ENOSPC",
			"truncate: ok",
			fmt.Sprintf("fill: wrote %d", full), "fill: errno ENOSPC",
			"rm: ok",
			fmt.Sprintf("fill: wrote %d", full), "fill: errno ENOSPC")
		if fi, err := os.Stat(filepath.Join(dir, "sparse")); err != nil || fi.Size() != 0 {
			t.Errorf("sparse file: %v %v", fi.Size(), err)
		}
		bounded(t, dir, q)
	})
	t.Run("LinksAndRenames", func(t *testing.T) {
		// A hard-linked file is charged once and released with its last
		// name; a rename over a file releases the file replaced.
		dir, q := newVol(t)
		cfg := runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: dir, GuestPath: "/v", Quota: q}}}
		out := s.runHostile(t, cfg, "do", "fill", "/v/a", "65536",
			"--", "link", "/v/a", "/v/b",
			"--", "rm", "/v/a",
			"--", "write", "/v/c", "x",
			"--", "rm", "/v/b",
			"--", "write", "/v/c", "x",
			"--", "fill", "/v/d", "65536",
			"--", "rename", "/v/c", "/v/d",
			"--", "fill", "/v/e", "65536")
		wantLines(t, "links and renames", out,
			fmt.Sprintf("fill: wrote %d", limit-wasi.InodeCost), "fill: errno ENOSPC",
			"link: ok", "rm: ok", "write: errno ENOSPC", "rm: ok", "write: ok",
			fmt.Sprintf("fill: wrote %d", limit-2*wasi.InodeCost-1), "fill: errno ENOSPC",
			"rename: ok",
			fmt.Sprintf("fill: wrote %d", limit-2*wasi.InodeCost-1), "fill: errno ENOSPC")
		bounded(t, dir, q)
	})
	t.Run("UnlinkedWhileOpen", func(t *testing.T) {
		// Blocks of a file unlinked while open stay allocated until it
		// closes: the quota keeps them charged until then.
		dir, q := newVol(t)
		cfg := runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: dir, GuestPath: "/v", Quota: q}}}
		out := s.runHostile(t, cfg, "do", "unlinkfill", "/v/a", "65536", "--", "fill", "/v/b", "65536")
		full := limit - wasi.InodeCost
		wantLines(t, "unlinkfill", out, "unlink: ok", fmt.Sprintf("unlinkfill: wrote %d", full), "unlinkfill: errno ENOSPC",
			"close: ok", fmt.Sprintf("fill: wrote %d", full), "fill: errno ENOSPC")
		bounded(t, dir, q)
	})
	t.Run("SharedByInstances", func(t *testing.T) {
		// Four instances fill the same volume at once: together they get
		// exactly the limit. (Their files exist first, so that none is
		// refused at its creation.)
		dir := t.TempDir()
		for i := range 4 {
			must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), nil, 0o644))
		}
		q, err := runtime.NewVolumeQuota("test volume", limit, dir)
		must(t, err)
		var wg sync.WaitGroup
		outs := make([][]string, 4)
		for i := range outs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cfg := runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: dir, GuestPath: "/v", Quota: q}}}
				outs[i] = s.runHostile(t, cfg, "fill", fmt.Sprintf("/v/f%d", i), "4096")
			}()
		}
		wg.Wait()
		total := 0
		for _, out := range outs {
			if len(out) != 2 || out[1] != "fill: errno ENOSPC" {
				t.Fatalf("fill: %q", out)
			}
			n, err := strconv.Atoi(strings.TrimPrefix(out[0], "fill: wrote "))
			if err != nil {
				t.Fatalf("fill: %q", out)
			}
			total += n
		}
		if want := limit - 4*wasi.InodeCost; total != want {
			t.Errorf("instances wrote %d bytes together, want %d", total, want)
		}
		bounded(t, dir, q)
	})
	t.Run("HostFilesCount", func(t *testing.T) {
		dir := t.TempDir()
		must(t, os.WriteFile(filepath.Join(dir, "big"), make([]byte, limit/2), 0o644))
		q, err := runtime.NewVolumeQuota("test volume", limit, dir)
		must(t, err)
		if want := int64(limit/2 + wasi.InodeCost); q.Used() != want {
			t.Fatalf("quota starts at %d, want %d", q.Used(), want)
		}
		cfg := runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: dir, GuestPath: "/v", Quota: q}}}
		out := s.runHostile(t, cfg, "fill", "/v/f", "65536")
		wantLines(t, "fill", out, fmt.Sprintf("fill: wrote %d", limit/2-2*wasi.InodeCost), "fill: errno ENOSPC")
		bounded(t, dir, q)
	})
}
