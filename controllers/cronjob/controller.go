// Package cronjob is the CronJob controller, as upstream's
// pkg/controller/cronjob (the v2 controller, cronjob_controllerv2.go and
// utils.go) in kube-controller-manager.
//
// Contracts:
//   - Schedules are standard cron (five fields) or the @yearly, @monthly,
//     @weekly, @daily, @hourly and @every macros, parsed by robfig/cron/v3's
//     ParseStandard; spec.timeZone (an IANA name) is applied as a TZ=
//     prefix. A schedule the API let through with TZ=/CRON_TZ= in it is
//     used as is, with an UnsupportedSchedule warning. An unparseable
//     schedule (UnparseableSchedule), an unknown time zone
//     (UnknownTimeZone) or a schedule that never fires (InvalidSchedule)
//     is a warning event and no Job, never a panic.
//   - At each sync the controller creates at most one Job: for the most
//     recent unmet schedule time after status.lastScheduleTime (or the
//     creation time), upstream's mostRecentScheduleTime. Older missed
//     times are skipped; more than 100 missed is a TooManyMissedTimes
//     warning (the Job is still made). A time older than
//     startingDeadlineSeconds is not run: as upstream, the deadline raises
//     the earliest time considered, so such a time is simply not seen (the
//     MissSchedule warning upstream keeps for it is unreachable, here too).
//   - The Job is named <cronjob>-<scheduled time in minutes since the
//     epoch> (the name is the lock against a double creation), carries the
//     jobTemplate's labels, annotations and spec, the
//     batch.kubernetes.io/cronjob-scheduled-timestamp annotation (RFC 3339
//     in the CronJob's time zone) and a controller reference to the
//     CronJob. Event SuccessfulCreate "Created job X"; a Job that exists
//     already and is ours goes into status.active.
//   - concurrencyPolicy: Allow runs Jobs side by side; Forbid skips a
//     schedule time while status.active is not empty (JobAlreadyActive);
//     Replace deletes the active Jobs (background propagation,
//     SuccessfulDelete "Deleted job X") and then creates the new one.
//     suspend: no new Jobs (the status is still kept).
//   - Status: active (references to its unfinished Jobs; a finished one
//     leaves with SawCompletedJob "Saw completed job: X, condition:
//     Complete|Failed", a deleted one with MissingJob), lastScheduleTime,
//     lastSuccessfulTime (the latest completionTime of its succeeded Jobs).
//     An unfinished Job controlled by it that it never listed is an
//     UnexpectedJob warning (after re-reading the CronJob from the API, so
//     a slow cache does not cause one).
//   - History: finished Jobs beyond successfulJobsHistoryLimit /
//     failedJobsHistoryLimit are deleted, oldest start time first
//     (SuccessfulDelete).
//   - A sync that finds its cached CronJob still at the version its own
//     last status write replaced (or older than its Jobs) is retried
//     instead of acted on, so a slow cache never makes a Job twice or
//     repeats an event (upstream re-reads the CronJob in the second case
//     only).
//   - Time comes from the injected clock: each sync requeues the CronJob
//     at its next schedule time (+100 ms) on that clock, so a fake clock
//     drives it in tests. The controller only creates and deletes Jobs
//     and reads their status (the Job controller runs them); it works
//     through the Kubernetes API only (client-go). Run returns when ctx
//     ends.
package cronjob

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/tools/reference"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/wasmpod/wasmpod/internal/kube/informers"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes/scheme"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
)

// Upstream's constants.
const (
	// Workers is the number of CronJobs synced at once
	// (--concurrent-cron-job-syncs).
	Workers = 5
	// Component names the events' source.
	Component = "cronjob-controller"
)

var controllerKind = batchv1.SchemeGroupVersion.WithKind("CronJob")

// errStaleCache: the informer's copy of a CronJob is older than its Jobs
// or than our own last status write; the sync is retried.
var errStaleCache = errors.New("the cached CronJob is older than what the controller saw or wrote")

