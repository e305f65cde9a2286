// Package job is the Job controller, as upstream's pkg/controller/job in
// kube-controller-manager.
//
// Contracts:
//   - A Job's pods are the pods of its namespace it controls; matching
//     orphans are adopted (with the tracking finalizer) and its pods whose
//     labels stop matching are released (controllerutil.PodClaimer).
//   - Every pod it creates carries the batch.kubernetes.io/job-tracking
//     finalizer. A finished pod is counted exactly once: its UID is first
//     written to status.uncountedTerminatedPods (Indexed Jobs: its index to
//     status.completedIndexes), then its finalizer is removed, then it moves
//     from the uncounted lists to status.succeeded/failed. Because each
//     step is in the API before the next, a controller killed at any point
//     (a `kill -9` of serve) resumes from the stored Job and pods and
//     neither loses nor double-counts a completion.
//   - It keeps min(parallelism, completions - succeeded) pods active
//     (parallelism alone without completions, until one succeeds), creating
//     at most 500 per sync in slow-start batches; when more are active it
//     deletes the surplus (not ready, unscheduled, pending first). Pods are
//     <job>-<5 chars>, or <job>-<index>-<5 chars> for Indexed Jobs, which
//     get the batch.kubernetes.io/job-completion-index annotation and label,
//     the hostname <job>-<index> and the JOB_COMPLETION_INDEX env.
//   - After a counted failure it waits before creating the replacement:
//     10 s doubling per failure since the last success, at most 10 min, on
//     the injected clock (per index with backoffLimitPerIndex).
//   - Termination, with upstream's reasons and messages: backoffLimit
//     (failed > backoffLimit; under OnFailure, container restarts >=
//     backoffLimit) -> BackoffLimitExceeded; activeDeadlineSeconds ->
//     DeadlineExceeded; a FailJob rule of podFailurePolicy ->
//     PodFailurePolicy; maxFailedIndexes -> MaxFailedIndexesExceeded;
//     failed indexes -> FailedIndexes; successPolicy -> SuccessPolicy;
//     completions -> CompletionsReached. The interim condition
//     (FailureTarget or SuccessCriteriaMet) is written first, active pods
//     are deleted, and Failed or Complete (with completionTime) follows
//     once no pod is terminating and nothing is uncounted.
//   - suspend deletes the active pods and sets Suspended=True
//     (JobSuspended); resuming sets it False (JobResumed) and restarts
//     startTime. Events: SuccessfulCreate, FailedCreate, SuccessfulDelete,
//     Suspended, Resumed, Completed, and the failure reason with its
//     message. status.active/ready/terminating follow the pods.
//   - Finished Jobs and deleted ones: the finalizers of their pods are
//     removed (orphan queue). Jobs with spec.managedBy other than
//     kubernetes.io/job-controller are left alone.
//   - Status writes are batched as upstream's syncJobBatchPeriod batches
//     them (1 s on the injected clock), but pod events are not delayed: a
//     pod's creation, update or deletion syncs its Job at once, so a
//     finished pod is replaced at once, and the sync writes the Job's
//     status (and removes finished pods' finalizers, which needs that
//     write first) only when the Job's last status write is a batch period
//     old; otherwise it syncs again when it is. Upstream delays the whole
//     sync instead, which caps a Job of pods shorter than the period at
//     about parallelism completions a second (BenchmarkJobCompletions:
//     26-43/s at parallelism 50); here both the replacement's latency and
//     the writes' economy are kept. A Job's creation, deletion or spec
//     change (metadata.generation), a condition to add (finishing,
//     suspend, resume) and a Job's first write are never held back. A Job
//     update that leaves the generation alone (its status writes) syncs it
//     a batch period later, as upstream's. A pod's finalizer removal is
//     recorded in the expectations at once. A re-creation back-off waits
//     its remaining time, at least the batch period.
//   - It works through the Kubernetes API only (client-go); time comes
//     from the injected clock. Run returns when ctx ends.
package job

import (
	"context"
	"encoding/json"
	"fmt"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	cu "github.com/wasmpod/wasmpod/internal/controllerutil"
	"github.com/wasmpod/wasmpod/internal/kube/informers"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
)

// Upstream's constants.
const (
	// MaxUncountedPods bounds status.uncountedTerminatedPods (about 20 KB).
	MaxUncountedPods = 500
	// MaxPodCreateDeletePerSync bounds the pods created or deleted by one sync.
	MaxPodCreateDeletePerSync = 500
	// Workers is --concurrent-job-syncs.
	Workers = 5
	// Component names the events' source.
	Component = "job-controller"
	// ControllerName is the spec.managedBy value of the Jobs it syncs.
	ControllerName = "kubernetes.io/job-controller"
	// syncJobBatchPeriod is the delay of a sync caused by a Job status
	// update, and the least time between two rounds of a Job's status
	// writes that add no condition: the pod events within it make one
	// round of writes.
	syncJobBatchPeriod = time.Second
)

var controllerKind = batchv1.SchemeGroupVersion.WithKind("Job")

// Controller is the Job controller.
type Controller struct {
	// Informers, when set before Run, is the informer factory shared with
	// the other controllers (kubeutil.NewSharedFactory); nil: Run makes its own.
	Informers informers.SharedInformerFactory

	client   kubernetes.Interface
	clk      clock.WithTicker
	queue    workqueue.TypedRateLimitingInterface[string]
	orphans  workqueue.TypedRateLimitingInterface[string]
	exp      *cu.Expectations
	finExp   *uidExpectations
	backoff  *backoffStore
	jobs     batchlisters.JobLister
	pods     corelisters.PodLister
	podIndex cache.Indexer // pods by controller UID (jobPodIndex)
	pc       *cu.PodControl
	recorder record.EventRecorder
	later    *kubeutil.Delayed // requeues on clk

	// written holds the Job status each key last wrote: a sync that runs
	// before the informer has seen that write uses it instead of the
	// older cached Job, whose counters lag behind pods already counted
	// (their finalizers gone), which would create extra pods.
	written sync.Map // string -> *batchv1.Job
	// wroteAt is the clock's time of each key's last status write.
	wroteAt sync.Map // string -> time.Time
	// claimedAll holds the UID of each Job whose counted pods a sync has
	// claimed since this controller started; recheck, the Jobs one of
	// whose counted pods was added or relabeled since. A sync claims the
	// counted pods only when its Job is in recheck or not in claimedAll:
	// the only thing a claim does to them is to release one whose labels
	// stopped matching (the Job's selector is immutable).
	claimedAll sync.Map // string -> types.UID
	recheck    sync.Map // string -> struct{}
}

