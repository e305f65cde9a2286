// Package tainteviction is the taint eviction controller (upstream's
// kube-controller-manager pkg/controller/tainteviction, the "taint
// manager"): it deletes the pods of a node that has NoExecute taints they do
// not tolerate, at once, or once the smallest tolerationSeconds of the
// tolerations that match have passed.
//
// Contracts (upstream's processPodOnNode, v1.37):
//   - A bound pod that is not being deleted, on a node with NoExecute
//     taints: a taint no toleration of the pod matches evicts it now;
//     otherwise the smallest tolerationSeconds of the matching tolerations
//     decides (a matching toleration without tolerationSeconds: never;
//     <= 0: now). The eviction is scheduled that long after the controller
//     first saw the pod to be tolerated for a while (a later change of the
//     taints keeps that start, and only an earlier trigger replaces it).
//   - When the taints go away (or become tolerated forever), a scheduled
//     eviction is cancelled with a TaintManagerEviction Event "Cancelling
//     deletion of Pod NS/NAME".
//   - Evicting (upstream's addConditionAndDeletePod): an Event
//     TaintManagerEviction "Marking for deletion Pod NS/NAME", the pod
//     condition DisruptionTarget=True reason DeletionByTaintManager, then a
//     DELETE with the pod's UID as precondition and its own grace period:
//     a pod on a dead node stays Terminating until its agent comes back or
//     the node is deleted, while its ReplicaSet, which does not count
//     terminating pods, replaces it at once.
//   - Time comes only from the injected clock.
package tainteviction

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/wasmpod/wasmpod/internal/controllerutil"
	"github.com/wasmpod/wasmpod/internal/kube/informers"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// Upstream's strings.
const (
	Component              = "taint-eviction-controller"
	ReasonEviction         = "TaintManagerEviction"
	ReasonDeletionByTaints = "DeletionByTaintManager"
	MessageDeletion        = "Taint manager: deleting due to NoExecute taint"
)

// Controller is the taint eviction controller.
type Controller struct {
	// Informers, when set before Run, is the informer factory shared with
	// the other controllers (kubeutil.NewSharedFactory); nil: Run makes its own.
	Informers informers.SharedInformerFactory

	client kubernetes.Interface
	clk    clock.WithTicker

	pods  corelisters.PodLister
	nodes corelisters.NodeLister

	mu      sync.Mutex
	started map[string]time.Time       // pod key → when its eviction was first scheduled
	byNode  map[string]map[string]bool // node → keys of its pods
	nodeOf  map[string]string          // pod key → node

	delayed  *kubeutil.Delayed
	recorder record.EventRecorder
}

// New makes a controller; clk nil means the real clock.
func New(client kubernetes.Interface, clk clock.WithTicker) *Controller {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Controller{client: client, clk: clk, started: map[string]time.Time{}, byNode: map[string]map[string]bool{}, nodeOf: map[string]string{}}
}

// Run watches pods and nodes and evicts until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	f, shutdown := kubeutil.Factory(c.Informers, c.client)
	defer shutdown()
	podInf, nodeInf := f.Core().V1().Pods(), f.Core().V1().Nodes()
	c.pods, c.nodes = podInf.Lister(), nodeInf.Lister()
	q := kubeutil.NewQueue(Component)
	c.delayed = kubeutil.NewDelayed(c.clk, q.Add, ctx.Done())
	rec, stopRec := kubeutil.EventRecorder(ctx, c.client, Component)
	defer stopRec()
	c.recorder = rec

	podHandler := func(p *corev1.Pod) {
		key, _ := cache.MetaNamespaceKeyFunc(p)
		c.track(key, p.Spec.NodeName)
		q.Add(key)
	}
	podReg, err := podInf.Informer().AddEventHandler(kubeutil.Typed(podHandler, podHandler,
		func(p *corev1.Pod) {
			key, _ := cache.MetaNamespaceKeyFunc(p)
			c.track(key, "")
			q.Add(key)
		}))
	if err != nil {
		return err
	}
	nodeHandler := func(n *corev1.Node) {
		c.mu.Lock()
		keys := make([]string, 0, len(c.byNode[n.Name]))
		for k := range c.byNode[n.Name] {
			keys = append(keys, k)
		}
		c.mu.Unlock()
		for _, k := range keys {
			q.Add(k)
		}
	}
	typed := kubeutil.Typed(nodeHandler, nodeHandler, nodeHandler)
	nodeReg, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    typed.AddFunc,
		DeleteFunc: typed.DeleteFunc,
		UpdateFunc: func(old, cur any) {
			o, ok1 := old.(*corev1.Node)
			n, ok2 := cur.(*corev1.Node)
			if ok1 && ok2 && !taintsEqual(noExecute(o.Spec.Taints), noExecute(n.Spec.Taints)) {
				nodeHandler(n)
			}
		},
	})
	if err != nil {
		return err
	}
	defer podInf.Informer().RemoveEventHandler(podReg)
	defer nodeInf.Informer().RemoveEventHandler(nodeReg)
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), podReg.HasSynced, nodeReg.HasSynced) {
		return nil
	}
	var w kubeutil.Workers
	w.Queue(ctx, 4, q, c.sync)
	w.Wait(ctx)
	return nil
}

