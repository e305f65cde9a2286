// Package garbagecollector is the garbage collector, as upstream's
// pkg/controller/garbagecollector in kube-controller-manager.
//
// Contracts:
//   - It watches the metadata (k8s.io/client-go/metadata informers) of
//     every served kind that can be listed, watched and deleted, found by
//     discovery at Run and again every ResyncPeriod (30 s on the injected
//     clock, upstream's GarbageCollector.Sync): kinds served later (CRDs)
//     are watched from then on, kinds no longer served stop being watched
//     (not when discovery answered only in part). Events are ignored, as
//     upstream's DefaultIgnoredResources. It keeps a graph of owners and
//     dependents by uid from metadata.ownerReferences; Workers (20,
//     ConcurrentGCSyncs) attemptToDelete and as many attemptToOrphan
//     workers act on it.
//   - A dependent all of whose owners are gone is deleted (attemptToDeleteItem):
//     an owner is gone when a live GET of its apiVersion/kind/name (in the
//     dependent's namespace for a namespaced owner kind) is NotFound or
//     finds another uid; absent owners are remembered (absentOwnerCache).
//     A dependent with a solid owner keeps it and loses only its dangling
//     references (and those to owners deleting their dependents in the
//     foreground), by a JSON merge patch pinned to its resourceVersion.
//     Deletions carry uid and resourceVersion preconditions (retried
//     without the resourceVersion when only unrelated fields changed) and
//     the propagation the object's own finalizers ask for.
//   - Foreground: an owner with deletionTimestamp and the foregroundDeletion
//     finalizer has its dependents deleted (those that have dependents of
//     their own in the foreground), and loses the finalizer (the API server
//     then removes it) once no dependent with blockOwnerDeletion: true is
//     left.
//   - Orphan: an owner with deletionTimestamp and the orphan finalizer has
//     its ownerReference removed from every dependent, then the finalizer.
//   - A cluster-scoped dependent naming a namespaced owner kind is left
//     alone; a dependent whose owner uid is seen in another namespace gets
//     upstream's Warning event OwnerRefInvalidNamespace
//     "ownerRef [apiVersion/kind, namespace: ns, name: n, uid: u] does not
//     exist in namespace \"ns2\"".
//   - It works through the Kubernetes API only. An owner whose kind has no
//     REST mapping yet is retried (rate-limited), and looked at again as
//     soon as a rediscovery brings new kinds.
package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/wasmpod/wasmpod/internal/kube/discovery"
	"github.com/wasmpod/wasmpod/internal/kube/informers"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
)

const (
	// Component names the events' source.
	Component = "garbage-collector-controller"
	// Workers is --concurrent-gc-syncs (ConcurrentGCSyncs, 20): so many
	// attemptToDelete and so many attemptToOrphan workers.
	Workers = 20
	// ResyncPeriod is how often discovery runs again (upstream's
	// ResourceResyncTime), on the injected clock.
	ResyncPeriod = 30 * time.Second
	// absentCacheSize bounds the absent-owner cache (upstream's LRU: 500).
	absentCacheSize = 500
)

// identity is upstream's objectReference: owner coordinates + namespace.
type identity struct {
	APIVersion, Kind, Namespace, Name string
	UID                               types.UID
}

func (i identity) String() string {
	return fmt.Sprintf("[%s/%s, namespace: %s, name: %s, uid: %s]", i.APIVersion, i.Kind, i.Namespace, i.Name, i.UID)
}

type kindInfo struct {
	gvr        schema.GroupVersionResource
	namespaced bool
}

type node struct {
	id         identity
	gvr        schema.GroupVersionResource
	owners     []metav1.OwnerReference
	deleting   bool // deletionTimestamp set
	foreground bool // deleting with the foregroundDeletion finalizer
	orphan     bool // deleting with the orphan finalizer
}

