// Package apiserver is the only door to the store: create, get, list,
// update, patch, delete and watch of Kubernetes objects, with defaulting and
// validation, generateName, UIDs, resourceVersion compare-and-swap, the
// status subresource, finalizers and graceful deletion. http.go serves the
// same operations on Kubernetes REST paths.
//
// Contracts:
//   - A Server is safe for concurrent use.
//   - resourceVersion is the store revision of the object's last write; an
//     update or delete with a stale resourceVersion fails with a Conflict
//     (409), and nothing is written.
//   - Errors are *k8s.io/apimachinery/pkg/api/errors.StatusError values, so
//     apierrors.IsNotFound and friends classify them and HTTP maps them to
//     their status codes unchanged.
//   - Watches deliver every change after their starting resourceVersion once,
//     in order; a watch that cannot keep up ends with a 410 Gone error event
//     and the client re-lists.
package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	jsoniter "github.com/json-iterator/go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/storage/names"
	"k8s.io/utils/clock"

	"github.com/wasmpod/wasmpod/api"
	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/store"
)

// Options configures a Server.
type Options struct {
	// Clock stamps creation and deletion times; the real clock when nil.
	Clock clock.PassiveClock
	// ClusterSigningDuration is the longest certificate the CSR signer
	// issues, and a node credential's life (kube-controller-manager's
	// --cluster-signing-duration; CSRSigningDuration, a year, when 0).
	ClusterSigningDuration time.Duration
	// Validation options for pods (hostPath).
	Validation api.Options
	// Modules is the module store that /wasmpod/modules/ and /wasmpod/tags/
	// serve (modules.go); without it they are 404.
	Modules *images.Store
	// RefuseRelativeImages refuses (422) a pod whose image is relative
	// (./x.wasm, go://./pkg) when it has no wasmpod.io/manifest-dir
	// annotation to resolve it against (modules.go). serve sets it; an
	// in-process cluster, whose clients share its files, need not.
	RefuseRelativeImages bool
	// ServiceAccountTokens signs and verifies ServiceAccount tokens
	// (tokens.go); a key generated in memory when nil.
	ServiceAccountTokens *TokenIssuer
	// WatchCacheEvents is the number of recent events the watch cache
	// keeps a resource (cacher.go); 0 is cacheRingEvents.
	WatchCacheEvents int
}

// Server is the API server.
type Server struct {
	store     store.Store
	clock     clock.PassiveClock
	opts      Options
	resources map[string]*Resource

	mu    sync.RWMutex
	nodes map[string]NodeConnector
	// tunnels are the remote agents' reverse tunnels (tunnel.go).
	tunnels map[string]*tunnel
	// tunnelReg records the holders of tunnels, relays the cached clients
	// through the other replicas (tunnelrelay.go).
	tunnelReg TunnelRegistry
	relays    map[string]*tunnel
	// ca verifies client certificates and signs nodes' (bootstrap.go).
	ca clusterCA

	openapi openAPIDocs // openapi.go: built on first request

	uploadsOnce sync.Once
	uploads     chan struct{} // module uploads in progress (modules.go)

	rbac rbacCache // decoded RBAC objects (rbac.go)

	watchDecodes atomic.Int64 // store values decoded for the watch cache and watchers (tests)

	lrLiveMu sync.Mutex
	lrLive   map[string]limitRangeLive // LimitRanger's live lookups by namespace (limitrange.go)

	cache *watchCacheSet // the watch cache serving LIST and WATCH (cacher.go); nil: the store

	tokens tokenState // ServiceAccount tokens and the root CA (tokens.go)

	kubelet kubeletClient // remote nodes' kubelet API (remotenode.go)

	nameGen names.NameGenerator // generateName's suffixes; nil: names.SimpleNameGenerator

	namespaces namespaceCache // decoded Namespaces for the create check (namespace)
}

// New returns a Server over st and makes sure the system namespaces exist.
func New(ctx context.Context, st store.Store, opts Options) (*Server, error) {
	s := &Server{store: st, clock: opts.Clock, opts: opts, resources: map[string]*Resource{}, nodes: map[string]NodeConnector{}}
	if s.clock == nil {
		s.clock = clock.RealClock{}
	}
	for _, r := range append(defaultResources(), rbacResources()...) { // rbac.go
		s.resources[r.GVR.Group+"/"+r.GVR.Resource] = r
	}
	nsr := s.resources["/namespaces"]
	for _, ns := range []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease} {
		_, err := s.Create(ctx, nsr, "", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, err
		}
	}
	if err := s.bootstrapRBAC(ctx); err != nil { // rbac_bootstrap.go
		return nil, err
	}
	if err := s.startWatchCache(ctx); err != nil { // cacher.go
		return nil, fmt.Errorf("starting the watch cache: %w", err)
	}
	return s, nil
}

