// Package replicaset is the ReplicaSet controller, as upstream's
// pkg/controller/replicaset in kube-controller-manager.
//
// Contracts:
//   - A ReplicaSet's pods are the active pods of its namespace (not
//     Succeeded, Failed or being deleted) that it controls; matching orphans
//     are adopted and its pods whose labels stop matching are released
//     (internal/controllerutil.PodClaimer). Selectors are metav1
//     LabelSelectors: matchLabels and matchExpressions (In, NotIn, Exists,
//     DoesNotExist).
//   - With fewer pods than spec.replicas it creates the difference (at most
//     BurstReplicas, 500, per sync) from the template, named
//     <rs>-<5 random chars> by generateName, in slow-start batches of
//     1, 2, 4, … that stop at the first failing batch; with more it deletes
//     the difference (at most BurstReplicas), victims in upstream's order
//     (controllerutil.ActivePodsWithRanks, ranked by the pods on the same
//     node of the ReplicaSets with the same controller, e.g. a
//     Deployment's old and new ReplicaSets). Events: SuccessfulCreate "Created pod: X",
//     FailedCreate "Error creating: ERR", SuccessfulDelete "Deleted pod: X".
//   - Expectations: after asking for creations or deletions it does not
//     act again until its informer has seen them (or 5 minutes passed), so
//     a slow cache never causes extra pods.
//   - Status: replicas, fullyLabeledReplicas (pods matching the template's
//     labels), terminatingReplicas (its pods being deleted that are not
//     yet Succeeded or Failed, as with upstream's
//     DeploymentReplicaSetTerminatingReplicas, beta and on), readyReplicas, availableReplicas (ready for minReadySeconds
//     on the injected clock; the ReplicaSet is looked at again when a pod
//     should become available), observedGeneration, and the
//     ReplicaFailure condition (reason FailedCreate / FailedDelete, the
//     error as message) while creating or deleting fails, removed when a
//     sync succeeds again.
//   - It works through the Kubernetes API only (client-go); time comes
//     from the injected clock. Run returns when ctx ends.
package replicaset

import (
	"context"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	cu "github.com/wasmpod/wasmpod/internal/controllerutil"
	"github.com/wasmpod/wasmpod/internal/kube/informers"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
)

// Upstream's constants.
const (
	// BurstReplicas bounds the creations or deletions of one sync.
	BurstReplicas = 500
	// Workers is the number of ReplicaSets synced at once
	// (--concurrent-replicaset-syncs).
	Workers = 5
	// statusUpdateRetries: one retry after a fresh read.
	statusUpdateRetries = 1
	// Component names the events' source.
	Component = "replicaset-controller"
)

var controllerKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

// Controller is the ReplicaSet controller.
type Controller struct {
	// Informers, when set before Run, is the informer factory shared with
	// the other controllers (kubeutil.NewSharedFactory); nil: Run makes its own.
	Informers informers.SharedInformerFactory

	client kubernetes.Interface
	clk    clock.WithTicker
	queue  workqueue.TypedRateLimitingInterface[string]
	exp    *cu.Expectations
	rsets  appslisters.ReplicaSetLister
	pods   corelisters.PodLister
	pc     *cu.PodControl
	burst  int
	later  *kubeutil.Delayed // requeues on clk
}

// New makes a controller over client; clk nil is the real clock.
func New(client kubernetes.Interface, clk clock.WithTicker) *Controller {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Controller{
		client: client,
		clk:    clk,
		exp:    cu.NewExpectations(clk),
		burst:  BurstReplicas,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "replicaset"}),
	}
}