// Controller is the garbage collector.
type Controller struct {
	client kubernetes.Interface
	md     metadata.Interface
	clk    clock.WithTicker

	// Shared, when set before Run, is the control plane's informer
	// factory: the kinds in sharedKinds are monitored through its typed
	// informers, which the other controllers hold anyway, as upstream's
	// garbage collector takes the shared informer of a kind that has one
	// (informerfactory.ForResource). The other kinds get metadata
	// informers of their own.
	Shared informers.SharedInformerFactory

	kmu      sync.RWMutex // kinds, byGroup, monitors
	kinds    map[schema.GroupVersionKind]kindInfo
	byGroup  map[schema.GroupKind]kindInfo
	monitors map[schema.GroupVersionResource]*monitor

	mu         sync.Mutex
	nodes      map[types.UID]*node
	dependents map[types.UID]map[types.UID]bool // owner uid -> dependent uids
	absent     map[identity]bool
	reported   map[[2]types.UID]bool

	deleteQ  workqueue.TypedRateLimitingInterface[types.UID]
	orphanQ  workqueue.TypedRateLimitingInterface[types.UID]
	recorder record.EventRecorder
}

// New makes a collector over client (events, discovery) and md (the
// objects' metadata); clk nil is the real clock.
func New(client kubernetes.Interface, md metadata.Interface, clk clock.WithTicker) *Controller {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Controller{
		client: client, md: md, clk: clk,
		kinds:      map[schema.GroupVersionKind]kindInfo{},
		byGroup:    map[schema.GroupKind]kindInfo{},
		nodes:      map[types.UID]*node{},
		dependents: map[types.UID]map[types.UID]bool{},
		absent:     map[identity]bool{},
		reported:   map[[2]types.UID]bool{},
		deleteQ: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[types.UID](),
			workqueue.TypedRateLimitingQueueConfig[types.UID]{Name: "garbage_collector_attempt_to_delete"}),
		orphanQ: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[types.UID](),
			workqueue.TypedRateLimitingQueueConfig[types.UID]{Name: "garbage_collector_attempt_to_orphan"}),
	}
}

// ignored is upstream's DefaultIgnoredResources.
var ignored = map[schema.GroupResource]bool{{Group: "", Resource: "events"}: true, {Group: "events.k8s.io", Resource: "events"}: true}

// Run discovers the kinds, watches them and collects until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	rec, stopEvents := kubeutil.EventRecorder(ctx, c.client, Component)
	defer stopEvents()
	c.recorder = rec
	defer c.deleteQ.ShutDown()
	defer c.orphanQ.ShutDown()

	var lists []*metav1.APIResourceList
	for {
		var err error
		lists, err = discovery.New(c.client.CoreV1().RESTClient()).ServerPreferredResources()
		if err == nil || len(lists) > 0 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.clk.After(time.Second):
		}
	}
	defer c.stopMonitors()
	if !cache.WaitForCacheSync(ctx.Done(), c.syncMonitors(ctx, lists, true)...) {
		return ctx.Err()
	}
	var wg sync.WaitGroup
	for range Workers {
		wg.Add(2)
		go func() { defer wg.Done(); c.work(ctx, c.deleteQ, c.attemptToDelete) }()
		go func() { defer wg.Done(); c.work(ctx, c.orphanQ, c.attemptToOrphan) }()
	}
	// GarbageCollector.Sync: discovery again every ResyncPeriod, so kinds
	// served later (CRDs) are watched and kinds gone stop being watched.
	tick := c.clk.NewTicker(ResyncPeriod)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C():
			lists, err := discovery.New(c.client.CoreV1().RESTClient()).ServerPreferredResources()
			if len(lists) == 0 {
				continue // keep what is watched
			}
			// A partial answer (a group failed) removes nothing.
			synced := c.syncMonitors(ctx, lists, err == nil)
			if len(synced) == 0 {
				continue
			}
			if !cache.WaitForCacheSync(ctx.Done(), synced...) {
				done = true
				break
			}
			c.requeueUnmapped()
		}
	}
	tick.Stop()
	c.deleteQ.ShutDown()
	c.orphanQ.ShutDown()
	wg.Wait()
	return nil
}