// Store returns the underlying store.
func (s *Server) Store() store.Store { return s.store }

// Clock returns the server's clock.
func (s *Server) Clock() clock.PassiveClock { return s.clock }

// --- encoding -------------------------------------------------------------

func (s *Server) encode(r *Resource, obj runtime.Object) ([]byte, error) {
	obj.GetObjectKind().SetGroupVersionKind(r.GVK())
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	rv := m.GetResourceVersion()
	m.SetResourceVersion("")
	b, err := json.Marshal(obj)
	m.SetResourceVersion(rv)
	return b, err
}

func (s *Server) decode(r *Resource, kv store.KV) (runtime.Object, error) {
	if obj := s.cachedCopy(r, kv); obj != nil { // watchcache.go
		return obj, nil
	}
	return s.decodeKV(r, kv)
}

// storedJSON decodes the store's values of built-in kinds: json-iterator,
// case-sensitive, as upstream's JSON serializer had it (before
// sigs.k8s.io/json), is about twice as fast as encoding/json on a pod, and
// the watch cache decodes every pod write (a Job's completion is ~7 of
// them). The values are the server's own encoding/json output; custom
// resources (unstructured) keep encoding/json.
var storedJSON = jsoniter.Config{EscapeHTML: true, SortMapKeys: true, ValidateJsonRawMessage: true, CaseSensitive: true}.Froze()

func (s *Server) decodeKV(r *Resource, kv store.KV) (runtime.Object, error) {
	obj := r.newObj()
	unmarshal := storedJSON.Unmarshal
	if _, ok := obj.(runtime.Unstructured); ok {
		unmarshal = json.Unmarshal
	}
	if err := unmarshal(kv.Value, obj); err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("decoding %s: %w", kv.Key, err))
	}
	obj.GetObjectKind().SetGroupVersionKind(r.GVK())
	m, _ := meta.Accessor(obj)
	m.SetResourceVersion(strconv.FormatInt(kv.ModRevision, 10))
	return obj, nil
}

func storeErr(r *Resource, name string, err error) error {
	gr := r.GVR.GroupResource()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return apierrors.NewNotFound(gr, name)
	case errors.Is(err, store.ErrAlreadyExists):
		return apierrors.NewAlreadyExists(gr, name)
	case errors.Is(err, store.ErrConflict):
		return apierrors.NewConflict(gr, name, errors.New(registryConflictMsg))
	case errors.Is(err, store.ErrClosed), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return apierrors.NewServiceUnavailable(err.Error())
	}
	var se *apierrors.StatusError
	if errors.As(err, &se) {
		return err
	}
	return apierrors.NewInternalError(err)
}

const registryConflictMsg = "the object has been modified; please apply your changes to the latest version and try again"

func parseRV(rv string) (int64, error) {
	if rv == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || n < 0 {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q", rv))
	}
	return n, nil
}

// --- create ---------------------------------------------------------------

// Create stores a new object. ns is the request's namespace (empty for
// cluster-scoped resources); an object naming another namespace is refused.
func (s *Server) Create(ctx context.Context, r *Resource, ns string, obj runtime.Object) (runtime.Object, error) {
	if r.serialize != nil {
		r.serialize.Lock()
		defer r.serialize.Unlock()
	}
	// A generated name that is taken is generated again, 8 tries in all,
	// as kube-apiserver does since v1.32 (KEP-4420, RetryGenerateName).
	if m, err := meta.Accessor(obj); err == nil && m.GetName() == "" && m.GetGenerateName() != "" && !isDryRun(ctx) {
		for range 7 {
			out, err := s.create(ctx, r, ns, obj.DeepCopyObject())
			if !apierrors.IsAlreadyExists(err) {
				return out, err
			}
		}
	}
	return s.create(ctx, r, ns, obj)
}