// Controller is the CronJob controller.
type Controller struct {
	// Informers, when set before Run, is the informer factory shared with
	// the other controllers (kubeutil.NewSharedFactory); nil: Run makes its own.
	Informers informers.SharedInformerFactory

	client   kubernetes.Interface
	clk      clock.WithTicker
	queue    workqueue.TypedRateLimitingInterface[string]
	cronJobs batchlisters.CronJobLister
	jobs     batchlisters.JobLister
	rec      record.EventRecorder
	later    *kubeutil.Delayed
	// writtenFrom holds, per CronJob key, the resourceVersion our last
	// status write replaced: while the cache still shows that version it
	// has not seen the write, and acting on it could make a Job twice
	// (e.g. again after that Job was deleted) or repeat events.
	writtenFrom sync.Map
}

// New makes a controller over client; clk nil is the real clock.
func New(client kubernetes.Interface, clk clock.WithTicker) *Controller {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Controller{
		client: client,
		clk:    clk,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "cronjob"}),
	}
}

// Run watches CronJobs and Jobs and reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	rec, stopEvents := kubeutil.EventRecorder(ctx, c.client, Component)
	defer stopEvents()
	c.rec = rec
	c.later = kubeutil.NewDelayed(c.clk, c.queue.Add, ctx.Done())

	f, shutdown := kubeutil.Factory(c.Informers, c.client)
	cjInf, jobInf := f.Batch().V1().CronJobs(), f.Batch().V1().Jobs()
	c.cronJobs, c.jobs = cjInf.Lister(), jobInf.Lister()
	if _, err := cjInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: c.updateCronJob,
		DeleteFunc: c.enqueue,
	}); err != nil {
		return err
	}
	if _, err := jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addJob,
		UpdateFunc: c.updateJob,
		DeleteFunc: c.jobOwner,
	}); err != nil {
		return err
	}
	f.Start(ctx.Done())
	defer shutdown()
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), cjInf.Informer().HasSynced, jobInf.Informer().HasSynced) {
		return nil
	}
	var w kubeutil.Workers
	w.Loop(Workers, func() bool { return c.processNext(ctx) })
	w.Wait(ctx, c.queue)
	return nil
}

func (c *Controller) enqueue(o any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(o); err == nil {
		c.queue.Add(key)
	}
}

// updateCronJob (upstream's updateCronJob): a changed schedule or time
// zone requeues the CronJob at its new next schedule time (an
// unparseable one is an UnParseableCronJobSchedule warning and waits for
// the next update); any other change syncs it now.
func (c *Controller) updateCronJob(old, cur any) {
	o, ok1 := old.(*batchv1.CronJob)
	n, ok2 := cur.(*batchv1.CronJob)
	if !ok1 || !ok2 {
		return
	}
	if o.Spec.Schedule != n.Spec.Schedule || !ptr.Equal(o.Spec.TimeZone, n.Spec.TimeZone) {
		sched, err := parseSchedule(formatSchedule(n, nil))
		if err != nil {
			c.rec.Eventf(n, corev1.EventTypeWarning, "UnParseableCronJobSchedule", "unparseable schedule for cronjob: %s", n.Spec.Schedule)
			return
		}
		now := c.clk.Now()
		c.later.AddAt(key(n), now.Add(nextScheduleTimeDuration(n, now, sched)))
		return
	}
	c.enqueue(cur)
}

// resolve returns the CronJob a controller reference names, if it is the
// one (same UID) in the cache.
func (c *Controller) resolve(ns string, ref *metav1.OwnerReference) *batchv1.CronJob {
	if ref.Kind != controllerKind.Kind {
		return nil
	}
	cj, err := c.cronJobs.CronJobs(ns).Get(ref.Name)
	if err != nil || cj.UID != ref.UID {
		return nil
	}
	return cj
}

func key(cj *batchv1.CronJob) string { return cj.Namespace + "/" + cj.Name }