// track records which node a pod key is bound to ("" when gone).
func (c *Controller) track(key, node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.nodeOf[key]; ok && old != node {
		delete(c.byNode[old], key)
		if len(c.byNode[old]) == 0 {
			delete(c.byNode, old)
		}
	}
	if node == "" {
		delete(c.nodeOf, key)
		return
	}
	c.nodeOf[key] = node
	if c.byNode[node] == nil {
		c.byNode[node] = map[string]bool{}
	}
	c.byNode[node][key] = true
}

func noExecute(ts []corev1.Taint) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range ts {
		if t.Effect == corev1.TaintEffectNoExecute {
			out = append(out, t)
		}
	}
	return out
}

func taintsEqual(a, b []corev1.Taint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || a[i].Value != b[i].Value || a[i].Effect != b[i].Effect {
			return false
		}
	}
	return true
}

// tolerationTime is how long the pod tolerates taints: ok false when a
// taint is not tolerated at all, d < 0 for ever (upstream's
// GetMatchingTolerations and getMinTolerationTime).
func tolerationTime(taints []corev1.Taint, tols []corev1.Toleration) (d time.Duration, ok bool) {
	logger := klog.Background()
	d = -1
	for i := range taints {
		matched := false
		for j := range tols {
			if !tols[j].ToleratesTaint(logger, &taints[i], false) {
				continue
			}
			matched = true
			if s := tols[j].TolerationSeconds; s != nil {
				t := max(time.Duration(*s)*time.Second, 0)
				if d < 0 || t < d {
					d = t
				}
			}
		}
		if !matched {
			return 0, false
		}
	}
	return d, true
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) || err == nil && (pod.Spec.NodeName == "" || pod.DeletionTimestamp != nil) {
		c.cancel(key, nil)
		return nil
	}
	if err != nil {
		return err
	}
	node, err := c.nodes.Get(pod.Spec.NodeName)
	if apierrors.IsNotFound(err) {
		c.cancel(key, pod)
		return nil
	}
	if err != nil {
		return err
	}
	taints := noExecute(node.Spec.Taints)
	if len(taints) == 0 {
		c.cancel(key, pod)
		return nil
	}
	d, ok := tolerationTime(taints, pod.Spec.Tolerations)
	if ok && d < 0 {
		c.cancel(key, pod)
		return nil
	}
	now := c.clk.Now()
	if ok && d > 0 {
		c.mu.Lock()
		start, scheduled := c.started[key]
		if !scheduled {
			start = now
			c.started[key] = start
		}
		c.mu.Unlock()
		if at := start.Add(d); at.After(now) {
			c.delayed.AddAt(key, at)
			return nil
		}
	}
	c.mu.Lock()
	delete(c.started, key)
	c.mu.Unlock()
	c.delayed.Forget(key)
	return c.evict(ctx, pod)
}

// cancel drops a scheduled eviction, with upstream's Event when there was
// one and the pod is still there.
func (c *Controller) cancel(key string, pod *corev1.Pod) {
	c.mu.Lock()
	_, scheduled := c.started[key]
	delete(c.started, key)
	c.mu.Unlock()
	if !scheduled {
		return
	}
	c.delayed.Forget(key)
	if pod != nil {
		c.recorder.Eventf(pod, corev1.EventTypeNormal, ReasonEviction, "Cancelling deletion of Pod %s", key)
	}
}

// evict is upstream's addConditionAndDeletePod.
func (c *Controller) evict(ctx context.Context, pod *corev1.Pod) error {
	c.recorder.Eventf(pod, corev1.EventTypeNormal, ReasonEviction, "Marking for deletion Pod %s/%s", pod.Namespace, pod.Name)
	pods := c.client.CoreV1().Pods(pod.Namespace)
	st := pod.Status.DeepCopy()
	if controllerutil.UpdatePodCondition(st, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: ReasonDeletionByTaints, Message: MessageDeletion}, metav1.NewTime(c.clk.Now())) {
		patch, err := controllerutil.PodStatusPatch(pod.UID, &pod.Status, st)
		if err != nil {
			return err
		}
		if _, err := pods.Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
			if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
				return nil // gone, or another pod of that name
			}
			return fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
	}
	err := pods.Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}