func (s *Server) create(ctx context.Context, r *Resource, ns string, obj runtime.Object) (runtime.Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if err := s.checkNamespace(ctx, r, ns, m); err != nil {
		return nil, err
	}
	if m.GetName() == "" && m.GetGenerateName() != "" {
		// names.SimpleNameGenerator: the base cut to 58 characters, so a
		// controller with a long name still gets valid pod names.
		gen := s.nameGen
		if gen == nil {
			gen = names.SimpleNameGenerator
		}
		m.SetName(gen.GenerateName(m.GetGenerateName()))
	}
	now := metav1.NewTime(s.clock.Now().Truncate(time.Second))
	m.SetUID(uuidUID())
	m.SetCreationTimestamp(now)
	m.SetResourceVersion("")
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	m.SetGeneration(initialGeneration(obj)) // workloads.go: 1 for the kinds that track it, else none
	if r.prepareCreate != nil {
		if err := r.prepareCreate(s, obj); err != nil {
			return nil, err
		}
	}
	if obj, err = s.manageFields(ctx, r, "", nil, obj); err != nil { // managedfields.go
		return nil, err
	}
	if err := s.validateObject(r, obj, nil); err != nil {
		return nil, err
	}
	if r.admit != nil {
		if err := r.admit(ctx, s, obj, nil); err != nil {
			return nil, err
		}
	}
	if isDryRun(ctx) { // dryrun.go: everything but the write
		if _, err := s.store.Get(ctx, r.key(m.GetNamespace(), m.GetName())); err == nil {
			return nil, storeErr(r, m.GetName(), store.ErrAlreadyExists)
		}
		return obj, nil
	}
	b, err := s.encode(r, obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	kv, err := s.store.Create(ctx, r.key(m.GetNamespace(), m.GetName()), b)
	if err != nil {
		return nil, storeErr(r, m.GetName(), err)
	}
	r.wrote(kv.ModRevision)
	m.SetResourceVersion(strconv.FormatInt(kv.ModRevision, 10))
	return obj, nil
}

func (s *Server) checkNamespace(ctx context.Context, r *Resource, ns string, m metav1.Object) error {
	if !r.Namespaced {
		m.SetNamespace("")
		return nil
	}
	if m.GetNamespace() == "" {
		m.SetNamespace(ns)
	}
	if m.GetNamespace() == "" {
		m.SetNamespace(metav1.NamespaceDefault)
	}
	if ns != "" && m.GetNamespace() != ns {
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	n, err := s.namespace(ctx, m.GetNamespace())
	if err != nil {
		return err
	}
	if n.Status.Phase == corev1.NamespaceTerminating && r.GVR.Resource != "events" {
		return apierrors.NewForbidden(r.GVR.GroupResource(), m.GetName(),
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", n.Name))
	}
	return nil
}

// namespace is the stored Namespace name, read-only: decoded once per
// resourceVersion (every namespaced create reads it, Events included, and
// a JSON decode of it cost more than the rest of an Event's create check).
func (s *Server) namespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	r := s.resources["/namespaces"]
	kv, err := s.store.Get(ctx, r.key("", name))
	if err != nil {
		return nil, storeErr(r, name, err)
	}
	c := &s.namespaces
	c.mu.Lock()
	n, ok := c.m[name]
	c.mu.Unlock()
	if ok && n.rev == kv.ModRevision {
		return n.ns, nil
	}
	obj, err := s.decode(r, kv)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= 1024 { // a bound; the entries are re-read
		c.m = map[string]decodedNamespace{}
	}
	c.m[name] = decodedNamespace{rev: kv.ModRevision, ns: obj.(*corev1.Namespace)}
	c.mu.Unlock()
	return obj.(*corev1.Namespace), nil
}

// namespaceCache holds decoded Namespaces by name (Server.namespace).
type namespaceCache struct {
	mu sync.Mutex
	m  map[string]decodedNamespace
}

type decodedNamespace struct {
	rev int64
	ns  *corev1.Namespace
}

func uuidUID() (u typesUID) { return typesUID(uuid.NewString()) }

// validateObject runs name validation and the resource's validation.
func (s *Server) validateObject(r *Resource, obj, old runtime.Object) error {
	m, _ := meta.Accessor(obj)
	var errs field.ErrorList
	if m.GetName() == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), "name or generateName is required"))
	}
	errs = append(errs, validateOwnerRefs(m)...) // deletion.go
	if len(errs) > 0 {
		return apierrors.NewInvalid(r.GVK().GroupKind(), m.GetName(), errs)
	}
	if err := validateMeta(r, m, old == nil); err != nil { // objectmeta.go
		return err
	}
	if old == nil && r.validate != nil {
		return r.validate(s, obj)
	}
	if old != nil && r.validateUpdate != nil {
		return r.validateUpdate(s, obj, old)
	}
	return nil
}

// --- read -----------------------------------------------------------------

// Get returns one object.
func (s *Server) Get(ctx context.Context, r *Resource, ns, name string) (runtime.Object, error) {
	kv, err := s.store.Get(ctx, r.key(ns, name))
	if err != nil {
		return nil, storeErr(r, name, err)
	}
	return s.decode(r, kv)
}

// selector is a parsed label and field selector.
type selector struct {
	labels labels.Selector
	fields fields.Selector
}

