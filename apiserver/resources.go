package apiserver

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Resource describes one REST resource the server serves.
type Resource struct {
	GVR        schema.GroupVersionResource
	Kind       string
	Namespaced bool
	ShortNames []string
	// Categories are the discovery categories the resource belongs to
	// ("all": what `kubectl get all` lists, as upstream's).
	Categories []string
	// Status is true when the resource has a status subresource (the main
	// resource then ignores status changes and /status ignores the rest).
	Status bool
	// approval: the resource has the approval subresource (CSRs), which
	// updates status as /status does; prepareStatus, when set, adjusts and
	// checks an update through /status or /approval (sub) of old to obj.
	approval      bool
	prepareStatus func(sub string, obj, old runtime.Object) error
	// new returns an empty object and list of the kind.
	newObj  func() runtime.Object
	newList func() runtime.Object
	// fields returns the object's selectable fields (metadata.name and
	// metadata.namespace are always there).
	fields func(obj runtime.Object) fields.Set
	// strategy hooks; nil means none.
	prepareCreate  func(s *Server, obj runtime.Object) error
	validate       func(s *Server, obj runtime.Object) error
	validateUpdate func(s *Server, obj, old runtime.Object) error
	// admit, when set, runs after validation on create (old nil) and update
	// with the request's context (its user: RBAC escalation checks,
	// admin-only pod images).
	admit func(ctx context.Context, s *Server, obj, old runtime.Object) error
	// serialize, when set, is held around every create and update of the
	// resource, so that allocations made by its hooks (Service cluster IPs
	// and node ports) see the writes before them.
	serialize *sync.Mutex
	// lastWrite is the revision of this server's latest write of the
	// resource (wrote), for reads that must see it (limitRanges).
	lastWrite atomic.Int64
	// listOnly, when set, says why the resource is served with the verbs
	// get, list and watch only (listonly.go): writes are refused.
	listOnly string
}

