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
//   - allocation is serial (under a lock) and remembered in memory until
//     the informer shows it, so informer lag never gives a range twice; a
//     deleted Node's range is free again;
//   - the patches that record the ranges are sent by 30 workers, as
//     upstream's cidrUpdateWorkers: at 5,000 Nodes registering at once a
//     single worker waited out one store commit a Node;
//   - spec.podCIDR and spec.podCIDRs are set by one patch; with no range
//     left the Node gets a CIDRNotAvailable Event and is retried.
package nodeipam

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
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

// Workers is how many Nodes are synced at once (upstream's
// cidrUpdateWorkers).
const Workers = 30

// Controller allocates pod ranges to Nodes.
type Controller struct {
	// Informers, when set before Run, is the informer factory shared with
	// the other controllers; nil: Run makes its own.
	Informers informers.SharedInformerFactory

	client kubernetes.Interface
	// cidr and mask make the ranges (pods.NodePodCIDRs); total is how many
	// there are (at most 1<<16 are handed out: no fleet here is larger).
	cidr     string
	mask     int
	total    int
	recorder record.EventRecorder

	mu sync.Mutex
	// taken maps a range to the Node holding it ("" for a reserved one).
	taken map[string]string
	// pending maps a Node to the range allocated to it that its informer
	// copy does not show yet.
	pending map[string]string
	// ranges are the first ranges, in order (grown as needed); every range
	// before index low is taken.
	ranges []string
	low    int
}

// New makes a controller for the ranges of clusterCIDR at maskSize (0:
// the default), reserved being taken from the start.
func New(client kubernetes.Interface, clusterCIDR string, maskSize int, reserved []string) (*Controller, error) {
	cluster, first, err := pods.NodePodCIDRs(clusterCIDR, maskSize, 1)
	if err != nil {
		return nil, err
	}
	total := 1 << min(first[0].Bits()-cluster.Bits(), 16)
	c := &Controller{client: client, cidr: clusterCIDR, mask: maskSize, total: total, taken: map[string]string{}, pending: map[string]string{}}
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
	var wg sync.WaitGroup
	for range Workers {
		wg.Go(func() {
			for {
				name, quit := q.Get()
				if quit {
					return
				}
				err := c.sync(ctx, nodes.Lister().Get, name)
				if err != nil && ctx.Err() == nil {
					q.AddRateLimited(name)
				} else {
					q.Forget(name)
				}
				q.Done(name)
			}
		})
	}
	wg.Wait()
	return nil
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
// Node that is gone. The workqueue never syncs one Node in two workers at
// once; the allocation is under c.mu, the patch is not.
func (c *Controller) sync(ctx context.Context, get func(string) (*corev1.Node, error), name string) error {
	r, err := c.allocate(get, name)
	if r == "" || err != nil {
		return err
	}
	return c.patch(ctx, name, r)
}

// allocate returns the range to patch onto Node name ("": nothing to do).
func (c *Controller) allocate(get func(string) (*corev1.Node, error), name string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := get(name)
	if err != nil { // gone: its range is free
		for r, holder := range c.taken {
			if holder == name {
				c.free(r)
			}
		}
		delete(c.pending, name)
		return "", nil
	}
	if n.Spec.PodCIDR != "" {
		if holder, ok := c.taken[n.Spec.PodCIDR]; !ok || holder == "" {
			c.taken[n.Spec.PodCIDR] = n.Name
		}
		if p, ok := c.pending[name]; ok {
			// The Node shows a range: ours if the patch took, otherwise
			// (podCIDR is set once) ours was never recorded and is free.
			if p != n.Spec.PodCIDR && c.taken[p] == name {
				c.free(p)
			}
			delete(c.pending, name)
		}
		return "", nil
	}
	if r, ok := c.pending[name]; ok { // allocated, not in the informer yet: patch again
		return r, nil
	}
	for i := c.low; i < c.total; i++ {
		if i == len(c.ranges) {
			_, more, err := pods.NodePodCIDRs(c.cidr, c.mask, min(max(2*len(c.ranges), 256), c.total))
			if err != nil {
				return "", err
			}
			c.ranges = c.ranges[:0]
			for _, p := range more {
				c.ranges = append(c.ranges, p.String())
			}
		}
		c.low = i + 1
		r := c.ranges[i]
		if _, ok := c.taken[r]; !ok {
			c.taken[r], c.pending[name] = name, r
			return r, nil
		}
	}
	c.recorder.Eventf(&corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID},
		corev1.EventTypeNormal, "CIDRNotAvailable", "Node %s status is now: CIDRNotAvailable", n.Name)
	return "", fmt.Errorf("no pod range left for node %s", name)
}

// free makes range r available again (c.mu held).
func (c *Controller) free(r string) {
	delete(c.taken, r)
	c.low = 0
}

func (c *Controller) patch(ctx context.Context, name, cidr string) error {
	body, _ := json.Marshal(map[string]any{"spec": map[string]any{"podCIDR": cidr, "podCIDRs": []string{cidr}}})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := c.client.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, body, metav1.PatchOptions{})
	return err
}
