package apiserver

// RuntimeClass (node.k8s.io/v1): the cluster-scoped resource naming a
// runtime handler (wasmpod's engines: "wazero", "wasmtime"), with
// upstream's validation (ValidateRuntimeClass: handler a DNS label and
// immutable, overhead quantities not negative, scheduling's nodeSelector
// labels and tolerations valid) and upstream's RuntimeClass admission on
// pod create (plugin/pkg/admission/runtimeclass): a pod naming a
// RuntimeClass that does not exist is refused ("pod rejected: RuntimeClass
// \"x\" not found"), the class's overhead becomes the pod's (a pod setting
// a different one is refused), its nodeSelector is merged into the pod's
// (a conflicting key is refused) and its tolerations are added. The node
// agent resolves the handler when it creates the pod's sandbox (pods/
// runtimeclass.go).

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func runtimeClassResource() *Resource {
	r := &Resource{GVR: nodev1.SchemeGroupVersion.WithResource("runtimeclasses"), Kind: "RuntimeClass",
		newObj:  func() runtime.Object { return &nodev1.RuntimeClass{} },
		newList: func() runtime.Object { return &nodev1.RuntimeClassList{} }}
	r.validate = func(_ *Server, obj runtime.Object) error {
		rc := obj.(*nodev1.RuntimeClass)
		if errs := validateRuntimeClass(rc); len(errs) > 0 {
			return runtimeClassInvalid(rc, errs)
		}
		return nil
	}
	r.validateUpdate = func(_ *Server, obj, old runtime.Object) error {
		rc, was := obj.(*nodev1.RuntimeClass), old.(*nodev1.RuntimeClass)
		errs := validateRuntimeClass(rc)
		if rc.Handler != was.Handler {
			errs = append(errs, field.Invalid(field.NewPath("handler"), rc.Handler, "field is immutable"))
		}
		if len(errs) > 0 {
			return runtimeClassInvalid(rc, errs)
		}
		return nil
	}
	return r
}

func runtimeClassInvalid(rc *nodev1.RuntimeClass, errs field.ErrorList) error {
	return apierrors.NewInvalid(nodev1.SchemeGroupVersion.WithKind("RuntimeClass").GroupKind(), rc.Name, errs)
}

// validateRuntimeClass is upstream's ValidateRuntimeClass less the object
// metadata (validated for every kind by the server).
func validateRuntimeClass(rc *nodev1.RuntimeClass) field.ErrorList {
	var errs field.ErrorList
	hp := field.NewPath("handler")
	if rc.Handler == "" {
		errs = append(errs, field.Required(hp, ""))
	}
	for _, msg := range validation.IsDNS1123Label(rc.Handler) {
		if rc.Handler != "" {
			errs = append(errs, field.Invalid(hp, rc.Handler, msg))
		}
	}
	if rc.Overhead != nil {
		op := field.NewPath("overhead", "podFixed")
		for name, q := range rc.Overhead.PodFixed {
			p := op.Key(string(name))
			if name != corev1.ResourceCPU && name != corev1.ResourceMemory {
				errs = append(errs, field.NotSupported(p, name, []string{string(corev1.ResourceCPU), string(corev1.ResourceMemory)}))
				continue
			}
			if q.Cmp(resource.Quantity{}) < 0 {
				errs = append(errs, field.Invalid(p, q.String(), "must be greater than or equal to 0"))
			}
		}
	}
	if s := rc.Scheduling; s != nil {
		sp := field.NewPath("scheduling")
		errs = append(errs, metav1validation.ValidateLabels(s.NodeSelector, sp.Child("nodeSelector"))...)
		errs = append(errs, validateTolerations(s.Tolerations, sp.Child("tolerations"))...)
	}
	return errs
}

