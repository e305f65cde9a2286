package scheduler

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// Binder is how the Scheduler writes its decisions back (implemented by the
// embedder over the API server). Both methods may be called concurrently.
type Binder interface {
	// Bind binds pod to nodeName (a Binding and a Scheduled event upstream).
	Bind(ctx context.Context, pod *corev1.Pod, nodeName string) error
	// Unschedulable records that no node fits: condition PodScheduled=False
	// with reason Unschedulable and message, and a FailedScheduling event.
	Unschedulable(ctx context.Context, pod *corev1.Pod, message string) error
}

// maxConcurrentBinds bounds the binding goroutines. It is large because a
// persistent store group-commits concurrent writes (one fsync per batch):
// with 16 binds in flight bbolt bound ~1,600 pods/s, with 256 ~3,500
// (BenchmarkScheduler). Upstream binds every assumed pod on its own goroutine.
const maxConcurrentBinds = 256

// Scheduler is the scheduling loop: it keeps a Snapshot from the events it
// is fed (OnNodeAdd, OnPodUpdate, ...), pops pending pods from its Queue,
// decides with the Framework, assumes the pod on the chosen node and binds
// asynchronously. Event methods are safe to call from any goroutine, before
// or during Run.
type Scheduler struct {
	fw     *Framework
	binder Binder
	clk    clock.WithTicker
	queue  *Queue

	mu      sync.Mutex
	snap    *Snapshot
	assumed map[string]*corev1.Pod // pod key -> assumed (bound by us, not yet observed) pod

	bindSem chan struct{}
	wg      sync.WaitGroup

	// OnError, when set, receives errors the loop cannot return (a failed
	// Bind or Unschedulable call, a scheduling error). Called from any goroutine.
	OnError func(pod *corev1.Pod, err error)

	metrics *Metrics // metrics.go; nil: none
}

// New returns a Scheduler. clk may be nil for the real clock.
func New(fw *Framework, binder Binder, clk clock.WithTicker) *Scheduler {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Scheduler{
		fw:      fw,
		binder:  binder,
		clk:     clk,
		queue:   NewQueue(clk),
		snap:    NewSnapshot(nil, nil),
		assumed: make(map[string]*corev1.Pod),
		bindSem: make(chan struct{}, maxConcurrentBinds),
	}
}

// Queue exposes the scheduling queue (for inspection and tests).
func (s *Scheduler) Queue() *Queue { return s.queue }

// OnNodeAdd records a node and retries unschedulable pods.
func (s *Scheduler) OnNodeAdd(node *corev1.Node) {
	s.mu.Lock()
	s.snap.UpdateNode(node)
	s.mu.Unlock()
	s.queue.MoveAllToActiveOrBackoff("NodeAdd")
}

// OnNodeUpdate records a node change; unschedulable pods are retried only if
// the change can matter (allocatable, labels, taints, unschedulable, readiness).
func (s *Scheduler) OnNodeUpdate(node *corev1.Node) {
	s.mu.Lock()
	var old *corev1.Node
	if ni := s.snap.Get(node.Name); ni != nil {
		old = ni.Node
	}
	s.snap.UpdateNode(node)
	s.mu.Unlock()
	if old == nil || nodeSchedulingChanged(old, node) {
		s.queue.MoveAllToActiveOrBackoff("NodeUpdate")
	}
}

// OnNodeDelete forgets a node.
func (s *Scheduler) OnNodeDelete(node *corev1.Node) {
	s.mu.Lock()
	s.snap.RemoveNode(node.Name)
	s.mu.Unlock()
}

func nodeSchedulingChanged(a, b *corev1.Node) bool {
	return !reflect.DeepEqual(a.Status.Allocatable, b.Status.Allocatable) ||
		!reflect.DeepEqual(a.Status.Capacity, b.Status.Capacity) ||
		!reflect.DeepEqual(a.Labels, b.Labels) ||
		!reflect.DeepEqual(a.Spec.Taints, b.Spec.Taints) ||
		a.Spec.Unschedulable != b.Spec.Unschedulable ||
		readyStatus(a) != readyStatus(b)
}

func readyStatus(n *corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return ""
}

// OnPodAdd handles a pod seen by a watch: a bound pod is accounted to its
// node (confirming an assumed one); a pending pod for this scheduler is queued.
func (s *Scheduler) OnPodAdd(pod *corev1.Pod) { s.onPod(pod) }