// monitor is the metadata informer of one kind (upstream's monitor).
type monitor struct {
	stop   chan struct{}
	synced cache.InformerSynced
	remove func() // a shared informer's: removes the handler
}

func (m *monitor) close() {
	close(m.stop)
	if m.remove != nil {
		m.remove()
	}
}

// sharedKinds are the kinds whose typed informers the control plane's
// controllers register on the shared factory (the scheduler, pod GC,
// ReplicaSet, Deployment, DaemonSet, Job, CronJob, disruption, HPA,
// endpoints, service account and node controllers). A kind outside it
// would cost a typed cache of full objects where a metadata one does.
var sharedKinds = map[schema.GroupVersionResource]func(informers.SharedInformerFactory) cache.SharedIndexInformer{
	{Version: "v1", Resource: "pods"}: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
		return f.Core().V1().Pods().Informer()
	},
	{Version: "v1", Resource: "nodes"}: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
		return f.Core().V1().Nodes().Informer()
	},
	{Version: "v1", Resource: "services"}: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
		return f.Core().V1().Services().Informer()
	},
	{Version: "v1", Resource: "namespaces"}: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
		return f.Core().V1().Namespaces().Informer()
	},
	{Version: "v1", Resource: "serviceaccounts"}: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
		return f.Core().V1().ServiceAccounts().Informer()
	},
	{Group: "apps", Version: "v1", Resource: "replicasets"}: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
		return f.Apps().V1().ReplicaSets().Informer()
	},
	{Group: "apps", Version: "v1", Resource: "deployments"}: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
		return f.Apps().V1().Deployments().Informer()
	},
	{Group: "apps", Version: "v1", Resource: "daemonsets"}: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
		return f.Apps().V1().DaemonSets().Informer()
	},
	{Group: "apps", Version: "v1", Resource: "controllerrevisions"}: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
		return f.Apps().V1().ControllerRevisions().Informer()
	},
	{Group: "batch", Version: "v1", Resource: "jobs"}: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
		return f.Batch().V1().Jobs().Informer()
	},
	{Group: "batch", Version: "v1", Resource: "cronjobs"}: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
		return f.Batch().V1().CronJobs().Informer()
	},
	{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"}: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
		return f.Policy().V1().PodDisruptionBudgets().Informer()
	},
	{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
		return f.Discovery().V1().EndpointSlices().Informer()
	},
	{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
		return f.Autoscaling().V2().HorizontalPodAutoscalers().Informer()
	},
}

