package apiserver

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// listExact serves a LIST with resourceVersionMatch=Exact as upstream
// does: the objects as they were at that resourceVersion, with it as the
// list's. The cache rebuilds them from its current objects by undoing its
// ring's events after the revision (upstream serves them from its watch
// cache's snapshots, else from etcd's history). A revision older than the
// ring is 410 Gone, "too old" (upstream's answer once etcd compacted it);
// one the cache has not reached (in 3 s) is 504 "Too large resource
// version", as while it re-lists. Always served here (ok true): the store
// has no history to fall back on.
func (c *cacher) listExact(ctx context.Context, ns string, sel selector, opts metav1.ListOptions) (runtime.Object, bool, error) {
	want, err := parseRV(opts.ResourceVersion)
	if err != nil {
		return nil, true, err
	}
	// The store keeps no history: the cache answers, or a 504 says to
	// retry (it has not reached want, or is re-listing).
	if ok, err := c.freshFor(ctx, opts.ResourceVersion); !ok || err != nil {
		if err != nil || ctx.Err() != nil {
			return nil, true, pick(err != nil, err, ctx.Err())
		}
		have, err := c.set.s.store.Revision(ctx)
		if err != nil {
			return nil, true, err
		}
		return nil, true, tooLargeRV(want, min(have, c.set.seen.Load()))
	}
	p := c.r.prefix(ns)
	state := map[string]*sharedEvent{}
	c.mu.RLock()
	if !c.ready {
		rev := c.snapshotRev()
		c.mu.RUnlock()
		return nil, true, tooLargeRV(want, rev)
	}
	if want < c.startRev {
		c.mu.RUnlock()
		return nil, true, exactTooOld(want, c.startRev)
	}
	for k, e := range c.objs {
		if strings.HasPrefix(k, p) {
			state[k] = e
		}
	}
	for i := c.n - 1; i >= 0; i-- { // newest first, back to want
		ev := c.ring[(c.head+i)%len(c.ring)]
		if ev.rev <= want {
			break
		}
		if !strings.HasPrefix(ev.key, p) {
			continue
		}
		if ev.prev != nil {
			state[ev.key] = ev.prev
		} else {
			delete(state, ev.key)
		}
	}
	c.mu.RUnlock()
	keys := make([]string, 0, len(state))
	for k := range state {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	items := make([]runtime.Object, 0, len(keys))
	for _, k := range keys {
		e := state[k]
		if !e.decode() {
			return nil, true, e.err
		}
		if sel.matchesWith(e.obj, e.fieldSet) {
			items = append(items, e.obj.DeepCopyObject())
		}
	}
	return c.r.listOf(items, want)
}

// exactTooOld is the 410 of an Exact list at a revision no longer kept.
func exactTooOld(want, oldest int64) error {
	return apierrors.NewResourceExpired(fmt.Sprintf("The resourceVersion for the provided list is too old: %d (the oldest kept is %d)", want, oldest))
}

// listOf is items as r's list kind at resourceVersion rev.
func (r *Resource) listOf(items []runtime.Object, rev int64) (runtime.Object, bool, error) {
	list := r.newList()
	if err := meta.SetList(list, items); err != nil {
		return nil, true, apierrors.NewInternalError(err)
	}
	lm, _ := meta.ListAccessor(list)
	lm.SetResourceVersion(strconv.FormatInt(rev, 10))
	list.GetObjectKind().SetGroupVersionKind(r.GVR.GroupVersion().WithKind(r.Kind + "List"))
	return list, true, nil
}
