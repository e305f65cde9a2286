package cli

// describe_hpa.go: describe of a HorizontalPodAutoscaler, laid out as
// kubectl's autoscaling/v2 describer (k8s.io/kubectl/pkg/describe): the
// reference, each metric as "( current / target )" in its source's words,
// the replica bounds, the behavior when set, the target's pods, the
// conditions and the events. Compared with real kubectl in
// TestGoldenDescribeHPA.

import (
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

func describeHPA(p prefixWriter, h *autoscalingv2.HorizontalPodAutoscaler) {
	p.write(0, "Name:\t%s\n", h.Name)
	p.write(0, "Namespace:\t%s\n", h.Namespace)
	printLabels(p, "Labels", h.Labels)
	printAnnotations(p, "Annotations", h.Annotations)
	p.write(0, "CreationTimestamp:\t%s\n", rfc1123(h.CreationTimestamp))
	p.write(0, "Reference:\t%s/%s\n", h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name)
	p.write(0, "Metrics:\t( current / target )\n")
	cur := func(i int) *autoscalingv2.MetricStatus {
		if i < len(h.Status.CurrentMetrics) {
			return &h.Status.CurrentMetrics[i]
		}
		return nil
	}
	for i, m := range h.Spec.Metrics {
		c, now := cur(i), "<unknown>"
		switch m.Type {
		case autoscalingv2.ResourceMetricSourceType, autoscalingv2.ContainerResourceMetricSourceType:
			name, target, current := "", m.Resource, (*autoscalingv2.MetricValueStatus)(nil)
			if m.Type == autoscalingv2.ResourceMetricSourceType {
				name = fmt.Sprintf("resource %s on pods", m.Resource.Name)
				if c != nil && c.Resource != nil {
					current = &c.Resource.Current
				}
			} else {
				name = fmt.Sprintf("resource %s of container \"%s\" on pods", m.ContainerResource.Name, m.ContainerResource.Container)
				target = &autoscalingv2.ResourceMetricSource{Name: m.ContainerResource.Name, Target: m.ContainerResource.Target}
				if c != nil && c.ContainerResource != nil {
					current = &c.ContainerResource.Current
				}
			}
			if target.Target.AverageValue != nil {
				if current != nil {
					now = current.AverageValue.String()
				}
				p.write(1, "%s:\t%s / %s\n", name, now, target.Target.AverageValue.String())
				continue
			}
			if current != nil && current.AverageUtilization != nil {
				now = fmt.Sprintf("%d%% (%s)", *current.AverageUtilization, current.AverageValue.String())
			}
			want := "<auto>"
			if target.Target.AverageUtilization != nil {
				want = fmt.Sprintf("%d%%", *target.Target.AverageUtilization)
			}
			p.write(1, "%s  (as a percentage of request):\t%s / %s\n", name, now, want)
		case autoscalingv2.PodsMetricSourceType:
			if c != nil && c.Pods != nil {
				now = c.Pods.Current.AverageValue.String()
			}
			p.write(1, "%q on pods:\t%s / %s\n", m.Pods.Metric.Name, now, m.Pods.Target.AverageValue.String())
		case autoscalingv2.ObjectMetricSourceType:
			o := m.Object
			if o.Target.Type == autoscalingv2.AverageValueMetricType {
				if c != nil && c.Object != nil {
					now = c.Object.Current.AverageValue.String()
				}
				p.write(1, "\"%s\" on %s/%s (target average value):\t%s / %s\n", o.Metric.Name, o.DescribedObject.Kind, o.DescribedObject.Name, now, o.Target.AverageValue.String())
			} else {
				if c != nil && c.Object != nil {
					now = c.Object.Current.Value.String()
				}
				p.write(1, "\"%s\" on %s/%s (target value):\t%s / %s\n", o.Metric.Name, o.DescribedObject.Kind, o.DescribedObject.Name, now, o.Target.Value.String())
			}
		case autoscalingv2.ExternalMetricSourceType:
			e := m.External
			if e.Target.AverageValue != nil {
				if c != nil && c.External != nil && c.External.Current.AverageValue != nil {
					now = c.External.Current.AverageValue.String()
				}
				p.write(1, "%q (target average value):\t%s / %s\n", e.Metric.Name, now, e.Target.AverageValue.String())
			} else {
				if c != nil && c.External != nil {
					now = c.External.Current.Value.String()
				}
				p.write(1, "%q (target value):\t%s / %s\n", e.Metric.Name, now, e.Target.Value.String())
			}
		default:
			p.write(1, "<unknown metric type %q>\n", string(m.Type))
		}
	}
	min := "<unset>"
	if h.Spec.MinReplicas != nil {
		min = fmt.Sprint(*h.Spec.MinReplicas)
	}
	p.write(0, "Min replicas:\t%s\n", min)
	p.write(0, "Max replicas:\t%d\n", h.Spec.MaxReplicas)
	if b := h.Spec.Behavior; b != nil {
		p.write(0, "Behavior:\n")
		describeScalingRules(p, "Scale Up", b.ScaleUp)
		describeScalingRules(p, "Scale Down", b.ScaleDown)
	}
	p.write(0, "%s pods:\t%d current / %d desired\n", h.Spec.ScaleTargetRef.Kind, h.Status.CurrentReplicas, h.Status.DesiredReplicas)
	if len(h.Status.Conditions) > 0 {
		p.write(0, "Conditions:\n")
		p.write(1, "Type\tStatus\tReason\tMessage\n")
		p.write(1, "----\t------\t------\t-------\n")
		for _, c := range h.Status.Conditions {
			p.write(1, "%s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, c.Message)
		}
	}
}

// describeScalingRules is one direction of a behavior; the select policy
// (Max when unset) and the policies only when there are policies.
func describeScalingRules(p prefixWriter, direction string, r *autoscalingv2.HPAScalingRules) {
	if r == nil {
		return
	}
	p.write(1, "%s:\n", direction)
	if r.StabilizationWindowSeconds != nil {
		p.write(2, "Stabilization Window: %d seconds\n", *r.StabilizationWindowSeconds)
	}
	if len(r.Policies) == 0 {
		return
	}
	sel := autoscalingv2.MaxChangePolicySelect
	if r.SelectPolicy != nil {
		sel = *r.SelectPolicy
	}
	p.write(2, "Select Policy: %s\n", sel)
	p.write(2, "Policies:\n")
	for _, pol := range r.Policies {
		p.write(3, "- Type: %s\tValue: %d\tPeriod: %d seconds\n", pol.Type, pol.Value, pol.PeriodSeconds)
	}
}
