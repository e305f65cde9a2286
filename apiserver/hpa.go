package apiserver

// hpa.go is the API side of autoscaling/v2 HorizontalPodAutoscalers, with
// upstream's behaviour (pkg/registry/autoscaling/horizontalpodautoscaler,
// pkg/apis/autoscaling/v2 defaults and pkg/apis/autoscaling/validation; read
// for their semantics, written here):
//
//   - namespaced, short name hpa, in the "all" category, a status
//     subresource (controllers/podautoscaler writes it); create clears the
//     status, an update keeps the stored one;
//   - autoscaling/v2 is the stored and preferred version; autoscaling/v1
//     is served too, converted at the HTTP layer (hpa_v1.go);
//   - defaults, on every request body: minReplicas 1, a cpu Utilization 80%
//     metric when there is none, and a given behavior filled in with
//     upstream's rules (scale up: stabilization 0 s, select Max of 4 pods
//     and 100% per 15 s; scale down: select Max of 100% per 15 s, the
//     stabilization window left unset so the controller's
//     --horizontal-pod-autoscaler-downscale-stabilization, 300 s, applies);
//   - validation naming each field: minReplicas ≥ 1, maxReplicas set, ≥ 1
//     and ≥ minReplicas, scaleTargetRef kind and name (path segments) and
//     an apiVersion that parses, the metric sources and targets, and the behavior
//     rules (windows 0..3600 s, periods 1..1800 s, policy types and select
//     policies);
//   - a /status write's currentReplicas and desiredReplicas are not
//     negative (validateHPAStatusUpdate, from workloads.go's status
//     validation).

import (
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// Upstream's bounds of the behavior rules.
const (
	hpaMaxStabilizationWindowSeconds = 3600
	hpaMaxPeriodSeconds              = 1800
	hpaDefaultCPUUtilization         = 80
)

// hpaResource is autoscaling/v2 horizontalpodautoscalers.
func hpaResource() *Resource {
	return &Resource{GVR: autoscalingv2.SchemeGroupVersion.WithResource("horizontalpodautoscalers"), Kind: "HorizontalPodAutoscaler",
		Namespaced: true, ShortNames: []string{"hpa"}, Categories: []string{"all"}, Status: true,
		newObj:        func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscaler{} },
		newList:       func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscalerList{} },
		prepareCreate: prepareHPACreate, validate: validateHPA, validateUpdate: validateHPAUpdate}
}

// SetHPADefaults fills a HorizontalPodAutoscaler's defaults as upstream's
// autoscaling/v2 defaulting does.
func SetHPADefaults(hpa *autoscalingv2.HorizontalPodAutoscaler) {
	if hpa.Spec.MinReplicas == nil {
		hpa.Spec.MinReplicas = ptr.To[int32](1)
	}
	if len(hpa.Spec.Metrics) == 0 {
		hpa.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{
				Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](hpaDefaultCPUUtilization)}}}}
	}
	if b := hpa.Spec.Behavior; b != nil {
		b.ScaleUp = fillScalingRules(b.ScaleUp, autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](0),
			Policies: []autoscalingv2.HPAScalingPolicy{
				{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
				{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}}})
		b.ScaleDown = fillScalingRules(b.ScaleDown, autoscalingv2.HPAScalingRules{
			Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}}})
	}
}

// fillScalingRules returns given with its unset fields taken from def
// (selectPolicy Max when neither sets one).
func fillScalingRules(given *autoscalingv2.HPAScalingRules, def autoscalingv2.HPAScalingRules) *autoscalingv2.HPAScalingRules {
	out := def
	out.SelectPolicy = ptr.To(autoscalingv2.MaxChangePolicySelect)
	if given == nil {
		return &out
	}
	if given.SelectPolicy != nil {
		out.SelectPolicy = given.SelectPolicy
	}
	if given.StabilizationWindowSeconds != nil {
		out.StabilizationWindowSeconds = given.StabilizationWindowSeconds
	}
	if given.Policies != nil {
		out.Policies = given.Policies
	}
	if given.Tolerance != nil {
		out.Tolerance = given.Tolerance
	}
	return &out
}