func (s *Server) parseSelector(r *Resource, opts metav1.ListOptions) (selector, error) {
	sel := selector{labels: labels.Everything(), fields: fields.Everything()}
	var err error
	if opts.LabelSelector != "" {
		if sel.labels, err = labels.Parse(opts.LabelSelector); err != nil {
			return sel, apierrors.NewBadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
		}
	}
	if opts.FieldSelector != "" {
		if sel.fields, err = fields.ParseSelector(opts.FieldSelector); err != nil {
			return sel, apierrors.NewBadRequest(fmt.Sprintf("invalid field selector: %v", err))
		}
		supported := fields.Set{"metadata.name": "", "metadata.namespace": ""}
		if r.fields != nil {
			for k := range r.fields(r.newObj()) {
				supported[k] = ""
			}
		}
		for _, req := range sel.fields.Requirements() {
			if _, ok := supported[req.Field]; !ok {
				return sel, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", req.Field))
			}
		}
	}
	return sel, nil
}

func (sel selector) matches(r *Resource, obj runtime.Object) bool {
	return sel.matchesWith(obj, func() fields.Set { return objectFields(r, obj) })
}

// matchesWith is matches with the object's field set made by fs, called
// only when the field selector needs it (a shared event's is made once for
// every watcher: sharedEvent.fieldSet).
func (sel selector) matchesWith(obj runtime.Object, fs func() fields.Set) bool {
	m, _ := meta.Accessor(obj)
	if !sel.labels.Empty() && !sel.labels.Matches(labels.Set(m.GetLabels())) {
		return false
	}
	if sel.fields.Empty() {
		return true
	}
	return sel.fields.Matches(fs())
}

// objectFields is the object's field set for field selectors.
func objectFields(r *Resource, obj runtime.Object) fields.Set {
	m, _ := meta.Accessor(obj)
	fs := fields.Set{"metadata.name": m.GetName(), "metadata.namespace": m.GetNamespace()}
	if r.fields != nil {
		for k, v := range r.fields(obj) {
			fs[k] = v
		}
	}
	return fs
}

// List returns the objects of r in ns ("" = all namespaces) that match the
// selectors, as the resource's list kind.
func (s *Server) List(ctx context.Context, r *Resource, ns string, opts metav1.ListOptions) (runtime.Object, error) {
	sel, err := s.parseSelector(r, opts)
	if err != nil {
		return nil, err
	}
	if c := s.cacherFor(r); c != nil { // cacher.go
		if obj, ok, err := c.list(ctx, ns, sel, opts); ok || err != nil {
			if err != nil {
				return nil, storeErr(r, "", err)
			}
			return obj, nil
		}
	}
	kvs, rev, err := s.store.List(ctx, r.prefix(ns))
	if err != nil {
		return nil, storeErr(r, "", err)
	}
	var items []runtime.Object
	for _, kv := range kvs {
		obj, err := s.decode(r, kv)
		if err != nil {
			return nil, err
		}
		if sel.matches(r, obj) {
			items = append(items, obj)
		}
	}
	list := r.newList()
	if err := meta.SetList(list, items); err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	lm, _ := meta.ListAccessor(list)
	lm.SetResourceVersion(strconv.FormatInt(rev, 10))
	list.GetObjectKind().SetGroupVersionKind(r.GVR.GroupVersion().WithKind(r.Kind + "List"))
	return list, nil
}

// --- update ---------------------------------------------------------------