// jobOwner queues the CronJob controlling a Job (upstream's deleteJob,
// and addJob for a Job being deleted).
func (c *Controller) jobOwner(o any) {
	j, ok := kubeutil.Object[*batchv1.Job](o)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOfNoCopy(j); ref != nil {
		if cj := c.resolve(j.Namespace, ref); cj != nil {
			c.queue.Add(key(cj))
		}
	}
}

func (c *Controller) addJob(o any) { c.jobOwner(o) }

// updateJob wakes the CronJob controlling the Job now, and the one that
// controlled it before if that changed.
func (c *Controller) updateJob(old, cur any) {
	o, ok1 := old.(*batchv1.Job)
	n, ok2 := cur.(*batchv1.Job)
	if !ok1 || !ok2 || o.ResourceVersion == n.ResourceVersion {
		return
	}
	curRef, oldRef := metav1.GetControllerOfNoCopy(n), metav1.GetControllerOfNoCopy(o)
	if oldRef != nil && !equality.Semantic.DeepEqual(curRef, oldRef) {
		if cj := c.resolve(o.Namespace, oldRef); cj != nil {
			c.queue.Add(key(cj))
		}
	}
	c.jobOwner(n)
}

// processNext is upstream's processNextWorkItem: an error retries with
// back-off; a requeue time puts the key back on the controller's clock.
func (c *Controller) processNext(ctx context.Context) bool {
	k, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(k)
	var at time.Time
	err := kubeutil.SyncRecovering(ctx, k, func(ctx context.Context, k string) (err error) {
		at, err = c.sync(ctx, k)
		return err
	})
	switch {
	case err != nil:
		if ctx.Err() == nil {
			c.queue.AddRateLimited(k)
		}
	case !at.IsZero():
		c.queue.Forget(k)
		c.later.AddAt(k, at)
	}
	return true
}

// sync is upstream's sync: history clean-up, then syncCronJob, then one
// status write for both. It returns when (on the controller's clock) to
// sync again, zero for no time.
func (c *Controller) sync(ctx context.Context, k string) (time.Time, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(k)
	if err != nil {
		return time.Time{}, nil
	}
	cj, err := c.cronJobs.CronJobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.later.Forget(k)
		c.writtenFrom.Delete(k)
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	if rv, ok := c.writtenFrom.Load(k); ok && rv == cj.ResourceVersion {
		return time.Time{}, errStaleCache
	}
	jobs, err := c.jobsOf(cj)
	if err != nil {
		return time.Time{}, err
	}
	cj = cj.DeepCopy()
	now := c.clk.Now()
	cleaned := c.cleanupFinishedJobs(ctx, cj, jobs)
	after, synced, syncErr := c.syncCronJob(ctx, cj, jobs, now)
	if errors.Is(syncErr, errStaleCache) {
		return time.Time{}, syncErr
	}
	if cleaned || synced {
		if _, err := c.client.BatchV1().CronJobs(cj.Namespace).UpdateStatus(ctx, cj, metav1.UpdateOptions{}); err != nil {
			return time.Time{}, err
		}
		c.writtenFrom.Store(k, cj.ResourceVersion)
	}
	if after != nil {
		return now.Add(*after), nil
	}
	return time.Time{}, syncErr
}