// Run watches ReplicaSets and Pods and reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	rec, stopEvents := kubeutil.EventRecorder(ctx, c.client, Component)
	defer stopEvents()
	c.later = kubeutil.NewDelayed(c.clk, c.queue.Add, ctx.Done())
	c.pc = &cu.PodControl{Client: c.client, Recorder: rec}

	f, shutdown := kubeutil.Factory(c.Informers, c.client)
	rsInf, podInf := f.Apps().V1().ReplicaSets(), f.Core().V1().Pods()
	c.rsets, c.pods = rsInf.Lister(), podInf.Lister()
	if _, err := rsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, o any) { c.enqueue(o) },
		DeleteFunc: func(o any) {
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(o); err == nil {
				c.exp.Delete(key)
				c.queue.Add(key)
			}
		},
	}); err != nil {
		return err
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	}); err != nil {
		return err
	}
	f.Start(ctx.Done())
	defer shutdown()
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), rsInf.Informer().HasSynced, podInf.Informer().HasSynced) {
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

// resolve returns the ReplicaSet a controller reference names, if it is
// the one (same UID) in the cache.
func (c *Controller) resolve(ns string, ref *metav1.OwnerReference) *appsv1.ReplicaSet {
	rs, _ := cu.ResolveControllerRef(ref, controllerKind.GroupKind(), c.rsets.ReplicaSets(ns).Get)
	return rs
}

// matching returns the ReplicaSets whose selector matches an orphan pod
// (GetPodReplicaSets); an empty or invalid selector matches nothing.
func (c *Controller) matching(p *corev1.Pod) []*appsv1.ReplicaSet {
	list, err := c.rsets.ReplicaSets(p.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	return cu.Selecting(list, func(o *appsv1.ReplicaSet) *metav1.LabelSelector { return o.Spec.Selector }, p.Labels)
}

func key(rs *appsv1.ReplicaSet) string { return rs.Namespace + "/" + rs.Name }

func podKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

// addPod: a pod with a controller reference was created by (or adopted
// into) that ReplicaSet: one creation observed; an orphan wakes the
// ReplicaSets that may adopt it (upstream's addPod).
func (c *Controller) addPod(o any) {
	p, ok := kubeutil.Object[*corev1.Pod](o)
	if !ok {
		return
	}
	if p.DeletionTimestamp != nil {
		c.deletePod(p)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(p); ref != nil {
		if rs := c.resolve(p.Namespace, ref); rs != nil {
			c.exp.CreationObserved(key(rs))
			c.queue.Add(key(rs))
		}
		return
	}
	for _, rs := range c.matching(p) {
		c.queue.Add(key(rs))
	}
}

// updatePod (upstream's updatePod): a pod being deleted counts as deleted;
// a changed controller reference wakes the old owner; a pod that became
// ready is looked at again after minReadySeconds; an orphan whose labels
// changed wakes the ReplicaSets that may adopt it.
func (c *Controller) updatePod(old, cur any) {
	op, ok1 := old.(*corev1.Pod)
	np, ok2 := cur.(*corev1.Pod)
	if !ok1 || !ok2 || op.ResourceVersion == np.ResourceVersion {
		return
	}
	labelChanged := !equality.Semantic.DeepEqual(op.Labels, np.Labels)
	if np.DeletionTimestamp != nil {
		c.deletePod(np)
		if labelChanged {
			c.deletePod(op)
		}
		return
	}
	curRef, oldRef := metav1.GetControllerOfNoCopy(np), metav1.GetControllerOfNoCopy(op)
	refChanged := !equality.Semantic.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if rs := c.resolve(op.Namespace, oldRef); rs != nil {
			c.queue.Add(key(rs))
		}
	}
	if curRef != nil {
		rs := c.resolve(np.Namespace, curRef)
		if rs == nil {
			return
		}
		c.queue.Add(key(rs))
		if !cu.IsPodReady(op) && cu.IsPodReady(np) && rs.Spec.MinReadySeconds > 0 {
			c.later.AddAfter(key(rs), (time.Duration(rs.Spec.MinReadySeconds)*time.Second)+time.Second)
		}
		return
	}
	if labelChanged || refChanged {
		for _, rs := range c.matching(np) {
			c.queue.Add(key(rs))
		}
	}
}

// deletePod: one deletion observed for the owner (once per pod).
func (c *Controller) deletePod(o any) {
	p, ok := kubeutil.Object[*corev1.Pod](o)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(p)
	if ref == nil {
		return
	}
	if rs := c.resolve(p.Namespace, ref); rs != nil {
		c.exp.DeletionObserved(key(rs), podKey(p))
		c.queue.Add(key(rs))
	}
}

// sync is upstream's syncReplicaSet.
func (c *Controller) sync(ctx context.Context, k string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(k)
	if err != nil {
		return nil
	}
	rs, err := c.rsets.ReplicaSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Delete(k)
		return nil
	}
	if err != nil {
		return err
	}
	needsSync := c.exp.Satisfied(k)
	sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		return nil // the API refuses these; nothing to retry
	}
	all, err := c.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	claimer := &cu.PodClaimer{Client: c.client, Owner: rs, GVK: controllerKind, Selector: sel,
		CanAdopt: cu.RecheckDeletionTimestamp(func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
		}, rs)}
	pods, err := claimer.ClaimPods(ctx, cu.FilterActivePods(all))
	if err != nil {
		return err
	}
	// Its pods being deleted (DeploymentReplicaSetTerminatingReplicas, on
	// by default since 1.35): status.terminatingReplicas.
	var terminating int32
	for _, p := range all {
		if p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded {
			if ref := metav1.GetControllerOfNoCopy(p); ref != nil && ref.UID == rs.UID && sel.Matches(labels.Set(p.Labels)) {
				terminating++
			}
		}
	}
	var manageErr error
	if needsSync && rs.DeletionTimestamp == nil {
		manageErr = c.manage(ctx, pods, rs)
	}
	rs = rs.DeepCopy()
	status := calculateStatus(rs, pods, manageErr, c.clk.Now())
	status.TerminatingReplicas = &terminating
	updated, err := c.updateStatus(ctx, rs, status)
	if err != nil {
		return err
	}
	if manageErr == nil && updated.Spec.MinReadySeconds > 0 && updated.Spec.Replicas != nil &&
		updated.Status.ReadyReplicas == *updated.Spec.Replicas && updated.Status.AvailableReplicas != *updated.Spec.Replicas {
		c.later.AddAfter(k, time.Duration(updated.Spec.MinReadySeconds)*time.Second)
	}
	return manageErr
}

