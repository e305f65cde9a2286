package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/wasmpod/wasmpod/api"
)

type typesUID = types.UID

// copyField copies the exported struct field name from src to dst (both
// pointers to the same struct type).
func copyField(dst, src runtime.Object, name string) error {
	dv, sv := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src).Elem()
	if dv.Type() != sv.Type() {
		return fmt.Errorf("copyField: %s vs %s", dv.Type(), sv.Type())
	}
	f := dv.FieldByName(name)
	if !f.IsValid() {
		return nil
	}
	f.Set(sv.FieldByName(name))
	return nil
}

// specChanged compares the objects' spec fields: a change bumps
// metadata.generation. Only the kinds that track a generation
// (tracksGeneration, workloads.go) ever change it; a Deployment's
// annotations count too, as upstream's deployment strategy (they are copied
// to its ReplicaSets).
func specChanged(a, b runtime.Object) (bool, error) {
	if !tracksGeneration(a) {
		return false, nil
	}
	av, bv := reflect.ValueOf(a).Elem().FieldByName("Spec"), reflect.ValueOf(b).Elem().FieldByName("Spec")
	if !av.IsValid() || !bv.IsValid() {
		return false, nil
	}
	if da, ok := a.(*appsv1.Deployment); ok && !equality.Semantic.DeepEqual(da.Annotations, b.(*appsv1.Deployment).Annotations) {
		return true, nil
	}
	return !equality.Semantic.DeepEqual(av.Interface(), bv.Interface()), nil
}

func preparePodCreate(s *Server, obj runtime.Object) error {
	p := obj.(*corev1.Pod)
	api.SetDefaultsPod(p)
	p.Status = corev1.PodStatus{Phase: corev1.PodPending}
	admitDefaultTolerationSeconds(p)               // defaulttolerationseconds.go
	if err := s.admitRuntimeClass(p); err != nil { // runtimeclass.go
		return err
	}
	return s.admitServiceAccount(p) // serviceaccount_admission.go
}

func invalid(kind, name string, errs field.ErrorList) error {
	return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind(kind).GroupKind(), name, errs)
}

// validatePod admits a new pod (it runs only on create, right after
// preparePodCreate): LimitRanger's defaults (limitrange.go) after the pod's
// own, validation, then LimitRanger's checks, with the namespace's
// LimitRanges listed once.
func validatePod(s *Server, obj runtime.Object) error {
	p := obj.(*corev1.Pod)
	lrs, err := s.limitRanges(context.Background(), p.Namespace)
	if err != nil {
		return err
	}
	applyLimitRangeDefaults(p, lrs)
	if errs := append(api.ValidatePod(p, s.opts.Validation), s.relativeImageErrors(p, nil)...); len(errs) > 0 { // modules.go
		return invalid("Pod", p.Name, errs)
	}
	return checkLimitRanges(p, lrs)
}

// validatePodUpdate allows what upstream allows of a pod's spec after
// creation: container images, activeDeadlineSeconds, added tolerations and
// the scheduler's nodeName binding (through /binding only).
func validatePodUpdate(s *Server, obj, old runtime.Object) error {
	p, o := obj.(*corev1.Pod), old.(*corev1.Pod)
	api.SetDefaultsPod(p)
	opts := s.opts.Validation
	opts.AllowInvalidPodDeletionCost = !api.ValidPodDeletionCost(o.Annotations)
	if errs := append(api.ValidatePod(p, opts), s.relativeImageErrors(p, o)...); len(errs) > 0 { // modules.go
		return invalid("Pod", p.Name, errs)
	}
	// Containers keep their number (upstream's ValidateContainerUpdates).
	for _, n := range []struct {
		field    string
		now, was int
	}{{"containers", len(p.Spec.Containers), len(o.Spec.Containers)}, {"initContainers", len(p.Spec.InitContainers), len(o.Spec.InitContainers)}} {
		if n.now != n.was {
			return invalid("Pod", p.Name, field.ErrorList{field.Forbidden(field.NewPath("spec", n.field), "pod updates may not add or remove containers")})
		}
	}
	// activeDeadlineSeconds may only be set or lowered, as upstream's
	// ValidatePodUpdate.
	adsPath := field.NewPath("spec", "activeDeadlineSeconds")
	if nd, od := p.Spec.ActiveDeadlineSeconds, o.Spec.ActiveDeadlineSeconds; nd != nil && od != nil && *od < *nd {
		return invalid("Pod", p.Name, field.ErrorList{field.Invalid(adsPath, *nd, "must be less than or equal to previous value")})
	} else if nd == nil && od != nil {
		return invalid("Pod", p.Name, field.ErrorList{field.Invalid(adsPath, nd, "must not update from a positive integer to nil value")})
	}
	a, b := p.Spec.DeepCopy(), o.Spec.DeepCopy()
	for i := range a.Containers {
		if i < len(b.Containers) {
			a.Containers[i].Image = b.Containers[i].Image
		}
	}
	for i := range a.InitContainers {
		if i < len(b.InitContainers) {
			a.InitContainers[i].Image = b.InitContainers[i].Image
		}
	}
	a.ActiveDeadlineSeconds = b.ActiveDeadlineSeconds
	if len(a.Tolerations) >= len(b.Tolerations) && equality.Semantic.DeepEqual(a.Tolerations[:len(b.Tolerations)], b.Tolerations) {
		a.Tolerations = b.Tolerations
	}
	// schedulingGates may only be removed (upstream's
	// validateOnlyDeletedSchedulingGates).
	for i, g := range a.SchedulingGates {
		if !slices.ContainsFunc(b.SchedulingGates, func(og corev1.PodSchedulingGate) bool { return og.Name == g.Name }) {
			return invalid("Pod", p.Name, field.ErrorList{field.Forbidden(field.NewPath("spec", "schedulingGates").Index(i).Child("name"),
				fmt.Sprintf("only deletion is allowed, but found new scheduling gate '%s'", g.Name))})
		}
	}
	a.SchedulingGates = b.SchedulingGates
	// A negative terminationGracePeriodSeconds may become 1.
	if og, ng := b.TerminationGracePeriodSeconds, a.TerminationGracePeriodSeconds; og != nil && *og < 0 && ng != nil && *ng == 1 {
		a.TerminationGracePeriodSeconds = og
	}
	if !equality.Semantic.DeepEqual(a, b) {
		// Upstream appends a diff of the two specs; this names the fields.
		return invalid("Pod", p.Name, field.ErrorList{field.Forbidden(field.NewPath("spec"),
			"pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n"+
				"changed: "+strings.Join(podSpecChanges(b, a), ", "))})
	}
	return nil
}

