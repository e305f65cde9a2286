// Package daemonset is the DaemonSet controller, as upstream's
// pkg/controller/daemon in kube-controller-manager.
//
// Contracts:
//   - A DaemonSet runs one pod on every node that should run it
//     (nodeShouldRunDaemonPod, upstream's NodeShouldRunDaemonPod): the
//     template's nodeName (if any), nodeSelector and required node
//     affinity fit the node, and its NoSchedule and NoExecute taints are
//     tolerated, counting the tolerations every daemon pod gets
//     (node.kubernetes.io/not-ready and unreachable NoExecute;
//     disk-pressure, memory-pressure, pid-pressure and unschedulable
//     NoSchedule; network-unavailable for hostNetwork). A pod on a node
//     with only an untolerated NoSchedule taint stays; with an
//     untolerated NoExecute taint, or when the node stops matching, it is
//     deleted.
//   - Pods are created with generateName <ds>-, the controller reference,
//     the labels controller-revision-hash and pod-template-generation, the
//     default tolerations, and a required node affinity replaced by one
//     term matchFields metadata.name In [node] (the scheduler binds it);
//     creations in slow-start batches (at most BurstReplicas per sync),
//     deletions in parallel, with expectations so a slow cache never
//     doubles a pod. Events: SuccessfulCreate "Created pod: X",
//     FailedCreate, SuccessfulDelete "Deleted pod: X".
//   - A Failed daemon pod is deleted (event Warning FailedDaemonPod "Found
//     failed daemon pod NS/NAME on node NODE, will try to kill it") and
//     re-created, with a per-node back-off from 1 s doubling to 15 min on
//     the injected clock; a Succeeded one is deleted. Extra pods on a
//     node are deleted, the oldest kept (with maxSurge, one old and one
//     new may run while the new one is not yet available).
//   - Pods of nodes that no longer exist are deleted (upstream deletes the
//     unscheduled ones here and leaves the bound ones to the pod garbage
//     collector, which wasmpod does not have: bound ones are deleted at
//     once, grace period 0, as the pod GC's gcOrphaned does).
//   - History: the template is kept in ControllerRevisions
//     <ds>-<hash> (data: the strategic merge patch that restores
//     spec.template, as kubectl rollout undo applies it; revision numbers
//     increasing; a template equal to an old revision's takes that
//     revision back with a new number, so its pods count as updated and
//     are not restarted); old revisions beyond revisionHistoryLimit whose
//     hash no live pod carries are deleted, oldest first.
//   - Updates: OnDelete replaces only pods that are deleted by someone
//     else; RollingUpdate with maxSurge 0 deletes old pods while at most
//     maxUnavailable nodes are unavailable (unavailable old pods first),
//     and with maxSurge creates new pods beside available old ones on at
//     most maxSurge nodes, deleting an old pod once the new one is
//     available (upstream's rollingUpdate).
//   - Status (storeDaemonSetStatus): desiredNumberScheduled,
//     currentNumberScheduled, numberMisscheduled, numberReady,
//     numberAvailable (ready for minReadySeconds on the injected clock),
//     numberUnavailable, updatedNumberScheduled and observedGeneration
//     (only raised by a sync that acted on that generation); conditions
//     are left as they are.
//   - It works through the Kubernetes API only (client-go); time comes
//     from the injected clock. Run returns when ctx ends.
package daemonset

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
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
	BurstReplicas = 250
	// Workers is --concurrent-daemonset-syncs.
	Workers = 2
	// StatusUpdateRetries: one retry after a fresh read.
	StatusUpdateRetries = 1
	// Component names the events' source.
	Component = "daemonset-controller"
	// FailedDaemonPodReason is the event of a Failed daemon pod deleted.
	FailedDaemonPodReason = "FailedDaemonPod"
	// SelectingAllReason is the event of a DaemonSet with an empty selector.
	SelectingAllReason = "SelectingAll"
	// Failed pods' back-off (failedPodsBackoff).
	BackoffInitial = time.Second
	BackoffMax     = 15 * time.Minute
	// BackoffGCInterval is how often the back-off entries are collected.
	BackoffGCInterval = time.Minute
)

var controllerKind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

