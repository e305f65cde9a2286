package wasi

import (
	"sync"
	"testing"
)

// countingBudget is an FDBudget of size n that records what is held.
type countingBudget struct {
	mu         sync.Mutex
	size, used int64
}

func (b *countingBudget) Acquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.size {
		return false
	}
	b.used += n
	return true
}

func (b *countingBudget) Release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
}

func (b *countingBudget) held() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// TestDirectoryMountChargesItsHandleWhenOpened: a directory mount takes
// one fd from the budget (its os.Root) until its handle for stat and
// readdir is first needed, which takes a second one, or gets EMFILE when
// the budget is spent; Close gives everything back. An idle guest's mount
// thus holds one host fd, as the budget says.
func TestDirectoryMountChargesItsHandleWhenOpened(t *testing.T) {
	b := &countingBudget{size: 3}
	dirA, dirB := t.TempDir(), t.TempDir()
	s, err := New(Config{Mounts: []Mount{{HostPath: dirA, GuestPath: "/"}, {HostPath: dirB, GuestPath: "/b"}}, FDBudget: b})
	if err != nil {
		t.Fatal(err)
	}
	g := &guest{t: t, sys: s, m: make(mem, 1<<16), fns: map[string]HostFunc{}}
	for _, f := range Functions() {
		g.fns[f.Name] = f
	}
	if n := b.held(); n != 2 {
		t.Fatalf("after New: %d fds held, want 2 (one per mount)", n)
	}
	if e := g.call("fd_filestat_get", 3, 3000); e != 0 {
		t.Fatalf("stat of /: %v", e)
	}
	if n := b.held(); n != 3 {
		t.Fatalf("after a stat of /: %d fds held, want 3", n)
	}
	// The budget is spent: /b's handle is refused, not taken.
	if e := g.call("fd_filestat_get", 4, 3000); e != EMFILE {
		t.Fatalf("stat of /b over the budget: %v, want EMFILE", e)
	}
	if n := b.held(); n != 3 {
		t.Fatalf("after the refusal: %d fds held, want 3", n)
	}
	s.Close()
	if n := b.held(); n != 0 {
		t.Fatalf("after Close: %d fds held, want 0", n)
	}
}
