// Package disruption is the PodDisruptionBudget controller, as upstream's
// pkg/controller/disruption (DisruptionController) in
// kube-controller-manager.
//
// Contracts:
//   - A PDB's pods are the pods of its namespace its selector matches (a
//     nil selector matches none, an empty one all: policy/v1).
//   - Status (trySync, updatePdbStatus): expectedPods, desiredHealthy,
//     currentHealthy (the ready pods not being deleted and not in
//     disruptedPods), disruptionsAllowed = currentHealthy - desiredHealthy
//     (0 when negative or when expectedPods is 0), disruptedPods (the
//     evictions the eviction subresource recorded, each kept for 2 minutes,
//     DeletionTimeout, on the injected clock, dropped once its pod is being
//     deleted or gone; an expired one gets the pod a Warning NotDeleted
//     event), observedGeneration, and the DisruptionAllowed condition
//     (True/SufficientPods, False/InsufficientPods).
//   - minAvailable as an integer: desiredHealthy is it, expectedPods the
//     number of pods. A percentage minAvailable, or maxUnavailable: the
//     expected count is the sum of the scales of the pods' controllers
//     (getExpectedScale): a ReplicaSet controlled by a Deployment counts as
//     the Deployment; the scale is read through the controller's scale
//     subresource (found by discovery, its UID checked). Pods without a
//     controller are left out with a Warning UnmanagedPods event;
//     percentages round up (GetScaledValueFromIntOrPercent); desiredHealthy
//     is expected - maxUnavailable (not below 0).
//   - A failed sync (e.g. a controller without a scale subresource: "jobs.
//     batch does not implement the scale subresource") is failSafe:
//     disruptionsAllowed 0 and DisruptionAllowed False/SyncFailed with the
//     error as message; conflicts are just retried.
//   - Events as upstream: NoPods "No matching pods found",
//     CalculateExpectedPodCountFailed, UnmanagedPods; a pod matched by
//     several PDBs gets MultiplePodDisruptionBudgets.
//   - A pod whose DisruptionTarget condition (set by an eviction) is still
//     True 2 minutes after it was set and that is not being deleted gets it
//     reset to False (syncStalePodDisruption).
//   - It works through the Kubernetes API only (client-go); time comes
//     from the injected clock. Run returns when ctx ends.
package disruption

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/wasmpod/wasmpod/internal/kube/discovery"
	"github.com/wasmpod/wasmpod/internal/kube/informers"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
)

// Upstream's constants.
const (
	// DeletionTimeout is how long an eviction's entry in disruptedPods
	// waits for its pod's deletion before the pod counts again.
	DeletionTimeout = 2 * time.Minute
	// StalePodDisruptionTimeout: a DisruptionTarget condition older than
	// this on a pod that is not being deleted is reset.
	StalePodDisruptionTimeout = 2 * time.Minute
	// Component names the events' source (upstream's disruption
	// controller records as "controllermanager").
	Component = "controllermanager"
	// fieldManager is the manager of the stale-condition reset.
	fieldManager = "DisruptionController"
)

// Controller is the disruption controller.
type Controller struct {
	// Informers, when set before Run, is the informer factory shared with
	// the other controllers (kubeutil.NewSharedFactory); nil: Run makes its own.
	Informers informers.SharedInformerFactory

	client            kubernetes.Interface
	clk               clock.WithTicker
	queue             workqueue.TypedRateLimitingInterface[string] // PDB keys
	stale             workqueue.TypedRateLimitingInterface[string] // pod keys
	pdbs              policylisters.PodDisruptionBudgetLister
	pods              corelisters.PodLister
	rsets             appslisters.ReplicaSetLister
	rec               record.EventRecorder
	later, laterStale *kubeutil.Delayed // requeues on clk, into queue and stale

	mu        sync.Mutex
	resources map[schema.GroupVersionKind]scaleTarget // discovery, by kind
}

// scaleTarget is what discovery says of a kind: its resource and whether
// it serves a scale subresource.
type scaleTarget struct {
	gvr   schema.GroupVersionResource
	scale bool
}

// New makes a controller over client; clk nil is the real clock.
func New(client kubernetes.Interface, clk clock.WithTicker) *Controller {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Controller{client: client, clk: clk, queue: kubeutil.NewQueue("disruption"),
		stale: kubeutil.NewQueue("disruption_stale_pod_disruption"), resources: map[schema.GroupVersionKind]scaleTarget{}}
}

