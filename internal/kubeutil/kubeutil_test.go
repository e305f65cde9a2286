package kubeutil

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	testingclock "k8s.io/utils/clock/testing"
)

func TestObject(t *testing.T) {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a"}}
	if got, ok := Object[*corev1.Pod](p); !ok || got != p {
		t.Errorf("plain object: %v, %v", got, ok)
	}
	if got, ok := Object[*corev1.Pod](cache.DeletedFinalStateUnknown{Key: "ns/a", Obj: p}); !ok || got != p {
		t.Errorf("tombstone: %v, %v", got, ok)
	}
	if _, ok := Object[*corev1.Node](p); ok {
		t.Error("a Pod converted to a Node")
	}
	if _, ok := Object[*corev1.Pod](cache.DeletedFinalStateUnknown{Key: "ns/a", Obj: "junk"}); ok {
		t.Error("a tombstone of another type converted")
	}
}

func TestOnEvery(t *testing.T) {
	var got []string
	h := OnEvery(func(p *corev1.Pod) { got = append(got, p.Name) })
	h.OnAdd(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "add"}}, false)
	h.OnUpdate(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "old"}}, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "new"}})
	h.OnDelete(cache.DeletedFinalStateUnknown{Obj: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "gone"}}})
	h.OnAdd(&corev1.Node{}, false)
	if want := "add new gone"; strings.Join(got, " ") != want {
		t.Errorf("calls %q, want %q", strings.Join(got, " "), want)
	}
}

func TestTyped(t *testing.T) {
	var got []string
	rec := func(kind string) func(*corev1.Node) {
		return func(n *corev1.Node) { got = append(got, kind+":"+n.Name) }
	}
	h := Typed(rec("add"), rec("update"), rec("delete"))
	h.OnAdd(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, false)
	h.OnUpdate(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "old"}}, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "b"}})
	h.OnDelete(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "c"}})
	h.OnDelete(&corev1.Pod{})
	if want := "add:a update:b delete:c"; strings.Join(got, " ") != want {
		t.Errorf("calls %q, want %q", strings.Join(got, " "), want)
	}
}

// TestProcessNextRecoversPanic: a sync that panics is a failure retried
// with the queue's back-off, and the worker goes on.
func TestProcessNextRecoversPanic(t *testing.T) {
	q := NewQueue("test")
	defer q.ShutDown()
	q.Add("ns/bad")
	calls := 0
	more := ProcessNext(context.Background(), q, func(context.Context, string) error {
		calls++
		var m map[string]int
		m["boom"] = 1 // nil map write: a runtime panic
		return nil
	})
	if !more || calls != 1 {
		t.Fatalf("ProcessNext after a panic: more=%v calls=%d", more, calls)
	}
	if n := q.NumRequeues("ns/bad"); n != 1 {
		t.Fatalf("requeues after a panic: %d, want 1 (rate-limited retry)", n)
	}
}

// TestWorkersWait: Wait returns only after ctx ends, every queue given to
// Queue or Wait is shut down and every goroutine has returned.
func TestWorkersWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	q1, q2 := NewQueue("a"), NewQueue("b")
	synced := make(chan string, 1)
	var w Workers
	w.Queue(ctx, 2, q1, func(_ context.Context, k string) error { synced <- k; return nil })
	w.Loop(1, func() bool { _, quit := q2.Get(); return !quit })
	looped := make(chan struct{})
	w.Go(func() { <-ctx.Done(); close(looped) })
	q1.Add("ns/x")
	if k := <-synced; k != "ns/x" {
		t.Fatalf("synced %q", k)
	}
	done := make(chan struct{})
	go func() { w.Wait(ctx, q2); close(done) }()
	select {
	case <-done:
		t.Fatal("Wait returned before ctx ended")
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return after ctx ended")
	}
	<-looped
	if !q1.ShuttingDown() || !q2.ShuttingDown() {
		t.Fatalf("queues not shut down: %v %v", q1.ShuttingDown(), q2.ShuttingDown())
	}
}

// TestDelayed: a key is added when the injected clock reaches its time; a
// sooner time replaces a later one, a later one is ignored, Forget drops it.
func TestDelayed(t *testing.T) {
	clk := testingclock.NewFakeClock(time.Unix(1000, 0))
	added := make(chan string, 10)
	done := make(chan struct{})
	defer close(done)
	l := NewDelayed(clk, func(k string) { added <- k }, done)
	expectNone := func(what string) {
		t.Helper()
		select {
		case k := <-added:
			t.Fatalf("%s: %q added", what, k)
		case <-time.After(50 * time.Millisecond):
		}
	}
	expect := func(want string) {
		t.Helper()
		select {
		case k := <-added:
			if k != want {
				t.Fatalf("added %q, want %q", k, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%q not added", want)
		}
	}
	l.AddAfter("now", 0)
	expect("now")
	l.AddAfter("a", 10*time.Second)
	l.AddAfter("a", 20*time.Second) // later: ignored
	l.AddAfter("a", 5*time.Second)  // sooner: replaces
	l.AddAfter("b", 5*time.Second)
	l.Forget("b")
	for !clk.HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	clk.Step(4 * time.Second)
	expectNone("before its time")
	clk.Step(time.Second)
	expect("a")
	clk.Step(time.Minute)
	expectNone("after the one add (the replaced and forgotten ones)")
}
