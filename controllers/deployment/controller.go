// Package deployment is the Deployment controller, as upstream's
// pkg/controller/deployment in kube-controller-manager.
//
// Contracts:
//   - A Deployment's ReplicaSets are those of its namespace it controls
//     that match its selector; matching orphans are adopted and its
//     ReplicaSets that stop matching are released (ownerReferences with
//     controller: true, strategic merge patches carrying the UID).
//   - The new ReplicaSet is the oldest one whose template equals the
//     Deployment's (ignoring the pod-template-hash label); it is created
//     as <deployment>-<hash>, hash = ComputeHash(template, collisionCount)
//     (fnv32a, safe-encoded as upstream), with the hash label added to its
//     labels, selector and template. A name taken by a ReplicaSet with
//     another template raises status.collisionCount and retries.
//   - RollingUpdate scales the new ReplicaSet up to at most
//     replicas+maxSurge pods in all, and old ones down keeping at least
//     replicas-maxUnavailable available (unhealthy old replicas first);
//     Recreate scales all old ReplicaSets to 0, waits until none of their
//     pods is running, then creates/scales the new one. A change of
//     spec.replicas during a rollout (or while paused) scales all active
//     ReplicaSets proportionally to their max-replicas annotation.
//   - Annotations: deployment.kubernetes.io/revision on the Deployment and
//     its ReplicaSets (max old + 1 for the new one; a rolled-back-to
//     ReplicaSet keeps its earlier revisions in revision-history),
//     desired-replicas and max-replicas on every ReplicaSet it scales; the
//     Deployment's own annotations are copied to the new ReplicaSet.
//   - revisionHistoryLimit: once a rollout is complete (or while paused),
//     the oldest old ReplicaSets beyond the limit that are fully scaled
//     down are deleted.
//   - spec.paused: no rollout; scaling and cleanup still happen; the
//     Progressing condition says DeploymentPaused / DeploymentResumed.
//   - Status: replicas, updatedReplicas, readyReplicas, availableReplicas,
//     unavailableReplicas, terminatingReplicas, observedGeneration,
//     collisionCount, and the conditions Available
//     (MinimumReplicasAvailable / MinimumReplicasUnavailable) and
//     Progressing (NewReplicaSetCreated, FoundNewReplicaSet,
//     ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded
//     after progressDeadlineSeconds without progress, measured on the
//     injected clock, on which a stuck Deployment is looked at again), and
//     ReplicaFailure copied from its ReplicaSets.
//   - Events: ScalingReplicaSet "Scaled up replica set X from A to B" /
//     "Scaled down ...", ReplicaSetCreateError, SelectingAll.
//   - It works through the Kubernetes API only (client-go); time comes
//     from the injected clock. Run returns when ctx ends.
package deployment

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	cu "github.com/wasmpod/wasmpod/internal/controllerutil"
	"github.com/wasmpod/wasmpod/internal/kube/informers"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
)

const (
	// Workers is the number of Deployments synced at once
	// (--concurrent-deployment-syncs).
	Workers = 5
	// Component names the events' source.
	Component = "deployment-controller"
)

var controllerKind = appsv1.SchemeGroupVersion.WithKind("Deployment")

// Controller is the Deployment controller.
type Controller struct {
	// Informers, when set before Run, is the informer factory shared with
	// the other controllers (kubeutil.NewSharedFactory); nil: Run makes its own.
	Informers informers.SharedInformerFactory

	client   kubernetes.Interface
	clk      clock.WithTicker
	queue    workqueue.TypedRateLimitingInterface[string]
	deploys  appslisters.DeploymentLister
	rsets    appslisters.ReplicaSetLister
	pods     corelisters.PodLister
	recorder record.EventRecorder
	later    *kubeutil.Delayed // requeues on clk

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
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "deployment"}),
	}
}

