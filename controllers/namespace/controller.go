// Package namespace is the namespace controller: it empties a namespace
// that is being deleted (every namespaced object in it is deleted, pods
// gracefully) and then finalizes it, so the API server removes it.
//
// It runs in the control plane's process and uses the API server directly.
// Run is safe to call once; it returns when ctx ends.
package namespace

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/wasmpod/wasmpod/apiserver"
)

// Controller empties and finalizes terminating namespaces.
type Controller struct {
	s *apiserver.Server
	// Resync is how often terminating namespaces are looked at again while
	// their content (pods in their grace period) goes away.
	Resync time.Duration
}

// New returns a controller over s.
func New(s *apiserver.Server) *Controller { return &Controller{s: s, Resync: time.Second} }

// Run reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	nsr, _ := c.s.Resource("", "namespaces")
	for ctx.Err() == nil {
		w, err := c.s.Watch(ctx, nsr, "", metav1.ListOptions{})
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
				continue
			}
		}
		c.loop(ctx, w)
		w.Stop()
	}
}

func (c *Controller) loop(ctx context.Context, w watch.Interface) {
	tick := time.NewTicker(c.Resync)
	defer tick.Stop()
	terminating := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.ResultChan():
			if !ok {
				return
			}
			ns, isNS := ev.Object.(*corev1.Namespace)
			if !isNS {
				continue
			}
			if ev.Type == watch.Deleted {
				delete(terminating, ns.Name)
				continue
			}
			if ns.DeletionTimestamp != nil {
				terminating[ns.Name] = true
				c.sync(ctx, ns.Name)
			}
		case <-tick.C:
			for name := range terminating {
				c.sync(ctx, name)
			}
		}
	}
}

// sync deletes what is left in the namespace and finalizes it when empty.
func (c *Controller) sync(ctx context.Context, ns string) {
	empty := true
	for _, r := range c.s.Resources() {
		if !r.Namespaced {
			continue
		}
		list, err := c.s.List(ctx, r, ns, metav1.ListOptions{})
		if err != nil {
			empty = false
			continue
		}
		items, _ := meta.ExtractList(list)
		for _, it := range items {
			if r.GVR.Resource == "events" {
				// Events go with the namespace, without a grace period.
				m, _ := meta.Accessor(it)
				c.s.Delete(ctx, r, ns, m.GetName(), metav1.DeleteOptions{})
				continue
			}
			empty = false
			m, _ := meta.Accessor(it)
			if m.GetDeletionTimestamp() == nil {
				if _, err := c.s.Delete(ctx, r, ns, m.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					continue
				}
			}
		}
	}
	if empty {
		c.s.FinalizeNamespace(ctx, ns)
	}
}