// Update replaces an object (subresource "" or "status"). An empty
// resourceVersion is an unconditional update.
func (s *Server) Update(ctx context.Context, r *Resource, ns string, obj runtime.Object, subresource string) (runtime.Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if r.Namespaced && m.GetNamespace() == "" {
		m.SetNamespace(ns)
	}
	if ns != "" && r.Namespaced && m.GetNamespace() != ns {
		return nil, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	want, err := parseRV(m.GetResourceVersion())
	if err != nil {
		return nil, err
	}
	return s.updateFrom(ctx, r, m.GetNamespace(), m.GetName(), want, func(runtime.Object) (runtime.Object, error) {
		return obj.DeepCopyObject(), nil
	}, subresource, false)
}

// update applies mutate to the current object and writes the result with
// compare-and-swap, retrying on conflicts unless the caller pinned a
// resourceVersion (want > 0).
func (s *Server) update(ctx context.Context, r *Resource, ns, name string, want int64, mutate func(old runtime.Object) (runtime.Object, error), subresource string) (runtime.Object, error) {
	return s.updateFrom(ctx, r, ns, name, want, mutate, subresource, true)
}

// updateFrom is update; mutate is handed a copy of the current object
// when copyOld, else the current object itself, which it must not change
// (Update's, which replaces it, does not read it).
func (s *Server) updateFrom(ctx context.Context, r *Resource, ns, name string, want int64, mutate func(old runtime.Object) (runtime.Object, error), subresource string, copyOld bool) (runtime.Object, error) {
	if subresource != "" && subresource != "binding" && !(subresource == "status" && r.Status) && !(subresource == "approval" && r.approval) {
		return nil, apierrors.NewNotFound(r.GVR.GroupResource(), name+"/"+subresource)
	}
	if r.serialize != nil && subresource == "" {
		r.serialize.Lock()
		defer r.serialize.Unlock()
	}
	for attempt := 0; ; attempt++ {
		kv, err := s.store.Get(ctx, r.key(ns, name))
		if err != nil {
			return nil, storeErr(r, name, err)
		}
		if want > 0 && kv.ModRevision != want {
			return nil, storeErr(r, name, store.ErrConflict)
		}
		old, err := s.decode(r, kv)
		if err != nil {
			return nil, err
		}
		cur := old
		if copyOld {
			cur = old.DeepCopyObject()
		}
		obj, err := mutate(cur)
		if err != nil {
			return nil, err
		}
		if obj, err = s.manageFields(ctx, r, subresource, old, obj); err != nil { // managedfields.go
			return nil, err
		}
		obj, err = s.prepareUpdate(r, obj, old, subresource)
		if err != nil {
			return nil, err
		}
		if r.admit != nil && subresource == "" {
			if err := r.admit(ctx, s, obj, old); err != nil {
				return nil, err
			}
		}
		keepTimesOfNoop(old, obj) // managedfields.go
		om, _ := meta.Accessor(obj)
		oldm, _ := meta.Accessor(old)
		if om.GetDeletionTimestamp() != nil && len(om.GetFinalizers()) == 0 && len(oldm.GetFinalizers()) > 0 && s.gracefulDone(r, obj) {
			// The last finalizer is gone: the object goes.
			if isDryRun(ctx) {
				return obj, nil
			}
			dkv, err := s.store.Delete(ctx, kv.Key, kv.ModRevision)
			if errors.Is(err, store.ErrConflict) && want == 0 && attempt < 100 {
				continue
			}
			if err != nil {
				return nil, storeErr(r, name, err)
			}
			r.wrote(dkv.ModRevision)
			return obj, nil
		}
		if subresource != "binding" && equality.Semantic.DeepEqual(obj, old) {
			return old, nil // no-op updates do not bump resourceVersion
		}
		if isDryRun(ctx) {
			return obj, nil // keeps the current resourceVersion
		}
		b, err := s.encode(r, obj)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		nkv, err := s.store.Update(ctx, kv.Key, b, kv.ModRevision)
		if errors.Is(err, store.ErrConflict) && want == 0 && attempt < 100 {
			continue
		}
		if err != nil {
			return nil, storeErr(r, name, err)
		}
		r.wrote(nkv.ModRevision)
		om.SetResourceVersion(strconv.FormatInt(nkv.ModRevision, 10))
		return obj, nil
	}
}

// gracefulDone: an object with finalizers removed is deleted at once,
// except a pod still in its graceful termination (the node agent deletes
// it when its containers have stopped).
func (s *Server) gracefulDone(r *Resource, obj runtime.Object) bool {
	if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" && !podTerminal(p) {
		return false
	}
	return true
}