// syncMonitors is upstream's resyncMonitors: the REST mapping of every
// served kind is replaced by lists' (kept for kinds gone unless complete),
// and every kind that can be listed, watched and deleted gets a metadata
// informer, started at once; with complete, the informers of kinds no
// longer served are stopped. It returns the new informers' HasSynced.
func (c *Controller) syncMonitors(ctx context.Context, lists []*metav1.APIResourceList, complete bool) []cache.InformerSynced {
	kinds := map[schema.GroupVersionKind]kindInfo{}
	byGroup := map[schema.GroupKind]kindInfo{}
	watchable := map[schema.GroupVersionResource][2]string{} // apiVersion, kind
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") {
				continue
			}
			info := kindInfo{gvr: gv.WithResource(r.Name), namespaced: r.Namespaced}
			kinds[gv.WithKind(r.Kind)] = info
			byGroup[schema.GroupKind{Group: gv.Group, Kind: r.Kind}] = info
			if ignored[info.gvr.GroupResource()] || !slices.Contains(r.Verbs, "list") || !slices.Contains(r.Verbs, "watch") || !slices.Contains(r.Verbs, "delete") {
				continue
			}
			watchable[info.gvr] = [2]string{gv.String(), r.Kind}
		}
	}
	c.kmu.Lock()
	defer c.kmu.Unlock()
	if !complete {
		for k, v := range c.kinds {
			if _, ok := kinds[k]; !ok {
				kinds[k] = v
			}
		}
		for k, v := range c.byGroup {
			if _, ok := byGroup[k]; !ok {
				byGroup[k] = v
			}
		}
	}
	c.kinds, c.byGroup = kinds, byGroup
	if c.monitors == nil {
		c.monitors = map[schema.GroupVersionResource]*monitor{}
	}
	var synced []cache.InformerSynced
	startShared := false
	for gvr, ak := range watchable {
		if c.monitors[gvr] != nil {
			continue
		}
		apiVersion, kind := ak[0], ak[1]
		var inf cache.SharedIndexInformer
		typed := sharedKinds[gvr]
		if c.Shared != nil && typed != nil {
			inf = typed(c.Shared)
		} else {
			typed, inf = nil, c.metadataInformer(gvr)
		}
		reg, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { c.observe(gvr, apiVersion, kind, o) },
			UpdateFunc: func(_, o any) { c.observe(gvr, apiVersion, kind, o) },
			DeleteFunc: func(o any) {
				if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
					o = t.Obj
				}
				if m, err := meta.Accessor(o); err == nil {
					c.forget(m.GetUID())
				}
			},
		})
		if err != nil {
			continue
		}
		m := &monitor{stop: make(chan struct{}), synced: inf.HasSynced}
		if typed != nil {
			m.synced = reg.HasSynced
			m.remove = func() { _ = inf.RemoveEventHandler(reg) }
			startShared = true
		} else {
			go inf.Run(m.stop)
		}
		c.monitors[gvr] = m
		synced = append(synced, m.synced)
	}
	if startShared {
		c.Shared.Start(ctx.Done()) // the informers no controller started yet
	}
	if complete {
		for gvr, m := range c.monitors {
			if _, ok := watchable[gvr]; !ok {
				m.close()
				delete(c.monitors, gvr)
			}
		}
	}
	return synced
}

func (c *Controller) stopMonitors() {
	c.kmu.Lock()
	defer c.kmu.Unlock()
	for gvr, m := range c.monitors {
		m.close()
		delete(c.monitors, gvr)
	}
}

// requeueUnmapped queues again the objects with an owner whose kind had no
// REST mapping, which a new kind may have given them (upstream waits for
// their rate-limited retry).
func (c *Controller) requeueUnmapped() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for uid, n := range c.nodes {
		for _, r := range n.owners {
			if _, err := c.resource(r.APIVersion, r.Kind); err == nil && c.nodes[r.UID] == nil {
				c.deleteQ.Add(uid)
				break
			}
		}
	}
}

func (c *Controller) work(ctx context.Context, q workqueue.TypedRateLimitingInterface[types.UID], f func(context.Context, types.UID) error) {
	for {
		uid, quit := q.Get()
		if quit {
			return
		}
		err := f(ctx, uid)
		switch {
		case err == nil || err == errForget:
			q.Forget(uid)
		default:
			q.AddRateLimited(uid)
		}
		q.Done(uid)
	}
}

// errForget: a cluster-scoped object naming a namespaced owner
// (namespacedOwnerOfClusterScopedObjectErr) is not retried.
var errForget = fmt.Errorf("cluster-scoped object refers to a namespaced owner")

// --- the graph (upstream's GraphBuilder) -----------------------------------