// prepareHPACreate is upstream's PrepareForCreate (no status) and the
// defaults.
func prepareHPACreate(_ *Server, obj runtime.Object) error {
	hpa := obj.(*autoscalingv2.HorizontalPodAutoscaler)
	hpa.Status = autoscalingv2.HorizontalPodAutoscalerStatus{}
	SetHPADefaults(hpa)
	return nil
}

func validateHPA(_ *Server, obj runtime.Object) error {
	hpa := obj.(*autoscalingv2.HorizontalPodAutoscaler)
	return hpaInvalid(hpa, ValidateHPASpec(&hpa.Spec, field.NewPath("spec")))
}

// validateHPAUpdate defaults the new body (the status is the stored one,
// see prepareUpdate) and validates it.
func validateHPAUpdate(_ *Server, obj, _ runtime.Object) error {
	hpa := obj.(*autoscalingv2.HorizontalPodAutoscaler)
	SetHPADefaults(hpa)
	return hpaInvalid(hpa, ValidateHPASpec(&hpa.Spec, field.NewPath("spec")))
}

// validateHPAStatusUpdate is upstream's
// ValidateHorizontalPodAutoscalerStatusUpdate: a /status write's
// currentReplicas and desiredReplicas are not negative.
func validateHPAStatusUpdate(st *autoscalingv2.HorizontalPodAutoscalerStatus) field.ErrorList {
	p := field.NewPath("status")
	var errs field.ErrorList
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(st.CurrentReplicas), p.Child("currentReplicas"))...)
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(st.DesiredReplicas), p.Child("desiredReplicas"))...)
	return errs
}

func hpaInvalid(hpa *autoscalingv2.HorizontalPodAutoscaler, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(schema.GroupKind{Group: autoscalingv2.GroupName, Kind: "HorizontalPodAutoscaler"}, hpa.Name, errs)
}

// ValidateHPASpec checks a (defaulted) HorizontalPodAutoscaler spec as
// upstream's validation, each error naming its field under p.
func ValidateHPASpec(spec *autoscalingv2.HorizontalPodAutoscalerSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.MinReplicas != nil && *spec.MinReplicas < 1 {
		errs = append(errs, field.Invalid(p.Child("minReplicas"), *spec.MinReplicas, "must be greater than or equal to 1"))
	}
	switch {
	case spec.MaxReplicas == 0:
		errs = append(errs, field.Required(p.Child("maxReplicas"), "must be set and greater than 0"))
	case spec.MaxReplicas < 0:
		errs = append(errs, field.Invalid(p.Child("maxReplicas"), spec.MaxReplicas, "must be greater than or equal to 1"))
	}
	if spec.MinReplicas != nil && spec.MaxReplicas < *spec.MinReplicas {
		errs = append(errs, field.Invalid(p.Child("maxReplicas"), spec.MaxReplicas, "must be greater than or equal to `minReplicas`"))
	}
	errs = append(errs, validateObjectReference(spec.ScaleTargetRef, p.Child("scaleTargetRef"))...)
	for i, m := range spec.Metrics {
		errs = append(errs, validateMetricSpec(m, p.Child("metrics").Index(i))...)
	}
	if b := spec.Behavior; b != nil {
		errs = append(errs, validateScalingRules(b.ScaleUp, p.Child("behavior", "scaleUp"))...)
		errs = append(errs, validateScalingRules(b.ScaleDown, p.Child("behavior", "scaleDown"))...)
	}
	return errs
}

// validateObjectReference: kind and name required and path segments, an
// apiVersion that parses.
func validateObjectReference(ref autoscalingv2.CrossVersionObjectReference, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct{ name, value string }{{"kind", ref.Kind}, {"name", ref.Name}} {
		if f.value == "" {
			errs = append(errs, field.Required(p.Child(f.name), ""))
			continue
		}
		for _, msg := range path.IsValidPathSegmentName(f.value) {
			errs = append(errs, field.Invalid(p.Child(f.name), f.value, msg))
		}
	}
	if _, err := schema.ParseGroupVersion(ref.APIVersion); err != nil {
		errs = append(errs, field.Invalid(p.Child("apiVersion"), ref.APIVersion, err.Error()))
	}
	return errs
}