// Controller is the DaemonSet controller.
type Controller struct {
	// Informers, when set before Run, is the informer factory shared with
	// the other controllers (kubeutil.NewSharedFactory); nil: Run makes its own.
	Informers informers.SharedInformerFactory

	client  kubernetes.Interface
	clk     clock.WithTicker
	queue   workqueue.TypedRateLimitingInterface[string]
	exp     *cu.Expectations
	dsets   appslisters.DaemonSetLister
	history appslisters.ControllerRevisionLister
	pods    corelisters.PodLister
	nodes   corelisters.NodeLister
	pc      *cu.PodControl
	rec     record.EventRecorder
	backoff *flowcontrol.Backoff
	burst   int
	later   *kubeutil.Delayed // requeues on clk
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
		burst:   BurstReplicas,
		backoff: flowcontrol.NewFakeBackOff(BackoffInitial, BackoffMax, clk),
		queue:   kubeutil.NewQueue("daemonset"),
	}
}

// Run watches DaemonSets, ControllerRevisions, Pods and Nodes and
// reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	rec, stopEvents := kubeutil.EventRecorder(ctx, c.client, Component)
	defer stopEvents()
	c.later = kubeutil.NewDelayed(c.clk, c.queue.Add, ctx.Done())
	c.rec = rec
	c.pc = &cu.PodControl{Client: c.client, Recorder: c.rec}

	f, shutdown := kubeutil.Factory(c.Informers, c.client)
	dsInf, crInf := f.Apps().V1().DaemonSets(), f.Apps().V1().ControllerRevisions()
	podInf, nodeInf := f.Core().V1().Pods(), f.Core().V1().Nodes()
	c.dsets, c.history, c.pods, c.nodes = dsInf.Lister(), crInf.Lister(), podInf.Lister(), nodeInf.Lister()
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{dsInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc: c.enqueue,
			UpdateFunc: func(old, cur any) {
				o, ok1 := old.(*appsv1.DaemonSet)
				n, ok2 := cur.(*appsv1.DaemonSet)
				if ok1 && ok2 && o.UID != n.UID {
					c.deleteDS(o)
				}
				c.enqueue(cur)
			},
			DeleteFunc: c.deleteDS,
		}},
		{crInf.Informer(), kubeutil.OnEvery(func(cr *appsv1.ControllerRevision) {
			if ref := metav1.GetControllerOfNoCopy(cr); ref != nil {
				if ds := c.resolve(cr.Namespace, ref); ds != nil {
					c.queue.Add(key(ds))
				}
			}
		})},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.addPod, UpdateFunc: c.updatePod, DeleteFunc: c.deletePod}},
		{nodeInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { c.nodeChanged(nil, o) },
			UpdateFunc: c.nodeChanged,
			DeleteFunc: func(any) { c.enqueueAll() },
		}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return err
		}
	}
	f.Start(ctx.Done())
	defer shutdown()
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), dsInf.Informer().HasSynced, crInf.Informer().HasSynced,
		podInf.Informer().HasSynced, nodeInf.Informer().HasSynced) {
		return nil
	}
	var w kubeutil.Workers
	w.Queue(ctx, Workers, c.queue, c.sync)
	w.Go(func() { // failedPodsBackoff.GC every minute
		t := c.clk.NewTicker(BackoffGCInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C():
				c.backoff.GC()
			}
		}
	})
	w.Wait(ctx)
	return nil
}

func key(ds *appsv1.DaemonSet) string { return ds.Namespace + "/" + ds.Name }

func podKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

func (c *Controller) enqueue(o any) {
	if k, err := cache.DeletionHandlingMetaNamespaceKeyFunc(o); err == nil {
		c.queue.Add(k)
	}
}

func (c *Controller) enqueueAll() {
	list, _ := c.dsets.List(labels.Everything())
	for _, ds := range list {
		c.queue.Add(key(ds))
	}
}

func (c *Controller) deleteDS(o any) {
	if k, err := cache.DeletionHandlingMetaNamespaceKeyFunc(o); err == nil {
		c.exp.Delete(k)
		c.queue.Add(k)
	}
}

