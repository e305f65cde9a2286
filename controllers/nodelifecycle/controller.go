// Package nodelifecycle is the node lifecycle controller: it notices node
// agents that stopped heartbeating and marks their nodes and pods.
//
// Contracts:
//   - A node is healthy while its Lease (kube-node-lease/<node>) keeps being
//     renewed: the controller records, on its own clock, when it last saw
//     the Lease's renewTime change (or, without a Lease, when it first saw
//     the node), as the upstream controller does, so clock skew between
//     agent and controller does not matter.
//   - When that is more than the grace period ago (default 40 s), the
//     node's conditions become Unknown (Ready: reason NodeStatusUnknown,
//     message "Kubelet stopped posting node status."), the node gets the
//     node.kubernetes.io/unreachable NoSchedule and NoExecute taints, and
//     its pods that are not Succeeded or Failed get phase Unknown and
//     condition Ready=False (upstream only sets Ready=False; wasmpod's
//     issue asks for both).
//   - When the Lease is renewed again the controller removes the
//     unreachable taints; the node agent's own status refresh sets Ready
//     back to True and rewrites its pods' statuses.
//   - A reachable node has the node.kubernetes.io/not-ready NoSchedule
//     taint exactly while its Ready condition is False (upstream's
//     condition tainting pass, for Ready only): kube-apiserver's
//     TaintNodesByCondition admission puts it on every new Node.
//   - Time comes only from the injected clock: the check runs every
//     grace/8 (at most every 5 s), so a fake clock drives it in tests.
package nodelifecycle

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"

	"github.com/wasmpod/wasmpod/internal/kube/informers"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
)

// Names used on nodes and pods.
const (
	LeaseNamespace   = "kube-node-lease"
	TaintUnreachable = corev1.TaintNodeUnreachable // node.kubernetes.io/unreachable
	ReasonUnknown    = "NodeStatusUnknown"
	MessageUnknown   = "Kubelet stopped posting node status."
	DefaultGrace     = 40 * time.Second
	// Component is the source of its Events, as upstream's.
	Component = "node-controller"
)

// Controller is the node lifecycle controller.
type Controller struct {
	// Informers, when set before Run, is the informer factory shared with
	// the other controllers (kubeutil.NewSharedFactory); nil: Run makes its own.
	Informers informers.SharedInformerFactory

	client kubernetes.Interface
	clk    clock.WithTicker
	grace  time.Duration
	period time.Duration

	mu     sync.Mutex
	probes map[string]probe // by node name

	recorder record.EventRecorder
	// registered are the nodes it has seen (RegisteredNode recorded).
	registered map[string]string // name → UID
}

type probe struct {
	renew string    // the Lease renewTime last seen ("" without a Lease)
	at    time.Time // when it was seen to change, on c.clk
}

// New makes a controller; grace <= 0 means DefaultGrace, clk nil the real
// clock.
func New(client kubernetes.Interface, clk clock.WithTicker, grace time.Duration) *Controller {
	if grace <= 0 {
		grace = DefaultGrace
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	period := min(grace/8, 5*time.Second)
	period = max(period, 10*time.Millisecond)
	return &Controller{client: client, clk: clk, grace: grace, period: period, probes: map[string]probe{}, registered: map[string]string{}}
}

// Run watches Nodes and Leases and checks them until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	nf, shutdown := kubeutil.Factory(c.Informers, c.client)
	lf := informers.NewSharedInformerFactoryWithOptions(c.client, 0, informers.WithNamespace(LeaseNamespace))
	nodes := nf.Core().V1().Nodes()
	leases := lf.Coordination().V1().Leases()
	nodeInf, leaseInf := nodes.Informer(), leases.Informer()
	nf.Start(ctx.Done())
	lf.Start(ctx.Done())
	defer shutdown()
	defer lf.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), nodeInf.HasSynced, leaseInf.HasSynced) {
		return nil
	}
	rec, stopRec := kubeutil.EventRecorder(ctx, c.client, Component)
	defer stopRec()
	c.recorder = rec
	tick := c.clk.NewTicker(c.period)
	defer tick.Stop()
	for {
		list, err := nodes.Lister().List(labels.Everything())
		if err == nil {
			c.registerNodes(list)
			for _, n := range list {
				if ctx.Err() != nil {
					return nil
				}
				l, _ := leases.Lister().Leases(LeaseNamespace).Get(n.Name)
				renew := ""
				if l != nil && l.Spec.RenewTime != nil {
					renew = l.Spec.RenewTime.UTC().Format(time.RFC3339Nano)
				}
				_ = c.check(ctx, n, renew)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C():
		}
	}
}