// Run watches PDBs, pods and ReplicaSets and reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	rec, stopEvents := kubeutil.EventRecorder(ctx, c.client, Component)
	defer stopEvents()
	c.rec = rec
	c.later = kubeutil.NewDelayed(c.clk, c.queue.Add, ctx.Done())
	c.laterStale = kubeutil.NewDelayed(c.clk, c.stale.Add, ctx.Done())

	f, shutdown := kubeutil.Factory(c.Informers, c.client)
	pdbInf, podInf, rsInf := f.Policy().V1().PodDisruptionBudgets(), f.Core().V1().Pods(), f.Apps().V1().ReplicaSets()
	c.pdbs, c.pods, c.rsets = pdbInf.Lister(), podInf.Lister(), rsInf.Lister()
	if _, err := pdbInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, o any) { c.enqueue(o) },
		DeleteFunc: c.enqueue,
	}); err != nil {
		return err
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) {
			if p, ok := kubeutil.Object[*corev1.Pod](o); ok {
				c.enqueuePodPDB(p)
				c.enqueueStale(p)
			}
		},
		UpdateFunc: func(old, cur any) {
			op, ok1 := old.(*corev1.Pod)
			np, ok2 := cur.(*corev1.Pod)
			if !ok1 || !ok2 {
				return
			}
			c.enqueuePodPDB(np)
			if !equality.Semantic.DeepEqual(op.Labels, np.Labels) {
				c.enqueuePodPDB(op) // the PDB it left
			}
			c.enqueueStale(np)
		},
		DeleteFunc: func(o any) {
			if p, ok := kubeutil.Object[*corev1.Pod](o); ok {
				c.enqueuePodPDB(p)
			}
		},
	}); err != nil {
		return err
	}
	if _, err := rsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{}); err != nil {
		return err
	}
	f.Start(ctx.Done())
	defer shutdown()
	defer c.queue.ShutDown()
	defer c.stale.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), pdbInf.Informer().HasSynced, podInf.Informer().HasSynced, rsInf.Informer().HasSynced) {
		return nil
	}
	var w kubeutil.Workers
	w.Queue(ctx, 1, c.queue, c.sync)
	w.Queue(ctx, 1, c.stale, c.syncStalePodDisruption)
	w.Wait(ctx)
	return nil
}

func (c *Controller) enqueue(o any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(o); err == nil {
		c.queue.Add(key)
	}
}

// enqueuePodPDB queues the PDB of a pod (upstream's getPdbForPod: with
// several, the first, and the pod gets a Warning event).
func (c *Controller) enqueuePodPDB(p *corev1.Pod) {
	if len(p.Labels) == 0 {
		return // the lister's GetPodPodDisruptionBudgets: no labels, no PDB
	}
	pdbs, err := c.pdbs.GetPodPodDisruptionBudgets(p)
	if err != nil || len(pdbs) == 0 {
		return
	}
	if len(pdbs) > 1 {
		c.rec.Event(p, corev1.EventTypeWarning, "MultiplePodDisruptionBudgets",
			fmt.Sprintf("Pod %q/%q matches multiple PodDisruptionBudgets.  Chose %q arbitrarily.", p.Namespace, p.Name, pdbs[0].Name))
	}
	c.queue.Add(pdbs[0].Namespace + "/" + pdbs[0].Name)
}

// sync is upstream's sync: trySync, and failSafe when it fails for
// another reason than a conflict.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pdb, err := c.pdbs.PodDisruptionBudgets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	err = c.trySync(ctx, pdb)
	if err == nil || apierrors.IsConflict(err) || ctx.Err() != nil {
		return err
	}
	return c.failSafe(ctx, pdb, err)
}

func (c *Controller) trySync(ctx context.Context, pdb *policyv1.PodDisruptionBudget) error {
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil {
		c.rec.Eventf(pdb, corev1.EventTypeWarning, "NoPods", "Failed to get pods: %v", err)
		return err
	}
	pods, err := c.pods.Pods(pdb.Namespace).List(sel)
	if err != nil {
		c.rec.Eventf(pdb, corev1.EventTypeWarning, "NoPods", "Failed to get pods: %v", err)
		return err
	}
	if len(pods) == 0 {
		c.rec.Eventf(pdb, corev1.EventTypeNormal, "NoPods", "No matching pods found")
	}
	expected, desired, unmanaged, err := c.expectedPodCount(ctx, pdb, pods)
	if err != nil {
		c.rec.Eventf(pdb, corev1.EventTypeWarning, "CalculateExpectedPodCountFailed", "Failed to calculate the number of expected pods: %v", err)
		return err
	}
	if len(unmanaged) > 0 {
		c.rec.Eventf(pdb, corev1.EventTypeWarning, "UnmanagedPods", "Pods selected by this PodDisruptionBudget (selector: %v) were found "+
			"to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. "+
			"To account for these pods please set \".spec.minAvailable\" "+
			"field of the PDB to an integer value.", pdb.Spec.Selector)
	}
	now := c.clk.Now()
	disrupted, recheck := c.buildDisruptedPodMap(pods, pdb, now)
	healthy := countHealthyPods(pods, disrupted, now)
	err = c.updateStatus(ctx, pdb, healthy, desired, expected, disrupted)
	if err == nil && recheck != nil {
		c.later.AddAfter(pdb.Namespace+"/"+pdb.Name, recheck.Sub(now))
	}
	return err
}

