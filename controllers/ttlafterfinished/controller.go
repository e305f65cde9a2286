// Package ttlafterfinished is the TTL-after-finished controller, as
// upstream's pkg/controller/ttlafterfinished in kube-controller-manager.
//
// Contracts:
//   - A Job with spec.ttlSecondsAfterFinished that has finished (its
//     Complete or Failed condition is True) is deleted ttlSecondsAfterFinished
//     after that condition's lastTransitionTime, on the injected clock, with
//     propagationPolicy Foreground (its pods go first) and a UID
//     precondition, after a fresh read from the API server confirms it is
//     still finished and expired (the TTL may have been changed).
//   - A Job finished "in the future" (clock skew) waits until then plus
//     its TTL. A Job being deleted is left alone. Nothing is persisted: a
//     restarted controller finds the finished Jobs in its informer.
//   - It works through the Kubernetes API only (client-go). Run returns
//     when ctx ends.
package ttlafterfinished

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/wasmpod/wasmpod/internal/kube/informers"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
)

// Workers is --concurrent-ttl-after-finished-syncs.
const Workers = 5

// Controller is the TTL-after-finished controller.
type Controller struct {
	// Informers, when set before Run, is the informer factory shared with
	// the other controllers (kubeutil.NewSharedFactory); nil: Run makes its own.
	Informers informers.SharedInformerFactory

	client kubernetes.Interface
	clk    clock.WithTicker
	queue  workqueue.TypedRateLimitingInterface[string]
	jobs   batchlisters.JobLister
	later  *kubeutil.Delayed // requeues on clk

}

// New makes a controller over client; clk nil is the real clock.
func New(client kubernetes.Interface, clk clock.WithTicker) *Controller {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Controller{client: client, clk: clk, queue: kubeutil.NewQueue("ttl_jobs_to_delete")}
}

// Run watches Jobs and deletes the expired ones until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	c.later = kubeutil.NewDelayed(c.clk, c.queue.Add, ctx.Done())
	f, shutdown := kubeutil.Factory(c.Informers, c.client)
	inf := f.Batch().V1().Jobs()
	c.jobs = inf.Lister()
	on := func(o any) {
		if j, ok := o.(*batchv1.Job); ok && needsCleanup(j) {
			c.queue.Add(j.Namespace + "/" + j.Name)
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    on,
		UpdateFunc: func(_, o any) { on(o) },
	}); err != nil {
		return err
	}
	f.Start(ctx.Done())
	defer shutdown()
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		return nil
	}
	var w kubeutil.Workers
	w.Queue(ctx, Workers, c.queue, c.processJob)
	w.Wait(ctx)
	return nil
}

// processJob is upstream's processJob: check the cached Job, then a fresh
// one, then delete it.
func (c *Controller) processJob(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	j, err := c.jobs.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if expired, err := c.processTTL(key, j); err != nil || !expired {
		return err
	}
	fresh, err := c.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if expired, err := c.processTTL(key, fresh); err != nil || !expired {
		return err
	}
	err = c.client.BatchV1().Jobs(ns).Delete(ctx, name, metav1.DeleteOptions{
		PropagationPolicy: ptr.To(metav1.DeletePropagationForeground),
		Preconditions:     &metav1.Preconditions{UID: &fresh.UID},
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone, or another Job of that name now
	}
	return err
}

// processTTL: expired now, or queued again for when it will be.
func (c *Controller) processTTL(key string, j *batchv1.Job) (bool, error) {
	if !needsCleanup(j) {
		return false, nil
	}
	left, err := timeLeft(j, c.clk.Now())
	if err != nil {
		return false, err
	}
	if left <= 0 {
		return true, nil
	}
	c.later.AddAfter(key, left)
	return false, nil
}

// needsCleanup: a TTL, finished, not being deleted.
func needsCleanup(j *batchv1.Job) bool {
	return j.Spec.TTLSecondsAfterFinished != nil && j.DeletionTimestamp == nil && finishTime(j) != nil
}

// finishTime is the lastTransitionTime of the True Complete or Failed
// condition.
func finishTime(j *batchv1.Job) *metav1.Time {
	for i := range j.Status.Conditions {
		c := &j.Status.Conditions[i]
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return &c.LastTransitionTime
		}
	}
	return nil
}

// timeLeft until the Job expires: its finish time plus the TTL, less now.
func timeLeft(j *batchv1.Job, now time.Time) (time.Duration, error) {
	fin := finishTime(j)
	if fin == nil || fin.IsZero() {
		return 0, fmt.Errorf("unable to find the time when the Job %s/%s finished", j.Namespace, j.Name)
	}
	// A finish time in the future (clock skew) defers the cleanup.
	return fin.Add(time.Duration(*j.Spec.TTLSecondsAfterFinished) * time.Second).Sub(now), nil
}