// wrote records a write of the resource at rev by this server.
func (r *Resource) wrote(rev int64) {
	for {
		cur := r.lastWrite.Load()
		if rev <= cur || r.lastWrite.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// GVK is the resource's group, version and kind.
func (r *Resource) GVK() schema.GroupVersionKind { return r.GVR.GroupVersion().WithKind(r.Kind) }

// Singular is the lower-case kind.
func (r *Resource) Singular() string { return strings.ToLower(r.Kind) }

func (r *Resource) prefix(ns string) string {
	p := "/" + r.GVR.Resource + "/"
	if r.GVR.Group != "" {
		p = "/" + r.GVR.Group + p
	}
	if r.Namespaced && ns != "" {
		p += ns + "/"
	}
	return p
}

func (r *Resource) key(ns, name string) string {
	if r.Namespaced {
		return r.prefix(ns) + name
	}
	return r.prefix("") + name
}

func podFields(obj runtime.Object) fields.Set {
	p := obj.(*corev1.Pod)
	return fields.Set{
		"spec.nodeName":            p.Spec.NodeName,
		"spec.restartPolicy":       string(p.Spec.RestartPolicy),
		"spec.schedulerName":       p.Spec.SchedulerName,
		"spec.serviceAccountName":  p.Spec.ServiceAccountName,
		"status.phase":             string(p.Status.Phase),
		"status.podIP":             p.Status.PodIP,
		"status.nominatedNodeName": p.Status.NominatedNodeName,
	}
}

func eventFields(obj runtime.Object) fields.Set {
	e := obj.(*corev1.Event)
	return fields.Set{
		"involvedObject.kind":            e.InvolvedObject.Kind,
		"involvedObject.namespace":       e.InvolvedObject.Namespace,
		"involvedObject.name":            e.InvolvedObject.Name,
		"involvedObject.uid":             string(e.InvolvedObject.UID),
		"involvedObject.apiVersion":      e.InvolvedObject.APIVersion,
		"involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
		"involvedObject.fieldPath":       e.InvolvedObject.FieldPath,
		"reason":                         e.Reason,
		"reportingComponent":             e.ReportingController,
		"source":                         e.Source.Component,
		"type":                           e.Type,
	}
}

func nodeFields(obj runtime.Object) fields.Set {
	n := obj.(*corev1.Node)
	return fields.Set{"spec.unschedulable": fmt.Sprint(n.Spec.Unschedulable)}
}

func namespaceFields(obj runtime.Object) fields.Set {
	n := obj.(*corev1.Namespace)
	return fields.Set{"status.phase": string(n.Status.Phase)}
}

// prepareSecretCreate defaults a Secret's type to Opaque, as upstream's
// defaulting does (kubectl get secrets prints it in TYPE).
func prepareSecretCreate(_ *Server, obj runtime.Object) error {
	sec := obj.(*corev1.Secret)
	if sec.Type == "" {
		sec.Type = corev1.SecretTypeOpaque
	}
	// stringData is write-only: merged into data (over its keys), never
	// stored, as upstream's v1 conversion does.
	if len(sec.StringData) > 0 && sec.Data == nil {
		sec.Data = map[string][]byte{}
	}
	for k, v := range sec.StringData {
		sec.Data[k] = []byte(v)
	}
	sec.StringData = nil
	return nil
}

// validateSecretUpdate defaults the type as on create and refuses to change
// it (upstream's "field is immutable"); a Secret stored without a type takes
// the new one.
func validateSecretUpdate(s *Server, obj, old runtime.Object) error {
	prepareSecretCreate(s, obj)
	sec, was := obj.(*corev1.Secret), old.(*corev1.Secret)
	if was.Type != "" && sec.Type != was.Type {
		return apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, sec.Name,
			field.ErrorList{field.Invalid(field.NewPath("type"), sec.Type, "field is immutable")})
	}
	return secretUpdateErrors(sec, was) // configdata.go
}

// defaultResources is the table of served resources.
func defaultResources() []*Resource {
	core := func(res, kind string, namespaced bool, short []string, newObj, newList func() runtime.Object) *Resource {
		return &Resource{GVR: corev1.SchemeGroupVersion.WithResource(res), Kind: kind, Namespaced: namespaced, ShortNames: short, newObj: newObj, newList: newList}
	}
	pods := core("pods", "Pod", true, []string{"po"}, func() runtime.Object { return &corev1.Pod{} }, func() runtime.Object { return &corev1.PodList{} })
	pods.Status, pods.fields = true, podFields
	pods.prepareCreate, pods.validate, pods.validateUpdate = preparePodCreate, validatePod, validatePodUpdate
	pods.admit = admitHostImages // rbac_images.go

	nodes := core("nodes", "Node", false, []string{"no"}, func() runtime.Object { return &corev1.Node{} }, func() runtime.Object { return &corev1.NodeList{} })
	nodes.Status, nodes.fields = true, nodeFields

	nss := core("namespaces", "Namespace", false, []string{"ns"}, func() runtime.Object { return &corev1.Namespace{} }, func() runtime.Object { return &corev1.NamespaceList{} })
	nss.Status, nss.fields = true, namespaceFields
	nss.prepareCreate = prepareNamespaceCreate

	events := core("events", "Event", true, []string{"ev"}, func() runtime.Object { return &corev1.Event{} }, func() runtime.Object { return &corev1.EventList{} })
	events.fields = eventFields

	services := core("services", "Service", true, []string{"svc"}, func() runtime.Object { return &corev1.Service{} }, func() runtime.Object { return &corev1.ServiceList{} })
	services.Status = true
	services.prepareCreate, services.validate, services.validateUpdate = prepareServiceCreate, validateService, validateServiceUpdate
	services.serialize = &sync.Mutex{}
	endpoints := core("endpoints", "Endpoints", true, []string{"ep"}, func() runtime.Object { return &corev1.Endpoints{} }, func() runtime.Object { return &corev1.EndpointsList{} })
	configmaps := core("configmaps", "ConfigMap", true, []string{"cm"}, func() runtime.Object { return &corev1.ConfigMap{} }, func() runtime.Object { return &corev1.ConfigMapList{} })
	secrets := core("secrets", "Secret", true, nil, func() runtime.Object { return &corev1.Secret{} }, func() runtime.Object { return &corev1.SecretList{} })
	secrets.prepareCreate, secrets.validateUpdate = prepareSecretCreate, validateSecretUpdate
	secrets.validate = validateSecret // configdata.go
	configmaps.validate, configmaps.validateUpdate = validateConfigMap, validateConfigMapUpdate
	limitranges := core("limitranges", "LimitRange", true, []string{"limits"}, func() runtime.Object { return &corev1.LimitRange{} }, func() runtime.Object { return &corev1.LimitRangeList{} })
	limitranges.prepareCreate, limitranges.validate, limitranges.validateUpdate = prepareLimitRange, validateLimitRange, validateLimitRangeUpdate

	leases := &Resource{GVR: coordinationv1.SchemeGroupVersion.WithResource("leases"), Kind: "Lease", Namespaced: true,
		newObj: func() runtime.Object { return &coordinationv1.Lease{} }, newList: func() runtime.Object { return &coordinationv1.LeaseList{} }}
	slices := &Resource{GVR: discoveryv1.SchemeGroupVersion.WithResource("endpointslices"), Kind: "EndpointSlice", Namespaced: true,
		newObj: func() runtime.Object { return &discoveryv1.EndpointSlice{} }, newList: func() runtime.Object { return &discoveryv1.EndpointSliceList{} }}
	apps := func(res, kind string, short []string, newObj, newList func() runtime.Object) *Resource {
		return &Resource{GVR: appsv1.SchemeGroupVersion.WithResource(res), Kind: kind, Namespaced: true, ShortNames: short, Status: true, newObj: newObj, newList: newList,
			validate: validateWorkloadImages, validateUpdate: validateWorkloadImagesUpdate} // modules.go
	}
	batch := func(res, kind string, short []string, newObj, newList func() runtime.Object) *Resource {
		return &Resource{GVR: batchv1.SchemeGroupVersion.WithResource(res), Kind: kind, Namespaced: true, ShortNames: short, Status: true, newObj: newObj, newList: newList,
			validate: validateWorkloadImages, validateUpdate: validateWorkloadImagesUpdate} // modules.go
	}
	all := []string{"all"} // upstream's "all": pods, services and the workload kinds
	pods.Categories, services.Categories = all, all
	workload := func(r *Resource) *Resource {
		r.Categories, r.admit = all, admitHostImages
		return workloadStrategy(r) // workloads.go: defaults, validation, generated Job selectors
	}
	return append([]*Resource{
		pods, nodes, nss, events, services, endpoints, configmaps, secrets, limitranges, leases, slices,
		serviceAccountResource(), // serviceaccounts.go
		pdbResource(),            // pdb.go
		runtimeClassResource(),   // runtimeclass.go
		hpaResource(),            // hpa.go
		csrResource(),            // csr.go
		workload(apps("replicasets", "ReplicaSet", []string{"rs"}, func() runtime.Object { return &appsv1.ReplicaSet{} }, func() runtime.Object { return &appsv1.ReplicaSetList{} })),
		workload(apps("deployments", "Deployment", []string{"deploy"}, func() runtime.Object { return &appsv1.Deployment{} }, func() runtime.Object { return &appsv1.DeploymentList{} })),
		workload(apps("daemonsets", "DaemonSet", []string{"ds"}, func() runtime.Object { return &appsv1.DaemonSet{} }, func() runtime.Object { return &appsv1.DaemonSetList{} })),
		controllerRevisionResource(), // apps/v1 ControllerRevision: DaemonSet (and StatefulSet) history
		workload(batch("jobs", "Job", nil, func() runtime.Object { return &batchv1.Job{} }, func() runtime.Object { return &batchv1.JobList{} })),
		workload(batch("cronjobs", "CronJob", []string{"cj"}, func() runtime.Object { return &batchv1.CronJob{} }, func() runtime.Object { return &batchv1.CronJobList{} })),
	}, listOnlyResources()...) // listonly.go: kubectl's default prune allowlist
}

// controllerRevisionResource serves apps/v1 controllerrevisions (no
// status, no short name, not in "all"), with upstream's
// ValidateControllerRevision: data required, revision not negative, data
// immutable.
func controllerRevisionResource() *Resource {
	r := &Resource{GVR: appsv1.SchemeGroupVersion.WithResource("controllerrevisions"), Kind: "ControllerRevision", Namespaced: true,
		newObj: func() runtime.Object { return &appsv1.ControllerRevision{} }, newList: func() runtime.Object { return &appsv1.ControllerRevisionList{} }}
	check := func(cr *appsv1.ControllerRevision) field.ErrorList {
		var errs field.ErrorList
		if cr.Data.Raw == nil && cr.Data.Object == nil {
			errs = append(errs, field.Required(field.NewPath("data"), "data is mandatory"))
		}
		if cr.Revision < 0 {
			errs = append(errs, field.Invalid(field.NewPath("revision"), cr.Revision, "must be greater than or equal to 0"))
		}
		return errs
	}
	invalid := func(cr *appsv1.ControllerRevision, errs field.ErrorList) error {
		return apierrors.NewInvalid(appsv1.SchemeGroupVersion.WithKind("ControllerRevision").GroupKind(), cr.Name, errs)
	}
	r.validate = func(_ *Server, obj runtime.Object) error {
		cr := obj.(*appsv1.ControllerRevision)
		if errs := check(cr); len(errs) > 0 {
			return invalid(cr, errs)
		}
		return nil
	}
	r.validateUpdate = func(_ *Server, obj, old runtime.Object) error {
		cr, o := obj.(*appsv1.ControllerRevision), old.(*appsv1.ControllerRevision)
		errs := check(cr)
		if !bytes.Equal(cr.Data.Raw, o.Data.Raw) {
			errs = append(errs, field.Invalid(field.NewPath("data"), "", "field is immutable"))
		}
		if len(errs) > 0 {
			return invalid(cr, errs)
		}
		return nil
	}
	return r
}

// Resources lists the served resources, sorted by group then name.
func (s *Server) Resources() []*Resource {
	out := make([]*Resource, 0, len(s.resources))
	for _, r := range s.resources {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].GVR.Group != out[j].GVR.Group {
			return out[i].GVR.Group < out[j].GVR.Group
		}
		return out[i].GVR.Resource < out[j].GVR.Resource
	})
	return out
}

// Resource finds a served resource by group and plural name.
func (s *Server) Resource(group, resource string) (*Resource, bool) {
	r, ok := s.resources[group+"/"+resource]
	return r, ok
}

// ResourceFor finds the resource of an object's kind.
func (s *Server) ResourceFor(gvk schema.GroupVersionKind) (*Resource, bool) {
	for _, r := range s.resources {
		if r.GVK() == gvk {
			return r, true
		}
	}
	return nil, false
}

var _ = metav1.Object(nil)