// expectedPodCount is upstream's getExpectedPodCount.
func (c *Controller) expectedPodCount(ctx context.Context, pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod) (expected, desired int32, unmanaged []string, err error) {
	switch {
	case pdb.Spec.MaxUnavailable != nil:
		if expected, unmanaged, err = c.expectedScale(ctx, pods); err != nil {
			return
		}
		var maxUnavailable int
		if maxUnavailable, err = intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, int(expected), true); err != nil {
			return
		}
		desired = max(expected-int32(maxUnavailable), 0)
	case pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.Type == intstr.Int:
		desired, expected = pdb.Spec.MinAvailable.IntVal, int32(len(pods))
	case pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.Type == intstr.String:
		if expected, unmanaged, err = c.expectedScale(ctx, pods); err != nil {
			return
		}
		var minAvailable int
		if minAvailable, err = intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, int(expected), true); err != nil {
			return
		}
		desired = int32(minAvailable)
	}
	return
}

// expectedScale is upstream's getExpectedScale: the sum of the scales of
// the pods' controllers, each counted once.
func (c *Controller) expectedScale(ctx context.Context, pods []*corev1.Pod) (expected int32, unmanaged []string, err error) {
	scales := map[types.UID]int32{}
	for _, p := range pods {
		ref := metav1.GetControllerOfNoCopy(p)
		if ref == nil {
			unmanaged = append(unmanaged, p.Name)
			continue
		}
		if _, ok := scales[ref.UID]; ok {
			continue
		}
		uid, n, found, err := c.controllerScale(ctx, ref, p.Namespace)
		if err != nil {
			return 0, nil, err
		}
		if !found {
			return 0, nil, fmt.Errorf("found no controllers for pod %q", p.Name)
		}
		scales[uid] = n
	}
	for _, n := range scales {
		expected += n
	}
	return expected, unmanaged, nil
}

// controllerScale finds the scale of a pod's controller: a ReplicaSet
// controlled by a Deployment is the Deployment (upstream's
// getPodReplicaSet and getPodDeployment); the scale is read through the
// controller's scale subresource, as upstream's getScaleController.
func (c *Controller) controllerScale(ctx context.Context, ref *metav1.OwnerReference, ns string) (types.UID, int32, bool, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return "", 0, false, err
	}
	if gv.Group == appsv1.GroupName && ref.Kind == "ReplicaSet" {
		rs, err := c.rsets.ReplicaSets(ns).Get(ref.Name)
		if err != nil || rs.UID != ref.UID {
			return "", 0, false, nil
		}
		if owner := metav1.GetControllerOfNoCopy(rs); owner != nil && owner.Kind == "Deployment" {
			if ogv, err := schema.ParseGroupVersion(owner.APIVersion); err == nil && ogv.Group == appsv1.GroupName {
				ref = owner
				gv = ogv
			}
		}
	}
	target, err := c.resourceFor(gv.WithKind(ref.Kind))
	if err != nil {
		return "", 0, false, err
	}
	gr := target.gvr.GroupResource()
	if !target.scale {
		return "", 0, false, fmt.Errorf("%s does not implement the scale subresource", gr.String())
	}
	prefix := "/apis/" + target.gvr.Group
	if target.gvr.Group == "" {
		prefix = "/api"
	}
	raw, err := c.client.CoreV1().RESTClient().Get().
		AbsPath(prefix, target.gvr.Version, "namespaces", ns, target.gvr.Resource, ref.Name, "scale").
		SetHeader("Accept", "application/json"). // the client may prefer protobuf
		Do(ctx).Raw()
	if apierrors.IsNotFound(err) {
		return "", 0, false, nil
	}
	if err != nil {
		return "", 0, false, err
	}
	var sc autoscalingv1.Scale
	if err := json.Unmarshal(raw, &sc); err != nil {
		return "", 0, false, err
	}
	if sc.UID != ref.UID {
		return "", 0, false, nil
	}
	return sc.UID, sc.Spec.Replicas, true, nil
}

