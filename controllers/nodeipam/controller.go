// Package nodeipam is kube-controller-manager's node IPAM controller with
// its range allocator (--allocate-node-cidrs): it gives every Node without
// a spec.podCIDR the first range of the cluster CIDR that no Node holds,
// one Node at a time, so that two agents joining at the same moment never
// get the same pod range.
//
// Contracts, as upstream's range allocator:
//   - the ranges are the cluster CIDR split at the node mask size
//     (pods.NodePodCIDRs), handed out lowest first;
//   - a Node that has a podCIDR keeps it (the API server refuses to change
//     it), and its range counts as taken, as do the reserved ranges (the
//     in-process nodes' configured ones, taken before they register);
//   - allocation is serial and remembered in memory until the informer
//     shows it, so informer lag never gives a range twice; a deleted Node's
//     range is free again;
//   - spec.podCIDR and spec.podCIDRs are set by one patch; with no range
//     left the Node gets a CIDRNotAvailable Event and is retried.
package nodeipam

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/wasmpod/wasmpod/internal/kube/informers"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
	"github.com/wasmpod/wasmpod/pods"
)

// Component is the source of its Events, as upstream's.
const Component = "cidrAllocator"

// Controller allocates pod ranges to Nodes.
type Controller struct {
	// Informers, when set before Run, is the informer factory shared with
	// the other controllers; nil: Run makes its own.
	Informers informers.SharedInformerFactory

	client kubernetes.Interface
	// cidr and mask make the ranges (pods.NodePodCIDRs); total is how many
	// there are (at most 1<<16 are handed out: no fleet here is larger).
	cidr  string
	mask  int
	total int
	// taken maps a range to the Node holding it ("" for a reserved one).
	taken    map[string]string
	recorder record.EventRecorder
}

// New makes a controller for the ranges of clusterCIDR at maskSize (0:
// the default), reserved being taken from the start.
func New(client kubernetes.Interface, clusterCIDR string, maskSize int, reserved []string) (*Controller, error) {
	cluster, first, err := pods.NodePodCIDRs(clusterCIDR, maskSize, 1)
	if err != nil {
		return nil, err
	}
	total := 1 << min(first[0].Bits()-cluster.Bits(), 16)
	c := &Controller{client: client, cidr: clusterCIDR, mask: maskSize, total: total, taken: map[string]string{}}
	for _, r := range reserved {
		c.taken[r] = ""
	}
	return c, nil
}

// Run allocates until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	f, shutdown := kubeutil.Factory(c.Informers, c.client)
	nodes := f.Core().V1().Nodes()
	inf := nodes.Informer()
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	defer q.ShutDown()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueue(q, obj) },
		UpdateFunc: func(_, obj any) { c.enqueue(q, obj) },
		DeleteFunc: func(obj any) { c.enqueue(q, obj) },
	}); err != nil {
		return err
	}
	f.Start(ctx.Done())
	defer shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return nil
	}
	rec, stopRec := kubeutil.EventRecorder(ctx, c.client, Component)
	defer stopRec()
	c.recorder = rec
	// What the Nodes hold, before any allocation.
	all, err := nodes.Lister().List(labels.Everything())
	if err != nil {
		return err
	}
	for _, n := range all {
		if n.Spec.PodCIDR != "" {
			c.taken[n.Spec.PodCIDR] = n.Name
		}
	}
	go func() {
		<-ctx.Done()
		q.ShutDown()
	}()
	for {
		name, quit := q.Get()
		if quit {
			return nil
		}
		err := c.sync(ctx, nodes.Lister().Get, name)
		if err != nil && ctx.Err() == nil {
			q.AddRateLimited(name)
		} else {
			q.Forget(name)
		}
		q.Done(name)
	}
}

func (c *Controller) enqueue(q workqueue.TypedRateLimitingInterface[string], obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if n, ok := obj.(*corev1.Node); ok {
		q.Add(n.Name)
	}
}

// sync gives Node name a range if it has none, and frees the range of a
// Node that is gone.
func (c *Controller) sync(ctx context.Context, get func(string) (*corev1.Node, error), name string) error {
	n, err := get(name)
	if err != nil { // gone: its range is free
		for r, holder := range c.taken {
			if holder == name {
				delete(c.taken, r)
			}
		}
		return nil
	}
	if n.Spec.PodCIDR != "" {
		if holder, ok := c.taken[n.Spec.PodCIDR]; !ok || holder == "" {
			c.taken[n.Spec.PodCIDR] = n.Name
		}
		return nil
	}
	for r, holder := range c.taken {
		if holder == name { // allocated, not in the informer yet: patch again
			return c.patch(ctx, n, r)
		}
	}
	// The lowest free range is among the first len(taken)+1.
	_, ranges, err := pods.NodePodCIDRs(c.cidr, c.mask, min(len(c.taken)+1, c.total))
	if err != nil {
		return err
	}
	for _, r := range ranges {
		if _, ok := c.taken[r.String()]; !ok {
			c.taken[r.String()] = name
			return c.patch(ctx, n, r.String())
		}
	}
	c.recorder.Eventf(&corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID},
		corev1.EventTypeNormal, "CIDRNotAvailable", "Node %s status is now: CIDRNotAvailable", n.Name)
	return fmt.Errorf("no pod range left for node %s", name)
}

func (c *Controller) patch(ctx context.Context, n *corev1.Node, cidr string) error {
	body, _ := json.Marshal(map[string]any{"spec": map[string]any{"podCIDR": cidr, "podCIDRs": []string{cidr}}})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := c.client.CoreV1().Nodes().Patch(ctx, n.Name, types.StrategicMergePatchType, body, metav1.PatchOptions{})
	return err
}