// prepareUpdate keeps what the request may not change: identity and
// creation metadata always; status on the main resource; everything but
// status on /status.
func (s *Server) prepareUpdate(r *Resource, obj, old runtime.Object, subresource string) (runtime.Object, error) {
	om, _ := meta.Accessor(old)
	nm, _ := meta.Accessor(obj)
	if nm.GetName() != om.GetName() {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", nm.GetName(), om.GetName()))
	}
	if nm.GetUID() != "" && nm.GetUID() != om.GetUID() {
		return nil, apierrors.NewConflict(r.GVR.GroupResource(), om.GetName(),
			fmt.Errorf("Precondition failed: UID in precondition: %s, UID in object meta: %s", nm.GetUID(), om.GetUID()))
	}
	obj.GetObjectKind().SetGroupVersionKind(r.GVK())
	if subresource == "binding" {
		return obj, nil // built by Bind from the current object
	}
	if subresource == "status" || subresource == "approval" {
		// Only status changes: take the old object and its new status.
		merged := old.DeepCopyObject()
		if err := copyField(merged, obj, "Status"); err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		mm, _ := meta.Accessor(merged)
		mm.SetManagedFields(nm.GetManagedFields()) // manageFields decides what they become
		if _, custom := obj.(*unstructured.Unstructured); !custom {
			// Upstream's status strategies of the built-in kinds reset
			// only spec (pods also deletionTimestamp and ownerReferences):
			// labels and annotations may change through /status, as the
			// conformance tests "Pods should patch a pod status" and
			// "CronJob should support CronJob API operations" do. A
			// Deployment's status strategy resets metadata.labels too; a
			// custom resource's keeps all of the old metadata.
			if !(r.GVR.Group == "apps" && r.GVR.Resource == "deployments") {
				mm.SetLabels(nm.GetLabels())
			}
			mm.SetAnnotations(nm.GetAnnotations())
		}
		if err := validateWorkloadStatus(merged, old); err != nil { // workloads.go
			return nil, err
		}
		if r.prepareStatus != nil {
			if err := r.prepareStatus(subresource, merged, old); err != nil { // csr.go
				return nil, err
			}
		}
		return merged, nil
	}
	nm.SetUID(om.GetUID())
	nm.SetCreationTimestamp(om.GetCreationTimestamp())
	nm.SetDeletionTimestamp(om.GetDeletionTimestamp())
	nm.SetDeletionGracePeriodSeconds(om.GetDeletionGracePeriodSeconds())
	nm.SetNamespace(om.GetNamespace())
	nm.SetResourceVersion(om.GetResourceVersion())
	nm.SetGeneration(om.GetGeneration())
	if r.Status {
		if err := copyField(obj, old, "Status"); err != nil {
			return nil, apierrors.NewInternalError(err)
		}
	}
	if changed, err := specChanged(obj, old); err != nil {
		return nil, apierrors.NewInternalError(err)
	} else if changed {
		nm.SetGeneration(om.GetGeneration() + 1)
	}
	if err := s.validateObject(r, obj, old); err != nil {
		return nil, err
	}
	return obj, nil
}

// --- delete ---------------------------------------------------------------

// Delete deletes an object. Pods bound to a node are deleted gracefully:
// the object gets deletionTimestamp and deletionGracePeriodSeconds, and the
// node agent removes it once its containers have stopped. Objects with
// finalizers are marked and removed when the last finalizer goes. It
// returns the object as it was deleted or marked.
func (s *Server) Delete(ctx context.Context, r *Resource, ns, name string, opts metav1.DeleteOptions) (runtime.Object, error) {
	ctx = dryRunDelete(ctx, opts) // dryrun.go
	for attempt := 0; ; attempt++ {
		kv, err := s.store.Get(ctx, r.key(ns, name))
		if err != nil {
			return nil, storeErr(r, name, err)
		}
		obj, err := s.decode(r, kv)
		if err != nil {
			return nil, err
		}
		m, _ := meta.Accessor(obj)
		if pc := opts.Preconditions; pc != nil {
			if pc.UID != nil && *pc.UID != m.GetUID() {
				return nil, apierrors.NewConflict(r.GVR.GroupResource(), name,
					fmt.Errorf("Precondition failed: UID in precondition: %s, UID in object meta: %s", *pc.UID, m.GetUID()))
			}
			if pc.ResourceVersion != nil && *pc.ResourceVersion != m.GetResourceVersion() {
				return nil, apierrors.NewConflict(r.GVR.GroupResource(), name,
					fmt.Errorf("Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s", *pc.ResourceVersion, m.GetResourceVersion()))
			}
		}
		if r.GVR.Resource == "namespaces" && immortalNamespaces[name] {
			return nil, apierrors.NewForbidden(r.GVR.GroupResource(), name, fmt.Errorf("this namespace may not be deleted"))
		}
		grace, graceful := s.gracePeriod(r, obj, opts)
		warnDefaultOrphan(ctx, r, opts)              // deletion.go
		gcUpdate, gcFins := gcFinalizers(r, m, opts) // deletion.go
		if graceful || len(gcFins) > 0 {
			now := s.clock.Now()
			ts := metav1.NewTime(now.Add(time.Duration(grace) * time.Second))
			if dt := m.GetDeletionTimestamp(); dt != nil {
				// Already terminating: a shorter grace period may shorten it;
				// the options may still change the GC finalizers (not of a
				// pod in its graceful termination), as upstream.
				cur := m.GetDeletionGracePeriodSeconds()
				if !graceful || (cur != nil && *cur <= grace) {
					if graceful || !gcUpdate {
						return obj, nil
					}
					if ts = *dt; dt.Time.After(now) {
						ts = metav1.NewTime(now)
					}
				}
			} else if !graceful && m.GetGeneration() > 0 {
				m.SetGeneration(m.GetGeneration() + 1) // markAsDeleting
			}
			m.SetFinalizers(gcFins)
			m.SetDeletionTimestamp(&ts)
			m.SetDeletionGracePeriodSeconds(&grace)
			if r.GVR.Resource == "namespaces" {
				obj.(*corev1.Namespace).Status.Phase = corev1.NamespaceTerminating
			}
			if isDryRun(ctx) {
				return obj, nil
			}
			b, err := s.encode(r, obj)
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			nkv, err := s.store.Update(ctx, kv.Key, b, kv.ModRevision)
			if errors.Is(err, store.ErrConflict) && attempt < 100 {
				continue
			}
			if err != nil {
				return nil, storeErr(r, name, err)
			}
			r.wrote(nkv.ModRevision)
			m.SetResourceVersion(strconv.FormatInt(nkv.ModRevision, 10))
			return obj, nil
		}
		if isDryRun(ctx) {
			return obj, nil
		}
		dkv, err := s.store.Delete(ctx, kv.Key, kv.ModRevision)
		if err != nil {
			if errors.Is(err, store.ErrConflict) && attempt < 100 {
				continue
			}
			return nil, storeErr(r, name, err)
		}
		r.wrote(dkv.ModRevision)
		return obj, nil
	}
}

