package printers

// The autoscaling kinds' columns and cells, as upstream's AddHandlers,
// printHorizontalPodAutoscaler and formatHPAMetrics
// (k8s.io/kubernetes/pkg/printers/internalversion/printers.go).

import (
	"fmt"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func init() {
	spec, status := autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc(), autoscalingv2.HorizontalPodAutoscalerStatus{}.SwaggerDoc()
	register(autoscalingv2.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"), &autoscalingv2.HorizontalPodAutoscalerList{}, []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Reference", Type: "string", Description: spec["scaleTargetRef"]},
		{Name: "Targets", Type: "string", Description: spec["metrics"]},
		{Name: "MinPods", Type: "string", Description: spec["minReplicas"]},
		{Name: "MaxPods", Type: "string", Description: spec["maxReplicas"]},
		{Name: "Replicas", Type: "string", Description: status["currentReplicas"]},
		ageColumn,
	}, printHorizontalPodAutoscaler)
}

// printHorizontalPodAutoscaler: REFERENCE is Kind/name, TARGETS each
// metric's current/target (at most two, then "+ N more..."), MINPODS
// <unset> without a minReplicas.
func printHorizontalPodAutoscaler(hpa *autoscalingv2.HorizontalPodAutoscaler, o *options) []any {
	minPods := "<unset>"
	if hpa.Spec.MinReplicas != nil {
		minPods = fmt.Sprint(*hpa.Spec.MinReplicas)
	}
	return []any{hpa.Name, hpa.Spec.ScaleTargetRef.Kind + "/" + hpa.Spec.ScaleTargetRef.Name,
		hpaTargets(hpa.Spec.Metrics, hpa.Status.CurrentMetrics), minPods,
		int64(hpa.Spec.MaxReplicas), int64(hpa.Status.CurrentReplicas), translateTimestampSince(hpa.CreationTimestamp, o.now)}
}

// hpaTargets is upstream's formatHPAMetrics: "<none>" without metrics,
// "<unknown>" for a current value not yet in the status.
func hpaTargets(specs []autoscalingv2.MetricSpec, statuses []autoscalingv2.MetricStatus) string {
	if len(specs) == 0 {
		return "<none>"
	}
	var out []string
	for i, m := range specs {
		var st *autoscalingv2.MetricStatus
		if i < len(statuses) {
			st = &statuses[i]
		}
		out = append(out, hpaTarget(m, st))
	}
	if len(out) > 2 {
		return fmt.Sprintf("%s + %d more...", strings.Join(out[:2], ", "), len(out)-2)
	}
	return strings.Join(out, ", ")
}

func hpaTarget(m autoscalingv2.MetricSpec, st *autoscalingv2.MetricStatus) string {
	const unknown = "<unknown>"
	quantity := func(cur func() string, ok bool) string {
		if !ok {
			return unknown
		}
		return cur()
	}
	switch {
	case m.Type == autoscalingv2.ExternalMetricSourceType && m.External != nil:
		ok := st != nil && st.External != nil
		if t := m.External.Target.AverageValue; t != nil {
			return quantity(func() string { return st.External.Current.AverageValue.String() }, ok && st.External.Current.AverageValue != nil) + "/" + t.String() + " (avg)"
		}
		return quantity(func() string { return st.External.Current.Value.String() }, ok && st.External.Current.Value != nil) + "/" + m.External.Target.Value.String()
	case m.Type == autoscalingv2.PodsMetricSourceType && m.Pods != nil:
		ok := st != nil && st.Pods != nil && st.Pods.Current.AverageValue != nil
		return quantity(func() string { return st.Pods.Current.AverageValue.String() }, ok) + "/" + m.Pods.Target.AverageValue.String()
	case m.Type == autoscalingv2.ObjectMetricSourceType && m.Object != nil:
		ok := st != nil && st.Object != nil
		if t := m.Object.Target.AverageValue; t != nil {
			return quantity(func() string { return st.Object.Current.AverageValue.String() }, ok && st.Object.Current.AverageValue != nil) + "/" + t.String() + " (avg)"
		}
		return quantity(func() string { return st.Object.Current.Value.String() }, ok && st.Object.Current.Value != nil) + "/" + m.Object.Target.Value.String()
	case m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil:
		var cur *autoscalingv2.MetricValueStatus
		if st != nil && st.Resource != nil {
			cur = &st.Resource.Current
		}
		return string(m.Resource.Name) + ": " + resourceTarget(m.Resource.Target, cur)
	case m.Type == autoscalingv2.ContainerResourceMetricSourceType && m.ContainerResource != nil:
		var cur *autoscalingv2.MetricValueStatus
		if st != nil && st.ContainerResource != nil {
			cur = &st.ContainerResource.Current
		}
		return string(m.ContainerResource.Name) + ": " + resourceTarget(m.ContainerResource.Target, cur)
	}
	return "<unknown type>"
}

// resourceTarget: current/target as an average value, or as a percentage
// of the request ("<auto>" when the target has neither).
func resourceTarget(t autoscalingv2.MetricTarget, cur *autoscalingv2.MetricValueStatus) string {
	current := "<unknown>"
	if t.AverageValue != nil {
		if cur != nil && cur.AverageValue != nil {
			current = cur.AverageValue.String()
		}
		return current + "/" + t.AverageValue.String()
	}
	if cur != nil && cur.AverageUtilization != nil {
		current = fmt.Sprintf("%d%%", *cur.AverageUtilization)
	}
	target := "<auto>"
	if t.AverageUtilization != nil {
		target = fmt.Sprintf("%d%%", *t.AverageUtilization)
	}
	return current + "/" + target
}