// manage creates or deletes pods towards spec.replicas (manageReplicas).
func (c *Controller) manage(ctx context.Context, pods []*corev1.Pod, rs *appsv1.ReplicaSet) error {
	want := 1
	if rs.Spec.Replicas != nil {
		want = int(*rs.Spec.Replicas)
	}
	k := key(rs)
	diff := len(pods) - want
	switch {
	case diff < 0:
		diff = min(-diff, c.burst)
		c.exp.ExpectCreations(k, diff)
		ref := cu.NewControllerRef(rs, controllerKind)
		ok, err := cu.SlowStartBatch(diff, cu.SlowStartInitialBatchSize, func() error {
			_, err := c.pc.CreatePod(ctx, &rs.Spec.Template, rs, rs, ref)
			if err != nil && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil // the namespace is going: not a failure
			}
			return err
		})
		// The creations never asked for will not be observed.
		for range diff - ok {
			c.exp.CreationObserved(k)
		}
		return err
	case diff > 0:
		diff = min(diff, c.burst)
		victims := podsToDelete(pods, c.relatedPods(rs), diff, c.clk.Now())
		keys := make([]string, len(victims))
		for i, p := range victims {
			keys[i] = podKey(p)
		}
		c.exp.ExpectDeletions(k, keys)
		errs := make(chan error, len(victims))
		var wg sync.WaitGroup
		for _, p := range victims {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.pc.DeletePod(ctx, rs.Namespace, p.Name, rs); err != nil {
					c.exp.DeletionObserved(k, podKey(p))
					if !apierrors.IsNotFound(err) {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		select {
		case err := <-errs:
			return err
		default:
		}
	}
	return nil
}

// relatedPods are the pods of the ReplicaSets with the same controller as
// rs (a Deployment's old and new ones), or of rs alone
// (getIndirectlyRelatedPods): they rank the victims by how crowded their
// node is.
func (c *Controller) relatedPods(rs *appsv1.ReplicaSet) []*corev1.Pod {
	sets := []*appsv1.ReplicaSet{rs}
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		sets = nil
		list, _ := c.rsets.ReplicaSets(rs.Namespace).List(labels.Everything())
		for _, o := range list {
			if r := metav1.GetControllerOfNoCopy(o); r != nil && r.UID == ref.UID {
				sets = append(sets, o)
			}
		}
	}
	seen := map[types.UID]bool{}
	var out []*corev1.Pod
	for _, o := range sets {
		sel, err := metav1.LabelSelectorAsSelector(o.Spec.Selector)
		if err != nil {
			continue
		}
		pods, _ := c.pods.Pods(o.Namespace).List(sel)
		for _, p := range pods {
			if !seen[p.UID] {
				seen[p.UID] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// podsToDelete picks diff victims (getPodsToDelete): the first of the
// pods in ActivePodsWithRanks order, ranked by related pods per node.
func podsToDelete(pods, related []*corev1.Pod, diff int, now time.Time) []*corev1.Pod {
	if diff < len(pods) {
		pods = append([]*corev1.Pod(nil), pods...)
		sort.Sort(cu.RankByRelatedPodsOnSameNode(pods, related, now))
	}
	return pods[:diff]
}

// calculateStatus is upstream's calculateStatus.
func calculateStatus(rs *appsv1.ReplicaSet, pods []*corev1.Pod, manageErr error, now time.Time) appsv1.ReplicaSetStatus {
	st := *rs.Status.DeepCopy()
	tmpl := labels.Set(rs.Spec.Template.Labels).AsSelectorPreValidated()
	var fully, ready, avail int32
	for _, p := range pods {
		if tmpl.Matches(labels.Set(p.Labels)) {
			fully++
		}
		if cu.IsPodReady(p) {
			ready++
			if cu.IsPodAvailable(p, rs.Spec.MinReadySeconds, now) {
				avail++
			}
		}
	}
	failure := condition(st, appsv1.ReplicaSetReplicaFailure)
	if manageErr != nil && failure == nil {
		reason := ""
		want := 1
		if rs.Spec.Replicas != nil {
			want = int(*rs.Spec.Replicas)
		}
		if d := len(pods) - want; d < 0 {
			reason = "FailedCreate"
		} else if d > 0 {
			reason = "FailedDelete"
		}
		st.Conditions = append(st.Conditions, appsv1.ReplicaSetCondition{Type: appsv1.ReplicaSetReplicaFailure,
			Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now), Reason: reason, Message: manageErr.Error()})
	} else if manageErr == nil && failure != nil {
		var keep []appsv1.ReplicaSetCondition
		for _, c := range st.Conditions {
			if c.Type != appsv1.ReplicaSetReplicaFailure {
				keep = append(keep, c)
			}
		}
		st.Conditions = keep
	}
	st.Replicas = int32(len(pods))
	st.FullyLabeledReplicas, st.ReadyReplicas, st.AvailableReplicas = fully, ready, avail
	return st
}

func condition(st appsv1.ReplicaSetStatus, t appsv1.ReplicaSetConditionType) *appsv1.ReplicaSetCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// updateStatus writes status unless nothing changed
// (updateReplicaSetStatus): observedGeneration becomes the generation;
// on a failure it reads the ReplicaSet again and retries once.
func (c *Controller) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet, st appsv1.ReplicaSetStatus) (*appsv1.ReplicaSet, error) {
	if rs.Status.Replicas == st.Replicas && rs.Status.FullyLabeledReplicas == st.FullyLabeledReplicas &&
		rs.Status.ReadyReplicas == st.ReadyReplicas && rs.Status.AvailableReplicas == st.AvailableReplicas &&
		equality.Semantic.DeepEqual(rs.Status.TerminatingReplicas, st.TerminatingReplicas) &&
		rs.Generation == rs.Status.ObservedGeneration && equality.Semantic.DeepEqual(st.Conditions, rs.Status.Conditions) {
		return rs, nil
	}
	st.ObservedGeneration = rs.Generation
	client := c.client.AppsV1().ReplicaSets(rs.Namespace)
	var err error
	for i := 0; ; i++ {
		rs.Status = st
		var updated *appsv1.ReplicaSet
		updated, err = client.UpdateStatus(ctx, rs, metav1.UpdateOptions{})
		if err == nil {
			return updated, nil
		}
		if i >= statusUpdateRetries {
			break
		}
		fresh, gerr := client.Get(ctx, rs.Name, metav1.GetOptions{})
		if gerr != nil {
			return nil, gerr
		}
		rs = fresh
	}
	return nil, err
}