// New makes a controller over client; clk nil is the real clock.
func New(client kubernetes.Interface, clk clock.WithTicker) *Controller {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Controller{
		client:  client,
		clk:     clk,
		exp:     cu.NewExpectations(clk),
		finExp:  &uidExpectations{m: map[string]map[types.UID]bool{}},
		backoff: &backoffStore{m: map[string]backoffRecord{}},
		queue:   kubeutil.NewQueue("job"),
		orphans: kubeutil.NewQueue("job_orphan_pod"),
	}
}

// Run watches Jobs and Pods and reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	rec, stopEvents := kubeutil.EventRecorder(ctx, c.client, Component)
	defer stopEvents()
	c.later = kubeutil.NewDelayed(c.clk, c.queue.Add, ctx.Done())
	c.recorder = rec
	c.pc = &cu.PodControl{Client: c.client, Recorder: c.recorder}

	f, shutdown := kubeutil.Factory(c.Informers, c.client)
	jobInf, podInf := f.Batch().V1().Jobs(), f.Core().V1().Pods()
	c.jobs, c.pods = jobInf.Lister(), podInf.Lister()
	if err := addJobPodIndex(podInf.Informer()); err != nil {
		return err
	}
	c.podIndex = podInf.Informer().GetIndexer()
	if _, err := jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueImmediately,
		UpdateFunc: c.updateJob,
		DeleteFunc: c.deleteJob,
	}); err != nil {
		return err
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: func(o any) { c.deletePod(o, true) },
	}); err != nil {
		return err
	}
	f.Start(ctx.Done())
	defer shutdown()
	defer c.queue.ShutDown()
	defer c.orphans.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), jobInf.Informer().HasSynced, podInf.Informer().HasSynced) {
		return nil
	}
	var w kubeutil.Workers
	w.Queue(ctx, Workers, c.queue, c.sync)
	w.Queue(ctx, 1, c.orphans, c.syncOrphanPod)
	w.Wait(ctx)
	return nil
}

func key(j metav1.Object) string { return j.GetNamespace() + "/" + j.GetName() }

// enqueueImmediately syncs a Job now: its creation, deletion or spec
// change. o may be a tombstone.
func (c *Controller) enqueueImmediately(o any) {
	if k, err := cache.DeletionHandlingMetaNamespaceKeyFunc(o); err == nil {
		c.queue.Add(k)
	}
}

// enqueueBatched syncs the Job k after the batch period (a sooner sync
// already due is kept): pod events and Job status updates.
func (c *Controller) enqueueBatched(k string) { c.later.AddAfter(k, syncJobBatchPeriod) }

// enqueueWithDelay syncs the Job k after d, at least the batch period:
// a pod re-creation delayed by the failure back-off.
func (c *Controller) enqueueWithDelay(k string, d time.Duration) {
	c.later.AddAfter(k, max(d, syncJobBatchPeriod))
}

// updateJob (upstream's updateJob): sync (at once when the spec changed,
// batched otherwise), clean the pods of a finished Job, and look again
// when activeDeadlineSeconds changed.
func (c *Controller) updateJob(old, cur any) {
	oj, ok1 := old.(*batchv1.Job)
	nj, ok2 := cur.(*batchv1.Job)
	if !ok1 || !ok2 {
		return
	}
	if nj.Generation == oj.Generation {
		c.enqueueBatched(key(nj))
	} else {
		c.queue.Add(key(nj))
	}
	if isFinished(nj) {
		c.cleanupPodFinalizers(nj)
	}
	if nj.Status.StartTime != nil && nj.Spec.ActiveDeadlineSeconds != nil {
		if oj.Spec.ActiveDeadlineSeconds == nil || *oj.Spec.ActiveDeadlineSeconds != *nj.Spec.ActiveDeadlineSeconds {
			total := time.Duration(*nj.Spec.ActiveDeadlineSeconds) * time.Second
			c.later.AddAfter(key(nj), total-c.clk.Since(nj.Status.StartTime.Time))
		}
	}
}

func (c *Controller) deleteJob(o any) {
	c.enqueueImmediately(o)
	if j, ok := kubeutil.Object[*batchv1.Job](o); ok {
		c.cleanupPodFinalizers(j)
	}
}

// cleanupPodFinalizers queues the Job's pods that still have the
// finalizer for the orphan worker.
func (c *Controller) cleanupPodFinalizers(j *batchv1.Job) {
	pods, err := c.podsOwnedBy(j, false, false) // counted pods have no finalizer
	if err != nil {
		return
	}
	for _, p := range pods {
		if hasFinalizer(p) {
			c.orphans.Add(key(p))
		}
	}
}

// resolve returns the Job a controller reference names, if it is the one
// (same UID) in the cache.
func (c *Controller) resolve(ns string, ref *metav1.OwnerReference) *batchv1.Job {
	j, _ := cu.ResolveControllerRef(ref, controllerKind.GroupKind(), c.jobs.Jobs(ns).Get)
	return j
}