// resourceFor maps a kind to its resource through discovery (cached).
func (c *Controller) resourceFor(gvk schema.GroupVersionKind) (scaleTarget, error) {
	c.mu.Lock()
	t, ok := c.resources[gvk]
	c.mu.Unlock()
	if ok {
		return t, nil
	}
	list, err := discovery.New(c.client.CoreV1().RESTClient()).ServerResourcesForGroupVersion(gvk.GroupVersion().String())
	if err != nil {
		if apierrors.IsNotFound(err) {
			return t, fmt.Errorf("no matches for kind %q in version %q", gvk.Kind, gvk.GroupVersion().String())
		}
		return t, err
	}
	found := false
	for _, r := range list.APIResources {
		if r.Kind == gvk.Kind && !strings.Contains(r.Name, "/") {
			t.gvr, found = gvk.GroupVersion().WithResource(r.Name), true
		}
	}
	if !found {
		return t, fmt.Errorf("no matches for kind %q in version %q", gvk.Kind, gvk.GroupVersion().String())
	}
	for _, r := range list.APIResources {
		if r.Name == t.gvr.Resource+"/scale" {
			t.scale = true
		}
	}
	c.mu.Lock()
	c.resources[gvk] = t
	c.mu.Unlock()
	return t, nil
}

// countHealthyPods is upstream's: ready, not being deleted, not recently
// evicted.
func countHealthyPods(pods []*corev1.Pod, disrupted map[string]metav1.Time, now time.Time) (n int32) {
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		if t, ok := disrupted[p.Name]; ok && t.Time.Add(DeletionTimeout).After(now) {
			continue
		}
		if podReady(p) {
			n++
		}
	}
	return n
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// buildDisruptedPodMap is upstream's: the entries of pods that exist and
// are not being deleted, until DeletionTimeout after the eviction; and
// when to look again.
func (c *Controller) buildDisruptedPodMap(pods []*corev1.Pod, pdb *policyv1.PodDisruptionBudget, now time.Time) (map[string]metav1.Time, *time.Time) {
	out := map[string]metav1.Time{}
	var recheck *time.Time
	if len(pdb.Status.DisruptedPods) == 0 {
		return out, nil
	}
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		t, ok := pdb.Status.DisruptedPods[p.Name]
		if !ok {
			continue
		}
		expected := t.Time.Add(DeletionTimeout)
		if expected.Before(now) {
			c.rec.Eventf(p, corev1.EventTypeWarning, "NotDeleted", "Pod was expected by PDB %s/%s to be deleted but it wasn't", pdb.Namespace, pdb.Name)
			continue
		}
		if recheck == nil || expected.Before(*recheck) {
			recheck = &expected
		}
		out[p.Name] = t
	}
	return out, recheck
}

// updateStatus is upstream's updatePdbStatus: nothing is written when the
// status is current.
func (c *Controller) updateStatus(ctx context.Context, pdb *policyv1.PodDisruptionBudget, healthy, desired, expected int32, disrupted map[string]metav1.Time) error {
	allowed := healthy - desired
	if expected <= 0 || allowed <= 0 {
		allowed = 0
	}
	st := pdb.Status
	if st.CurrentHealthy == healthy && st.DesiredHealthy == desired && st.ExpectedPods == expected && st.DisruptionsAllowed == allowed &&
		equality.Semantic.DeepEqual(st.DisruptedPods, disrupted) && st.ObservedGeneration == pdb.Generation && conditionsAreUpToDate(pdb) {
		return nil
	}
	n := pdb.DeepCopy()
	n.Status = policyv1.PodDisruptionBudgetStatus{CurrentHealthy: healthy, DesiredHealthy: desired, ExpectedPods: expected,
		DisruptionsAllowed: allowed, DisruptedPods: disrupted, ObservedGeneration: pdb.Generation, Conditions: n.Status.Conditions}
	UpdateDisruptionAllowedCondition(n, c.clk.Now())
	_, err := c.client.PolicyV1().PodDisruptionBudgets(n.Namespace).UpdateStatus(ctx, n, metav1.UpdateOptions{})
	return err
}

