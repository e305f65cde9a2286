package scheduler

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

type bindCall struct {
	pod  string
	node string
}

type fakeBinder struct {
	mu            sync.Mutex
	binds         []bindCall
	unschedulable map[string]string
	gate          chan struct{} // when non-nil, Bind waits for it
	failFirst     bool
	changed       chan struct{}
}

func newFakeBinder() *fakeBinder {
	return &fakeBinder{unschedulable: map[string]string{}, changed: make(chan struct{}, 1000)}
}

func (b *fakeBinder) Bind(ctx context.Context, pod *corev1.Pod, node string) error {
	if b.gate != nil {
		select {
		case <-b.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	defer func() { b.changed <- struct{}{} }()
	if b.failFirst {
		b.failFirst = false
		return errors.New("conflict")
	}
	b.binds = append(b.binds, bindCall{pod.Name, node})
	return nil
}

func (b *fakeBinder) Unschedulable(_ context.Context, pod *corev1.Pod, msg string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.unschedulable[pod.Name] = msg
	b.changed <- struct{}{}
	return nil
}

func (b *fakeBinder) waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		b.mu.Lock()
		ok := cond()
		b.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-b.changed:
		case <-deadline:
			t.Fatal("timed out waiting for binder")
		}
	}
}

func startScheduler(t *testing.T, b Binder) (*Scheduler, func()) {
	s := New(mustFramework(Options{}), b, clock.RealClock{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	return s, func() { cancel(); <-done }
}

func TestSchedulerPlacementAndUnschedulable(t *testing.T) {
	b := newFakeBinder()
	s, stop := startScheduler(t, b)
	defer stop()
	s.OnNodeAdd(makeNode("edge-a", "1", "1Gi", 10, withLabels("arch", "arm")))
	s.OnNodeAdd(makeNode("edge-b", "2", "4Gi", 10, withLabels("arch", "amd")))
	s.OnNodeAdd(makeNode("gpu", "8", "16Gi", 10, withTaint("gpu", "true", corev1.TaintEffectNoSchedule)))

	s.OnPodAdd(makePod("arm", "500m", "", nodeSelector("arch", "arm")))
	s.OnPodAdd(makePod("big", "1500m", "2Gi"))
	s.OnPodAdd(makePod("cuda", "4", "", toleration("gpu", "true", corev1.TolerationOpEqual, corev1.TaintEffectNoSchedule), nodeSelector("kubernetes.io/hostname", "gpu")))
	s.OnPodAdd(makePod("other-sched", "", "", func(p *corev1.Pod) { p.Spec.SchedulerName = "other" }))
	huge := makePod("huge", "3", "8Gi")
	s.OnPodAdd(huge)

	b.waitFor(t, func() bool { return len(b.binds) == 3 && b.unschedulable["huge"] != "" })
	got := map[string]string{}
	for _, c := range b.binds {
		got[c.pod] = c.node
	}
	want := map[string]string{"arm": "edge-a", "big": "edge-b", "cuda": "gpu"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s bound to %q, want %q", k, got[k], v)
		}
	}
	wantMsg := "0/3 nodes are available: 1 node(s) had untolerated taint {gpu: true}, 2 Insufficient cpu, 2 Insufficient memory."
	b.mu.Lock()
	msg := b.unschedulable["huge"]
	b.mu.Unlock()
	if msg != wantMsg {
		t.Fatalf("message\n got: %s\nwant: %s", msg, wantMsg)
	}
	if _, _, u := s.Queue().Len(); u != 1 {
		t.Fatalf("unschedulable = %d, want 1", u)
	}
	// A fitting node arrives: the pod is retried (after its 1 s backoff) and bound.
	s.OnNodeAdd(makeNode("large", "16", "32Gi", 10))
	b.waitFor(t, func() bool { return len(b.binds) == 4 })
	if c := b.binds[3]; c.pod != "huge" || c.node != "large" {
		t.Fatalf("bind = %+v", c)
	}
}

func TestSchedulerNoNodes(t *testing.T) {
	b := newFakeBinder()
	s, stop := startScheduler(t, b)
	defer stop()
	s.OnPodAdd(makePod("p", "", ""))
	b.waitFor(t, func() bool { return b.unschedulable["p"] != "" })
	if m := b.unschedulable["p"]; m != "no nodes available to schedule pods" {
		t.Fatal(m)
	}
}

func TestSchedulerAssumedPodsPreventOvercommit(t *testing.T) {
	b := newFakeBinder()
	b.gate = make(chan struct{}) // bindings hang until released
	s, stop := startScheduler(t, b)
	defer stop()
	s.OnNodeAdd(makeNode("a", "2", "4Gi", 10))
	s.OnNodeAdd(makeNode("b", "1", "2Gi", 10))
	for _, n := range []string{"p1", "p2", "p3", "p4"} {
		s.OnPodAdd(makePod(n, "1", "1Gi"))
	}
	// Three fit (2 on a, 1 on b); the fourth must be unschedulable although
	// no binding has completed yet.
	b.waitFor(t, func() bool { return len(b.unschedulable) == 1 })
	close(b.gate)
	b.waitFor(t, func() bool { return len(b.binds) == 3 })
	perNode := map[string]int{}
	for _, c := range b.binds {
		perNode[c.node]++
	}
	if perNode["a"] != 2 || perNode["b"] != 1 {
		t.Fatalf("placement %v", perNode)
	}
	for _, m := range b.unschedulable {
		if m != "0/2 nodes are available: 2 Insufficient cpu." {
			t.Fatalf("message %q", m)
		}
	}
}

func TestSchedulerBindFailureRequeues(t *testing.T) {
	b := newFakeBinder()
	b.failFirst = true
	s, stop := startScheduler(t, b)
	defer stop()
	s.OnNodeAdd(makeNode("a", "1", "1Gi", 10))
	p := makePod("p", "1", "")
	s.OnPodAdd(p)
	b.waitFor(t, func() bool { return len(b.binds) == 1 }) // retried after 1 s backoff
	// Once the watch reports the bound pod, its resources stay accounted.
	bound := p.DeepCopy()
	bound.Spec.NodeName = "a"
	s.OnPodUpdate(bound)
	s.OnPodAdd(makePod("q", "1", ""))
	b.waitFor(t, func() bool { return len(b.unschedulable) == 1 })
	// Deleting the bound pod frees the node for q.
	s.OnPodDelete(bound)
	b.waitFor(t, func() bool { return len(b.binds) == 2 })
	if b.binds[1].pod != "q" {
		t.Fatal(b.binds)
	}
}
