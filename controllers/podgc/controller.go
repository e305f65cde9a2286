// Package podgc is the pod garbage collector: it force-deletes pods that no
// kubelet will ever finish, as upstream's kube-controller-manager
// pkg/controller/podgc (PodGCController, v1.37).
//
// Contracts (every gcCheckPeriod, 20 s on the injected clock, and once at
// start, from the informers' caches; upstream's gc):
//   - gcTerminated: when more pods than the threshold (upstream's
//     --terminated-pod-gc-threshold, default 12500; 0 turns it off) are
//     Succeeded or Failed, the excess is deleted, evicted pods (Failed with
//     reason Evicted) first, then oldest creationTimestamp first, names
//     breaking ties (upstream's byEvictionAndCreationTimestamp).
//   - gcTerminating: a pod with a deletionTimestamp on a node that is not
//     Ready and has the node.kubernetes.io/out-of-service taint is
//     force-deleted (only that case, as upstream).
//   - gcOrphaned: a pod bound to a node the node informer does not know is
//     put in quarantine for 40 s (upstream's quarantineTime, a delaying
//     queue on the injected clock); after it, a live GET of the node
//     decides: NotFound means the pod gets the condition
//     DisruptionTarget=True reason DeletionByPodGC ("PodGC: node no longer
//     exists") and is force-deleted. A node that comes back in the
//     meantime saves its pods; a GET error retries on a later pass.
//   - gcUnscheduledTerminating: a pod with a deletionTimestamp and no
//     nodeName is force-deleted.
//   - Force-deleting (upstream's markFailedAndDeletePodWithCondition): a pod
//     not yet Succeeded or Failed is first patched (strategic merge on
//     pods/status, UID precondition) to phase Failed, plus the condition
//     if any, then deleted with grace period 0. Errors are dropped; the
//     next pass tries again.
//   - Works through the Kubernetes API only (client-go informers, GET,
//     PATCH and DELETE); Run returns when ctx ends.
package podgc

import (
	"context"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/wasmpod/wasmpod/internal/controllerutil"
	"github.com/wasmpod/wasmpod/internal/kube/informers"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
)

// Upstream's constants and strings.
const (
	// DefaultTerminatedPodThreshold is kube-controller-manager's default
	// --terminated-pod-gc-threshold.
	DefaultTerminatedPodThreshold = 12500
	// CheckPeriod is upstream's gcCheckPeriod.
	CheckPeriod = 20 * time.Second
	// QuarantineTime is how long a node missing from the informer is given
	// to show up before a live GET (upstream's quarantineTime).
	QuarantineTime = 40 * time.Second

	ReasonDeletionByPodGC = "DeletionByPodGC"
	MessageNodeGone       = "PodGC: node no longer exists"
)

// Controller is the pod garbage collector.
type Controller struct {
	// Informers, when set before Run, is the informer factory shared with
	// the other controllers (kubeutil.NewSharedFactory); nil: Run makes its own.
	Informers informers.SharedInformerFactory

	client    kubernetes.Interface
	clk       clock.WithTicker
	threshold int

	pods      corelisters.PodLister
	nodes     corelisters.NodeLister
	nodeQueue workqueue.TypedDelayingInterface[string]

	afterPass func() // tests: called after each gc pass
}

// New makes a pod GC over client; threshold is the number of terminated
// pods kept (0 turns gcTerminated off, as upstream; pass
// DefaultTerminatedPodThreshold for upstream's default); clk nil is the
// real clock.
func New(client kubernetes.Interface, clk clock.WithTicker, threshold int) *Controller {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Controller{
		client:    client,
		clk:       clk,
		threshold: threshold,
		nodeQueue: workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[string]{
			Name: "orphaned_pods_nodes", Clock: clk}),
	}
}

// Run watches pods and nodes and collects every CheckPeriod until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.nodeQueue.ShutDown()
	f, shutdown := kubeutil.Factory(c.Informers, c.client)
	podInf, nodeInf := f.Core().V1().Pods(), f.Core().V1().Nodes()
	c.pods, c.nodes = podInf.Lister(), nodeInf.Lister()
	pi, ni := podInf.Informer(), nodeInf.Informer()
	f.Start(ctx.Done())
	defer shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), pi.HasSynced, ni.HasSynced) {
		return nil
	}
	tick := c.clk.NewTicker(CheckPeriod)
	defer tick.Stop()
	for {
		c.gc(ctx)
		if c.afterPass != nil {
			c.afterPass()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C():
		}
	}
}

// gc is one pass (upstream's PodGCController.gc).
func (c *Controller) gc(ctx context.Context) {
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return
	}
	if c.threshold > 0 {
		c.gcTerminated(ctx, pods)
	}
	c.gcTerminating(ctx, pods)
	c.gcOrphaned(ctx, pods, nodes)
	c.gcUnscheduledTerminating(ctx, pods)
}