// Run watches Deployments, ReplicaSets and Pods and reconciles until ctx
// ends.
func (c *Controller) Run(ctx context.Context) error {
	rec, stopEvents := kubeutil.EventRecorder(ctx, c.client, Component)
	defer stopEvents()
	c.recorder = rec
	c.later = kubeutil.NewDelayed(c.clk, c.queue.Add, ctx.Done())

	f, shutdown := kubeutil.Factory(c.Informers, c.client)
	dInf, rsInf, podInf := f.Apps().V1().Deployments(), f.Apps().V1().ReplicaSets(), f.Core().V1().Pods()
	c.deploys, c.rsets, c.pods = dInf.Lister(), rsInf.Lister(), podInf.Lister()
	if _, err := dInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, o any) { c.enqueue(o) },
		DeleteFunc: c.enqueue,
	}); err != nil {
		return err
	}
	if _, err := rsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addReplicaSet,
		UpdateFunc: c.updateReplicaSet,
		DeleteFunc: c.deleteReplicaSet,
	}); err != nil {
		return err
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: c.deletePod,
		UpdateFunc: func(_, o any) {
			// A Recreate rollout waits for the old pods to stop running.
			if p, ok := o.(*corev1.Pod); ok && (p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed) {
				c.deletePod(p)
			}
		},
	}); err != nil {
		return err
	}
	f.Start(ctx.Done())
	defer shutdown()
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), dInf.Informer().HasSynced, rsInf.Informer().HasSynced, podInf.Informer().HasSynced) {
		return nil
	}
	var w kubeutil.Workers
	w.Queue(ctx, Workers, c.queue, c.sync)
	w.Wait(ctx)
	return nil
}

func (c *Controller) enqueue(o any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(o); err == nil {
		c.queue.Add(key)
	}
}

// resolve returns the Deployment a controller reference names, if it is
// the one (same UID) in the cache.
func (c *Controller) resolve(ns string, ref *metav1.OwnerReference) *appsv1.Deployment {
	d, _ := cu.ResolveControllerRef(ref, controllerKind.GroupKind(), c.deploys.Deployments(ns).Get)
	return d
}

// matching returns the Deployments whose selector matches an orphan
// ReplicaSet (getDeploymentsForReplicaSet).
func (c *Controller) matching(rs *appsv1.ReplicaSet) []*appsv1.Deployment {
	list, err := c.deploys.Deployments(rs.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	return cu.Selecting(list, func(o *appsv1.Deployment) *metav1.LabelSelector { return o.Spec.Selector }, rs.Labels)
}

func key(d *appsv1.Deployment) string { return d.Namespace + "/" + d.Name }

// addReplicaSet (upstream's addReplicaSet): wakes its Deployment, or the
// Deployments that may adopt an orphan.
func (c *Controller) addReplicaSet(o any) {
	rs, ok := kubeutil.Object[*appsv1.ReplicaSet](o)
	if !ok {
		return
	}
	if rs.DeletionTimestamp != nil {
		c.deleteReplicaSet(rs)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		if d := c.resolve(rs.Namespace, ref); d != nil {
			c.queue.Add(key(d))
		}
		return
	}
	for _, d := range c.matching(rs) {
		c.queue.Add(key(d))
	}
}

// updateReplicaSet (upstream's updateReplicaSet).
func (c *Controller) updateReplicaSet(old, cur any) {
	ors, ok1 := old.(*appsv1.ReplicaSet)
	nrs, ok2 := cur.(*appsv1.ReplicaSet)
	if !ok1 || !ok2 || ors.ResourceVersion == nrs.ResourceVersion {
		return
	}
	curRef, oldRef := metav1.GetControllerOfNoCopy(nrs), metav1.GetControllerOfNoCopy(ors)
	refChanged := !equality.Semantic.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if d := c.resolve(ors.Namespace, oldRef); d != nil {
			c.queue.Add(key(d))
		}
	}
	if curRef != nil {
		if d := c.resolve(nrs.Namespace, curRef); d != nil {
			c.queue.Add(key(d))
		}
		return
	}
	if refChanged || !equality.Semantic.DeepEqual(ors.Labels, nrs.Labels) {
		for _, d := range c.matching(nrs) {
			c.queue.Add(key(d))
		}
	}
}

func (c *Controller) deleteReplicaSet(o any) {
	rs, ok := kubeutil.Object[*appsv1.ReplicaSet](o)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		if d := c.resolve(rs.Namespace, ref); d != nil {
			c.queue.Add(key(d))
		}
	}
}

// deletePod wakes a Recreate Deployment whose old pods are going
// (upstream's deletePod).
func (c *Controller) deletePod(o any) {
	p, ok := kubeutil.Object[*corev1.Pod](o)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(p)
	if ref == nil || ref.Kind != "ReplicaSet" {
		return
	}
	rs, err := c.rsets.ReplicaSets(p.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return
	}
	dref := metav1.GetControllerOfNoCopy(rs)
	if dref == nil {
		return
	}
	if d := c.resolve(rs.Namespace, dref); d != nil && d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		c.queue.Add(key(d))
	}
}
