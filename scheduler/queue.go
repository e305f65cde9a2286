package scheduler

import (
	"container/heap"
	"context"
	"errors"
	"reflect"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// Upstream scheduling queue defaults.
const (
	DefaultPodInitialBackoff                 = 1 * time.Second
	DefaultPodMaxBackoff                     = 10 * time.Second
	DefaultPodMaxInUnschedulablePodsDuration = 5 * time.Minute
	unschedulableFlushPeriod                 = 30 * time.Second
)

// ErrQueueClosed is returned by Pop after Close.
var ErrQueueClosed = errors.New("scheduling queue is closed")

type where int

const (
	inNone where = iota
	inActive
	inBackoff
	inUnschedulable
	inFlight
)

// QueuedPod is a pod popped from the Queue with its number of scheduling
// attempts (this pop included).
type QueuedPod struct {
	Pod      *corev1.Pod
	Attempts int
}

type qItem struct {
	pod       *corev1.Pod
	key       string
	attempts  int
	timestamp time.Time // when it last entered the queue after an attempt
	seq       uint64
	where     where
	index     int   // heap index
	cycle     int64 // scheduling cycle in which it was popped
	updated   bool  // updated while in flight
}

// Queue is upstream's PriorityQueue: activeQ (higher spec.priority first,
// then FIFO), backoffQ (pods waiting out their backoff: 1 s doubling per
// attempt up to 10 s) and the unschedulable pods (waiting for a cluster
// event, or flushed after 5 min). All methods are safe for concurrent use.
// Time comes from the injected clock; Run drives backoff expiry and the
// periodic flush without polling faster than necessary.
type Queue struct {
	clk            clock.WithTicker
	initialBackoff time.Duration
	maxBackoff     time.Duration
	maxUnsched     time.Duration

	mu               sync.Mutex
	items            map[string]*qItem
	active           activeHeap
	backoff          backoffHeap
	seq              uint64
	schedulingCycle  int64
	moveRequestCycle int64
	wake             chan struct{} // closed and replaced whenever activeQ gains a pod
	kick             chan struct{} // tells Run the backoff head may have changed
	closed           bool
}

// NewQueue returns an empty queue with upstream's default timings.
func NewQueue(clk clock.WithTicker) *Queue {
	q := &Queue{
		clk:              clk,
		initialBackoff:   DefaultPodInitialBackoff,
		maxBackoff:       DefaultPodMaxBackoff,
		maxUnsched:       DefaultPodMaxInUnschedulablePodsDuration,
		items:            make(map[string]*qItem),
		wake:             make(chan struct{}),
		kick:             make(chan struct{}, 1),
		moveRequestCycle: -1,
	}
	q.backoff.q = q
	return q
}

// backoffDuration is upstream's calculateBackoffDuration.
func (q *Queue) backoffDuration(attempts int) time.Duration {
	d := q.initialBackoff
	for i := 1; i < attempts; i++ {
		if d > q.maxBackoff-d {
			return q.maxBackoff
		}
		d += d
	}
	return d
}

func (q *Queue) backoffExpiry(it *qItem) time.Time {
	return it.timestamp.Add(q.backoffDuration(it.attempts))
}

// Add enqueues a new pending pod in activeQ (or updates it if known).
func (q *Queue) Add(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if it, ok := q.items[podKey(pod)]; ok {
		q.updateLocked(it, pod)
		return
	}
	it := &qItem{pod: pod, key: podKey(pod), timestamp: q.clk.Now()}
	q.items[it.key] = it
	q.toActiveLocked(it)
}

// Update replaces a queued pod. A pod waiting as unschedulable whose spec,
// labels or annotations changed is moved to activeQ (or backoffQ while its
// backoff lasts); status-only updates leave it where it is. An unknown pod
// is added.
func (q *Queue) Update(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.items[podKey(pod)]
	if !ok {
		it = &qItem{pod: pod, key: podKey(pod), timestamp: q.clk.Now()}
		q.items[it.key] = it
		q.toActiveLocked(it)
		return
	}
	q.updateLocked(it, pod)
}

func (q *Queue) updateLocked(it *qItem, pod *corev1.Pod) {
	old := it.pod
	it.pod = pod
	switch it.where {
	case inActive:
		heap.Fix(&q.active, it.index)
	case inFlight:
		it.updated = it.updated || podChanged(old, pod)
	case inUnschedulable:
		if podChanged(old, pod) {
			q.toActiveOrBackoffLocked(it)
		}
	}
}

// podChanged reports whether the update may change the scheduling result
// (upstream's isPodUpdated: ignores status and bookkeeping metadata).
func podChanged(a, b *corev1.Pod) bool {
	return !reflect.DeepEqual(a.Spec, b.Spec) || !reflect.DeepEqual(a.Labels, b.Labels) ||
		!reflect.DeepEqual(a.Annotations, b.Annotations) || !reflect.DeepEqual(a.DeletionTimestamp, b.DeletionTimestamp)
}

// Delete removes a pod from the queue, wherever it is.
func (q *Queue) Delete(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.items[podKey(pod)]
	if !ok {
		return
	}
	q.detachLocked(it)
	delete(q.items, it.key)
}

// Done forgets a popped pod once it is bound (or abandoned).
func (q *Queue) Done(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if it, ok := q.items[podKey(pod)]; ok && it.where == inFlight {
		delete(q.items, it.key)
	}
}

// Pop blocks until a pod is in activeQ and returns it, or returns ctx's error
// or ErrQueueClosed.
func (q *Queue) Pop(ctx context.Context) (*corev1.Pod, error) {
	qp, err := q.PopInfo(ctx)
	if err != nil {
		return nil, err
	}
	return qp.Pod, nil
}

// PopInfo is Pop returning the attempt count too.
func (q *Queue) PopInfo(ctx context.Context) (QueuedPod, error) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return QueuedPod{}, ErrQueueClosed
		}
		q.flushBackoffLocked()
		if q.active.Len() > 0 {
			it := heap.Pop(&q.active).(*qItem)
			q.schedulingCycle++
			it.where, it.cycle, it.updated = inFlight, q.schedulingCycle, false
			it.attempts++
			qp := QueuedPod{Pod: it.pod, Attempts: it.attempts}
			q.mu.Unlock()
			return qp, nil
		}
		wake := q.wake
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return QueuedPod{}, ctx.Err()
		case <-wake:
		}
	}
}