// matching returns the Jobs whose selector matches an orphan pod.
func (c *Controller) matching(p *corev1.Pod) []*batchv1.Job {
	list, err := c.jobs.Jobs(p.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	return cu.Selecting(list, func(o *batchv1.Job) *metav1.LabelSelector { return o.Spec.Selector }, p.Labels)
}

func (c *Controller) addPod(o any) {
	p, ok := kubeutil.Object[*corev1.Pod](o)
	if !ok {
		return
	}
	if p.DeletionTimestamp != nil {
		c.deletePod(p, false)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(p); ref != nil {
		if j := c.resolve(p.Namespace, ref); j != nil {
			c.exp.CreationObserved(key(j))
			c.recheckCounted(j, p)
			c.queue.Add(key(j))
		} else if hasFinalizer(p) {
			c.orphans.Add(key(p))
		}
		return
	}
	if hasFinalizer(p) {
		c.orphans.Add(key(p))
	}
	for _, j := range c.matching(p) {
		c.queue.Add(key(j))
	}
}

func (c *Controller) updatePod(old, cur any) {
	op, ok1 := old.(*corev1.Pod)
	np, ok2 := cur.(*corev1.Pod)
	if !ok1 || !ok2 || op.ResourceVersion == np.ResourceVersion {
		return
	}
	if np.DeletionTimestamp != nil {
		c.deletePod(np, false)
		return
	}
	finRemoved := !hasFinalizer(np)
	curRef, oldRef := metav1.GetControllerOfNoCopy(np), metav1.GetControllerOfNoCopy(op)
	refChanged := !equality.Semantic.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if j := c.resolve(op.Namespace, oldRef); j != nil {
			if finRemoved {
				c.finExp.observed(key(j), np.UID)
			}
			c.queue.Add(key(j))
		}
	}
	if curRef != nil {
		j := c.resolve(np.Namespace, curRef)
		if j == nil {
			if hasFinalizer(np) {
				c.orphans.Add(key(np))
			}
			return
		}
		if finRemoved {
			c.finExp.observed(key(j), np.UID)
		}
		c.recheckCounted(j, np)
		c.queue.Add(key(j))
		return
	}
	if hasFinalizer(np) {
		c.orphans.Add(key(np))
	}
	if refChanged || !equality.Semantic.DeepEqual(op.Labels, np.Labels) {
		for _, j := range c.matching(np) {
			c.queue.Add(key(j))
		}
	}
}

// recheckCounted makes j's next sync claim its counted pods when p is one
// that j's selector does not match (its labels changed, or changed before
// its finalizer went and no sync has claimed it since), so that the claim
// releases it as upstream's, which claims every pod on every sync.
func (c *Controller) recheckCounted(j *batchv1.Job, p *corev1.Pod) {
	if !countedPod(p) {
		return
	}
	sel, err := metav1.LabelSelectorAsSelector(j.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(p.Labels)) {
		c.recheck.Store(key(j), struct{}{})
	}
}

// deletePod: a deletion observed for the owner; final is the informer's
// delete (the finalizer is then gone too).
func (c *Controller) deletePod(o any, final bool) {
	p, ok := kubeutil.Object[*corev1.Pod](o)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(p)
	fin := hasFinalizer(p)
	if ref == nil {
		if fin && !final {
			c.orphans.Add(key(p))
		}
		return
	}
	j := c.resolve(p.Namespace, ref)
	if j == nil || isFinished(j) {
		if fin && !final {
			c.orphans.Add(key(p))
		}
		return
	}
	k := key(j)
	c.exp.DeletionObserved(k, key(p))
	if final || !fin {
		c.finExp.observed(k, p.UID)
	}
	c.queue.Add(k)
}

// syncOrphanPod removes the tracking finalizer from a pod whose Job is
// gone, finished, or that no Job controls.
func (c *Controller) syncOrphanPod(ctx context.Context, k string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(k)
	if err != nil {
		return nil
	}
	p, err := c.pods.Pods(ns).Get(name)
	if err != nil {
		return nil
	}
	if ref := metav1.GetControllerOfNoCopy(p); ref != nil {
		if ref.Kind != controllerKind.Kind || ref.APIVersion != batchv1.SchemeGroupVersion.String() {
			return nil
		}
		if j := c.resolve(ns, ref); j != nil {
			if managedByOther(j) || !isFinished(j) {
				return nil
			}
		}
	}
	if err := c.removeFinalizer(ctx, p); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// removeFinalizer removes the tracking finalizer by a strategic merge
// patch (removeTrackingFinalizerPatch).
func (c *Controller) removeFinalizer(ctx context.Context, p *corev1.Pod) error {
	if !hasFinalizer(p) {
		return nil
	}
	body, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"$deleteFromPrimitiveList/finalizers": []string{batchv1.JobTrackingFinalizer},
	}})
	_, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, body, metav1.PatchOptions{})
	return err
}

// --- helpers ----------------------------------------------------------------

func hasFinalizer(p *corev1.Pod) bool {
	for _, f := range p.Finalizers {
		if f == batchv1.JobTrackingFinalizer {
			return true
		}
	}
	return false
}

func managedByOther(j *batchv1.Job) bool {
	return j.Spec.ManagedBy != nil && *j.Spec.ManagedBy != ControllerName
}

// isFinished: Complete or Failed is True (util.IsJobFinished).
func isFinished(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func suspended(j *batchv1.Job) bool { return j.Spec.Suspend != nil && *j.Spec.Suspend }

// onlyReplaceFailedPods: podReplacementPolicy Failed, or a pod failure
// policy (which implies it).
func onlyReplaceFailedPods(j *batchv1.Job) bool {
	return (j.Spec.PodReplacementPolicy != nil && *j.Spec.PodReplacementPolicy == batchv1.Failed) || j.Spec.PodFailurePolicy != nil
}

// isPodFailed: Failed, or (unless only failed pods are replaced) deleted
// before it succeeded.
func isPodFailed(p *corev1.Pod, j *batchv1.Job) bool {
	if p.Status.Phase == corev1.PodFailed {
		return true
	}
	if onlyReplaceFailedPods(j) {
		return false
	}
	return p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded
}

func isTerminating(p *corev1.Pod) bool {
	return p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded
}

func findCondition(list []batchv1.JobCondition, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range list {
		if list[i].Type == t {
			return &list[i]
		}
	}
	return nil
}

func newCondition(t batchv1.JobConditionType, st corev1.ConditionStatus, reason, msg string, now time.Time) *batchv1.JobCondition {
	return &batchv1.JobCondition{Type: t, Status: st, LastProbeTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now), Reason: reason, Message: msg}
}

// ensureCondition sets a condition's status, reason and message; a False
// condition that does not exist is not added (ensureJobConditionStatus).
func ensureCondition(list []batchv1.JobCondition, t batchv1.JobConditionType, st corev1.ConditionStatus, reason, msg string, now time.Time) ([]batchv1.JobCondition, bool) {
	if c := findCondition(list, t); c != nil {
		if c.Status != st || c.Reason != reason || c.Message != msg {
			*c = *newCondition(t, st, reason, msg, now)
			return list, true
		}
		return list, false
	}
	if st != corev1.ConditionFalse {
		return append(list, *newCondition(t, st, reason, msg, now)), true
	}
	return list, false
}

func trueCondition(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	if c := findCondition(j.Status.Conditions, t); c != nil && c.Status == corev1.ConditionTrue {
		return c
	}
	return nil
}

// uidExpectations are the pods whose finalizer removal the controller
// asked for and has not seen yet, per Job (uidTrackingExpectations).
type uidExpectations struct {
	mu sync.Mutex
	m  map[string]map[types.UID]bool
}

func (u *uidExpectations) expect(k string, uids []types.UID) {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.m[k]
	if s == nil {
		s = map[types.UID]bool{}
		u.m[k] = s
	}
	for _, id := range uids {
		s[id] = true
	}
}

func (u *uidExpectations) observed(k string, uid types.UID) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.m[k], uid)
}

func (u *uidExpectations) get(k string) map[types.UID]bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make(map[types.UID]bool, len(u.m[k]))
	for id := range u.m[k] {
		out[id] = true
	}
	return out
}

func (u *uidExpectations) delete(k string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.m, k)
}

// --- sync ---------------------------------------------------------------------