// resolve returns the DaemonSet a controller reference names, if it is
// the one (same UID) in the cache.
func (c *Controller) resolve(ns string, ref *metav1.OwnerReference) *appsv1.DaemonSet {
	ds, _ := cu.ResolveControllerRef(ref, controllerKind.GroupKind(), c.dsets.DaemonSets(ns).Get)
	return ds
}

// matching returns the DaemonSets whose selector matches an orphan pod
// (GetPodDaemonSets).
func (c *Controller) matching(p *corev1.Pod) []*appsv1.DaemonSet {
	list, err := c.dsets.DaemonSets(p.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	return cu.Selecting(list, func(o *appsv1.DaemonSet) *metav1.LabelSelector { return o.Spec.Selector }, p.Labels)
}

// addPod (upstream's addPod): a controlled pod is one creation observed;
// an orphan wakes the DaemonSets that may adopt it.
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
		if ds := c.resolve(p.Namespace, ref); ds != nil {
			c.exp.CreationObserved(key(ds))
			c.queue.Add(key(ds))
		}
		return
	}
	for _, ds := range c.matching(p) {
		c.queue.Add(key(ds))
	}
}

// updatePod (upstream's updatePod).
func (c *Controller) updatePod(old, cur any) {
	op, ok1 := old.(*corev1.Pod)
	np, ok2 := cur.(*corev1.Pod)
	if !ok1 || !ok2 || op.ResourceVersion == np.ResourceVersion {
		return
	}
	if np.DeletionTimestamp != nil {
		c.deletePod(np)
		return
	}
	curRef, oldRef := metav1.GetControllerOfNoCopy(np), metav1.GetControllerOfNoCopy(op)
	refChanged := !equality.Semantic.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if ds := c.resolve(op.Namespace, oldRef); ds != nil {
			c.queue.Add(key(ds))
		}
	}
	if curRef != nil {
		ds := c.resolve(np.Namespace, curRef)
		if ds == nil {
			return
		}
		c.queue.Add(key(ds))
		if !cu.IsPodReady(op) && cu.IsPodReady(np) && ds.Spec.MinReadySeconds > 0 {
			c.later.AddAfter(key(ds), time.Duration(ds.Spec.MinReadySeconds)*time.Second+time.Second)
		}
		return
	}
	if refChanged || !equality.Semantic.DeepEqual(op.Labels, np.Labels) {
		for _, ds := range c.matching(np) {
			c.queue.Add(key(ds))
		}
	}
}

// deletePod: one deletion observed for the owner.
func (c *Controller) deletePod(o any) {
	p, ok := kubeutil.Object[*corev1.Pod](o)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(p)
	if ref == nil {
		return
	}
	if ds := c.resolve(p.Namespace, ref); ds != nil {
		c.exp.DeletionObserved(key(ds), podKey(p))
		c.queue.Add(key(ds))
	}
}

// nodeChanged (upstream's addNode / updateNode): the DaemonSets whose
// should-run or should-continue-running answer for the node changed are
// synced. Heartbeats (status only) change neither.
func (c *Controller) nodeChanged(old, cur any) {
	n, ok := cur.(*corev1.Node)
	if !ok {
		return
	}
	o, _ := old.(*corev1.Node)
	if o != nil && equality.Semantic.DeepEqual(o.Labels, n.Labels) && equality.Semantic.DeepEqual(o.Spec, n.Spec) && o.Name == n.Name {
		return
	}
	list, _ := c.dsets.List(labels.Everything())
	for _, ds := range list {
		run, cont := nodeShouldRunDaemonPod(n, ds)
		if o == nil {
			if run {
				c.queue.Add(key(ds))
			}
			continue
		}
		orun, ocont := nodeShouldRunDaemonPod(o, ds)
		if run != orun || cont != ocont {
			c.queue.Add(key(ds))
		}
	}
}