// registerNodes records, as upstream's node lifecycle controller, a
// RegisteredNode Event for each node it sees for the first time and a
// RemovingNode Event for each node that is gone.
func (c *Controller) registerNodes(list []*corev1.Node) {
	seen := make(map[string]bool, len(list))
	for _, n := range list {
		seen[n.Name] = true
		if uid, ok := c.registered[n.Name]; ok && uid == string(n.UID) {
			continue
		}
		c.registered[n.Name] = string(n.UID)
		c.nodeEvent(n.Name, string(n.UID), "RegisteredNode", fmt.Sprintf("Registered Node %s in Controller", n.Name))
	}
	for name, uid := range c.registered {
		if !seen[name] {
			delete(c.registered, name)
			c.mu.Lock()
			delete(c.probes, name)
			c.mu.Unlock()
			c.nodeEvent(name, uid, "RemovingNode", fmt.Sprintf("Removing Node %s from Controller", name))
		}
	}
}

// nodeEvent is upstream's nodeutil.RecordNodeEvent: "Node NAME event:
// EVENT" about the Node.
func (c *Controller) nodeEvent(name, uid, reason, event string) {
	ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: name, UID: types.UID(uid)}
	c.recorder.Eventf(ref, corev1.EventTypeNormal, reason, "Node %s event: %s", name, event)
}

// check decides on one node given its Lease's renewTime.
func (c *Controller) check(ctx context.Context, node *corev1.Node, renew string) error {
	now := c.clk.Now()
	c.mu.Lock()
	p, seen := c.probes[node.Name]
	if !seen || p.renew != renew {
		p = probe{renew: renew, at: now}
		c.probes[node.Name] = p
	}
	c.mu.Unlock()
	if now.Sub(p.at) > c.grace {
		if err := c.markUnknown(ctx, node.Name); err != nil {
			return err
		}
		return c.markPods(ctx, node.Name)
	}
	if hasUnreachable(node) {
		return c.removeTaints(ctx, node.Name)
	}
	return c.notReadyTaint(ctx, node)
}

// notReadyTaint keeps the node.kubernetes.io/not-ready NoSchedule taint in
// step with the Ready condition the node agent reports, as upstream's
// condition tainting pass (doNoScheduleTaintingPass): there while Ready is
// False, removed once it is True. kube-apiserver's TaintNodesByCondition
// admission plugin puts it on every Node as it registers, so without this
// nothing is ever scheduled to a Node of a real kube-apiserver.
func (c *Controller) notReadyTaint(ctx context.Context, node *corev1.Node) error {
	want := false
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			want = cond.Status == corev1.ConditionFalse
		}
	}
	notReady := func(t corev1.Taint) bool {
		return t.Key == corev1.TaintNodeNotReady && t.Effect == corev1.TaintEffectNoSchedule
	}
	if slices.ContainsFunc(node.Spec.Taints, notReady) == want {
		return nil
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := c.client.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if slices.ContainsFunc(n.Spec.Taints, notReady) == want {
			return nil
		}
		if want {
			n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule})
		} else {
			n.Spec.Taints = slices.DeleteFunc(n.Spec.Taints, notReady)
		}
		_, err = c.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		return err
	})
}