// syncCtx is one sync's view of a Job (syncJobCtx).
type syncCtx struct {
	job             *batchv1.Job
	pods            []*corev1.Pod
	active          []*corev1.Pod
	finished        *batchv1.JobCondition
	succeeded       int32
	failed          int32
	prevSucceeded   intervals
	succeededIdx    intervals
	failedIdx       intervals
	hasFailedIdx    bool
	newBackoff      backoffRecord
	expectedRm      map[types.UID]bool
	uncountedOK     map[types.UID]bool // status.uncountedTerminatedPods.succeeded
	uncountedFail   map[types.UID]bool
	delayedPerIndex map[int]*corev1.Pod
	terminating     int32
	ready           int32
}

func uidSet(l []types.UID) map[types.UID]bool {
	m := make(map[types.UID]bool, len(l))
	for _, u := range l {
		m[u] = true
	}
	return m
}

// sync is upstream's syncJob.
func (c *Controller) sync(ctx context.Context, k string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(k)
	if err != nil {
		return nil
	}
	shared, err := c.jobs.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.written.Delete(k)
		c.wroteAt.Delete(k)
		c.claimedAll.Delete(k)
		c.recheck.Delete(k)
		c.exp.Delete(k)
		c.finExp.delete(k)
		c.backoff.remove(k)
		return nil
	}
	if err != nil {
		return err
	}
	if w, ok := c.written.Load(k); ok {
		if w := w.(*batchv1.Job); w.UID == shared.UID && olderRV(shared.ResourceVersion, w.ResourceVersion) {
			shared = w
		} else {
			c.written.Delete(k)
		}
	}
	if managedByOther(shared) {
		return nil
	}
	j := shared.DeepCopy()
	if isFinished(j) {
		c.backoff.remove(k)
		return nil
	}
	if j.Spec.CompletionMode != nil && *j.Spec.CompletionMode != batchv1.NonIndexedCompletion && *j.Spec.CompletionMode != batchv1.IndexedCompletion {
		c.recorder.Event(j, corev1.EventTypeWarning, "UnknownCompletionMode", "Skipped Job sync because completion mode is unknown")
		return nil
	}
	if j.Spec.Parallelism == nil || j.Spec.BackoffLimit == nil || (isIndexed(j) && j.Spec.Completions == nil) {
		return nil // the API server defaults and validates these
	}
	if j.Status.UncountedTerminatedPods == nil {
		j.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	satisfied := c.exp.Satisfied(k)
	// The finalizer removals still expected, read before the pods: a
	// removal observed after this read is in the pods listed after it
	// (the informer updates its store before it calls the handlers), so
	// no pod is seen with its finalizer and without its expectation.
	expectedRm := c.finExp.get(k)
	pods, err := c.podsForJob(ctx, j)
	if err != nil {
		return err
	}
	sc := &syncCtx{
		job:           j,
		pods:          pods,
		active:        cu.FilterActivePods(pods),
		uncountedOK:   uidSet(j.Status.UncountedTerminatedPods.Succeeded),
		uncountedFail: uidSet(j.Status.UncountedTerminatedPods.Failed),
		expectedRm:    expectedRm,
	}
	for _, p := range sc.active {
		if cu.IsPodReady(p) {
			sc.ready++
		}
	}
	for _, p := range pods {
		if isTerminating(p) {
			sc.terminating++
		}
	}
	active := int32(len(sc.active))
	newOK, newFailed := c.newFinishedPods(sc)
	sc.succeeded = j.Status.Succeeded + int32(len(newOK)) + int32(len(sc.uncountedOK))
	sc.failed = j.Status.Failed + int32(nonIgnoredFailed(j, newFailed)) + int32(len(sc.uncountedFail))
	now := c.clk.Now()
	if j.Status.StartTime == nil && !suspended(j) {
		j.Status.StartTime = ptr.To(metav1.NewTime(now))
	}
	sc.newBackoff = c.backoff.newRecord(k, newOK, newFailed)

	sc.finished = trueCondition(j, batchv1.JobSuccessCriteriaMet)
	if sc.finished == nil {
		if ft := trueCondition(j, batchv1.JobFailureTarget); ft != nil {
			sc.finished = newCondition(batchv1.JobFailed, corev1.ConditionTrue, ft.Reason, ft.Message, now)
		} else if msg := failJobMessage(j, pods); msg != nil {
			sc.finished = newCondition(batchv1.JobFailureTarget, corev1.ConditionTrue, batchv1.JobReasonPodFailurePolicy, *msg, now)
		}
	}
	if sc.finished == nil {
		switch {
		case sc.failed > *j.Spec.BackoffLimit || pastBackoffLimitOnFailure(j, pods):
			sc.finished = newCondition(batchv1.JobFailureTarget, corev1.ConditionTrue, batchv1.JobReasonBackoffLimitExceeded, "Job has reached the specified backoff limit", now)
		case c.pastActiveDeadline(j):
			sc.finished = newCondition(batchv1.JobFailureTarget, corev1.ConditionTrue, batchv1.JobReasonDeadlineExceeded, "Job was active longer than specified deadline", now)
		case j.Spec.ActiveDeadlineSeconds != nil && !suspended(j):
			c.later.AddAfter(k, time.Duration(*j.Spec.ActiveDeadlineSeconds)*time.Second-c.clk.Since(j.Status.StartTime.Time))
		}
	}
	if isIndexed(j) {
		sc.prevSucceeded, sc.succeededIdx = succeededIndexes(j, pods)
		sc.succeeded = int32(sc.succeededIdx.total())
		if hasBackoffLimitPerIndex(j) {
			sc.failedIdx, sc.hasFailedIdx = failedIndexes(j, pods), true
			if sc.finished == nil {
				if j.Spec.MaxFailedIndexes != nil && sc.failedIdx.total() > int(*j.Spec.MaxFailedIndexes) {
					sc.finished = newCondition(batchv1.JobFailureTarget, corev1.ConditionTrue, batchv1.JobReasonMaxFailedIndexesExceeded, "Job has exceeded the specified maximal number of failed indexes", now)
				} else if sc.failedIdx.total() > 0 && sc.failedIdx.total()+sc.succeededIdx.total() >= int(*j.Spec.Completions) {
					sc.finished = newCondition(batchv1.JobFailureTarget, corev1.ConditionTrue, batchv1.JobReasonFailedIndexes, "Job has failed indexes", now)
				}
			}
			sc.delayedPerIndex = podsWithDelayedDeletionPerIndex(sc)
		}
		if sc.finished == nil {
			if msg, ok := matchSuccessPolicy(j.Spec.SuccessPolicy, *j.Spec.Completions, sc.succeededIdx); ok {
				sc.finished = newCondition(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, batchv1.JobReasonSuccessPolicy, msg, now)
			}
		}
	}

	suspendChanged := false
	var manageErr error
	if sc.finished != nil {
		deletedReady, deleted, err := c.deleteActivePods(ctx, j, sc.active)
		if deleted != active || !satisfied {
			sc.finished = nil // pods or finalizers may remain
		}
		active -= deleted
		sc.terminating += deleted
		sc.ready -= deletedReady
		manageErr = err
	} else {
		managed := false
		if satisfied && j.DeletionTimestamp == nil {
			active, manageErr = c.manage(ctx, j, sc)
			managed = true
		}
		var complete bool
		if j.Spec.Completions == nil {
			complete = sc.succeeded > 0 && active == 0
		} else {
			complete = sc.succeeded >= *j.Spec.Completions && active == 0
		}
		switch {
		case complete:
			sc.finished = newCondition(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, batchv1.JobReasonCompletionsReached, "Reached expected number of succeeded pods", now)
		case managed && suspended(j):
			var changed bool
			j.Status.Conditions, changed = ensureCondition(j.Status.Conditions, batchv1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", now)
			if changed {
				suspendChanged = true
				c.recorder.Event(j, corev1.EventTypeNormal, "Suspended", "Job suspended")
			}
		case managed:
			var changed bool
			j.Status.Conditions, changed = ensureCondition(j.Status.Conditions, batchv1.JobSuspended, corev1.ConditionFalse, "JobResumed", "Job resumed", now)
			if changed {
				suspendChanged = true
				c.recorder.Event(j, corev1.EventTypeNormal, "Resumed", "Job resumed")
				// activeDeadlineSeconds counts from the resume.
				j.Status.StartTime = ptr.To(metav1.NewTime(now))
			}
		}
	}
	if sc.finished == nil && !suspendChanged && j.Status.StartTime.Equal(shared.Status.StartTime) {
		if rem := c.writeHold(k); rem > 0 {
			// Pods were created or deleted above; the status catches up
			// in one round of writes when the batch period is over.
			c.later.AddAfter(k, rem)
			return manageErr
		}
	}
	needsUpdate := suspendChanged || active != j.Status.Active || !ptr.Equal(&sc.ready, j.Status.Ready) || !ptr.Equal(&sc.terminating, j.Status.Terminating)
	j.Status.Active = active
	j.Status.Ready = ptr.To(sc.ready)
	j.Status.Terminating = ptr.To(sc.terminating)
	if err := c.trackStatus(ctx, sc, needsUpdate); err != nil {
		return fmt.Errorf("tracking status: %w", err)
	}
	return manageErr
}

// podsForJob claims the Job's pods (getPodsForJob): adopted pods get the
// tracking finalizer. Its counted pods are read and claimed only when
// claimedAll and recheck say a claim could release one; otherwise they are
// left out of the pods it returns, which no later step reads (countedPod).
func (c *Controller) podsForJob(ctx context.Context, j *batchv1.Job) ([]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(j.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("couldn't convert Job selector: %v", err)
	}
	k := key(j)
	_, again := c.recheck.LoadAndDelete(k) // before reading the pods
	uid, ok := c.claimedAll.Load(k)
	counted := again || !ok || uid.(types.UID) != j.UID
	all, err := c.podsOwnedBy(j, true, counted)
	if err != nil {
		return nil, err
	}
	claimer := &cu.PodClaimer{Client: c.client, Owner: j, GVK: controllerKind, Selector: sel,
		Finalizers: []string{batchv1.JobTrackingFinalizer},
		CanAdopt: cu.RecheckDeletionTimestamp(func(ctx context.Context) (metav1.Object, error) {
			return c.client.BatchV1().Jobs(j.Namespace).Get(ctx, j.Name, metav1.GetOptions{})
		}, j)}
	pods, err := claimer.ClaimPods(ctx, all)
	if counted {
		if err != nil {
			c.recheck.Store(k, struct{}{})
		} else {
			c.claimedAll.Store(k, j.UID)
		}
	}
	for i, p := range pods {
		if metav1.GetControllerOfNoCopy(p) == nil && !hasFinalizer(p) { // just adopted
			pods[i] = p.DeepCopy()
			pods[i].Finalizers = append(pods[i].Finalizers, batchv1.JobTrackingFinalizer)
		}
	}
	return pods, err
}

// newFinishedPods are the succeeded and failed pods not counted yet
// (getNewFinishedPods).
func (c *Controller) newFinishedPods(sc *syncCtx) (ok, failed []*corev1.Pod) {
	for _, p := range sc.pods {
		if !hasFinalizer(p) || sc.expectedRm[p.UID] {
			continue
		}
		if isIndexed(sc.job) {
			if _, valid := validIndex(sc.job, p); !valid {
				continue
			}
		}
		if p.Status.Phase == corev1.PodSucceeded && !sc.uncountedOK[p.UID] {
			ok = append(ok, p)
		} else if isPodFailed(p, sc.job) && !sc.uncountedFail[p.UID] {
			failed = append(failed, p)
		}
	}
	return ok, failed
}

func nonIgnoredFailed(j *batchv1.Job, failed []*corev1.Pod) int {
	n := len(failed)
	if j.Spec.PodFailurePolicy != nil {
		for _, p := range failed {
			if _, counted, _ := matchPodFailurePolicy(j.Spec.PodFailurePolicy, p); !counted {
				n--
			}
		}
	}
	return n
}

// failJobMessage: the message of the first failed pod a FailJob rule
// matches (getFailJobMessage).
func failJobMessage(j *batchv1.Job, pods []*corev1.Pod) *string {
	if j.Spec.PodFailurePolicy == nil {
		return nil
	}
	for _, p := range pods {
		if isPodFailed(p, j) {
			if msg, _, _ := matchPodFailurePolicy(j.Spec.PodFailurePolicy, p); msg != nil {
				return msg
			}
		}
	}
	return nil
}

// pastBackoffLimitOnFailure: under restartPolicy OnFailure, the restarts
// of the running and pending pods' containers reach backoffLimit (any
// restart when it is 0).
func pastBackoffLimitOnFailure(j *batchv1.Job, pods []*corev1.Pod) bool {
	if j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	var n int32
	for _, p := range pods {
		if p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodPending {
			for _, s := range p.Status.InitContainerStatuses {
				n += s.RestartCount
			}
			for _, s := range p.Status.ContainerStatuses {
				n += s.RestartCount
			}
		}
	}
	if *j.Spec.BackoffLimit == 0 {
		return n > 0
	}
	return n >= *j.Spec.BackoffLimit
}

func (c *Controller) pastActiveDeadline(j *batchv1.Job) bool {
	if j.Spec.ActiveDeadlineSeconds == nil || j.Status.StartTime == nil || suspended(j) {
		return false
	}
	return c.clk.Since(j.Status.StartTime.Time) >= time.Duration(*j.Spec.ActiveDeadlineSeconds)*time.Second
}

// deleteActivePods deletes the pods keeping their finalizers (the
// tracking removes them): ready ones deleted, all deleted, an error.
func (c *Controller) deleteActivePods(ctx context.Context, j *batchv1.Job, pods []*corev1.Pod) (int32, int32, error) {
	var ready, ok atomic.Int32
	ok.Store(int32(len(pods)))
	errs := make(chan error, len(pods))
	var wg sync.WaitGroup
	for _, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.pc.DeletePod(ctx, j.Namespace, p.Name, j); err != nil && !apierrors.IsNotFound(err) {
				ok.Add(-1)
				errs <- err
			}
			if cu.IsPodReady(p) {
				ready.Add(1)
			}
		}()
	}
	wg.Wait()
	return ready.Load(), ok.Load(), firstErr(errs)
}

