package daemonset

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	cu "github.com/wasmpod/wasmpod/internal/controllerutil"
)

// controlledHistories returns the DaemonSet's ControllerRevisions,
// adopting orphans its selector matches (upstream's controlledHistories
// with the ControllerRevisionControllerRefManager).
func (c *Controller) controlledHistories(ctx context.Context, ds *appsv1.DaemonSet) ([]*appsv1.ControllerRevision, error) {
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return nil, err
	}
	list, err := c.history.ControllerRevisions(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var out []*appsv1.ControllerRevision
	canAdopt := cu.RecheckDeletionTimestamp(func(ctx context.Context) (metav1.Object, error) {
		return c.client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
	}, ds)
	checked := false
	for _, cr := range list {
		ref := metav1.GetControllerOfNoCopy(cr)
		match := sel.Matches(labels.Set(cr.Labels))
		switch {
		case ref != nil && ref.UID == ds.UID:
			if match {
				out = append(out, cr)
			} else {
				// release: it no longer matches
				patch := fmt.Sprintf(`{"metadata":{"ownerReferences":[{"$patch":"delete","uid":%q}],"uid":%q}}`, ds.UID, cr.UID)
				_, err := c.client.AppsV1().ControllerRevisions(cr.Namespace).Patch(ctx, cr.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
				if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsInvalid(err) {
					return nil, err
				}
			}
		case ref == nil && match && cr.DeletionTimestamp == nil:
			if !checked {
				if err := canAdopt(ctx); err != nil {
					return nil, err
				}
				checked = true
			}
			owner, _ := json.Marshal(cu.NewControllerRef(ds, controllerKind))
			patch := fmt.Sprintf(`{"metadata":{"ownerReferences":[%s],"uid":%q}}`, owner, cr.UID)
			adopted, err := c.client.AppsV1().ControllerRevisions(cr.Namespace).Patch(ctx, cr.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
					continue
				}
				return nil, err
			}
			out = append(out, adopted)
		}
	}
	return out, nil
}

// constructHistory is upstream's constructHistory: the current revision
// (the one whose data equals the template's, created if none, its
// revision raised above the old ones') and the old ones.
func (c *Controller) constructHistory(ctx context.Context, ds *appsv1.DaemonSet) (cur *appsv1.ControllerRevision, old []*appsv1.ControllerRevision, err error) {
	histories, err := c.controlledHistories(ctx, ds)
	if err != nil {
		return nil, nil, err
	}
	data, err := RevisionData(ds)
	if err != nil {
		return nil, nil, err
	}
	var current []*appsv1.ControllerRevision
	for _, h := range histories {
		if _, ok := h.Labels[RevisionHashLabel]; !ok {
			// Old revisions without the label: the name stands for the hash.
			u := h.DeepCopy()
			if u.Labels == nil {
				u.Labels = map[string]string{}
			}
			u.Labels[RevisionHashLabel] = u.Name
			if h, err = c.client.AppsV1().ControllerRevisions(ds.Namespace).Update(ctx, u, metav1.UpdateOptions{}); err != nil {
				return nil, nil, err
			}
		}
		if bytes.Equal(h.Data.Raw, data) {
			current = append(current, h)
		} else {
			old = append(old, h)
		}
	}
	next := maxRevision(old) + 1
	if len(current) == 0 {
		cur, err = c.snapshot(ctx, ds, next, data)
		return cur, old, err
	}
	if cur, err = c.dedupCurHistories(ctx, ds, current); err != nil {
		return nil, nil, err
	}
	if cur.Revision < next {
		u := cur.DeepCopy()
		u.Revision = next
		if cur, err = c.client.AppsV1().ControllerRevisions(ds.Namespace).Update(ctx, u, metav1.UpdateOptions{}); err != nil {
			return nil, nil, err
		}
	}
	return cur, old, nil
}

func maxRevision(hs []*appsv1.ControllerRevision) int64 {
	var m int64
	for _, h := range hs {
		m = max(m, h.Revision)
	}
	return m
}

// dedupCurHistories keeps the current revision with the highest number,
// moves the pods of the others to its hash and deletes them (upstream's
// dedupCurHistories).
func (c *Controller) dedupCurHistories(ctx context.Context, ds *appsv1.DaemonSet, current []*appsv1.ControllerRevision) (*appsv1.ControllerRevision, error) {
	if len(current) == 1 {
		return current[0], nil
	}
	keep := current[0]
	for _, h := range current[1:] {
		if h.Revision > keep.Revision {
			keep = h
		}
	}
	keepHash := keep.Labels[RevisionHashLabel]
	for _, h := range current {
		if h.UID == keep.UID {
			continue
		}
		byNode, err := c.nodesToDaemonPods(ctx, ds, true)
		if err != nil {
			return nil, err
		}
		for _, pods := range byNode {
			for _, p := range pods {
				if p.Labels[RevisionHashLabel] == h.Labels[RevisionHashLabel] {
					patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, RevisionHashLabel, keepHash)
					if _, err := c.client.CoreV1().Pods(ds.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
						return nil, err
					}
				}
			}
		}
		if err := c.client.AppsV1().ControllerRevisions(ds.Namespace).Delete(ctx, h.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return nil, err
		}
	}
	return keep, nil
}

