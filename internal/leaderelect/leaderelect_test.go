package leaderelect_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/leaderelect"
	"github.com/wasmpod/wasmpod/store/memory"
)

func client(t *testing.T) kubernetes.Interface {
	t.Helper()
	srv, err := apiserver.New(context.Background(), memory.New(), apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(srv.InProcessConfig(srv.Handler(apiserver.HandlerOptions{})))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// candidate runs an elector for kube-system/test until its ctx ends;
// leading reports whether its OnStartedLeading is running.
type candidate struct {
	le      *leaderelect.LeaderElector
	leading atomic.Bool
	starts  atomic.Int32
	cancel  context.CancelFunc
	done    chan struct{}
}

func start(t *testing.T, cs kubernetes.Interface, id string, clk *testingclock.FakeClock, release bool) *candidate {
	t.Helper()
	c := &candidate{done: make(chan struct{})}
	le, err := leaderelect.New(leaderelect.Config{
		Lock:          &leaderelect.LeaseLock{LeaseMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "test"}, Client: cs.CoordinationV1(), Identity: id},
		LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 10 * time.Millisecond,
		ReleaseOnCancel: release,
		Clock:           clk,
		Callbacks: leaderelect.Callbacks{OnStartedLeading: func(ctx context.Context) {
			c.starts.Add(1)
			c.leading.Store(true)
			<-ctx.Done()
			time.Sleep(20 * time.Millisecond) // stopping takes a moment
			c.leading.Store(false)
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.le = le
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() {
		defer close(c.done)
		le.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-c.done })
	return c
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !f(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
	}
}

func holder(t *testing.T, cs kubernetes.Interface) (string, int32) {
	t.Helper()
	l, err := cs.CoordinationV1().Leases("kube-system").Get(context.Background(), "test", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return *l.Spec.HolderIdentity, *l.Spec.LeaseTransitions
}

// TestFollowerWaitsForTheLeaseDuration: a leader that stops renewing
// without releasing (as one killed) keeps the Lease for LeaseDuration of
// the follower's clock from when the follower saw the last renewal; then
// the follower takes it, the transition counted.
func TestFollowerWaitsForTheLeaseDuration(t *testing.T) {
	cs := client(t)
	clkA, clkB := testingclock.NewFakeClock(time.Now()), testingclock.NewFakeClock(time.Now())
	a := start(t, cs, "a", clkA, false)
	eventually(t, "a leads", a.leading.Load)
	b := start(t, cs, "b", clkB, false)
	time.Sleep(100 * time.Millisecond) // b retries, sees a's record
	a.cancel()
	<-a.done
	if a.leading.Load() {
		t.Fatal("a's Run returned before its OnStartedLeading did")
	}
	if h, _ := holder(t, cs); h != "a" {
		t.Fatalf("holder %q after a stopped without release, want a", h)
	}
	clkB.Step(14 * time.Second)
	time.Sleep(100 * time.Millisecond) // ten retries of b
	if b.leading.Load() {
		t.Fatal("b took the lease 14s into a 15s lease")
	}
	clkB.Step(2 * time.Second)
	eventually(t, "b leads once the lease expired", b.leading.Load)
	if h, tr := holder(t, cs); h != "b" || tr != 1 {
		t.Fatalf("holder %q, transitions %d; want b, 1", h, tr)
	}
}

// TestReleaseHandsOverAtOnce: a leader whose ctx ends releases the Lease
// once its components have stopped; the follower takes it on its next
// retry, without waiting for the lease duration, and never while the
// leader's components still run.
func TestReleaseHandsOverAtOnce(t *testing.T) {
	cs := client(t)
	clk := testingclock.NewFakeClock(time.Now()) // never stepped
	a := start(t, cs, "a", clk, true)
	eventually(t, "a leads", a.leading.Load)
	b := start(t, cs, "b", clk, true)
	var overlap atomic.Bool
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if a.leading.Load() && b.leading.Load() {
				overlap.Store(true)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	time.Sleep(50 * time.Millisecond)
	if b.leading.Load() {
		t.Fatal("b leads beside a")
	}
	a.cancel()
	eventually(t, "b leads after a released", b.leading.Load)
	close(stop)
	wg.Wait()
	if overlap.Load() {
		t.Error("a's and b's components ran at the same time")
	}
	if a.starts.Load() != 1 || b.starts.Load() != 1 {
		t.Errorf("starts: a %d, b %d", a.starts.Load(), b.starts.Load())
	}
	if h, tr := holder(t, cs); h != "b" || tr != 1 {
		t.Fatalf("holder %q, transitions %d; want b, 1", h, tr)
	}
}