// deleteJobPods removes the finalizer, then deletes (deleteJobPods).
func (c *Controller) deleteJobPods(ctx context.Context, j *batchv1.Job, k string, pods []*corev1.Pod) (int32, int32, error) {
	var ready, ok atomic.Int32
	ok.Store(int32(len(pods)))
	errs := make(chan error, len(pods))
	fail := func(p *corev1.Pod, err error) {
		c.exp.DeletionObserved(k, key(p))
		if !apierrors.IsNotFound(err) {
			ok.Add(-1)
			errs <- err
		}
	}
	var wg sync.WaitGroup
	for _, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.removeFinalizer(ctx, p); err != nil {
				fail(p, fmt.Errorf("removing completion finalizer: %w", err))
				return
			}
			if err := c.pc.DeletePod(ctx, j.Namespace, p.Name, j); err != nil {
				fail(p, err)
			}
			if cu.IsPodReady(p) {
				ready.Add(1)
			}
		}()
	}
	wg.Wait()
	return ready.Load(), ok.Load(), firstErr(errs)
}

func firstErr(ch chan error) error {
	select {
	case err := <-ch:
		return err
	default:
		return nil
	}
}

func podKeys(pods []*corev1.Pod) []string {
	out := make([]string, len(pods))
	for i, p := range pods {
		out[i] = key(p)
	}
	return out
}

