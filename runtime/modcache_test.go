package runtime

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestModuleCacheSingleFlight(t *testing.T) {
	var c ModuleCache[*int]
	var calls atomic.Int32
	release := make(chan struct{})
	compile := func() (*int, error) {
		calls.Add(1)
		<-release
		v := 7
		return &v, nil
	}
	var wg sync.WaitGroup
	got := make([]*int, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := c.Get(context.Background(), "d", compile)
			if err != nil {
				t.Error(err)
			}
			got[i] = m
		}()
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("compile ran %d times, want 1", n)
	}
	for i, m := range got {
		if m != got[0] || m == nil || *m != 7 {
			t.Fatalf("Get %d = %v, want the one module", i, m)
		}
	}
}

func TestModuleCacheRetryAfterError(t *testing.T) {
	var c ModuleCache[*int]
	boom := errors.New("boom")
	if _, err := c.Get(context.Background(), "d", func() (*int, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("first Get: %v, want boom", err)
	}
	v := 1
	m, err := c.Get(context.Background(), "d", func() (*int, error) { return &v, nil })
	if err != nil || m != &v {
		t.Fatalf("second Get = %v, %v: a failed compilation must not be cached", m, err)
	}
}

func TestModuleCacheWaiterCtx(t *testing.T) {
	var c ModuleCache[*int]
	release := make(chan struct{})
	defer close(release)
	go c.Get(context.Background(), "d", func() (*int, error) { <-release; return new(int), nil })
	time.Sleep(10 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.Get(ctx, "d", func() (*int, error) { t.Error("second compile"); return nil, nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting Get: %v, want its ctx's error", err)
	}
}

func TestModuleCacheClose(t *testing.T) {
	var c ModuleCache[*int]
	v := 3
	if _, err := c.Get(context.Background(), "a", func() (*int, error) { return &v, nil }); err != nil {
		t.Fatal(err)
	}
	mods := c.Close()
	if len(mods) != 1 || mods[0] != &v {
		t.Fatalf("Close = %v, want the compiled module", mods)
	}
	if _, err := c.Get(context.Background(), "b", func() (*int, error) { return &v, nil }); !errors.Is(err, ErrEngineClosed) {
		t.Fatalf("Get after Close: %v, want ErrEngineClosed", err)
	}
	if mods := c.Close(); len(mods) != 0 {
		t.Fatalf("second Close = %v, want none", mods)
	}
}

type fakeInst struct {
	killed atomic.Bool
	done   chan struct{}
}

func (f *fakeInst) Done() <-chan struct{} { return f.done }
func (f *fakeInst) Status() ExitStatus    { return ExitStatus{} }
func (f *fakeInst) Terminate()            {}
func (f *fakeInst) Kill() {
	if !f.killed.Swap(true) {
		close(f.done)
	}
}

func TestInstancesClose(t *testing.T) {
	var s Instances[*fakeInst]
	a, b := &fakeInst{done: make(chan struct{})}, &fakeInst{done: make(chan struct{})}
	if n, err := s.Add(a); n != 1 || err != nil {
		t.Fatalf("Add = %d, %v", n, err)
	}
	if n, err := s.Add(b); n != 2 || err != nil {
		t.Fatalf("Add = %d, %v", n, err)
	}
	s.Remove(b)
	if n := s.Len(); n != 1 {
		t.Fatalf("Len = %d, want 1", n)
	}
	closed, err := s.Close(context.Background())
	if !closed || err != nil || !a.killed.Load() || b.killed.Load() {
		t.Fatalf("Close = %v, %v; killed a=%v b=%v", closed, err, a.killed.Load(), b.killed.Load())
	}
	if _, err := s.Add(b); !errors.Is(err, ErrEngineClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
	if closed, _ := s.Close(context.Background()); closed {
		t.Fatal("second Close closed again")
	}
}
