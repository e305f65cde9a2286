package term

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// wait is how long a test waits for something that must happen.
const wait = 5 * time.Second

// quiet is how long a test watches for something that must not happen.
const quiet = 50 * time.Millisecond

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(wait):
		t.Fatalf("%s: not closed after %v", what, wait)
	}
}

func stayOpen(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("%s: closed before TERM", what)
	case <-time.After(quiet):
	}
}

// countingReader records how many Read calls run at the same time.
type countingReader struct {
	r       io.Reader
	active  atomic.Int32
	maxSeen atomic.Int32
	calls   atomic.Int32
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.calls.Add(1)
	n := c.active.Add(1)
	for {
		m := c.maxSeen.Load()
		if n <= m || c.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	defer c.active.Add(-1)
	return c.r.Read(p)
}

func TestNotifyClosesOnEOFAfterDrainingData(t *testing.T) {
	pr, pw := io.Pipe()
	n := &notifier{src: func() io.Reader { return pr }}
	ch := n.notify()
	stayOpen(t, ch, "before any input")

	// io.Pipe writes block until read: returning proves the data is drained,
	// and data alone must not count as TERM.
	if _, err := pw.Write([]byte("exec -i data\nmore\n")); err != nil {
		t.Fatalf("write: %v", err)
	}
	stayOpen(t, ch, "after data")

	pw.Close()
	waitClosed(t, ch, "after EOF")
}

func TestNotifyClosesOnReadError(t *testing.T) {
	pr, pw := io.Pipe()
	n := &notifier{src: func() io.Reader { return pr }}
	ch := n.notify()
	pw.CloseWithError(errors.New("broken pipe"))
	waitClosed(t, ch, "after read error")
}

func TestNotifyIsIdempotentWithOneReader(t *testing.T) {
	pr, pw := io.Pipe()
	cr := &countingReader{r: pr}
	var srcCalls atomic.Int32
	n := &notifier{src: func() io.Reader { srcCalls.Add(1); return cr }}

	const callers = 20
	chans := make([]<-chan struct{}, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() { defer wg.Done(); chans[i] = n.notify() }()
	}
	wg.Wait()
	for i, ch := range chans {
		if ch != chans[0] {
			t.Fatalf("call %d returned a different channel", i)
		}
	}
	for range 3 {
		if _, err := pw.Write([]byte("x")); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	pw.Close()
	waitClosed(t, chans[0], "after EOF")
	if got := srcCalls.Load(); got != 1 {
		t.Errorf("source opened %d times, want 1", got)
	}
	if got := cr.maxSeen.Load(); got != 1 {
		t.Errorf("%d concurrent reads of stdin, want 1", got)
	}
	if got := n.notify(); got != chans[0] || !closed(got) {
		t.Errorf("notify after TERM: want the same, closed channel")
	}
}

func TestContextCancelledOnTERM(t *testing.T) {
	pr, pw := io.Pipe()
	n := &notifier{src: func() io.Reader { return pr }}
	ctx, cancel := n.context(context.Background())
	defer cancel()
	stayOpen(t, ctx.Done(), "context")

	pw.Close()
	waitClosed(t, ctx.Done(), "context after EOF")
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("ctx.Err() = %v, want context.Canceled", ctx.Err())
	}
	if cause := context.Cause(ctx); !errors.Is(cause, ErrTerminated) {
		t.Errorf("context.Cause = %v, want ErrTerminated", cause)
	}
}

func TestContextCancelWithoutTERM(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	n := &notifier{src: func() io.Reader { return pr }}

	ctx, cancel := n.context(context.Background())
	cancel()
	waitClosed(t, ctx.Done(), "context after cancel")
	if cause := context.Cause(ctx); !errors.Is(cause, context.Canceled) || errors.Is(cause, ErrTerminated) {
		t.Errorf("context.Cause = %v, want context.Canceled", cause)
	}

	parent, parentCancel := context.WithCancel(context.Background())
	ctx2, cancel2 := n.context(parent)
	defer cancel2()
	parentCancel()
	waitClosed(t, ctx2.Done(), "context after parent cancel")
	if cause := context.Cause(ctx2); errors.Is(cause, ErrTerminated) {
		t.Errorf("context.Cause = %v, want the parent's cause", cause)
	}
	if closed(n.notify()) {
		t.Errorf("TERM channel closed although stdin is still open")
	}
}

// TestPackageAPI is the only test that touches the package-level notifier;
// it points stdin at a pipe and starts from a fresh notifier (so that it also
// passes with -count > 1).
func TestPackageAPI(t *testing.T) {
	pr, pw := io.Pipe()
	oldStdin, oldStd := stdin, std
	stdin, std = pr, &notifier{src: oldStd.src}
	t.Cleanup(func() { stdin, std = oldStdin, oldStd })

	ch := Notify()
	if Notify() != ch {
		t.Fatal("Notify returned different channels")
	}
	ctx, cancel := Context(context.Background())
	defer cancel()
	stayOpen(t, ch, "Notify")
	stayOpen(t, ctx.Done(), "Context")

	pw.Close()
	waitClosed(t, ch, "Notify after EOF")
	waitClosed(t, ctx.Done(), "Context after EOF")
	if !errors.Is(context.Cause(ctx), ErrTerminated) {
		t.Errorf("context.Cause = %v, want ErrTerminated", context.Cause(ctx))
	}

	// A context made after TERM is cancelled at once.
	late, lateCancel := Context(context.Background())
	defer lateCancel()
	waitClosed(t, late.Done(), "Context made after TERM")
}
