package logs

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// openOn counts this process's fds open on path (Linux: /proc/self/fd).
func openOn(t *testing.T, path string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && l == path {
			n++
		}
	}
	return n
}

// TestIdleLogFileIsClosed: a log file with no record written for
// IdleClose holds no fd; the next record reopens it and is appended after
// the others, rotation still works after a reopen, and Close ends it.
// (Not parallel: it sets IdleClose.)
func TestIdleLogFileIsClosed(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts fds through /proc/self/fd")
	}
	defer func(d time.Duration) { IdleClose = d }(IdleClose)
	IdleClose = 50 * time.Millisecond
	path, rf, clk := openRotating(t, "0.log", RotatePolicy{MaxSize: 200, MaxFiles: 3})
	w := NewFile(rf, clk, nil)
	waitClosed := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for openOn(t, path) != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the log file is still open", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if openOn(t, path) != 1 {
		t.Fatalf("fds on the new log: %d, want 1", openOn(t, path))
	}
	waitClosed("never written")
	writeRecords(t, w, 0, 1)
	if n := openOn(t, path); n != 1 {
		t.Errorf("fds after a write: %d, want 1 (reopened)", n)
	}
	// Writes more often than IdleClose keep it open.
	for i := 1; i < 6; i++ {
		time.Sleep(IdleClose / 3)
		writeRecords(t, w, i, 1)
		if n := openOn(t, path); n != 1 {
			t.Fatalf("fds while written every IdleClose/3: %d, want 1", n)
		}
	}
	waitClosed("idle after writes")
	// Enough records to rotate, from a closed file.
	writeRecords(t, w, 6, 10)
	if err := rf.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rf.Write([]byte("x\n")); err == nil {
		t.Error("write after Close succeeded")
	}
	files, err := Files(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Errorf("files %v: no rotation after the reopen", files)
	}
	var all []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := ReadAll(strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			all = append(all, l.Text)
		}
	}
	// MaxFiles 3 keeps the newest records, in order, ending with line 15.
	if len(all) == 0 || all[len(all)-1] != "line 15" {
		t.Fatalf("records %q: want them to end with line 15", all)
	}
	for i := 1; i < len(all); i++ {
		var a, b int
		if _, err := fmt.Sscanf(all[i-1], "line %d", &a); err != nil {
			t.Fatal(err)
		}
		if _, err := fmt.Sscanf(all[i], "line %d", &b); err != nil {
			t.Fatal(err)
		}
		if b != a+1 {
			t.Errorf("records out of order or lost: %q", all)
			break
		}
	}
}