// failSafe is upstream's: disruptionsAllowed 0 and DisruptionAllowed
// False/SyncFailed, so that evictions are refused while the status cannot
// be computed.
func (c *Controller) failSafe(ctx context.Context, pdb *policyv1.PodDisruptionBudget, syncErr error) error {
	n := pdb.DeepCopy()
	n.Status.DisruptionsAllowed = 0
	if n.Status.Conditions == nil {
		n.Status.Conditions = []metav1.Condition{}
	}
	setCondition(&n.Status.Conditions, metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse,
		Reason: policyv1.SyncFailedReason, Message: syncErr.Error(), ObservedGeneration: n.Status.ObservedGeneration}, c.clk.Now())
	if equality.Semantic.DeepEqual(n.Status, pdb.Status) {
		return nil
	}
	_, err := c.client.PolicyV1().PodDisruptionBudgets(n.Namespace).UpdateStatus(ctx, n, metav1.UpdateOptions{})
	return err
}

// UpdateDisruptionAllowedCondition sets the DisruptionAllowed condition
// from disruptionsAllowed, as upstream's
// k8s.io/component-helpers/apps/poddisruptionbudget helper, with now as
// the transition time (the helper takes the wall clock).
func UpdateDisruptionAllowedCondition(pdb *policyv1.PodDisruptionBudget, now time.Time) {
	if pdb.Status.Conditions == nil {
		pdb.Status.Conditions = []metav1.Condition{}
	}
	cond := metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Reason: policyv1.InsufficientPodsReason,
		Status: metav1.ConditionFalse, ObservedGeneration: pdb.Status.ObservedGeneration}
	if pdb.Status.DisruptionsAllowed > 0 {
		cond.Reason, cond.Status = policyv1.SufficientPodsReason, metav1.ConditionTrue
	}
	setCondition(&pdb.Status.Conditions, cond, now)
}

func setCondition(conds *[]metav1.Condition, cond metav1.Condition, now time.Time) {
	if old := apimeta.FindStatusCondition(*conds, cond.Type); old == nil || old.Status != cond.Status {
		cond.LastTransitionTime = metav1.NewTime(now.Truncate(time.Second))
	}
	apimeta.SetStatusCondition(conds, cond)
}

// conditionsAreUpToDate is the helper's ConditionsAreUpToDate.
func conditionsAreUpToDate(pdb *policyv1.PodDisruptionBudget) bool {
	cond := apimeta.FindStatusCondition(pdb.Status.Conditions, policyv1.DisruptionAllowedCondition)
	if cond == nil || pdb.Status.ObservedGeneration != pdb.Generation {
		return false
	}
	if pdb.Status.DisruptionsAllowed > 0 {
		return cond.Status == metav1.ConditionTrue && cond.Reason == policyv1.SufficientPodsReason
	}
	return cond.Status == metav1.ConditionFalse && cond.Reason == policyv1.InsufficientPodsReason
}

// --- stale DisruptionTarget conditions ---------------------------------------

func (c *Controller) enqueueStale(p *corev1.Pod) {
	if has, after := staleDisruptionCondition(p, c.clk.Now()); has {
		key := p.Namespace + "/" + p.Name
		if after > 0 {
			c.laterStale.AddAfter(key, after)
		} else {
			c.stale.Add(key)
		}
	}
}

// staleDisruptionCondition is upstream's
// nonTerminatingPodHasStaleDisruptionCondition: a True DisruptionTarget
// not set by the kubelet, on a pod not being deleted, and how long until
// it is stale.
func staleDisruptionCondition(p *corev1.Pod, now time.Time) (bool, time.Duration) {
	if p.DeletionTimestamp != nil {
		return false, 0
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type != corev1.DisruptionTarget {
			continue
		}
		if cond.Status != corev1.ConditionTrue || cond.Reason == corev1.PodReasonTerminationByKubelet {
			return false, 0
		}
		return true, max(StalePodDisruptionTimeout-now.Sub(cond.LastTransitionTime.Time), 0)
	}
	return false, 0
}

// syncStalePodDisruption is upstream's: the condition goes False (a
// server-side apply of pods/status with the pod's resourceVersion).
func (c *Controller) syncStalePodDisruption(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	p, err := c.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	has, after := staleDisruptionCondition(p, c.clk.Now())
	if !has {
		return nil
	}
	if after > 0 {
		c.laterStale.AddAfter(key, after)
		return nil
	}
	patch, err := json.Marshal(map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": p.Name, "namespace": p.Namespace, "resourceVersion": p.ResourceVersion},
		"status": map[string]any{"conditions": []any{map[string]any{"type": string(corev1.DisruptionTarget), "status": string(corev1.ConditionFalse),
			"lastTransitionTime": metav1.NewTime(c.clk.Now().Truncate(time.Second))}}},
	})
	if err != nil {
		return err
	}
	force := true
	_, err = c.client.CoreV1().Pods(ns).Patch(ctx, name, types.ApplyPatchType, patch, metav1.PatchOptions{FieldManager: fieldManager, Force: &force}, "status")
	return err
}