var metricSourceTypes = []string{string(autoscalingv2.ContainerResourceMetricSourceType), string(autoscalingv2.ExternalMetricSourceType),
	string(autoscalingv2.ObjectMetricSourceType), string(autoscalingv2.PodsMetricSourceType), string(autoscalingv2.ResourceMetricSourceType)}

// validateMetricSpec: a known type whose source (and only it) is set, with
// a valid target.
func validateMetricSpec(m autoscalingv2.MetricSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	set := map[string]bool{"object": m.Object != nil, "pods": m.Pods != nil, "resource": m.Resource != nil,
		"external": m.External != nil, "containerResource": m.ContainerResource != nil}
	var want string
	switch m.Type {
	case "":
		return append(errs, field.Required(p.Child("type"), "must specify a metric source type"))
	case autoscalingv2.ObjectMetricSourceType:
		want = "object"
	case autoscalingv2.PodsMetricSourceType:
		want = "pods"
	case autoscalingv2.ResourceMetricSourceType:
		want = "resource"
	case autoscalingv2.ExternalMetricSourceType:
		want = "external"
	case autoscalingv2.ContainerResourceMetricSourceType:
		want = "containerResource"
	default:
		return append(errs, field.NotSupported(p.Child("type"), m.Type, metricSourceTypes))
	}
	if !set[want] {
		errs = append(errs, field.Required(p.Child(want), "must populate information for the given metric source"))
	}
	for _, k := range []string{"object", "pods", "resource", "external", "containerResource"} {
		if k != want && set[k] {
			errs = append(errs, field.Forbidden(p.Child(k), "must populate the given metric source only"))
		}
	}
	switch {
	case m.Resource != nil && want == "resource":
		errs = append(errs, validateResourceTarget(m.Resource.Name, m.Resource.Target, p.Child("resource"))...)
	case m.ContainerResource != nil && want == "containerResource":
		errs = append(errs, validateResourceTarget(m.ContainerResource.Name, m.ContainerResource.Target, p.Child("containerResource"))...)
		if m.ContainerResource.Container == "" {
			errs = append(errs, field.Required(p.Child("containerResource", "container"), "must specify a container"))
		}
	case m.Pods != nil && want == "pods":
		errs = append(errs, validateMetricName(m.Pods.Metric.Name, p.Child("pods", "metric", "name"))...)
		errs = append(errs, validateMetricTarget(m.Pods.Target, p.Child("pods", "target"))...)
		if m.Pods.Target.AverageValue == nil {
			errs = append(errs, field.Required(p.Child("pods", "target", "averageValue"), "must specify a positive target averageValue"))
		}
	case m.Object != nil && want == "object":
		errs = append(errs, validateObjectReference(m.Object.DescribedObject, p.Child("object", "describedObject"))...)
		errs = append(errs, validateMetricName(m.Object.Metric.Name, p.Child("object", "metric", "name"))...)
		errs = append(errs, validateMetricTarget(m.Object.Target, p.Child("object", "target"))...)
		if m.Object.Target.Value == nil && m.Object.Target.AverageValue == nil {
			errs = append(errs, field.Required(p.Child("object", "target", "averageValue"), "must set either a target value or averageValue"))
		}
	case m.External != nil && want == "external":
		errs = append(errs, validateMetricName(m.External.Metric.Name, p.Child("external", "metric", "name"))...)
		errs = append(errs, validateMetricTarget(m.External.Target, p.Child("external", "target"))...)
		t := m.External.Target
		if t.Value == nil && t.AverageValue == nil {
			errs = append(errs, field.Required(p.Child("external", "target", "averageValue"), "must set either a target value for metric or a per-pod target"))
		} else if t.Value != nil && t.AverageValue != nil {
			errs = append(errs, field.Forbidden(p.Child("external", "target", "value"), "may not set both a target value for metric and a per-pod target"))
		}
	}
	return errs
}

func validateMetricName(name string, p *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "must specify a metric name")}
	}
	var errs field.ErrorList
	for _, msg := range path.IsValidPathSegmentName(name) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	return errs
}