// activePodsForRemoval: for Indexed Jobs first the pods with no or a
// repeated or out-of-range index, then in ActivePods order.
func activePodsForRemoval(j *batchv1.Job, pods []*corev1.Pod, atLeast int) []*corev1.Pod {
	var rm, left []*corev1.Pod
	if isIndexed(j) {
		rm, left = duplicatedIndexPodsForRemoval(pods, int(*j.Spec.Completions))
	} else {
		left = append(left, pods...)
	}
	if len(rm) < atLeast {
		sort.Sort(activePods(left))
		rm = append(rm, left[:atLeast-len(rm)]...)
	}
	return rm
}

// manage creates or deletes pods towards the wanted active count
// (manageJob); it returns the active count after it.
func (c *Controller) manage(ctx context.Context, j *batchv1.Job, sc *syncCtx) (int32, error) {
	k := key(j)
	active := int32(len(sc.active))
	if suspended(j) {
		rm := activePodsForRemoval(j, sc.active, int(active))
		c.exp.ExpectDeletions(k, podKeys(rm))
		ready, removed, err := c.deleteJobPods(ctx, j, k, rm)
		sc.terminating += removed
		sc.ready -= ready
		return active - removed, err
	}
	parallelism := *j.Spec.Parallelism
	var want int32
	if j.Spec.Completions == nil {
		want = parallelism
		if sc.succeeded > 0 {
			want = active
		}
	} else {
		want = max(min(*j.Spec.Completions-sc.succeeded, parallelism), 0)
	}
	rm := activePodsForRemoval(j, sc.active, int(max(active-want, 0)))
	if len(rm) > MaxPodCreateDeletePerSync {
		rm = rm[:MaxPodCreateDeletePerSync]
	}
	if len(rm) > 0 {
		c.exp.ExpectDeletions(k, podKeys(rm))
		ready, removed, err := c.deleteJobPods(ctx, j, k, rm)
		sc.terminating += removed
		sc.ready -= ready
		return active - removed, err
	}
	var terminating int32
	if onlyReplaceFailedPods(j) {
		terminating = sc.terminating
	}
	diff := want - terminating - active
	if diff <= 0 {
		return active, nil
	}
	if !hasBackoffLimitPerIndex(j) {
		if rem := sc.newBackoff.remaining(c.clk); rem > 0 {
			c.enqueueWithDelay(k, rem)
			return active, nil
		}
	}
	diff = min(diff, MaxPodCreateDeletePerSync)
	var indexes []int
	if isIndexed(j) {
		indexes = firstPendingIndexes(sc, int(diff), int(*j.Spec.Completions))
		if hasBackoffLimitPerIndex(j) {
			var now []int
			var minRem time.Duration
			for _, ix := range indexes {
				if rem := remainingPerIndex(c.clk, sc.delayedPerIndex[ix]); rem == 0 {
					now = append(now, ix)
				} else if minRem == 0 || rem < minRem {
					minRem = rem
				}
			}
			if len(now) == 0 && minRem > 0 {
				c.enqueueWithDelay(k, minRem)
				return active, nil
			}
			indexes = now
		}
		diff = int32(len(indexes))
		if diff == 0 {
			return active, nil
		}
	}
	c.exp.ExpectCreations(k, int(diff))
	tmpl := j.Spec.Template.DeepCopy()
	if isIndexed(j) {
		addCompletionIndexEnv(tmpl)
	}
	if !hasTemplateFinalizer(tmpl.Finalizers) {
		tmpl.Finalizers = append(tmpl.Finalizers, batchv1.JobTrackingFinalizer)
	}
	ref := cu.NewControllerRef(j, controllerKind)
	var next atomic.Int32
	created, err := cu.SlowStartBatch(int(diff), cu.SlowStartInitialBatchSize, func() error {
		t, gen := tmpl, ""
		if indexes != nil {
			ix := indexes[next.Add(1)-1]
			t = tmpl.DeepCopy()
			setCompletionIndex(t, j.Name, ix)
			gen = generateNameWithIndex(j.Name, ix)
			if hasBackoffLimitPerIndex(j) {
				setIndexFailureCounts(t, j, sc.delayedPerIndex[ix])
			}
		}
		_, err := c.pc.CreatePodWithGenerateName(ctx, t, j, j, ref, gen)
		if err != nil && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		return err
	})
	for range int(diff) - created {
		c.exp.CreationObserved(k)
	}
	return active + int32(created), err
}