// podSpecChanges names the fields of a pod spec that differ between old
// and cur (containers by index and field), by their JSON names.
func podSpecChanges(old, cur *corev1.PodSpec) []string {
	var out []string
	jsonName := func(f reflect.StructField) string {
		n, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		return n
	}
	ov, cv := reflect.ValueOf(old).Elem(), reflect.ValueOf(cur).Elem()
	for i := 0; i < ov.NumField(); i++ {
		f := ov.Type().Field(i)
		if equality.Semantic.DeepEqual(ov.Field(i).Interface(), cv.Field(i).Interface()) {
			continue
		}
		name := "spec." + jsonName(f)
		oc, ok1 := ov.Field(i).Interface().([]corev1.Container)
		cc, ok2 := cv.Field(i).Interface().([]corev1.Container)
		if !ok1 || !ok2 || len(oc) != len(cc) {
			out = append(out, name)
			continue
		}
		for j := range oc {
			a, b := reflect.ValueOf(&oc[j]).Elem(), reflect.ValueOf(&cc[j]).Elem()
			for k := 0; k < a.NumField(); k++ {
				if !equality.Semantic.DeepEqual(a.Field(k).Interface(), b.Field(k).Interface()) {
					out = append(out, fmt.Sprintf("%s[%d].%s", name, j, jsonName(a.Type().Field(k))))
				}
			}
		}
	}
	return out
}

func prepareNamespaceCreate(s *Server, obj runtime.Object) error {
	ns := obj.(*corev1.Namespace)
	ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
	if len(ns.Spec.Finalizers) == 0 {
		ns.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
	}
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels["kubernetes.io/metadata.name"] = ns.Name
	return nil
}

// Bind sets a pending pod's node, as POST pods/NAME/binding does.
func (s *Server) Bind(ctx context.Context, ns string, b *corev1.Binding) error {
	r := s.resources["/pods"]
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		return apierrors.NewBadRequest("binding target must be a Node")
	}
	if b.Target.Name == "" {
		return invalid("Binding", b.Name, field.ErrorList{field.Required(field.NewPath("target", "name"), "")})
	}
	_, err := s.update(ctx, r, ns, b.Name, 0, func(old runtime.Object) (runtime.Object, error) {
		p := old.(*corev1.Pod)
		if b.UID != "" && b.UID != p.UID {
			return nil, apierrors.NewConflict(r.GVR.GroupResource(), p.Name, fmt.Errorf("Precondition failed: UID in precondition: %s, UID in object meta: %s", b.UID, p.UID))
		}
		if p.DeletionTimestamp != nil {
			return nil, apierrors.NewConflict(r.GVR.GroupResource(), p.Name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", p.Name))
		}
		if p.Spec.NodeName != "" {
			return nil, apierrors.NewConflict(r.GVR.GroupResource(), p.Name, fmt.Errorf("pod %s is already assigned to node %q", p.Name, p.Spec.NodeName))
		}
		p.Spec.NodeName = b.Target.Name
		setCondition(&p.Status, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(s.clock.Now())})
		return p, nil
	}, "binding")
	return err
}

func setCondition(st *corev1.PodStatus, c corev1.PodCondition) {
	for i := range st.Conditions {
		if st.Conditions[i].Type == c.Type {
			if st.Conditions[i].Status == c.Status {
				c.LastTransitionTime = st.Conditions[i].LastTransitionTime
			}
			st.Conditions[i] = c
			return
		}
	}
	st.Conditions = append(st.Conditions, c)
}

var _ = json.Marshal
