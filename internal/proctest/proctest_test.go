package proctest

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReadsThisProcess: the readings move the way this process's use
// does: a file opened is one more fd, a file read is at least its size in
// rchar, and a held allocation shows in the resident set.
func TestReadsThisProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	fds := OpenFDs(t)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := OpenFDs(t); got != fds+1 {
		t.Errorf("open fds %d after opening one more, want %d", got, fds+1)
	}
	before := ReadBytes(t)
	buf := make([]byte, 1<<20)
	n, err := f.Read(buf)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := ReadBytes(t) - before; got < int64(n) {
		t.Errorf("rchar grew by %d after reading %d bytes", got, n)
	}

	rss := RSS(t)
	hold := make([]byte, 64<<20)
	for i := range hold {
		hold[i] = 1
	}
	if got := RSS(t); got < rss+32<<20 {
		t.Errorf("RSS %d after touching 64 MiB, was %d", got, rss)
	}
	_ = hold[len(hold)-1]
	if th := Threads(t); th < 1 {
		t.Errorf("threads %d", th)
	}
	u, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.RSS <= 0 || u.Threads < 1 || u.FDs < 1 {
		t.Errorf("Read(self pid) = %+v", u)
	}
}

// TestReadGoneProcess: a process that is not there is an error, not a
// zero reading.
func TestReadGoneProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip(err)
	}
	if u, err := Read(1 << 30); err == nil {
		t.Errorf("Read of a missing pid = %+v, nil", u)
	}
}