// OnPodUpdate is OnPodAdd for a changed pod. A bound pod turning terminal
// frees its resources and retries unschedulable pods.
func (s *Scheduler) OnPodUpdate(pod *corev1.Pod) { s.onPod(pod) }

func (s *Scheduler) onPod(pod *corev1.Pod) {
	key := podKey(pod)
	if pod.Spec.NodeName != "" {
		s.queue.Delete(pod)
		s.mu.Lock()
		delete(s.assumed, key)
		_, had := s.snap.Has(pod)
		s.snap.AddPod(pod) // removes it instead when terminal
		_, has := s.snap.Has(pod)
		s.mu.Unlock()
		if had && !has {
			s.queue.MoveAllToActiveOrBackoff("AssignedPodDelete")
		}
		return
	}
	if !s.fw.Responsible(pod) || pod.DeletionTimestamp != nil || isTerminal(pod) {
		s.queue.Delete(pod)
		return
	}
	s.mu.Lock()
	_, isAssumed := s.assumed[key]
	s.mu.Unlock()
	if isAssumed {
		return // a stale unbound version of a pod we already bound
	}
	s.queue.Update(pod)
}

// OnPodDelete forgets a pod; deleting a bound pod retries unschedulable pods.
func (s *Scheduler) OnPodDelete(pod *corev1.Pod) {
	s.queue.Delete(pod)
	s.mu.Lock()
	delete(s.assumed, podKey(pod))
	_, had := s.snap.Has(pod)
	s.snap.RemovePod(pod)
	s.mu.Unlock()
	if had {
		s.queue.MoveAllToActiveOrBackoff("AssignedPodDelete")
	}
}

// Run schedules pods until ctx is done, then waits for in-flight bindings.
func (s *Scheduler) Run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.queue.Run(ctx)
	}()
	for {
		qp, err := s.queue.PopInfo(ctx)
		if err != nil {
			break
		}
		s.scheduleOne(ctx, qp)
	}
	cancel()
	s.wg.Wait()
}

func (s *Scheduler) scheduleOne(ctx context.Context, qp QueuedPod) {
	pod := qp.Pod
	key := podKey(pod)
	start := time.Now()
	s.mu.Lock()
	if _, ok := s.assumed[key]; ok || pod.DeletionTimestamp != nil {
		s.mu.Unlock()
		s.queue.Done(pod)
		return
	}
	node, err := s.fw.Schedule(s.snap, pod)
	if err == nil {
		assumed := pod.DeepCopy()
		assumed.Spec.NodeName = node
		s.snap.AddPod(assumed)
		s.assumed[key] = assumed
	}
	s.mu.Unlock()

	if err != nil {
		var fe *FitError
		if errors.As(err, &fe) || errors.Is(err, ErrNoNodesAvailable) {
			s.queue.AddUnschedulable(pod, qp.Attempts)
			s.metrics.attempt("unschedulable", start)
			s.async(ctx, func() {
				if uerr := s.binder.Unschedulable(ctx, pod, err.Error()); uerr != nil {
					s.reportError(pod, uerr)
				}
			})
			return
		}
		s.reportError(pod, err)
		s.metrics.attempt("error", start)
		s.queue.AddBackoff(pod, qp.Attempts)
		return
	}
	s.async(ctx, func() {
		berr := s.binder.Bind(ctx, pod, node)
		if berr == nil {
			s.queue.Done(pod)
			s.metrics.attempt("scheduled", start)
			return
		}
		s.reportError(pod, berr)
		s.metrics.attempt("error", start)
		s.mu.Lock()
		a, still := s.assumed[key]
		if still {
			delete(s.assumed, key)
			s.snap.RemovePod(a)
		}
		s.mu.Unlock()
		if still {
			s.queue.AddBackoff(pod, qp.Attempts)
			s.queue.MoveAllToActiveOrBackoff("AssignedPodDelete")
		}
	})
}

// async runs fn on a bounded pool of goroutines tracked by Run.
func (s *Scheduler) async(ctx context.Context, fn func()) {
	select {
	case s.bindSem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	s.wg.Add(1)
	go func() {
		defer func() { <-s.bindSem; s.wg.Done() }()
		fn()
	}()
}

func (s *Scheduler) reportError(pod *corev1.Pod, err error) {
	if s.OnError != nil {
		s.OnError(pod, err)
	}
}