func isTerminated(p *corev1.Pod) bool {
	ph := p.Status.Phase
	return ph != corev1.PodPending && ph != corev1.PodRunning && ph != corev1.PodUnknown
}

// gcTerminated deletes the terminated pods above the threshold (upstream's
// gcTerminated).
func (c *Controller) gcTerminated(ctx context.Context, pods []*corev1.Pod) {
	var done []*corev1.Pod
	for _, p := range pods {
		if isTerminated(p) {
			done = append(done, p)
		}
	}
	n := len(done) - c.threshold
	if n <= 0 {
		return
	}
	sortForGC(done)
	c.deleteAll(ctx, done[:n], nil)
}

// gcTerminating force-deletes terminating pods on NotReady nodes with the
// out-of-service taint (upstream's gcTerminating).
func (c *Controller) gcTerminating(ctx context.Context, pods []*corev1.Pod) {
	var victims []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil {
			continue
		}
		n, err := c.nodes.Get(p.Spec.NodeName)
		if err != nil {
			continue
		}
		if !nodeReady(n) && hasTaintKey(n, corev1.TaintNodeOutOfService) {
			victims = append(victims, p)
		}
	}
	if len(victims) == 0 {
		return
	}
	sortForGC(victims)
	c.deleteAll(ctx, victims, nil)
}

// gcOrphaned deletes pods bound to nodes that do not exist, after the
// quarantine and a live GET (upstream's gcOrphaned and
// discoverDeletedNodes).
func (c *Controller) gcOrphaned(ctx context.Context, pods []*corev1.Pod, nodes []*corev1.Node) {
	known := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		known[n.Name] = true
	}
	for _, p := range pods {
		if p.Spec.NodeName != "" && !known[p.Spec.NodeName] {
			c.nodeQueue.AddAfter(p.Spec.NodeName, QuarantineTime)
		}
	}
	gone := map[string]bool{}
	for c.nodeQueue.Len() > 0 {
		name, quit := c.nodeQueue.Get()
		if quit {
			return
		}
		if !known[name] {
			_, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				gone[name] = true
			}
			// Another error: the node is queued again on a later pass
			// while pods still name it.
		}
		c.nodeQueue.Done(name)
	}
	if len(gone) == 0 {
		return
	}
	cond := &corev1.PodCondition{
		Type:    corev1.DisruptionTarget,
		Status:  corev1.ConditionTrue,
		Reason:  ReasonDeletionByPodGC,
		Message: MessageNodeGone,
	}
	for _, p := range pods {
		if gone[p.Spec.NodeName] {
			_ = c.markFailedAndDelete(ctx, p, cond)
		}
	}
}

// gcUnscheduledTerminating force-deletes terminating pods that were never
// bound (upstream's gcUnscheduledTerminating).
func (c *Controller) gcUnscheduledTerminating(ctx context.Context, pods []*corev1.Pod) {
	for _, p := range pods {
		if p.DeletionTimestamp == nil || p.Spec.NodeName != "" {
			continue
		}
		_ = c.markFailedAndDelete(ctx, p, nil)
	}
}

// deleteAll force-deletes pods in parallel, as upstream does.
func (c *Controller) deleteAll(ctx context.Context, pods []*corev1.Pod, cond *corev1.PodCondition) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, p := range pods {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_ = c.markFailedAndDelete(ctx, p, cond)
		}()
	}
	wg.Wait()
}

// markFailedAndDelete is upstream's markFailedAndDeletePodWithCondition: a
// pod not yet terminal is patched to Failed (with cond when given), since
// no kubelet will ever do it, then deleted with grace period 0.
func (c *Controller) markFailedAndDelete(ctx context.Context, p *corev1.Pod, cond *corev1.PodCondition) error {
	pods := c.client.CoreV1().Pods(p.Namespace)
	if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
		st := p.Status.DeepCopy()
		st.Phase = corev1.PodFailed
		if cond != nil {
			controllerutil.UpdatePodCondition(st, *cond, metav1.NewTime(c.clk.Now()))
		}
		patch, err := controllerutil.PodStatusPatch(p.UID, &p.Status, st)
		if err != nil {
			return err
		}
		if _, err := pods.Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
			return err
		}
	}
	grace := int64(0)
	return pods.Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
}

// sortForGC orders pods as upstream's byEvictionAndCreationTimestamp:
// evicted first, then oldest, then by name.
func sortForGC(pods []*corev1.Pod) {
	sort.SliceStable(pods, func(i, j int) bool {
		a, b := pods[i], pods[j]
		if ea, eb := evicted(a), evicted(b); ea != eb {
			return ea
		}
		if a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.Name < b.Name
		}
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	})
}

// evicted is upstream's kubelet/eviction.PodIsEvicted.
func evicted(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodFailed && p.Status.Reason == "Evicted"
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func hasTaintKey(n *corev1.Node, key string) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key {
			return true
		}
	}
	return false
}