func hasUnreachable(n *corev1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == TaintUnreachable {
			return true
		}
	}
	return false
}

func (c *Controller) markUnknown(ctx context.Context, name string) error {
	nodes := c.client.CoreV1().Nodes()
	now := metav1.NewTime(c.clk.Now())
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := nodes.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		changed, wasReady := false, false
		for _, cond := range n.Status.Conditions {
			wasReady = wasReady || cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue
		}
		for _, t := range []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
			i := -1
			for j := range n.Status.Conditions {
				if n.Status.Conditions[j].Type == t {
					i = j
				}
			}
			if i < 0 {
				n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: t})
				i = len(n.Status.Conditions) - 1
			}
			cond := &n.Status.Conditions[i]
			if cond.Status == corev1.ConditionUnknown {
				continue
			}
			cond.Status, cond.Reason, cond.Message = corev1.ConditionUnknown, ReasonUnknown, MessageUnknown
			cond.LastTransitionTime = now
			changed = true
		}
		if changed {
			if n, err = nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
				return err
			}
			if wasReady && c.recorder != nil {
				// upstream's nodeutil.RecordNodeStatusChange
				ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}
				c.recorder.Eventf(ref, corev1.EventTypeNormal, "NodeNotReady", "Node %s status is now: %s", n.Name, "NodeNotReady")
			}
		}
		if hasUnreachable(n) {
			return nil
		}
		n.Spec.Taints = append(n.Spec.Taints,
			corev1.Taint{Key: TaintUnreachable, Effect: corev1.TaintEffectNoSchedule},
			corev1.Taint{Key: TaintUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &now},
		)
		_, err = nodes.Update(ctx, n, metav1.UpdateOptions{})
		return err
	})
}

func (c *Controller) removeTaints(ctx context.Context, name string) error {
	nodes := c.client.CoreV1().Nodes()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := nodes.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		var keep []corev1.Taint
		for _, t := range n.Spec.Taints {
			if t.Key != TaintUnreachable {
				keep = append(keep, t)
			}
		}
		if len(keep) == len(n.Spec.Taints) {
			return nil
		}
		n.Spec.Taints = keep
		_, err = nodes.Update(ctx, n, metav1.UpdateOptions{})
		return err
	})
}

// markPods sets the node's live pods to phase Unknown with Ready=False.
func (c *Controller) markPods(ctx context.Context, node string) error {
	pods := c.client.CoreV1().Pods(metav1.NamespaceAll)
	list, err := pods.List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String()})
	if err != nil {
		return err
	}
	now := metav1.NewTime(c.clk.Now())
	var firstErr error
	for i := range list.Items {
		p := &list.Items[i]
		if p.Spec.NodeName != node || !needsMark(p) {
			continue
		}
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if p == nil {
				cur, err := c.client.CoreV1().Pods(list.Items[i].Namespace).Get(ctx, list.Items[i].Name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				if cur.UID != list.Items[i].UID || cur.Spec.NodeName != node || !needsMark(cur) {
					return nil
				}
				p = cur
			}
			p.Status.Phase = corev1.PodUnknown
			setReadyFalse(&p.Status, now)
			_, err := c.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
			if err != nil {
				p = nil // re-read
			}
			return err
		})
		if err != nil && !apierrors.IsNotFound(err) && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

func needsMark(p *corev1.Pod) bool {
	switch p.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed:
		return false
	case corev1.PodUnknown:
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionFalse {
				return false
			}
		}
	}
	return true
}

func setReadyFalse(st *corev1.PodStatus, now metav1.Time) {
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type == corev1.PodReady {
			if c.Status != corev1.ConditionFalse {
				c.Status, c.LastTransitionTime = corev1.ConditionFalse, now
			}
			return
		}
	}
	st.Conditions = append(st.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: now})
}
