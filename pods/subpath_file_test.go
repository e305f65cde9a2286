package pods

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOpenVolumePathFile: a subPath naming a file of the volume is opened
// as that file (following symlinks only inside the volume), pinned; a
// FIFO or device is refused without blocking; a missing one is made a
// directory, as the kubelet makes it.
func TestOpenVolumePathFile(t *testing.T) {
	vol := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(outside, []byte("TOPSECRET"), 0o600))
	must(os.MkdirAll(filepath.Join(vol, "..data"), 0o755))
	must(os.WriteFile(filepath.Join(vol, "..data", "nginx.conf"), []byte("v1"), 0o644))
	must(os.Symlink("..data/nginx.conf", filepath.Join(vol, "nginx.conf"))) // a ConfigMap key
	must(os.Symlink(outside, filepath.Join(vol, "escape")))
	must(os.Symlink("../../../../../../../../.."+outside, filepath.Join(vol, "climb")))
	must(syscall.Mkfifo(filepath.Join(vol, "fifo"), 0o644))

	root, file, err := openVolumePath(vol, "nginx.conf")
	if err != nil || root != nil || file == nil {
		t.Fatalf("nginx.conf: root %v file %v err %v; want the file", root, file, err)
	}
	defer file.Close()
	// Pinned: the key swapped to new content later changes nothing.
	must(os.Rename(filepath.Join(vol, "..data"), filepath.Join(vol, "..old")))
	must(os.MkdirAll(filepath.Join(vol, "..data"), 0o755))
	must(os.WriteFile(filepath.Join(vol, "..data", "nginx.conf"), []byte("v2"), 0o644))
	if b, _ := io.ReadAll(file); string(b) != "v1" {
		t.Errorf("pinned file reads %q, want v1", b)
	}

	for _, sub := range []string{"escape", "climb"} {
		root, file, err := openVolumePath(vol, sub)
		if err == nil || root != nil || file != nil || !strings.Contains(err.Error(), "outside the volume") {
			t.Errorf("%s: root %v file %v err %v; want refused as leading outside", sub, root, file, err)
		}
	}
	done := make(chan error, 1)
	go func() { _, _, err := openVolumePath(vol, "fifo"); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "neither a directory nor a regular file") {
			t.Errorf("fifo: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("opening a FIFO subPath blocked")
	}
	root, file, err = openVolumePath(vol, "new/dir")
	if err != nil || root == nil || file != nil {
		t.Fatalf("missing subPath: root %v file %v err %v; want a new directory", root, file, err)
	}
	root.Close()
	if fi, err := os.Stat(filepath.Join(vol, "new", "dir")); err != nil || !fi.IsDir() {
		t.Errorf("missing subPath not made a directory: %v %v", fi, err)
	}
}

// TestSubPathChecks: the kubelet's messages for a subPath that is absolute
// or climbs, and for subPathExpr's missing variables.
func TestSubPathChecks(t *testing.T) {
	for p, want := range map[string]string{
		"/etc":    "error SubPath `/etc` must not be an absolute path",
		"a/../..": "unable to provision SubPath `a/../..`: must not contain '..'",
		"a/b":     "",
		"..a/b":   "",
	} {
		err := checkSubPath(p)
		if got := ""; err != nil {
			got = err.Error()
			if got != want {
				t.Errorf("checkSubPath(%q) = %q, want %q", p, got, want)
			}
		} else if want != "" {
			t.Errorf("checkSubPath(%q) = nil, want %q", p, want)
		}
	}
	env := map[string]string{"A": "a", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for expr, want := range map[string]string{
		"$(A)/x":                  "a/x",
		"$(B)/$(EMPTY)/$(A)/$(C)": "error: missing value for B, C, EMPTY",
		"$$(A)":                   "$(A)",
	} {
		got, err := subPathExpr(expr, lookup)
		if err != nil {
			got = "error: " + err.Error()
		}
		if got != want {
			t.Errorf("subPathExpr(%q) = %q, want %q", expr, got, want)
		}
	}
}
