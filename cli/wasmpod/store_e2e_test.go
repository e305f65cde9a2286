package main

// End-to-end tests of the store's durability guards with the real binary:
// a corrupt, truncated or emptied store is refused with a message that names
// the file and how to restore it; backup (online) and restore bring every
// object back.

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// unschedulablePods is a manifest of n pods no node accepts, so they stay
// in the store, Pending, without running.
func unschedulablePods(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `---
apiVersion: v1
kind: Pod
metadata: {name: p-%03d, labels: {batch: store}}
spec:
  nodeSelector: {nowhere: "true"}
  containers:
  - name: c
    image: go://./wasm-examples/hello
`, i)
	}
	return b.String()
}

// podUIDs lists the pods of the default namespace as name → UID.
func (s *server) podUIDs(t *testing.T) map[string]string {
	t.Helper()
	l, err := s.client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, p := range l.Items {
		m[p.Name] = string(p.UID)
	}
	return m
}

// serveRefused starts serve on dir and returns its stderr, failing unless it
// exits non-zero within two minutes (no hang) without a crash.
func serveRefused(t *testing.T, dir string, args ...string) string {
	t.Helper()
	full := append([]string{"serve", "--data-dir", dir, "--socket", filepath.Join(dir, "refused.sock"), "--cache-dir", cacheDir}, args...)
	p := start(t, "", full...)
	code := p.wait(2 * time.Minute)
	errOut := p.stderr.String()
	if code == 0 {
		t.Fatalf("serve on %s started; want it refused\nstderr:\n%s", dir, errOut)
	}
	for _, crash := range []string{"SIGSEGV", "SIGBUS", "panic:", "goroutine "} {
		if strings.Contains(errOut, crash) {
			t.Fatalf("serve crashed (%s) instead of refusing the store\nstderr:\n%s", crash, errOut)
		}
	}
	return errOut
}

// copyDataDir copies the store and its marker into a new data dir.
func copyDataDir(t *testing.T, from string) string {
	t.Helper()
	to, err := os.MkdirTemp("", "wpst") // short: the socket's path must fit sun_path
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(to) })
	for _, f := range []string{"wasmpod.db", "wasmpod.db.marker"} {
		b, err := os.ReadFile(filepath.Join(from, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

func TestServeStoreCorruptionBackupRestore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil { // a pre-existing, world-readable data dir
		t.Fatal(err)
	}
	s := serve(t, dir)
	s.mustCtl(t, unschedulablePods(100), "apply", "-f", "-")
	// The data dir is made private and nothing in it is readable by others.
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %04o: other users can reach it", p, info.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := s.podUIDs(t)
	if len(want) != 100 {
		t.Fatalf("%d pods created, want 100", len(want))
	}

	// A second serve on the same data dir fails fast, saying why.
	errOut := serveRefused(t, dir)
	contains(t, "second serve's stderr", errOut, filepath.Join(dir, "wasmpod.db"), "locked by another process", "another wasmpod serve")

	// Backup online, while the server serves (and keeps writing events).
	backup := filepath.Join(t.TempDir(), "snap.db")
	out, errOut, code := s.ctl(t, "", "backup", backup)
	if code != 0 {
		t.Fatalf("backup: exit %d\n%s\n%s", code, out, errOut)
	}
	contains(t, "backup's stderr", errOut, "Backing up the store of unix://", "100%", "Backup written to "+backup, "checked")

	// Restore is offline: refused while the server holds the data dir.
	p := start(t, "", "restore", "--data-dir", dir, backup)
	if code := p.wait(time.Minute); code == 0 {
		t.Fatal("restore into a data dir in use succeeded")
	}
	contains(t, "restore's stderr", p.stderr.String(), "locked by another process", "stop the wasmpod serve")
	s.interrupt(0)

	// With the server stopped: the online backup says how to back up
	// offline, and the offline one works.
	out, errOut, code = s.ctl(t, "", "backup", backup+".2")
	if code == 0 || !strings.Contains(errOut, "--data-dir") {
		t.Fatalf("online backup without a server: exit %d\n%s", code, errOut)
	}
	p = start(t, "", "backup", "--data-dir", dir, backup+".offline")
	if code := p.wait(time.Minute); code != 0 {
		t.Fatalf("offline backup: exit %d\n%s", code, p.stderr)
	}
	contains(t, "offline backup's stderr", p.stderr.String(), "Backing up "+filepath.Join(dir, "wasmpod.db"), "100%", "Backup written to "+backup+".offline")

	orig, err := os.ReadFile(filepath.Join(dir, "wasmpod.db"))
	if err != nil {
		t.Fatal(err)
	}
	corrupt := func(name string, mutate func([]byte) []byte) {
		t.Run(name, func(t *testing.T) {
			d := copyDataDir(t, dir)
			path := filepath.Join(d, "wasmpod.db")
			b := mutate(bytes.Clone(orig))
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			errOut := serveRefused(t, d)
			contains(t, "stderr", errOut, path, "wasmpod backup", "wasmpod restore")
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(after, b) {
				t.Fatalf("serve modified the refused store (%d bytes, was %d)", len(after), len(b))
			}
		})
	}
	corrupt("truncated to 0", func([]byte) []byte { return nil })
	corrupt("truncated to half", func(b []byte) []byte { return b[:len(b)/2] })
	corrupt("random pages overwritten", func(b []byte) []byte {
		rng := rand.New(rand.NewPCG(8, 8))
		for range 8 {
			pg := 2 + rng.IntN(len(b)/4096-2)
			for i := pg * 4096; i < (pg+1)*4096; i++ {
				b[i] = byte(rng.Uint32())
			}
		}
		return b
	})
	t.Run("truncated to 0 then reset explicitly", func(t *testing.T) {
		d := copyDataDir(t, dir)
		if err := os.Truncate(filepath.Join(d, "wasmpod.db"), 0); err != nil {
			t.Fatal(err)
		}
		contains(t, "stderr", serveRefused(t, d), "is empty (0 bytes)", "--allow-store-reset")
		s := serve(t, d, "--allow-store-reset")
		if n := len(s.podUIDs(t)); n != 0 {
			t.Fatalf("%d pods after a reset", n)
		}
		s.interrupt(0)
	})

	// Restore into a fresh data dir: every pod is back, with its UID.
	fresh := filepath.Join(t.TempDir(), "restored")
	p = start(t, "", "restore", "--data-dir", fresh, backup)
	if code := p.wait(time.Minute); code != 0 {
		t.Fatalf("restore: exit %d\n%s", code, p.stderr)
	}
	contains(t, "restore's stderr", p.stderr.String(), "Restoring "+backup, "100%", "Restored revision")
	r := serve(t, fresh)
	got := r.podUIDs(t)
	if len(got) != len(want) {
		t.Fatalf("%d pods after restore, want %d", len(got), len(want))
	}
	var missing []string
	for n, uid := range want {
		if got[n] != uid {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("pods lost or changed by backup/restore: %v", missing)
	}
	r.interrupt(0)
}