// validateTolerations is upstream's ValidateTolerations (core validation)
// in short: a qualified key, Exists without a value, an empty key only
// with Exists, a known operator and effect, tolerationSeconds only for
// NoExecute.
func validateTolerations(ts []corev1.Toleration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, t := range ts {
		ip := p.Index(i)
		if t.Key != "" {
			for _, msg := range validation.IsQualifiedName(t.Key) {
				errs = append(errs, field.Invalid(ip.Child("key"), t.Key, msg))
			}
		}
		if t.Key == "" && t.Operator != corev1.TolerationOpExists {
			errs = append(errs, field.Invalid(ip.Child("operator"), t.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			errs = append(errs, field.Invalid(ip.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		switch t.Operator {
		case corev1.TolerationOpEqual, "":
			for _, msg := range validation.IsValidLabelValue(t.Value) {
				errs = append(errs, field.Invalid(ip.Child("operator"), t.Value, msg))
			}
		case corev1.TolerationOpExists:
			if t.Value != "" {
				errs = append(errs, field.Invalid(ip.Child("operator"), t, "value must be empty when `operator` is 'Exists'"))
			}
		default:
			errs = append(errs, field.NotSupported(ip.Child("operator"), t.Operator, []string{string(corev1.TolerationOpEqual), string(corev1.TolerationOpExists)}))
		}
		switch t.Effect {
		case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			errs = append(errs, field.NotSupported(ip.Child("effect"), t.Effect, []string{string(corev1.TaintEffectNoSchedule), string(corev1.TaintEffectPreferNoSchedule), string(corev1.TaintEffectNoExecute)}))
		}
	}
	return errs
}

// admitRuntimeClass is upstream's RuntimeClass admission of a new pod
// (before validation, as a mutating admission plugin).
func (s *Server) admitRuntimeClass(p *corev1.Pod) error {
	forbidden := func(err error) error {
		return apierrors.NewForbidden(corev1.Resource("pods"), p.Name, err)
	}
	if p.Spec.RuntimeClassName == nil || *p.Spec.RuntimeClassName == "" {
		if len(p.Spec.Overhead) > 0 {
			return forbidden(fmt.Errorf("pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead"))
		}
		return nil
	}
	name := *p.Spec.RuntimeClassName
	r, ok := s.Resource(nodev1.GroupName, "runtimeclasses")
	if !ok {
		return nil
	}
	obj, err := s.Get(context.Background(), r, "", name)
	if apierrors.IsNotFound(err) {
		return forbidden(fmt.Errorf("pod rejected: RuntimeClass %q not found", name))
	}
	if err != nil {
		return err
	}
	rc := obj.(*nodev1.RuntimeClass)
	if rc.Overhead != nil {
		if len(p.Spec.Overhead) > 0 && !apiequality.Semantic.DeepEqual(rc.Overhead.PodFixed, p.Spec.Overhead) {
			return forbidden(fmt.Errorf("pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead"))
		}
		p.Spec.Overhead = rc.Overhead.PodFixed.DeepCopy()
	} else if len(p.Spec.Overhead) > 0 {
		return forbidden(fmt.Errorf("pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead"))
	}
	if sch := rc.Scheduling; sch != nil {
		if len(sch.NodeSelector) > 0 {
			if p.Spec.NodeSelector == nil {
				p.Spec.NodeSelector = map[string]string{}
			}
			for k, v := range sch.NodeSelector {
				if have, ok := p.Spec.NodeSelector[k]; ok && have != v {
					return forbidden(fmt.Errorf("conflict: runtimeClass.scheduling.nodeSelector[%s] = %s; pod.spec.nodeSelector[%s] = %s", k, v, k, have))
				}
			}
			for k, v := range sch.NodeSelector {
				p.Spec.NodeSelector[k] = v
			}
		}
		p.Spec.Tolerations = mergeTolerations(p.Spec.Tolerations, sch.Tolerations)
	}
	return nil
}

// mergeTolerations adds to have the tolerations of add that it does not
// already hold (upstream's tolerations.MergeTolerations keeps the most
// general of overlapping ones; equal ones are what matters here).
func mergeTolerations(have, add []corev1.Toleration) []corev1.Toleration {
	out := have
	for _, t := range add {
		dup := false
		for _, h := range have {
			dup = dup || apiequality.Semantic.DeepEqual(h, t)
		}
		if !dup {
			out = append(out, t)
		}
	}
	return out
}
