//go:build unix

package proctest

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestLowerFDLimit: under the lowered limit an open past it fails with
// EMFILE; once restored, it succeeds.
func TestLowerFDLimit(t *testing.T) {
	low := FDLimitAbove(t, 4)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	restore := LowerFDLimit(t, low)
	var files []*os.File
	var openErr error
	for range 16 {
		f, err := os.Open(path)
		if err != nil {
			openErr = err
			break
		}
		files = append(files, f)
	}
	for _, f := range files {
		f.Close()
	}
	restore()
	if !errors.Is(openErr, syscall.EMFILE) {
		t.Errorf("16 opens under a limit of %d open fds + 4: %d opened, error %v; want EMFILE", low-4, len(files), openErr)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open after restore: %v", err)
	}
	f.Close()
}