// snapshot creates the ControllerRevision <ds>-<hash> of the template
// (upstream's snapshot); a name taken by another template raises
// status.collisionCount and the sync is retried.
func (c *Controller) snapshot(ctx context.Context, ds *appsv1.DaemonSet, revision int64, data []byte) (*appsv1.ControllerRevision, error) {
	hash := computeHash(&ds.Spec.Template, ds.Status.CollisionCount)
	lbls := maps.Clone(ds.Spec.Template.Labels)
	if lbls == nil {
		lbls = map[string]string{}
	}
	lbls[RevisionHashLabel] = hash
	h := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            controllerRevisionName(ds.Name, hash),
			Namespace:       ds.Namespace,
			Labels:          lbls,
			Annotations:     maps.Clone(ds.Annotations),
			OwnerReferences: []metav1.OwnerReference{*cu.NewControllerRef(ds, controllerKind)},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: revision,
	}
	created, err := c.client.AppsV1().ControllerRevisions(ds.Namespace).Create(ctx, h, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return created, err
	}
	existing, gerr := c.client.AppsV1().ControllerRevisions(ds.Namespace).Get(ctx, h.Name, metav1.GetOptions{})
	if gerr != nil {
		return nil, gerr
	}
	if bytes.Equal(existing.Data.Raw, data) {
		return existing, nil
	}
	// A hash collision with another template.
	curDS, gerr := c.client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
	if gerr != nil {
		return nil, gerr
	}
	if !equality.Semantic.DeepEqual(curDS.Status.CollisionCount, ds.Status.CollisionCount) {
		return nil, fmt.Errorf("found a stale collision count (%v, expected %v) of DaemonSet %q while processing; will retry until it is updated",
			ptrVal(ds.Status.CollisionCount), ptrVal(curDS.Status.CollisionCount), ds.Name)
	}
	n := ptrVal(curDS.Status.CollisionCount) + 1
	curDS.Status.CollisionCount = &n
	if _, uerr := c.client.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, curDS, metav1.UpdateOptions{}); uerr != nil {
		return nil, uerr
	}
	return nil, err
}