// validateResourceTarget: a resource name, and exactly one of an average
// utilization and an average value.
func validateResourceTarget(name corev1.ResourceName, t autoscalingv2.MetricTarget, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), "must specify a resource name"))
	}
	errs = append(errs, validateMetricTarget(t, p.Child("target"))...)
	switch {
	case t.AverageUtilization == nil && t.AverageValue == nil:
		errs = append(errs, field.Required(p.Child("target", "averageUtilization"), "must set either a target raw value or a target utilization"))
	case t.AverageUtilization != nil && t.AverageValue != nil:
		errs = append(errs, field.Forbidden(p.Child("target", "averageValue"), "may not set both a target raw value and a target utilization"))
	}
	return errs
}

func validateMetricTarget(t autoscalingv2.MetricTarget, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch t.Type {
	case "":
		errs = append(errs, field.Required(p.Child("type"), "must specify a metric target type"))
	case autoscalingv2.UtilizationMetricType, autoscalingv2.ValueMetricType, autoscalingv2.AverageValueMetricType:
	default:
		errs = append(errs, field.Invalid(p.Child("type"), t.Type, "must be either Utilization, Value, or AverageValue"))
	}
	positive := func(q *resource.Quantity, name string) {
		if q != nil && q.Sign() <= 0 {
			errs = append(errs, field.Invalid(p.Child(name), q.String(), "must be positive"))
		}
	}
	positive(t.Value, "value")
	positive(t.AverageValue, "averageValue")
	if t.AverageUtilization != nil && *t.AverageUtilization < 1 {
		errs = append(errs, field.Invalid(p.Child("averageUtilization"), *t.AverageUtilization, "must be greater than 0"))
	}
	return errs
}

func validateScalingRules(r *autoscalingv2.HPAScalingRules, p *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	var errs field.ErrorList
	if w := r.StabilizationWindowSeconds; w != nil && *w < 0 {
		errs = append(errs, field.Invalid(p.Child("stabilizationWindowSeconds"), *w, "must be greater than or equal to zero"))
	} else if w != nil && *w > hpaMaxStabilizationWindowSeconds {
		errs = append(errs, field.Invalid(p.Child("stabilizationWindowSeconds"), *w, fmt.Sprintf("must be less than or equal to %d", hpaMaxStabilizationWindowSeconds)))
	}
	if sp := r.SelectPolicy; sp != nil && *sp != autoscalingv2.MaxChangePolicySelect && *sp != autoscalingv2.MinChangePolicySelect && *sp != autoscalingv2.DisabledPolicySelect {
		errs = append(errs, field.NotSupported(p.Child("selectPolicy"), *sp, []string{"Disabled", "Max", "Min"}))
	}
	if len(r.Policies) == 0 {
		errs = append(errs, field.Required(p.Child("policies"), "must specify at least one Policy"))
	}
	for i, pol := range r.Policies {
		pp := p.Child("policies").Index(i)
		if pol.Type != autoscalingv2.PodsScalingPolicy && pol.Type != autoscalingv2.PercentScalingPolicy {
			errs = append(errs, field.NotSupported(pp.Child("type"), pol.Type, []string{"Percent", "Pods"}))
		}
		if pol.Value <= 0 {
			errs = append(errs, field.Invalid(pp.Child("value"), pol.Value, "must be greater than zero"))
		}
		if pol.PeriodSeconds <= 0 {
			errs = append(errs, field.Invalid(pp.Child("periodSeconds"), pol.PeriodSeconds, "must be greater than zero"))
		} else if pol.PeriodSeconds > hpaMaxPeriodSeconds {
			errs = append(errs, field.Invalid(pp.Child("periodSeconds"), pol.PeriodSeconds, fmt.Sprintf("must be less than or equal to %d", hpaMaxPeriodSeconds)))
		}
	}
	if t := r.Tolerance; t != nil && t.Sign() < 0 {
		errs = append(errs, field.Invalid(p.Child("tolerance"), t.String(), "must be greater than or equal to 0"))
	}
	return errs
}