func (c *Controller) observe(gvr schema.GroupVersionResource, apiVersion, kind string, o any) {
	m, err := meta.Accessor(o)
	if err != nil {
		return
	}
	n := &node{
		id:     identity{APIVersion: apiVersion, Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName(), UID: m.GetUID()},
		gvr:    gvr,
		owners: m.GetOwnerReferences(),
	}
	if m.GetDeletionTimestamp() != nil {
		n.deleting = true
		n.foreground = slices.Contains(m.GetFinalizers(), metav1.FinalizerDeleteDependents)
		n.orphan = slices.Contains(m.GetFinalizers(), metav1.FinalizerOrphanDependents)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.nodes[n.id.UID]
	c.nodes[n.id.UID] = n
	if old != nil {
		for _, r := range old.owners {
			if deps := c.dependents[r.UID]; deps != nil && !hasOwner(n.owners, r.UID) {
				delete(deps, n.id.UID)
				if len(deps) == 0 {
					delete(c.dependents, r.UID)
				}
				c.enqueueIfForeground(r.UID) // a blocking dependent may be gone
			}
		}
	}
	for _, r := range n.owners {
		deps := c.dependents[r.UID]
		if deps == nil {
			deps = map[types.UID]bool{}
			c.dependents[r.UID] = deps
		}
		deps[n.id.UID] = true
		owner := c.nodes[r.UID]
		switch {
		case owner == nil || owner.deleting:
			// Virtual owner (maybe dangling) or an owner being deleted.
			c.deleteQ.Add(n.id.UID)
			if owner != nil {
				c.enqueueIfForeground(r.UID)
			}
		case owner.id.Namespace != "" && owner.id.Namespace != n.id.Namespace:
			c.reportInvalidNamespace(n, r)
			c.deleteQ.Add(n.id.UID)
		case owner.id.Name != r.Name || owner.id.Kind != r.Kind || !sameGroup(owner.id.APIVersion, r.APIVersion):
			c.deleteQ.Add(n.id.UID)
		}
		if old != nil && !reflect.DeepEqual(old.owners, n.owners) {
			c.enqueueIfForeground(r.UID) // blockOwnerDeletion may have changed
		}
	}
	if old == nil {
		// An owner observed after its dependents: those that do not
		// match its identity are looked at again (bad child -> good parent).
		for dep := range c.dependents[n.id.UID] {
			d := c.nodes[dep]
			if d == nil {
				continue
			}
			for _, r := range d.owners {
				if r.UID != n.id.UID {
					continue
				}
				if n.id.Namespace != "" && d.id.Namespace != n.id.Namespace {
					c.reportInvalidNamespace(d, r)
					c.deleteQ.Add(dep)
				} else if n.id.Name != r.Name || n.id.Kind != r.Kind {
					c.deleteQ.Add(dep)
				}
			}
		}
	}
	if n.foreground && (old == nil || !old.foreground) {
		// startsWaitingForDependentsDeleted: all dependents, then itself.
		for dep := range c.dependents[n.id.UID] {
			c.deleteQ.Add(dep)
		}
		c.deleteQ.Add(n.id.UID)
	}
	if n.orphan {
		c.orphanQ.Add(n.id.UID)
	}
}

func (c *Controller) forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[uid]
	if n == nil {
		return
	}
	delete(c.nodes, uid)
	for _, r := range n.owners {
		if deps := c.dependents[r.UID]; deps != nil {
			delete(deps, uid)
			if len(deps) == 0 {
				delete(c.dependents, r.UID)
			}
		}
		c.enqueueIfForeground(r.UID)
	}
	// Its dependents may now have no owner left.
	for dep := range c.dependents[uid] {
		c.deleteQ.Add(dep)
	}
}

// enqueueIfForeground queues an owner deleting its dependents in the
// foreground (c.mu held).
func (c *Controller) enqueueIfForeground(uid types.UID) {
	if o := c.nodes[uid]; o != nil && o.foreground {
		c.deleteQ.Add(uid)
	}
}

// reportInvalidNamespace is upstream's reportInvalidNamespaceOwnerRef
// (once per dependent and owner).
func (c *Controller) reportInvalidNamespace(d *node, r metav1.OwnerReference) {
	k := [2]types.UID{d.id.UID, r.UID}
	if c.reported[k] || c.recorder == nil {
		return
	}
	c.reported[k] = true
	invalid := identity{APIVersion: r.APIVersion, Kind: r.Kind, Namespace: d.id.Namespace, Name: r.Name, UID: r.UID}
	ref := &corev1.ObjectReference{Kind: d.id.Kind, APIVersion: d.id.APIVersion, Namespace: d.id.Namespace, Name: d.id.Name, UID: d.id.UID}
	c.recorder.Eventf(ref, corev1.EventTypeWarning, "OwnerRefInvalidNamespace", "ownerRef %s does not exist in namespace %q", invalid, d.id.Namespace)
}