func hasTemplateFinalizer(fs []string) bool {
	for _, f := range fs {
		if f == batchv1.JobTrackingFinalizer {
			return true
		}
	}
	return false
}

// canRemoveFinalizer: the Job is going or finishing, the pod succeeded,
// or it failed and is not kept for its index's replacement.
func canRemoveFinalizer(sc *syncCtx, p *corev1.Pod, failed bool) bool {
	if sc.job.DeletionTimestamp != nil || sc.finished != nil || p.Status.Phase == corev1.PodSucceeded {
		return true
	}
	if !failed {
		return false
	}
	if hasBackoffLimitPerIndex(sc.job) {
		if ix := completionIndex(p); ix != unknownIndex {
			if d, ok := sc.delayedPerIndex[ix]; ok && d.UID == p.UID {
				return false
			}
		}
	}
	return true
}

// trackStatus is upstream's trackJobStatusAndRemoveFinalizers: finished
// pods into status.uncountedTerminatedPods (flushed), their finalizers
// removed, then counted; the terminal condition once nothing is pending.
func (c *Controller) trackStatus(ctx context.Context, sc *syncCtx, needsFlush bool) error {
	j := sc.job
	indexed := isIndexed(j)
	if indexed {
		sort.SliceStable(sc.pods, func(a, b int) bool { return completionIndex(sc.pods[a]) < completionIndex(sc.pods[b]) })
	}
	withFinalizer := map[types.UID]bool{}
	for _, p := range sc.pods {
		if hasFinalizer(p) && !sc.expectedRm[p.UID] {
			withFinalizer[p.UID] = true
		}
	}
	unc := j.Status.UncountedTerminatedPods
	if cleanUncounted(&j.Status, withFinalizer) {
		needsFlush = true
	}
	var toRemove []*corev1.Pod
	var newIdx []int
	reachedMax := false
	for _, p := range sc.pods {
		if !hasFinalizer(p) || sc.expectedRm[p.UID] {
			continue
		}
		failed := isPodFailed(p, j)
		if !canRemoveFinalizer(sc, p, failed) {
			continue
		}
		toRemove = append(toRemove, p)
		if p.Status.Phase == corev1.PodSucceeded && !sc.uncountedFail[p.UID] {
			if indexed {
				if ix, ok := validIndex(j, p); ok && !sc.prevSucceeded.has(ix) {
					newIdx = append(newIdx, ix)
					needsFlush = true
				}
			} else if !sc.uncountedOK[p.UID] {
				needsFlush = true
				unc.Succeeded = append(unc.Succeeded, p.UID)
			}
		} else if failed || (sc.finished != nil && sc.finished.Type != batchv1.JobSuccessCriteriaMet) {
			// a Job that is failing counts every unfinished pod as failed
			_, validIx := validIndex(j, p)
			if !sc.uncountedFail[p.UID] && (!indexed || validIx) {
				counted := true
				if j.Spec.PodFailurePolicy != nil {
					_, counted, _ = matchPodFailurePolicy(j.Spec.PodFailurePolicy, p)
				}
				if counted {
					needsFlush = true
					unc.Failed = append(unc.Failed, p.UID)
				}
			}
		}
		if len(newIdx)+len(unc.Succeeded)+len(unc.Failed) >= MaxUncountedPods {
			reachedMax = true
			break
		}
	}
	if indexed {
		sc.succeededIdx = sc.succeededIdx.withIndexes(sortedUnique(newIdx))
		s := sc.succeededIdx.String()
		if s != j.Status.CompletedIndexes {
			needsFlush = true
		}
		j.Status.Succeeded = int32(sc.succeededIdx.total())
		j.Status.CompletedIndexes = s
		var fs *string
		if sc.hasFailedIdx {
			fs = ptr.To(sc.failedIdx.String())
		}
		if !ptr.Equal(j.Status.FailedIndexes, fs) {
			j.Status.FailedIndexes = fs
			needsFlush = true
		}
	}
	now := c.clk.Now()
	if sc.finished != nil && sc.finished.Type == batchv1.JobFailureTarget {
		j.Status.Conditions = append(j.Status.Conditions, *sc.finished)
		needsFlush = true
		sc.finished = newCondition(batchv1.JobFailed, corev1.ConditionTrue, sc.finished.Reason, sc.finished.Message, now)
	}
	if sc.finished != nil && sc.finished.Type == batchv1.JobSuccessCriteriaMet {
		if trueCondition(j, batchv1.JobSuccessCriteriaMet) == nil {
			j.Status.Conditions = append(j.Status.Conditions, *sc.finished)
			needsFlush = true
		}
		sc.finished = newCondition(batchv1.JobComplete, corev1.ConditionTrue, sc.finished.Reason, sc.finished.Message, now)
	}
	if err := c.flushAndRemoveFinalizers(ctx, sc, toRemove, withFinalizer, &needsFlush); err != nil {
		return err
	}
	finished := !reachedMax && c.enactFinished(sc)
	if finished {
		needsFlush = true
	}
	if needsFlush {
		updated, err := c.updateStatus(ctx, sc.job)
		if err != nil {
			return fmt.Errorf("removing uncounted pods from status: %w", err)
		}
		sc.job = updated
		if finished {
			c.recordFinished(updated, sc.finished)
		}
	}
	return nil
}