// sync is upstream's syncDaemonSet.
func (c *Controller) sync(ctx context.Context, k string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(k)
	if err != nil {
		return nil
	}
	ds, err := c.dsets.DaemonSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Delete(k)
		return nil
	}
	if err != nil {
		return err
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	if ds.Spec.Selector == nil || (len(ds.Spec.Selector.MatchLabels) == 0 && len(ds.Spec.Selector.MatchExpressions) == 0) {
		c.rec.Event(ds, corev1.EventTypeWarning, SelectingAllReason, "This daemon set is selecting all pods. A non-empty selector is required.")
		return nil
	}
	// Being deleted: its history may be gone already; nothing to compute.
	if ds.DeletionTimestamp != nil {
		return nil
	}
	cur, old, err := c.constructHistory(ctx, ds)
	if err != nil {
		return fmt.Errorf("failed to construct revisions of DaemonSet: %w", err)
	}
	hash := cur.Labels[RevisionHashLabel]
	if !c.exp.Satisfied(k) {
		return c.updateStatus(ctx, ds, nodes, hash, false)
	}
	err = c.manage(ctx, ds, nodes, hash)
	if err == nil && c.exp.Satisfied(k) && ds.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		err = c.rollingUpdate(ctx, ds, nodes, hash)
	}
	if herr := c.cleanupHistory(ctx, ds, old); err == nil {
		err = herr
	}
	if serr := c.updateStatus(ctx, ds, nodes, hash, true); err == nil {
		err = serr
	}
	return err
}

// nodesToDaemonPods claims the DaemonSet's pods (adopting matching orphans,
// releasing pods that stopped matching) and groups them by target node
// (getNodesToDaemonPods); terminal pods being deleted are left out unless
// includeDeletedTerminal.
func (c *Controller) nodesToDaemonPods(ctx context.Context, ds *appsv1.DaemonSet, includeDeletedTerminal bool) (map[string][]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return nil, err
	}
	all, err := c.pods.Pods(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	ns, name := ds.Namespace, ds.Name
	claimer := &cu.PodClaimer{Client: c.client, Owner: ds, GVK: controllerKind, Selector: sel,
		CanAdopt: cu.RecheckDeletionTimestamp(func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		}, ds)}
	pods, err := claimer.ClaimPods(ctx, all)
	if err != nil {
		return nil, err
	}
	out := map[string][]*corev1.Pod{}
	for _, p := range pods {
		terminal := p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded
		if !includeDeletedTerminal && terminal && p.DeletionTimestamp != nil {
			continue
		}
		n, err := targetNodeName(p)
		if err != nil {
			continue
		}
		out[n] = append(out[n], p)
	}
	return out, nil
}

func failedPodsBackoffKey(ds *appsv1.DaemonSet, node string) string {
	return fmt.Sprintf("%s/%d/%s", ds.UID, ds.Status.ObservedGeneration, node)
}

// manage is upstream's manage: the nodes needing a pod, and the pods to
// delete (failed, extra, on nodes that should not run them or are gone).
func (c *Controller) manage(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, hash string) error {
	byNode, err := c.nodesToDaemonPods(ctx, ds, false)
	if err != nil {
		return fmt.Errorf("couldn't get node to daemon pod mapping for daemon set %q: %w", ds.Name, err)
	}
	var create []string
	var del []*corev1.Pod
	exists := map[string]bool{}
	for _, n := range nodes {
		exists[n.Name] = true
		cr, d := c.podsShouldBeOnNode(n, byNode, ds, hash)
		create = append(create, cr...)
		del = append(del, d...)
	}
	// Pods whose node is gone (getUnscheduledPodsWithoutNode, and the pod
	// GC's orphaned pods).
	var gone []string
	for n := range byNode {
		if !exists[n] {
			gone = append(gone, n)
		}
	}
	sort.Strings(gone)
	var force map[types.UID]bool
	for _, n := range gone {
		for _, p := range byNode[n] {
			if p.Spec.NodeName != "" {
				// No kubelet will finish a graceful deletion: the pod
				// GC's force deletion (grace period 0).
				if force == nil {
					force = map[types.UID]bool{}
				}
				force[p.UID] = true
			} else if p.DeletionTimestamp != nil {
				continue
			}
			del = append(del, p)
		}
	}
	return c.syncNodes(ctx, ds, del, create, hash, force)
}