func hasOwner(refs []metav1.OwnerReference, uid types.UID) bool {
	for _, r := range refs {
		if r.UID == uid {
			return true
		}
	}
	return false
}

func sameGroup(a, b string) bool {
	ga, _ := schema.ParseGroupVersion(a)
	gb, _ := schema.ParseGroupVersion(b)
	return ga.Group == gb.Group
}

func (c *Controller) snapshot(uid types.UID) (node, []node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[uid]
	if n == nil {
		return node{}, nil
	}
	var deps []node
	for d := range c.dependents[uid] {
		if dn := c.nodes[d]; dn != nil {
			deps = append(deps, *dn)
		}
	}
	return *n, deps
}

// --- attemptToDelete (upstream's attemptToDeleteItem) ----------------------

func (c *Controller) resource(apiVersion, kind string) (kindInfo, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return kindInfo{}, err
	}
	c.kmu.RLock()
	defer c.kmu.RUnlock()
	if k, ok := c.kinds[gv.WithKind(kind)]; ok {
		return k, nil
	}
	if k, ok := c.byGroup[schema.GroupKind{Group: gv.Group, Kind: kind}]; ok {
		return k, nil
	}
	return kindInfo{}, fmt.Errorf("unable to get REST mapping for %s/%s", apiVersion, kind)
}

func (c *Controller) client4(gvr schema.GroupVersionResource, namespaced bool, ns string) metadata.ResourceInterface {
	if !namespaced {
		return c.md.Resource(gvr)
	}
	return c.md.Resource(gvr).Namespace(ns)
}

func (c *Controller) attemptToDelete(ctx context.Context, uid types.UID) error {
	n, deps := c.snapshot(uid)
	if n.id.UID == "" {
		return nil
	}
	if n.deleting && !n.foreground {
		return nil
	}
	ki, err := c.resource(n.id.APIVersion, n.id.Kind)
	if err != nil {
		return err
	}
	rc := c.client4(n.gvr, ki.namespaced, n.id.Namespace)
	latest, err := rc.Get(ctx, n.id.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil // the informer delivers the deletion
	}
	if err != nil {
		return err
	}
	if latest.UID != n.id.UID {
		return nil
	}
	if latest.DeletionTimestamp != nil && slices.Contains(latest.Finalizers, metav1.FinalizerDeleteDependents) {
		return c.processDeletingDependents(ctx, n, deps)
	}
	refs := latest.OwnerReferences
	if len(refs) == 0 {
		return nil
	}
	var solid, dangling, waiting []metav1.OwnerReference
	for _, r := range refs {
		gone, owner, err := c.isDangling(ctx, n, r)
		if err != nil {
			return err
		}
		switch {
		case gone:
			dangling = append(dangling, r)
		case owner.DeletionTimestamp != nil && slices.Contains(owner.Finalizers, metav1.FinalizerDeleteDependents):
			waiting = append(waiting, r)
		default:
			solid = append(solid, r)
		}
	}
	switch {
	case len(solid) != 0:
		if len(dangling) == 0 && len(waiting) == 0 {
			return nil
		}
		// Keep the solid owners; drop the references to the others.
		drop := map[types.UID]bool{}
		for _, r := range append(dangling, waiting...) {
			drop[r.UID] = true
		}
		return c.patchOwnerRefs(ctx, rc, n, func(refs []metav1.OwnerReference) []metav1.OwnerReference {
			var keep []metav1.OwnerReference
			for _, r := range refs {
				if !drop[r.UID] {
					keep = append(keep, r)
				}
			}
			return keep
		})
	case len(waiting) != 0 && len(deps) != 0:
		for _, d := range deps {
			if d.foreground {
				// A cycle: make its references to the waiting owners
				// non-blocking first (unblockOwnerReferences).
				if err := c.patchOwnerRefs(ctx, rc, n, func(refs []metav1.OwnerReference) []metav1.OwnerReference {
					out := slices.Clone(refs)
					for i := range out {
						if out[i].BlockOwnerDeletion != nil && *out[i].BlockOwnerDeletion {
							f := false
							out[i].BlockOwnerDeletion = &f
						}
					}
					return out
				}); err != nil {
					return err
				}
				break
			}
		}
		p := metav1.DeletePropagationForeground
		return c.deleteObject(ctx, rc, n, latest.ResourceVersion, latest.OwnerReferences, p)
	default:
		p := metav1.DeletePropagationBackground
		switch {
		case slices.Contains(latest.Finalizers, metav1.FinalizerOrphanDependents):
			p = metav1.DeletePropagationOrphan
		case slices.Contains(latest.Finalizers, metav1.FinalizerDeleteDependents):
			p = metav1.DeletePropagationForeground
		}
		return c.deleteObject(ctx, rc, n, latest.ResourceVersion, latest.OwnerReferences, p)
	}
}