// AddUnschedulable returns a popped pod that no node fits; it is ignored
// if the pod was deleted since it was popped. attempts is the
// count from PopInfo (0 keeps the queue's own count). The pod waits as
// unschedulable until MoveAllToActiveOrBackoff, an update of the pod, or
// the 5-minute flush; if a move request came while it was being scheduled
// (or it was updated meanwhile), it goes to backoffQ instead, as upstream.
func (q *Queue) AddUnschedulable(pod *corev1.Pod, attempts int) {
	q.requeue(pod, attempts, false)
}

// AddBackoff returns a popped pod whose attempt failed for another reason
// (an error, a failed binding): it is retried when its backoff expires.
func (q *Queue) AddBackoff(pod *corev1.Pod, attempts int) {
	q.requeue(pod, attempts, true)
}

func (q *Queue) requeue(pod *corev1.Pod, attempts int, backoff bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := podKey(pod)
	it, ok := q.items[key]
	if !ok || it.where != inFlight {
		// Deleted (or bound) while in flight, or already queued again.
		return
	}
	if !it.updated {
		it.pod = pod
	}
	if attempts > 0 {
		it.attempts = attempts
	}
	it.timestamp = q.clk.Now()
	if backoff || it.updated || q.moveRequestCycle >= it.cycle {
		q.toBackoffLocked(it)
		return
	}
	it.where = inUnschedulable
}

// MoveAllToActiveOrBackoff moves every unschedulable pod to activeQ, or to
// backoffQ while its backoff lasts. Call it on cluster events that may make
// pods schedulable (node added or updated, pod deleted); event is
// informational.
func (q *Queue) MoveAllToActiveOrBackoff(event string) {
	_ = event
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, it := range q.items {
		if it.where == inUnschedulable {
			q.toActiveOrBackoffLocked(it)
		}
	}
	q.moveRequestCycle = q.schedulingCycle
}