// podsShouldBeOnNode is upstream's podsShouldBeOnNode.
func (c *Controller) podsShouldBeOnNode(node *corev1.Node, byNode map[string][]*corev1.Pod, ds *appsv1.DaemonSet, hash string) (create []string, del []*corev1.Pod) {
	shouldRun, shouldContinue := nodeShouldRunDaemonPod(node, ds)
	pods, exists := byNode[node.Name]
	switch {
	case shouldRun && !exists:
		create = append(create, node.Name)
	case shouldContinue:
		var running []*corev1.Pod
		for _, p := range pods {
			if p.DeletionTimestamp != nil {
				continue
			}
			switch p.Status.Phase {
			case corev1.PodFailed:
				// Not to hot-loop with a kubelet that keeps failing it.
				bk := failedPodsBackoffKey(ds, node.Name)
				now := c.clk.Now()
				if c.backoff.IsInBackOffSinceUpdate(bk, now) {
					c.later.AddAfter(key(ds), c.backoff.Get(bk))
					continue
				}
				c.backoff.Next(bk, now)
				c.rec.Eventf(ds, corev1.EventTypeWarning, FailedDaemonPodReason,
					"Found failed daemon pod %s/%s on node %s, will try to kill it", p.Namespace, p.Name, node.Name)
				del = append(del, p)
			case corev1.PodSucceeded:
				del = append(del, p)
			default:
				running = append(running, p)
			}
		}
		if !allowsSurge(ds) {
			if len(running) > 1 {
				sort.Sort(podByCreationTimestampAndPhase(running))
				del = append(del, running[1:]...)
			}
			break
		}
		if len(running) <= 1 {
			if len(running) == 0 && shouldRun {
				create = append(create, node.Name)
			}
			break
		}
		// Surging: keep the oldest new pod and the oldest old one; the old
		// one goes once it is not ready or the new one is available.
		var oldestNew, oldestOld *corev1.Pod
		sort.Sort(podByCreationTimestampAndPhase(running))
		for _, p := range running {
			if p.Labels[RevisionHashLabel] == hash {
				if oldestNew == nil {
					oldestNew = p
					continue
				}
			} else if oldestOld == nil {
				oldestOld = p
				continue
			}
			del = append(del, p)
		}
		if oldestNew != nil && oldestOld != nil {
			switch {
			case !cu.IsPodReady(oldestOld):
				del = append(del, oldestOld)
			case cu.IsPodAvailable(oldestNew, ds.Spec.MinReadySeconds, c.clk.Now()):
				del = append(del, oldestOld)
			}
		}
	case exists:
		for _, p := range pods {
			if p.DeletionTimestamp == nil {
				del = append(del, p)
			}
		}
	}
	return create, del
}