// isDangling: the owner is absent (NotFound, or another uid under its
// name), as upstream, through a live GET (never the informers' cache).
func (c *Controller) isDangling(ctx context.Context, n node, r metav1.OwnerReference) (bool, *metav1.PartialObjectMetadata, error) {
	key := identity{APIVersion: r.APIVersion, Kind: r.Kind, Name: r.Name, UID: r.UID}
	c.mu.Lock()
	if c.absent[key] {
		c.mu.Unlock()
		return true, nil, nil
	}
	key.Namespace = n.id.Namespace
	if c.absent[key] {
		c.mu.Unlock()
		return true, nil, nil
	}
	c.mu.Unlock()
	ki, err := c.resource(r.APIVersion, r.Kind)
	if err != nil {
		return false, nil, err
	}
	if !ki.namespaced {
		key.Namespace = ""
	}
	if n.id.Namespace == "" && ki.namespaced {
		return false, nil, errForget
	}
	owner, err := c.client4(ki.gvr, ki.namespaced, n.id.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		c.addAbsent(key)
		return true, nil, nil
	case err != nil:
		return false, nil, err
	}
	if owner.UID != r.UID {
		c.addAbsent(key)
		return true, nil, nil
	}
	return false, owner, nil
}

func (c *Controller) addAbsent(k identity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.absent) >= absentCacheSize {
		clear(c.absent)
	}
	c.absent[k] = true
}