// immortalNamespaces may not be deleted, as upstream.
var immortalNamespaces = map[string]bool{metav1.NamespaceDefault: true, metav1.NamespaceSystem: true, metav1.NamespacePublic: true}

// FinalizeNamespace removes the "kubernetes" finalizer of a terminating
// namespace (the namespaces/finalize subresource); a namespace left with no
// finalizers is deleted.
func (s *Server) FinalizeNamespace(ctx context.Context, name string) error {
	r := s.resources["/namespaces"]
	for attempt := 0; ; attempt++ {
		kv, err := s.store.Get(ctx, r.key("", name))
		if err != nil {
			return storeErr(r, name, err)
		}
		obj, err := s.decode(r, kv)
		if err != nil {
			return err
		}
		ns := obj.(*corev1.Namespace)
		var keep []corev1.FinalizerName
		for _, f := range ns.Spec.Finalizers {
			if f != corev1.FinalizerKubernetes {
				keep = append(keep, f)
			}
		}
		ns.Spec.Finalizers = keep
		if ns.DeletionTimestamp != nil && len(keep) == 0 && len(ns.Finalizers) == 0 {
			_, err = s.store.Delete(ctx, kv.Key, kv.ModRevision)
		} else {
			var b []byte
			if b, err = s.encode(r, ns); err == nil {
				_, err = s.store.Update(ctx, kv.Key, b, kv.ModRevision)
			}
		}
		if errors.Is(err, store.ErrConflict) && attempt < 100 {
			continue
		}
		return storeErr(r, name, err)
	}
}

// gracePeriod decides whether a delete is graceful and for how long, with
// the rules of the upstream pod strategy.
func (s *Server) gracePeriod(r *Resource, obj runtime.Object, opts metav1.DeleteOptions) (int64, bool) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		if ns, ok := obj.(*corev1.Namespace); ok {
			// The namespace controller empties it, then finalizes it.
			return 0, len(ns.Spec.Finalizers) > 0
		}
		return 0, false
	}
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	if opts.GracePeriodSeconds != nil {
		grace = *opts.GracePeriodSeconds
	}
	if pod.Spec.NodeName == "" || podTerminal(pod) {
		return 0, false
	}
	if grace < 0 {
		// As upstream's pod strategy: a negative grace period is 1 s, not
		// a force delete (only 0 is).
		grace = 1
	}
	if grace == 0 {
		return 0, false
	}
	return grace, true
}

func podTerminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// --- watch ----------------------------------------------------------------

// Watch streams changes of r in ns. With resourceVersion "" or "0" it
// first sends the current objects as ADDED events (as upstream does);
// with SendInitialEvents it also ends them with the initial-events-end
// bookmark. Events after a given resourceVersion follow in order.
func (s *Server) Watch(ctx context.Context, r *Resource, ns string, opts metav1.ListOptions) (watch.Interface, error) {
	return s.watch(ctx, r, ns, opts, false)
}