func (c *Controller) updateStatus(ctx context.Context, j *batchv1.Job) (*batchv1.Job, error) {
	u, err := c.client.BatchV1().Jobs(j.Namespace).UpdateStatus(ctx, j, metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	c.written.Store(key(u), u.DeepCopy())
	c.wroteAt.Store(key(u), c.clk.Now())
	return u, nil
}

// writeHold is how long the status writes of the Job k that add no
// condition wait: what is left of the batch period since its last write.
func (c *Controller) writeHold(k string) time.Duration {
	v, ok := c.wroteAt.Load(k)
	if !ok {
		return 0
	}
	return syncJobBatchPeriod - c.clk.Since(v.(time.Time))
}

// olderRV: resourceVersion a is before b, compared as apimachinery's
// CompareResourceVersion does (the comparison kube-apiserver guarantees
// since v1.34, KEP-5504); versions that do not compare are not "older".
func olderRV(a, b string) bool {
	c, err := resourceversion.CompareResourceVersion(a, b)
	return err == nil && c < 0
}

// flushAndRemoveFinalizers (flushUncountedAndRemoveFinalizers): write the
// uncounted pods and interim conditions, remove the finalizers, count the
// pods whose finalizer is gone (and write that again if a removal failed).
func (c *Controller) flushAndRemoveFinalizers(ctx context.Context, sc *syncCtx, toRemove []*corev1.Pod, withFinalizer map[types.UID]bool, needsFlush *bool) error {
	k := key(sc.job)
	if *needsFlush {
		updated, err := c.updateStatus(ctx, sc.job)
		if err != nil {
			return fmt.Errorf("adding uncounted pods to status: %w", err)
		}
		sc.job = updated
		c.backoff.update(k, sc.newBackoff)
		*needsFlush = false
	}
	if sc.job.Status.UncountedTerminatedPods == nil {
		sc.job.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	var rmErr error
	if len(toRemove) > 0 {
		uids := make([]types.UID, len(toRemove))
		for i, p := range toRemove {
			uids[i] = p.UID
		}
		c.finExp.expect(k, uids)
		errs := make(chan error, len(toRemove))
		ok := make([]bool, len(toRemove))
		var wg sync.WaitGroup
		for i, p := range toRemove {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.removeFinalizer(ctx, p); err != nil {
					c.finExp.observed(k, p.UID)
					if !apierrors.IsNotFound(err) {
						errs <- err
						return
					}
				}
				ok[i] = true
			}()
		}
		wg.Wait()
		rmErr = firstErr(errs)
		for i, p := range toRemove {
			if ok[i] {
				delete(withFinalizer, p.UID)
			}
		}
	}
	if cleanUncounted(&sc.job.Status, withFinalizer) {
		*needsFlush = true
	}
	if rmErr != nil && *needsFlush {
		if updated, err := c.updateStatus(ctx, sc.job); err != nil {
			return fmt.Errorf("removing uncounted pods from status: %w", err)
		} else {
			sc.job = updated
		}
	}
	return rmErr
}

// cleanUncounted moves the uncounted pods whose finalizer is gone into
// the counters (cleanUncountedPodsWithoutFinalizers).
func cleanUncounted(st *batchv1.JobStatus, withFinalizer map[types.UID]bool) bool {
	changed := false
	keep := func(l []types.UID) []types.UID {
		var out []types.UID
		for _, u := range l {
			if withFinalizer[u] {
				out = append(out, u)
			}
		}
		return out
	}
	u := st.UncountedTerminatedPods
	if n := keep(u.Succeeded); len(n) != len(u.Succeeded) {
		st.Succeeded += int32(len(u.Succeeded) - len(n))
		u.Succeeded, changed = n, true
	}
	if n := keep(u.Failed); len(n) != len(u.Failed) {
		st.Failed += int32(len(u.Failed) - len(n))
		u.Failed, changed = n, true
	}
	return changed
}

// enactFinished adds Complete or Failed once no pod is uncounted or
// terminating (enactJobFinished).
func (c *Controller) enactFinished(sc *syncCtx) bool {
	if sc.finished == nil {
		return false
	}
	j := sc.job
	if u := j.Status.UncountedTerminatedPods; u != nil && len(u.Succeeded)+len(u.Failed) > 0 {
		return false
	}
	if sc.terminating > 0 {
		return false
	}
	f := sc.finished
	j.Status.Conditions, _ = ensureCondition(j.Status.Conditions, f.Type, f.Status, f.Reason, f.Message, c.clk.Now())
	if f.Type == batchv1.JobComplete {
		j.Status.CompletionTime = &f.LastTransitionTime
	}
	return true
}

// recordFinished emits Completed "Job completed" (and TooManySucceededPods),
// or the failure's reason and message as a Warning.
func (c *Controller) recordFinished(j *batchv1.Job, f *batchv1.JobCondition) {
	if f.Type == batchv1.JobComplete {
		if j.Spec.Completions != nil && j.Status.Succeeded > *j.Spec.Completions {
			c.recorder.Event(j, corev1.EventTypeWarning, "TooManySucceededPods", "Too many succeeded pods running after completion count reached")
		}
		c.recorder.Event(j, corev1.EventTypeNormal, "Completed", "Job completed")
		return
	}
	c.recorder.Event(j, corev1.EventTypeWarning, f.Reason, f.Message)
}

// jobPodIndex indexes pods by their controller's UID (upstream's
// controller.PodControllerUIDIndex), the pods without a controller under
// orphanPodIndexKey (OrphanPodIndexKey), and the counted pods (see
// countedPod) under countedPrefix+UID: a Job keeps its finished pods, and
// a sync that read all of them would read every earlier completion again
// (~N/2 pods a sync over a Job of N completions).
const (
	jobPodIndex       = "jobPodsByControllerUID"
	orphanPodIndexKey = "_ORPHAN_POD"
	countedPrefix     = "counted/"
)

// countedPod: a succeeded pod without the tracking finalizer and not being
// deleted. Nothing in a sync reads such a pod but the claim (which
// releases it if its labels stop matching): active, ready and terminating
// pods, new finished pods, succeeded and failed indexes, uncounted pods
// and finalizer removals all look at pods that are unfinished, failed,
// deleted, or hold the finalizer; a pod in uncounted whose finalizer is
// gone counts alike whether it is read without the finalizer or not read.
func countedPod(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded && p.DeletionTimestamp == nil && !hasFinalizer(p)
}

func jobPodIndexKeys(obj any) ([]string, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	ref := metav1.GetControllerOfNoCopy(p)
	switch {
	case ref == nil:
		return []string{orphanPodIndexKey}, nil
	case countedPod(p):
		return []string{countedPrefix + string(ref.UID)}, nil
	}
	return []string{string(ref.UID)}, nil
}

// addJobPodIndex adds the index to the (maybe shared) pod informer unless
// it has it.
func addJobPodIndex(inf cache.SharedIndexInformer) error {
	if _, ok := inf.GetIndexer().GetIndexers()[jobPodIndex]; ok {
		return nil
	}
	err := inf.AddIndexers(cache.Indexers{jobPodIndex: jobPodIndexKeys})
	if _, ok := inf.GetIndexer().GetIndexers()[jobPodIndex]; ok {
		return nil // added here or, concurrently, by another user of the informer
	}
	return err
}

// podsOwnedBy are the pods of j's namespace whose controller is j, but for
// the counted ones unless counted, and, with orphans, those without a
// controller (upstream's FilterPodsByOwner): what ClaimPods can keep or
// adopt, without listing the namespace's every pod on every sync.
func (c *Controller) podsOwnedBy(j *batchv1.Job, orphans, counted bool) ([]*corev1.Pod, error) {
	keys := []string{string(j.UID)}
	if orphans {
		keys = append(keys, orphanPodIndexKey)
	}
	if counted {
		keys = append(keys, countedPrefix+string(j.UID))
	}
	var out []*corev1.Pod
	for _, k := range keys {
		objs, err := c.podIndex.ByIndex(jobPodIndex, k)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			if p, ok := o.(*corev1.Pod); ok && p.Namespace == j.Namespace {
				out = append(out, p)
			}
		}
	}
	return out, nil
}