// deleteObject as upstream: uid and resourceVersion preconditions; on a
// conflict where the ownerReferences did not change, once more without
// the resourceVersion.
func (c *Controller) deleteObject(ctx context.Context, rc metadata.ResourceInterface, n node, rv string, owners []metav1.OwnerReference, p metav1.DeletionPropagation) error {
	uid := n.id.UID
	pre := metav1.Preconditions{UID: &uid}
	if rv != "" {
		pre.ResourceVersion = &rv
	}
	opts := metav1.DeleteOptions{Preconditions: &pre, PropagationPolicy: &p}
	err := rc.Delete(ctx, n.id.Name, opts)
	if apierrors.IsConflict(err) && rv != "" {
		live, lerr := rc.Get(ctx, n.id.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(lerr) {
			return nil
		}
		if lerr == nil && live.UID == uid && live.ResourceVersion != rv && reflect.DeepEqual(live.OwnerReferences, owners) {
			pre.ResourceVersion = nil
			err = rc.Delete(ctx, n.id.Name, opts)
		}
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// processDeletingDependents: an owner in foreground deletion loses its
// finalizer once no blocking dependent is left.
func (c *Controller) processDeletingDependents(ctx context.Context, n node, deps []node) error {
	var blocking []node
	for _, d := range deps {
		for _, r := range d.owners {
			if r.UID == n.id.UID && r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion {
				blocking = append(blocking, d)
				break
			}
		}
	}
	if len(blocking) == 0 {
		return c.removeFinalizer(ctx, n, metav1.FinalizerDeleteDependents)
	}
	for _, d := range blocking {
		if !d.foreground {
			c.deleteQ.Add(d.id.UID)
		}
	}
	return nil
}

// --- patches ---------------------------------------------------------------

type metaPatch struct {
	Metadata struct {
		ResourceVersion string                  `json:"resourceVersion"`
		UID             types.UID               `json:"uid"`
		OwnerReferences []metav1.OwnerReference `json:"ownerReferences"`
	} `json:"metadata"`
}

// patchOwnerRefs sets the object's ownerReferences to edit(current) by a
// JSON merge patch pinned to its uid and resourceVersion
// (deleteOwnerRefJSONMergePatch), retrying on conflicts.
func (c *Controller) patchOwnerRefs(ctx context.Context, rc metadata.ResourceInterface, n node, edit func([]metav1.OwnerReference) []metav1.OwnerReference) error {
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		cur, err := rc.Get(ctx, n.id.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.UID != n.id.UID {
			return nil
		}
		want := edit(cur.OwnerReferences)
		if reflect.DeepEqual(want, cur.OwnerReferences) || (len(want) == 0 && len(cur.OwnerReferences) == 0) {
			return nil
		}
		var p metaPatch
		p.Metadata.ResourceVersion, p.Metadata.UID, p.Metadata.OwnerReferences = cur.ResourceVersion, cur.UID, want
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		_, err = rc.Patch(ctx, n.id.Name, types.MergePatchType, b, metav1.PatchOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// removeFinalizer as upstream: a JSON merge patch of metadata.finalizers
// pinned to the resourceVersion, retried on conflicts.
func (c *Controller) removeFinalizer(ctx context.Context, n node, fin string) error {
	ki, err := c.resource(n.id.APIVersion, n.id.Kind)
	if err != nil {
		return err
	}
	rc := c.client4(n.gvr, ki.namespaced, n.id.Namespace)
	err = retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		cur, err := rc.Get(ctx, n.id.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.UID != n.id.UID || !slices.Contains(cur.Finalizers, fin) {
			return nil
		}
		keep := []string{}
		for _, f := range cur.Finalizers {
			if f != fin {
				keep = append(keep, f)
			}
		}
		b, err := json.Marshal(map[string]any{"metadata": map[string]any{"resourceVersion": cur.ResourceVersion, "finalizers": keep}})
		if err != nil {
			return err
		}
		_, err = rc.Patch(ctx, n.id.Name, types.MergePatchType, b, metav1.PatchOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// attemptToOrphan (upstream's attemptToOrphanWorker/orphanDependents): the
// owner's reference is removed from each dependent, then its orphan
// finalizer.
func (c *Controller) attemptToOrphan(ctx context.Context, uid types.UID) error {
	n, deps := c.snapshot(uid)
	if n.id.UID == "" || !n.orphan {
		return nil
	}
	var errs []string
	for _, d := range deps {
		ki, err := c.resource(d.id.APIVersion, d.id.Kind)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		err = c.patchOwnerRefs(ctx, c.client4(d.gvr, ki.namespaced, d.id.Namespace), d, func(refs []metav1.OwnerReference) []metav1.OwnerReference {
			var keep []metav1.OwnerReference
			for _, r := range refs {
				if r.UID != uid {
					keep = append(keep, r)
				}
			}
			return keep
		})
		if err != nil {
			errs = append(errs, fmt.Sprintf("orphaning %s failed, %v", d.id, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return c.removeFinalizer(ctx, n, metav1.FinalizerOrphanDependents)
}

// metadataInformer is client-go's metadatainformer.NewFilteredMetadataInformer
// (all namespaces, no resync): that package imports client-go's informer
// factory, which links every Kubernetes API group.
func (c *Controller) metadataInformer(gvr schema.GroupVersionResource) cache.SharedIndexInformer {
	rc := c.md.Resource(gvr).Namespace(metav1.NamespaceAll)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return rc.List(ctx, o) },
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return rc.Watch(ctx, o)
		},
	}
	return cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, c.md), &metav1.PartialObjectMetadata{}, 0, cache.Indexers{})
}