func ptrVal(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// cleanupHistory deletes the oldest old revisions beyond
// revisionHistoryLimit that no pod (deleted terminal ones included)
// carries the hash of (upstream's cleanupHistory).
func (c *Controller) cleanupHistory(ctx context.Context, ds *appsv1.DaemonSet, old []*appsv1.ControllerRevision) error {
	limit := 10
	if ds.Spec.RevisionHistoryLimit != nil {
		limit = int(*ds.Spec.RevisionHistoryLimit)
	}
	toKill := len(old) - limit
	if toKill <= 0 {
		return nil
	}
	byNode, err := c.nodesToDaemonPods(ctx, ds, true)
	if err != nil {
		return err
	}
	live := map[string]bool{}
	for _, pods := range byNode {
		for _, p := range pods {
			if h := p.Labels[RevisionHashLabel]; h != "" {
				live[h] = true
			}
		}
	}
	old = append([]*appsv1.ControllerRevision(nil), old...)
	sort.SliceStable(old, func(i, j int) bool { return old[i].Revision < old[j].Revision })
	for _, h := range old {
		if toKill <= 0 {
			break
		}
		if live[h.Labels[RevisionHashLabel]] {
			continue
		}
		if err := c.client.AppsV1().ControllerRevisions(ds.Namespace).Delete(ctx, h.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		toKill--
	}
	return nil
}

// findUpdatedPodsOnNode returns the node's one new and one old pod (not
// being deleted); ok false when there are more (upstream's
// findUpdatedPodsOnNode: the manage loop prunes them first).
func findUpdatedPodsOnNode(ds *appsv1.DaemonSet, pods []*corev1.Pod, hash string) (newPod, oldPod *corev1.Pod, ok bool) {
	gen := templateGeneration(ds)
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		if isPodUpdated(p, hash, gen) {
			if newPod != nil {
				return nil, nil, false
			}
			newPod = p
		} else {
			if oldPod != nil {
				return nil, nil, false
			}
			oldPod = p
		}
	}
	return newPod, oldPod, true
}

// desiredNodeCounts is upstream's updatedDesiredNodeCounts: maxSurge,
// maxUnavailable (1 when both come out 0) and the desired pods; the nodes
// that should run a pod and have none get an empty entry in byNode.
func desiredNodeCounts(ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod) (maxSurge, maxUnavailable, desired int, err error) {
	for _, n := range nodes {
		if run, _ := nodeShouldRunDaemonPod(n, ds); !run {
			continue
		}
		desired++
		if _, ok := byNode[n.Name]; !ok {
			byNode[n.Name] = nil
		}
	}
	if maxUnavailable, err = unavailableCount(ds, desired); err != nil {
		return 0, 0, 0, fmt.Errorf("invalid value for MaxUnavailable: %w", err)
	}
	if maxSurge, err = surgeCount(ds, desired); err != nil {
		return 0, 0, 0, fmt.Errorf("invalid value for MaxSurge: %w", err)
	}
	if desired > 0 && maxUnavailable == 0 && maxSurge == 0 {
		maxUnavailable = 1
	}
	return maxSurge, maxUnavailable, desired, nil
}

// rollingUpdate is upstream's rollingUpdate.
func (c *Controller) rollingUpdate(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, hash string) error {
	byNode, err := c.nodesToDaemonPods(ctx, ds, false)
	if err != nil {
		return fmt.Errorf("couldn't get node to daemon pod mapping for daemon set %q: %w", ds.Name, err)
	}
	maxSurge, maxUnavailable, desired, err := desiredNodeCounts(ds, nodes, byNode)
	if err != nil {
		return err
	}
	now := c.clk.Now()
	available := func(p *corev1.Pod) bool { return cu.IsPodAvailable(p, ds.Spec.MinReadySeconds, now) }
	nodeNames := make([]string, 0, len(byNode))
	for n := range byNode {
		nodeNames = append(nodeNames, n)
	}
	sort.Strings(nodeNames) // a stable order for the candidates

	if maxSurge == 0 {
		// Delete old pods while the unavailable nodes stay within
		// maxUnavailable; the manage loop makes their replacements.
		numUnavailable := 0
		var allowed, candidates []*corev1.Pod
		for _, n := range nodeNames {
			newPod, oldPod, ok := findUpdatedPodsOnNode(ds, byNode[n], hash)
			if !ok {
				numUnavailable++
				continue
			}
			switch {
			case oldPod == nil && newPod == nil, oldPod != nil && newPod != nil:
				numUnavailable++
			case newPod != nil:
				if !available(newPod) {
					numUnavailable++
				}
			default:
				switch {
				case !available(oldPod):
					allowed = append(allowed, oldPod)
				case numUnavailable >= maxUnavailable:
				default:
					candidates = append(candidates, oldPod)
				}
			}
		}
		remaining := min(max(maxUnavailable-numUnavailable, 0), len(candidates))
		return c.syncNodes(ctx, ds, append(allowed, candidates[:remaining]...), nil, hash, nil)
	}

	// Surging: a new pod beside each unavailable old one, and beside
	// available old ones on at most maxSurge nodes at a time; an old pod
	// goes once the new one on its node is available.
	var oldToDelete, shouldNotRun []*corev1.Pod
	var allowedNodes, candidateNodes []string
	numSurge, numAvailable := 0, 0
	for _, n := range nodeNames {
		newPod, oldPod, ok := findUpdatedPodsOnNode(ds, byNode[n], hash)
		if !ok {
			numSurge++
			continue
		}
		if oldPod != nil {
			if available(oldPod) {
				numAvailable++
			}
		} else if newPod != nil && available(newPod) {
			numAvailable++
		}
		switch {
		case oldPod == nil:
		case newPod == nil:
			node, err := c.nodes.Get(n)
			if err != nil {
				return fmt.Errorf("couldn't get node for nodeName %q: %w", n, err)
			}
			run, _ := nodeShouldRunDaemonPod(node, ds)
			if !available(oldPod) {
				if !run {
					oldToDelete = append(oldToDelete, oldPod)
					continue
				}
				allowedNodes = append(allowedNodes, n)
				continue
			}
			if !run {
				shouldNotRun = append(shouldNotRun, oldPod)
				continue
			}
			if numSurge >= maxSurge {
				continue
			}
			candidateNodes = append(candidateNodes, n)
		default:
			if !available(newPod) {
				numSurge++
				continue
			}
			oldToDelete = append(oldToDelete, oldPod)
		}
	}
	// 100% availability is expected with maxSurge: a pod on a node that
	// no longer fits goes only when another is available in its place.
	if deletable := min(numAvailable-desired, len(shouldNotRun)); deletable > 0 {
		oldToDelete = append(oldToDelete, shouldNotRun[:deletable]...)
	}
	remaining := min(max(maxSurge-numSurge, 0), len(candidateNodes))
	return c.syncNodes(ctx, ds, oldToDelete, append(allowedNodes, candidateNodes[:remaining]...), hash, nil)
}

// controllerRevisionName is upstream's history.ControllerRevisionName: the
// prefix is cut to 223 characters so that "-<hash>" keeps the name a DNS
// subdomain (at most 253) for a DaemonSet of the longest valid name.
func controllerRevisionName(prefix, hash string) string {
	if len(prefix) > 223 {
		prefix = prefix[:223]
	}
	return prefix + "-" + hash
}