// syncNodes creates a pod for each node in create and deletes the pods in
// del, within BurstReplicas each (upstream's syncNodes).
func (c *Controller) syncNodes(ctx context.Context, ds *appsv1.DaemonSet, del []*corev1.Pod, create []string, hash string, force map[types.UID]bool) error {
	k := key(ds)
	createDiff, deleteDiff := min(len(create), c.burst), min(len(del), c.burst)
	del = del[:deleteDiff]
	keys := make([]string, len(del))
	for i, p := range del {
		keys[i] = podKey(p)
	}
	c.exp.Expect(k, createDiff, keys)

	tmpl := podTemplate(ds, hash)
	ref := cu.NewControllerRef(ds, controllerKind)
	var next atomic.Int64
	_, createErr := cu.SlowStartBatch(createDiff, cu.SlowStartInitialBatchSize, func() error {
		node := create[next.Add(1)-1]
		t := tmpl.DeepCopy()
		t.Spec.Affinity = replaceNodeNameAffinity(t.Spec.Affinity, node)
		_, err := c.pc.CreatePod(ctx, t, ds, ds, ref)
		switch {
		case err == nil:
			return nil
		case apierrors.IsTimeout(err):
			return nil // it may yet show up in the informer
		}
		c.exp.CreationObserved(k)
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil // the namespace is going: not a failure
		}
		return err
	})
	// The creations never asked for will not be observed.
	for range int64(createDiff) - next.Load() {
		c.exp.CreationObserved(k)
	}

	errs := make(chan error, len(del))
	var wg sync.WaitGroup
	for _, p := range del {
		wg.Add(1)
		go func() {
			defer wg.Done()
			del := c.pc.DeletePod
			if force[p.UID] {
				del = c.forceDeletePod
			}
			if err := del(ctx, ds.Namespace, p.Name, ds); err != nil {
				c.exp.DeletionObserved(k, podKey(p))
				if !apierrors.IsNotFound(err) {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	if createErr != nil {
		return createErr
	}
	select {
	case err := <-errs:
		return err
	default:
	}
	return nil
}

// forceDeletePod deletes a pod bound to a node that is gone at once, with
// the pod's UID as precondition (the pod GC's gcOrphaned), and records
// PodControl's events.
func (c *Controller) forceDeletePod(ctx context.Context, namespace, name string, object runtime.Object) error {
	p, err := c.pods.Pods(namespace).Get(name)
	if err != nil {
		return err
	}
	err = c.client.CoreV1().Pods(namespace).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: new(int64), Preconditions: &metav1.Preconditions{UID: &p.UID}})
	switch {
	case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
		return apierrors.NewNotFound(corev1.Resource("pods"), name)
	case err != nil:
		c.rec.Eventf(object, corev1.EventTypeWarning, cu.FailedDeletePodReason, "Error deleting: %v", err)
		return err
	}
	c.rec.Eventf(object, corev1.EventTypeNormal, cu.SuccessfulDeletePodReason, "Deleted pod: %v", name)
	return nil
}

// updateStatus is upstream's updateDaemonSetStatus and
// storeDaemonSetStatus.
func (c *Controller) updateStatus(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, hash string, updateObservedGen bool) error {
	byNode, err := c.nodesToDaemonPods(ctx, ds, false)
	if err != nil {
		return fmt.Errorf("couldn't get node to daemon pod mapping for daemon set %q: %w", ds.Name, err)
	}
	var desired, current, mis, ready, updated, available int32
	now := c.clk.Now()
	gen := templateGeneration(ds)
	for _, n := range nodes {
		shouldRun, _ := nodeShouldRunDaemonPod(n, ds)
		pods := byNode[n.Name]
		scheduled := len(pods) > 0
		if !shouldRun {
			if scheduled {
				mis++
			}
			continue
		}
		desired++
		if !scheduled {
			continue
		}
		current++
		pods = append([]*corev1.Pod(nil), pods...)
		sort.Sort(podByCreationTimestampAndPhase(pods))
		p := pods[0]
		if cu.IsPodReady(p) {
			ready++
			if cu.IsPodAvailable(p, ds.Spec.MinReadySeconds, now) {
				available++
			}
		}
		if isPodUpdated(p, hash, gen) {
			updated++
		}
	}
	st := ds.Status.DeepCopy()
	st.DesiredNumberScheduled, st.CurrentNumberScheduled, st.NumberMisscheduled = desired, current, mis
	st.NumberReady, st.UpdatedNumberScheduled, st.NumberAvailable, st.NumberUnavailable = ready, updated, available, desired-available
	if updateObservedGen {
		st.ObservedGeneration = ds.Generation
	}
	if err := c.storeStatus(ctx, ds, st); err != nil {
		return err
	}
	if ds.Spec.MinReadySeconds > 0 && ready != available {
		c.later.AddAfter(key(ds), time.Duration(ds.Spec.MinReadySeconds)*time.Second)
	}
	return nil
}

func (c *Controller) storeStatus(ctx context.Context, ds *appsv1.DaemonSet, st *appsv1.DaemonSetStatus) error {
	if equality.Semantic.DeepEqual(&ds.Status, st) {
		return nil
	}
	toUpdate := ds.DeepCopy()
	var err error
	for i := 0; ; i++ {
		conds := toUpdate.Status.Conditions
		collision := toUpdate.Status.CollisionCount
		toUpdate.Status = *st.DeepCopy()
		toUpdate.Status.Conditions, toUpdate.Status.CollisionCount = conds, collision
		if _, err = c.client.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, toUpdate, metav1.UpdateOptions{}); err == nil || i >= StatusUpdateRetries {
			break
		}
		if toUpdate, err = c.client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{}); err != nil {
			break
		}
	}
	return err
}
