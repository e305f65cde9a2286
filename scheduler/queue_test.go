package scheduler

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	testingclock "k8s.io/utils/clock/testing"
)

func popNow(t *testing.T, q *Queue) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p, err := q.Pop(ctx)
	if err != nil {
		t.Fatalf("Pop: %v", err)
	}
	return p
}

func assertEmpty(t *testing.T, q *Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if p, err := q.Pop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Pop = %v, %v; want nothing", p, err)
	}
}

func TestQueuePriorityFIFO(t *testing.T) {
	q := NewQueue(testingclock.NewFakeClock(time.Unix(0, 0)))
	a, b, c := makePod("a", "", ""), makePod("b", "", "", withPriority(10)), makePod("c", "", "")
	q.Add(a)
	q.Add(b)
	q.Add(c)
	for _, want := range []string{"b", "a", "c"} {
		if got := popNow(t, q); got.Name != want {
			t.Fatalf("popped %s, want %s", got.Name, want)
		}
	}
	assertEmpty(t, q)
}

func TestQueueBackoffTimings(t *testing.T) {
	fc := testingclock.NewFakeClock(time.Unix(1000, 0))
	q := NewQueue(fc)
	p := makePod("p", "", "")
	q.Add(p)
	wantBackoff := []time.Duration{1, 2, 4, 8, 10, 10}
	for attempt, d := range wantBackoff {
		qp, err := q.PopInfo(context.Background())
		if err != nil || qp.Attempts != attempt+1 {
			t.Fatalf("PopInfo = %+v, %v", qp, err)
		}
		q.AddBackoff(qp.Pod, qp.Attempts)
		if a, b, u := q.Len(); a != 0 || b != 1 || u != 0 {
			t.Fatalf("Len = %d %d %d", a, b, u)
		}
		fc.Step(d*time.Second - time.Millisecond)
		q.FlushBackoffCompleted()
		if a, _, _ := q.Len(); a != 0 {
			t.Fatalf("attempt %d: active before %v elapsed", attempt+1, d*time.Second)
		}
		fc.Step(time.Millisecond)
		q.FlushBackoffCompleted()
		if a, _, _ := q.Len(); a != 1 {
			t.Fatalf("attempt %d: not active after %v", attempt+1, d*time.Second)
		}
	}
}

func TestQueueUnschedulableAndMove(t *testing.T) {
	fc := testingclock.NewFakeClock(time.Unix(1000, 0))
	q := NewQueue(fc)
	p := makePod("p", "", "")
	q.Add(p)
	qp, _ := q.PopInfo(context.Background())
	q.AddUnschedulable(qp.Pod, qp.Attempts)
	if a, b, u := q.Len(); a != 0 || b != 0 || u != 1 {
		t.Fatalf("Len = %d %d %d", a, b, u)
	}
	// Status-only update keeps it unschedulable; a spec change moves it.
	upd := p.DeepCopy()
	upd.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse}}
	q.Update(upd)
	if _, _, u := q.Len(); u != 1 {
		t.Fatal("status-only update moved the pod")
	}
	// Move within the backoff window goes to backoffQ, after it to activeQ.
	q.MoveAllToActiveOrBackoff("NodeAdd")
	if a, b, u := q.Len(); a != 0 || b != 1 || u != 0 {
		t.Fatalf("after move in backoff: %d %d %d", a, b, u)
	}
	fc.Step(time.Second)
	if got := popNow(t, q); got.Name != "p" { // Pop flushes expired backoff itself
		t.Fatal(got.Name)
	}
	q.AddUnschedulable(p, 0)
	fc.Step(3 * time.Second)
	q.MoveAllToActiveOrBackoff("NodeUpdate")
	if a, _, _ := q.Len(); a != 1 {
		t.Fatal("move after backoff did not reach activeQ")
	}
	popNow(t, q)

	// A move request while the pod is in flight sends it to backoffQ, not unschedulable.
	q.MoveAllToActiveOrBackoff("NodeAdd")
	q.AddUnschedulable(p, 0)
	q.Delete(p)
	if a, b, u := q.Len(); a+b+u != 0 {
		t.Fatalf("after delete: %d %d %d", a, b, u)
	}
	q.Add(p)
	popNow(t, q)
	q.MoveAllToActiveOrBackoff("NodeAdd")
	q.AddUnschedulable(p, 1)
	if _, b, u := q.Len(); b != 1 || u != 0 {
		t.Fatalf("in-flight move: backoff=%d unschedulable=%d", b, u)
	}

	// Deleted while in flight: AddUnschedulable is ignored.
	fc.Step(time.Minute)
	popNow(t, q)
	q.Delete(p)
	q.AddUnschedulable(p, 1)
	if a, b, u := q.Len(); a+b+u != 0 {
		t.Fatalf("deleted pod requeued: %d %d %d", a, b, u)
	}
}

func TestQueueUnschedulableFlush(t *testing.T) {
	fc := testingclock.NewFakeClock(time.Unix(1000, 0))
	q := NewQueue(fc)
	p := makePod("p", "", "")
	q.Add(p)
	popNow(t, q)
	q.AddUnschedulable(p, 1)
	fc.Step(5 * time.Minute)
	q.FlushUnschedulableLeftover()
	if _, _, u := q.Len(); u != 1 {
		t.Fatal("flushed at exactly 5 min")
	}
	fc.Step(time.Second)
	q.FlushUnschedulableLeftover()
	if a, _, u := q.Len(); a != 1 || u != 0 {
		t.Fatal("not flushed after 5 min")
	}
}

func TestQueueRunWakesPopWithoutPolling(t *testing.T) {
	fc := testingclock.NewFakeClock(time.Unix(1000, 0))
	q := NewQueue(fc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	p := makePod("p", "", "")
	q.Add(p)
	popNow(t, q)
	q.AddBackoff(p, 1)

	got := make(chan *corev1.Pod, 1)
	go func() {
		p, _ := q.Pop(ctx)
		got <- p
	}()
	select {
	case <-got:
		t.Fatal("popped before the backoff expired")
	case <-time.After(50 * time.Millisecond):
	}
	// Run sleeps on a timer for the backoff expiry; stepping the fake clock
	// past it must wake the blocked Pop.
	deadline := time.Now().Add(2 * time.Second)
	for stepped := false; ; {
		if !stepped && fc.HasWaiters() {
			fc.Step(time.Second)
			stepped = true
		}
		select {
		case p := <-got:
			if p == nil || p.Name != "p" {
				t.Fatalf("popped %v", p)
			}
			cancel()
			<-done
			return
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("Pop not woken after backoff expiry")
		}
		if stepped {
			fc.Step(10 * time.Millisecond)
		}
	}
}

func TestQueueClose(t *testing.T) {
	q := NewQueue(testingclock.NewFakeClock(time.Unix(0, 0)))
	errc := make(chan error, 1)
	go func() { _, err := q.Pop(context.Background()); errc <- err }()
	time.Sleep(10 * time.Millisecond)
	q.Close()
	if err := <-errc; !errors.Is(err, ErrQueueClosed) {
		t.Fatalf("err = %v", err)
	}
}