// jobsOf lists the Jobs whose controller reference names the CronJob
// (upstream's getJobsToBeReconciled: by name, whatever their labels).
func (c *Controller) jobsOf(cj *batchv1.CronJob) ([]*batchv1.Job, error) {
	all, err := c.jobs.Jobs(cj.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var out []*batchv1.Job
	for _, j := range all {
		if ref := metav1.GetControllerOfNoCopy(j); ref != nil && ref.Name == cj.Name {
			out = append(out, j)
		}
	}
	return out, nil
}

// syncCronJob is upstream's syncCronJob: it brings status.active and
// lastSuccessfulTime up to date with jobs, then starts the Job of the
// most recent unmet schedule time if the policies allow. It returns when
// to look again, whether the status changed, and an error to retry on.
func (c *Controller) syncCronJob(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job, now time.Time) (*time.Duration, bool, error) {
	update := false
	children := map[types.UID]bool{}
	for _, j := range jobs {
		children[j.UID] = true
		found := inActiveList(cj, j.UID)
		cond := finishedCondition(j)
		switch {
		case !found && cond == "":
			// The status in the cache may be older than the Jobs: read it.
			fresh, err := c.client.BatchV1().CronJobs(cj.Namespace).Get(ctx, cj.Name, metav1.GetOptions{})
			if err != nil {
				return nil, update, err
			}
			if inActiveList(fresh, j.UID) {
				// Our cache of the CronJob is behind (upstream goes on
				// with the fresh copy; its changes so far would be lost
				// in the status write): sync again from a newer cache.
				return nil, false, errStaleCache
			}
			c.rec.Eventf(cj, corev1.EventTypeWarning, "UnexpectedJob", "Saw a job that the controller did not create or forgot: %s", j.Name)
		case cond != "":
			if found {
				deleteFromActiveList(cj, j.UID)
				c.rec.Eventf(cj, corev1.EventTypeNormal, "SawCompletedJob", "Saw completed job: %s, condition: %v", j.Name, cond)
				update = true
			}
			if cond == batchv1.JobComplete && j.Status.CompletionTime != nil {
				if cj.Status.LastSuccessfulTime == nil || j.Status.CompletionTime.After(cj.Status.LastSuccessfulTime.Time) {
					cj.Status.LastSuccessfulTime = j.Status.CompletionTime.DeepCopy()
					update = true
				}
			}
		}
	}
	// Active Jobs gone from the cache: ask the API before dropping them.
	for _, r := range append([]corev1.ObjectReference(nil), cj.Status.Active...) {
		if children[r.UID] {
			continue
		}
		_, err := c.client.BatchV1().Jobs(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			c.rec.Eventf(cj, corev1.EventTypeNormal, "MissingJob", "Active job went missing: %v", r.Name)
			deleteFromActiveList(cj, r.UID)
			update = true
		case err != nil:
			return nil, update, err
		}
	}
	if cj.DeletionTimestamp != nil {
		return nil, update, nil
	}
	if tz := cj.Spec.TimeZone; tz != nil {
		if _, err := time.LoadLocation(*tz); err != nil {
			c.rec.Eventf(cj, corev1.EventTypeWarning, "UnknownTimeZone", "invalid timeZone: %q: %s", *tz, err)
			return nil, update, nil
		}
	}
	if ptr.Deref(cj.Spec.Suspend, false) {
		return nil, update, nil
	}
	sched, err := parseSchedule(formatSchedule(cj, c.rec))
	if err != nil {
		c.rec.Eventf(cj, corev1.EventTypeWarning, "UnparseableSchedule", "unparseable schedule: %q : %s", cj.Spec.Schedule, err)
		return nil, update, nil
	}
	scheduled, err := nextScheduleTime(cj, now, sched, c.rec)
	if err != nil {
		c.rec.Eventf(cj, corev1.EventTypeWarning, "InvalidSchedule", "invalid schedule: %s : %s", cj.Spec.Schedule, err)
		return nil, update, nil
	}
	next := func() (*time.Duration, bool, error) {
		d := nextScheduleTimeDuration(cj, now, sched)
		return &d, update, nil
	}
	if scheduled == nil {
		return next()
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil && scheduled.Add(time.Duration(*d)*time.Second).Before(now) {
		c.rec.Eventf(cj, corev1.EventTypeWarning, "MissSchedule", "Missed scheduled time to start a job: %s", scheduled.UTC().Format(time.RFC1123Z))
		return next()
	}
	if inActiveListByName(cj, cj.Namespace, jobName(cj, *scheduled)) ||
		(cj.Status.LastScheduleTime != nil && cj.Status.LastScheduleTime.Time.Equal(*scheduled)) {
		return next() // this time is done already
	}
	if cj.Spec.ConcurrencyPolicy == batchv1.ForbidConcurrent && len(cj.Status.Active) > 0 {
		c.rec.Eventf(cj, corev1.EventTypeNormal, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid")
		return next()
	}
	if cj.Spec.ConcurrencyPolicy == batchv1.ReplaceConcurrent {
		for _, r := range append([]corev1.ObjectReference(nil), cj.Status.Active...) {
			j, err := c.client.BatchV1().Jobs(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
			if err != nil {
				c.rec.Eventf(cj, corev1.EventTypeWarning, "FailedGet", "Get job: %v", err)
				return nil, update, err
			}
			if !c.deleteJob(ctx, cj, j) {
				return nil, update, fmt.Errorf("could not replace job %s/%s", j.Namespace, j.Name)
			}
			update = true
		}
	}
	req, err := jobFromTemplate(cj, *scheduled)
	if err != nil {
		return nil, update, err
	}
	created, err := c.client.BatchV1().Jobs(cj.Namespace).Create(ctx, req, metav1.CreateOptions{})
	switch {
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return nil, update, err
	case apierrors.IsAlreadyExists(err):
		// Ours, made before a status write was lost: list it; someone
		// else's: leave it to them.
		j, gerr := c.client.BatchV1().Jobs(cj.Namespace).Get(ctx, req.Name, metav1.GetOptions{})
		if gerr != nil {
			return nil, update, gerr
		}
		if !metav1.IsControlledBy(j, cj) || inActiveList(cj, j.UID) {
			return nil, update, nil
		}
		created = j
	case err != nil:
		c.rec.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "Error creating job: %v", err)
		return nil, update, err
	default:
		c.rec.Eventf(cj, corev1.EventTypeNormal, "SuccessfulCreate", "Created job %v", created.Name)
	}
	ref, err := reference.GetReference(scheme.Scheme, created)
	if err != nil {
		return nil, update, fmt.Errorf("unable to make object reference for job for %s/%s", cj.Namespace, cj.Name)
	}
	cj.Status.Active = append(cj.Status.Active, *ref)
	cj.Status.LastScheduleTime = &metav1.Time{Time: *scheduled}
	update = true
	return next()
}

// cleanupFinishedJobs is upstream's: finished Jobs past the history
// limits are deleted, oldest first. It reports a status change.
func (c *Controller) cleanupFinishedJobs(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) bool {
	if cj.Spec.FailedJobsHistoryLimit == nil && cj.Spec.SuccessfulJobsHistoryLimit == nil {
		return false
	}
	var succeeded, failed []*batchv1.Job
	for _, j := range jobs {
		switch finishedCondition(j) {
		case batchv1.JobComplete:
			succeeded = append(succeeded, j)
		case batchv1.JobFailed:
			failed = append(failed, j)
		}
	}
	update := false
	if l := cj.Spec.SuccessfulJobsHistoryLimit; l != nil && c.removeOldest(ctx, cj, succeeded, *l) {
		update = true
	}
	if l := cj.Spec.FailedJobsHistoryLimit; l != nil && c.removeOldest(ctx, cj, failed, *l) {
		update = true
	}
	return update
}

func (c *Controller) removeOldest(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job, keep int32) bool {
	n := len(jobs) - int(keep)
	if n <= 0 {
		return false
	}
	sort.Sort(byStartTime(jobs))
	update := false
	for _, j := range jobs[:n] {
		if c.deleteJob(ctx, cj, j) {
			update = true
		}
	}
	return update
}

// deleteJob deletes a Job with its pods (background propagation) and
// takes it out of status.active (upstream's deleteJob).
func (c *Controller) deleteJob(ctx context.Context, cj *batchv1.CronJob, j *batchv1.Job) bool {
	err := c.client.BatchV1().Jobs(j.Namespace).Delete(ctx, j.Name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
	if err != nil {
		c.rec.Eventf(cj, corev1.EventTypeWarning, "FailedDelete", "Deleted job: %v", err)
		return false
	}
	deleteFromActiveList(cj, j.UID)
	c.rec.Eventf(cj, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted job %v", j.Name)
	return true
}