// Len returns the number of pods in activeQ, backoffQ and unschedulable.
func (q *Queue) Len() (active, backoff, unschedulable int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, it := range q.items {
		if it.where == inUnschedulable {
			unschedulable++
		}
	}
	return q.active.Len(), q.backoff.Len(), unschedulable
}

// Close wakes blocked Pops, which return ErrQueueClosed.
func (q *Queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.wake)
	}
}

// Run moves pods whose backoff expired to activeQ (sleeping until the next
// expiry, not polling) and every 30 s flushes pods unschedulable for more
// than 5 min, until ctx is done.
func (q *Queue) Run(ctx context.Context) {
	ticker := q.clk.NewTicker(unschedulableFlushPeriod)
	defer ticker.Stop()
	for {
		q.mu.Lock()
		q.flushBackoffLocked()
		var timerC <-chan time.Time
		var timer clock.Timer
		if q.backoff.Len() > 0 {
			d := q.backoffExpiry(q.backoff.items[0]).Sub(q.clk.Now())
			timer = q.clk.NewTimer(max(d, 0))
			timerC = timer.C()
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case <-q.kick:
		case <-timerC:
		case <-ticker.C():
			q.FlushUnschedulableLeftover()
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// FlushBackoffCompleted moves pods whose backoff expired to activeQ.
func (q *Queue) FlushBackoffCompleted() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.flushBackoffLocked()
}

// FlushUnschedulableLeftover moves pods that have been unschedulable for
// longer than 5 min to activeQ or backoffQ.
func (q *Queue) FlushUnschedulableLeftover() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clk.Now()
	for _, it := range q.items {
		if it.where == inUnschedulable && now.Sub(it.timestamp) > q.maxUnsched {
			q.toActiveOrBackoffLocked(it)
		}
	}
}

func (q *Queue) flushBackoffLocked() {
	now := q.clk.Now()
	for q.backoff.Len() > 0 {
		it := q.backoff.items[0]
		if q.backoffExpiry(it).After(now) {
			return
		}
		heap.Pop(&q.backoff)
		it.where = inNone
		q.toActiveLocked(it)
	}
}

func (q *Queue) detachLocked(it *qItem) {
	switch it.where {
	case inActive:
		heap.Remove(&q.active, it.index)
	case inBackoff:
		heap.Remove(&q.backoff, it.index)
	}
	it.where = inNone
}

func (q *Queue) toActiveLocked(it *qItem) {
	q.detachLocked(it)
	q.seq++
	it.seq = q.seq
	it.where = inActive
	heap.Push(&q.active, it)
	if !q.closed {
		close(q.wake)
		q.wake = make(chan struct{})
	}
}

func (q *Queue) toBackoffLocked(it *qItem) {
	q.detachLocked(it)
	q.seq++
	it.seq = q.seq
	it.where = inBackoff
	heap.Push(&q.backoff, it)
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

func (q *Queue) toActiveOrBackoffLocked(it *qItem) {
	if it.attempts > 0 && q.backoffExpiry(it).After(q.clk.Now()) {
		q.toBackoffLocked(it)
		return
	}
	q.toActiveLocked(it)
}

func priority(p *corev1.Pod) int32 {
	if p.Spec.Priority != nil {
		return *p.Spec.Priority
	}
	return 0
}

type activeHeap struct{ items []*qItem }

func (h *activeHeap) Len() int { return len(h.items) }
func (h *activeHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	pa, pb := priority(a.pod), priority(b.pod)
	return pa > pb || (pa == pb && a.seq < b.seq)
}
func (h *activeHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index, h.items[j].index = i, j
}
func (h *activeHeap) Push(x any) {
	it := x.(*qItem)
	it.index = len(h.items)
	h.items = append(h.items, it)
}
func (h *activeHeap) Pop() any {
	last := len(h.items) - 1
	it := h.items[last]
	h.items[last] = nil
	h.items = h.items[:last]
	return it
}

type backoffHeap struct {
	activeHeap
	q *Queue
}

func (h *backoffHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	ea, eb := h.q.backoffExpiry(a), h.q.backoffExpiry(b)
	return ea.Before(eb) || (ea.Equal(eb) && a.seq < b.seq)
}