// watch is Watch; with shared, the objects of store events are the
// read-only *sharedEvent decoded once for all watchers (watchcache.go),
// for the HTTP encoders; otherwise each is a private copy.
func (s *Server) watch(ctx context.Context, r *Resource, ns string, opts metav1.ListOptions, shared bool) (watch.Interface, error) {
	sel, err := s.parseSelector(r, opts)
	if err != nil {
		return nil, err
	}
	if c := s.cacherFor(r); c != nil { // cacher.go
		if w, ok, err := c.watch(ctx, ns, sel, opts, shared); ok || err != nil {
			if err != nil {
				return nil, storeErr(r, "", err)
			}
			return w, nil
		}
	}
	from, err := parseRV(opts.ResourceVersion)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	if opts.TimeoutSeconds != nil && *opts.TimeoutSeconds != 0 {
		// A negative timeout has passed: the watch ends at once, as
		// upstream's (handlers/get.go handleWatch's context and timer).
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*opts.TimeoutSeconds)*time.Second)
	}
	var initial []runtime.Object
	// matched: the keys whose latest version the client has, by the
	// selector, as of the list below. A watch resumed from a revision
	// replays the events up to that list (replayedUntil), whose previous
	// versions it does not know (replaySeen: the keys seen since).
	matched := map[string]bool{}
	var replayedUntil int64
	replaySeen := map[string]bool{}
	sendInitial := from == 0 || (opts.SendInitialEvents != nil && *opts.SendInitialEvents)
	if sendInitial || !sel.labels.Empty() || !sel.fields.Empty() {
		kvs, rev, err := s.store.List(ctx, r.prefix(ns))
		if err != nil {
			cancel()
			return nil, storeErr(r, "", err)
		}
		for _, kv := range kvs {
			obj, err := s.decode(r, kv)
			if err != nil {
				cancel()
				return nil, err
			}
			if sel.matches(r, obj) {
				matched[kv.Key] = true
				if sendInitial {
					initial = append(initial, obj)
				}
			}
		}
		if sendInitial {
			from = rev
		} else {
			replayedUntil = rev
		}
	}
	events, err := s.store.Watch(ctx, r.prefix(ns), from)
	if err != nil {
		cancel()
		if errors.Is(err, store.ErrCompacted) {
			return nil, apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d", from))
		}
		return nil, storeErr(r, "", err)
	}
	everything := sel.labels.Empty() && sel.fields.Empty()
	w := &watcher{ch: make(chan watch.Event, 100), cancel: cancel}
	go func() {
		defer close(w.ch)
		defer cancel()
		send := func(ev watch.Event) bool {
			select {
			case w.ch <- ev:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for _, obj := range initial {
			if !send(watch.Event{Type: watch.Added, Object: obj}) {
				return
			}
		}
		if opts.SendInitialEvents != nil && *opts.SendInitialEvents && opts.AllowWatchBookmarks {
			bm := r.newObj()
			bm.GetObjectKind().SetGroupVersionKind(r.GVK())
			bmm, _ := meta.Accessor(bm)
			bmm.SetResourceVersion(strconv.FormatInt(from, 10))
			bmm.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
			if !send(watch.Event{Type: watch.Bookmark, Object: bm}) {
				return
			}
		}
		for ev := range events {
			if ev.Type == store.Error {
				send(watch.Event{Type: watch.Error, Object: &apierrors.NewResourceExpired(fmt.Sprintf("watch fell behind: %v", ev.Err)).ErrStatus})
				return
			}
			se := s.decoded(r, ev.KV)
			if se.err != nil {
				send(watch.Event{Type: watch.Error, Object: &apierrors.NewInternalError(se.err).ErrStatus})
				return
			}
			var typ watch.EventType
			match := sel.matchesWith(se.obj, se.fieldSet)
			was := matched[ev.KV.Key] || everything
			if !everything && ev.KV.ModRevision <= replayedUntil && !replaySeen[ev.KV.Key] {
				// A replayed event of a key this watch has not seen yet:
				// its previous version is unknown (the list is of now, not
				// of the resumed revision). As upstream's filter on the
				// previous object: a deletion is sent when the deleted
				// (last) version matched, a creation had none; a change is
				// sent as MODIFIED when it matches and as DELETED when it
				// does not (the client may hold an older, matching one).
				replaySeen[ev.KV.Key] = true
				switch ev.Type {
				case store.Deleted:
					was = match
				case store.Added:
					was = false
				default:
					was = true
				}
				if was {
					matched[ev.KV.Key] = true
				} else {
					delete(matched, ev.KV.Key)
				}
			}
			switch {
			case ev.Type == store.Deleted:
				if !was {
					continue
				}
				delete(matched, ev.KV.Key)
				typ = watch.Deleted
			case match && was:
				typ = watch.Modified
			case match:
				matched[ev.KV.Key] = true
				typ = watch.Added
			case was:
				delete(matched, ev.KV.Key)
				typ = watch.Deleted
			default:
				continue
			}
			if ev.Type == store.Added && typ == watch.Modified {
				typ = watch.Added
			}
			var obj runtime.Object = se
			if !shared {
				obj = se.DeepCopyObject()
			}
			if !send(watch.Event{Type: typ, Object: obj}) {
				return
			}
		}
	}()
	return w, nil
}

type watcher struct {
	ch     chan watch.Event
	cancel context.CancelFunc
}

func (w *watcher) Stop()                          { w.cancel() }
func (w *watcher) ResultChan() <-chan watch.Event { return w.ch }
