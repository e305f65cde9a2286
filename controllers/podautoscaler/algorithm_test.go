package podautoscaler

import (
	"fmt"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// readyPod is a Running pod started 10 minutes before t0, Ready since 9,
// one container requesting cpuRequest millicores.
func readyPod(name string, cpuRequest int64) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(cpuRequest, resource.DecimalSI)}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &metav1.Time{Time: t0.Add(-10 * time.Minute)},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(-9 * time.Minute))}}}}
}

func pods(n int, request int64) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range n {
		out = append(out, readyPod(fmt.Sprintf("p%d", i), request))
	}
	return out
}

// samples gives the first len(milli) pods a sample taken at t0 over 30 s.
func samples(milli ...int64) map[string]PodMetric {
	out := map[string]PodMetric{}
	for i, v := range milli {
		out[fmt.Sprintf("p%d", i)] = PodMetric{Value: v, Timestamp: t0, Window: 30 * time.Second}
	}
	return out
}

func TestResourceReplicas(t *testing.T) {
	pending := pods(4, 100)
	pending[3].Status.Phase = corev1.PodPending
	justReady := pods(4, 100)
	// Started 1 minute ago, Ready 10 s before its sample: the sample's
	// 30 s window began before readiness, so it does not count.
	justReady[3].Status.StartTime = &metav1.Time{Time: t0.Add(-time.Minute)}
	justReady[3].Status.Conditions[0].LastTransitionTime = metav1.NewTime(t0.Add(-10 * time.Second))
	deleting := pods(3, 100)
	deleting[2].DeletionTimestamp = &metav1.Time{Time: t0}
	for _, c := range []struct {
		name        string
		current     int32
		pods        []*corev1.Pod
		metrics     map[string]PodMetric
		target      int32
		want        int32
		wantUtil    int32
		wantAverage int64
	}{
		// 90% of request against 50%: ratio 1.8 over 4 pods.
		{"up", 4, pods(4, 100), samples(90, 90, 90, 90), 50, 8, 90, 90},
		{"down", 4, pods(4, 100), samples(10, 10, 10, 10), 50, 1, 10, 10},
		// ratio 1.08 and 0.92: within the 0.1 tolerance.
		{"tolerance-up", 4, pods(4, 100), samples(54, 54, 54, 54), 50, 4, 54, 54},
		{"tolerance-down", 4, pods(4, 100), samples(46, 46, 46, 46), 50, 4, 46, 46},
		// ratio 1.12: just outside.
		{"outside-tolerance", 4, pods(4, 100), samples(56, 56, 56, 56), 50, 5, 56, 56},
		// Scaling down with a pod without a sample: it counts as at 100%
		// of its request, (30+100)/400 = 32% -> ceil(0.65*4) = 3, not
		// ceil(0.2*3) = 1.
		{"missing-down", 4, pods(4, 100), samples(10, 10, 10), 50, 3, 10, 10},
		// Scaling up with a pod without a sample: it counts as 0, 3 at
		// 100% -> 300/400 = 75% -> ceil(1.5*4) = 6.
		{"missing-up", 4, pods(4, 100), samples(100, 100, 100), 50, 6, 100, 100},
		// A pending pod counts as 0 when scaling up: 270/400 -> 67% ->
		// ratio 1.35 -> ceil(5.4) = 6.
		{"pending-up", 4, pending, samples(90, 90, 90, 90), 50, 6, 90, 90},
		// A pod whose sample predates its readiness is unready.
		{"sample-before-ready", 4, justReady, samples(90, 90, 90, 900), 50, 6, 90, 90},
		// A missing pod turns a scale up into no change: 3 at 60% (ratio
		// 1.2) and the missing one at 0 -> 45%, ratio 0.9: within
		// tolerance (and the other way): keep 4.
		{"missing-reverses", 4, pods(4, 100), samples(60, 60, 60), 50, 4, 60, 60},
		// Pods being deleted are ignored.
		{"deleting-ignored", 3, deleting, samples(100, 100, 5000), 50, 4, 100, 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := resourceReplicas(c.current, c.pods, c.metrics, corev1.ResourceCPU, "", c.target, 0, t0)
			if err != nil {
				t.Fatal(err)
			}
			if p.replicas != c.want || p.utilization != c.wantUtil || p.rawAverage != c.wantAverage {
				t.Fatalf("got %d replicas, %d%%, %dm; want %d, %d%%, %dm", p.replicas, p.utilization, p.rawAverage, c.want, c.wantUtil, c.wantAverage)
			}
		})
	}
}

func TestResourceReplicasAverageValue(t *testing.T) {
	// Memory against an average value of 100Mi (milli-units): 3 pods at
	// 150Mi -> ratio 1.5 -> 5.
	mi := int64(1 << 20 * 1000)
	p, err := resourceReplicas(3, pods(3, 100), map[string]PodMetric{"p0": {Value: 150 * mi}, "p1": {Value: 150 * mi}, "p2": {Value: 150 * mi}},
		corev1.ResourceMemory, "", 0, 100*mi, t0)
	if err != nil || p.replicas != 5 {
		t.Fatalf("got %+v, %v; want 5 replicas", p, err)
	}
}

func TestResourceReplicasErrors(t *testing.T) {
	noRequest := pods(2, 100)
	noRequest[1].Spec.Containers[0].Resources.Requests = nil
	allPending := pods(2, 100)
	for _, p := range allPending {
		p.Status.Phase = corev1.PodPending
	}
	for _, c := range []struct {
		name string
		pods []*corev1.Pod
		want string
	}{
		{"no-pods", nil, "no pods returned by selector while calculating replica count"},
		{"no-request", noRequest, "missing request for cpu in container c of Pod p1"},
		{"all-unready", allPending, "did not receive metrics for targeted pods (pods might be unready)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := resourceReplicas(2, c.pods, samples(50, 50), corev1.ResourceCPU, "", 50, 0, t0)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestStabilizationLegacy(t *testing.T) {
	var h history
	// 5 at t0, then the metrics ask for 2: 5 is kept for the 300 s window.
	if got := h.stabilizeLegacy(5, t0, DownscaleStabilization); got != 5 {
		t.Fatalf("first: %d", got)
	}
	for _, s := range []int{15, 150, 299} {
		if got := h.stabilizeLegacy(2, t0.Add(time.Duration(s)*time.Second), DownscaleStabilization); got != 5 {
			t.Fatalf("at +%ds: %d, want 5 (stabilized)", s, got)
		}
	}
	if got := h.stabilizeLegacy(2, t0.Add(301*time.Second), DownscaleStabilization); got != 2 {
		t.Fatalf("at +301s: %d, want 2", got)
	}
	// Scale up is not delayed.
	if got := h.stabilizeLegacy(9, t0.Add(302*time.Second), DownscaleStabilization); got != 9 {
		t.Fatalf("up: %d", got)
	}
}

func TestStabilizationWithBehavior(t *testing.T) {
	var h history
	// Scale-up window 60 s: the lowest recommendation of the last minute.
	if got := h.stabilize(2, 2, t0, 60*time.Second, 0); got != 2 {
		t.Fatal(got)
	}
	if got := h.stabilize(2, 8, t0.Add(30*time.Second), 60*time.Second, 0); got != 2 {
		t.Fatalf("+30s: %d, want 2 (up stabilized)", got)
	}
	if got := h.stabilize(2, 8, t0.Add(61*time.Second), 60*time.Second, 0); got != 8 {
		t.Fatalf("+61s: %d, want 8", got)
	}
	// Scale-down window 120 s.
	var d history
	d.stabilize(6, 6, t0, 0, 120*time.Second)
	if got := d.stabilize(6, 1, t0.Add(60*time.Second), 0, 120*time.Second); got != 6 {
		t.Fatalf("down +60s: %d, want 6", got)
	}
	if got := d.stabilize(6, 1, t0.Add(121*time.Second), 0, 120*time.Second); got != 1 {
		t.Fatalf("down +121s: %d, want 1", got)
	}
}

func rules(sel autoscalingv2.ScalingPolicySelect, ps ...autoscalingv2.HPAScalingPolicy) *autoscalingv2.HPAScalingRules {
	return &autoscalingv2.HPAScalingRules{SelectPolicy: &sel, Policies: ps}
}

func TestScalingPolicies(t *testing.T) {
	def := defaultedBehavior(&autoscalingv2.HorizontalPodAutoscalerBehavior{})
	var h history
	// Default scale up: max(4 pods, 100%) per 15 s. From 1: 5; from 10: 20.
	if got, why := h.limitWithBehavior(1, 50, 1, 100, def, t0); got != 5 || why != upLimited {
		t.Fatalf("from 1: %d %v", got, why)
	}
	if got, _ := h.limitWithBehavior(10, 50, 1, 100, def, t0); got != 20 {
		t.Fatalf("from 10: %d", got)
	}
	// Within the period of a rescale 1 -> 5, the period starts at 1: no
	// further increase; after 15 s, 5 -> 10.
	h.recordScale(1, 5, def, t0)
	if got, _ := h.limitWithBehavior(5, 50, 1, 100, def, t0.Add(10*time.Second)); got != 5 {
		t.Fatalf("within period: %d, want 5", got)
	}
	if got, _ := h.limitWithBehavior(5, 50, 1, 100, def, t0.Add(16*time.Second)); got != 10 {
		t.Fatalf("next period: %d, want 10", got)
	}
	// maxReplicas bounds before the rate: TooManyReplicas.
	if got, why := h.limitWithBehavior(5, 50, 1, 7, def, t0.Add(16*time.Second)); got != 7 || why != tooMany {
		t.Fatalf("max: %d %v", got, why)
	}
	// Default scale down: 100% per 15 s, bounded by minReplicas.
	if got, why := h.limitWithBehavior(8, 1, 2, 10, def, t0.Add(time.Minute)); got != 2 || why != tooFew {
		t.Fatalf("down: %d %v", got, why)
	}
	// One pod per minute down, Min of (1 pod, 50%) up.
	b := &autoscalingv2.HorizontalPodAutoscalerBehavior{
		ScaleDown: rules(autoscalingv2.MaxChangePolicySelect, autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 60}),
		ScaleUp: rules(autoscalingv2.MinChangePolicySelect, autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 60},
			autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PercentScalingPolicy, Value: 50, PeriodSeconds: 60})}
	var g history
	if got, why := g.limitWithBehavior(6, 1, 1, 10, b, t0); got != 5 || why != downLimited {
		t.Fatalf("1 pod/min down: %d %v", got, why)
	}
	g.recordScale(6, 5, b, t0)
	if got, _ := g.limitWithBehavior(5, 1, 1, 10, b, t0.Add(30*time.Second)); got != 5 {
		t.Fatalf("second step within the minute: %d, want 5", got)
	}
	if got, _ := g.limitWithBehavior(5, 1, 1, 10, b, t0.Add(61*time.Second)); got != 4 {
		t.Fatalf("next minute: %d, want 4", got)
	}
	if got, _ := g.limitWithBehavior(4, 10, 1, 10, b, t0.Add(2*time.Minute)); got != 5 {
		t.Fatalf("Min up (1 pod vs 50%%): %d, want 5", got)
	}
	// Disabled: no change that way.
	off := &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(autoscalingv2.DisabledPolicySelect), ScaleDown: def.ScaleDown}
	if got, _ := g.limitWithBehavior(3, 9, 1, 10, off, t0.Add(time.Hour)); got != 3 {
		t.Fatalf("disabled up: %d, want 3", got)
	}
	// Legacy (no behavior): twice the current count, at least 4.
	if got, why := limitLegacy(1, 10, 1, 20); got != 4 || why != upLimited {
		t.Fatalf("legacy from 1: %d %v", got, why)
	}
	if got, _ := limitLegacy(6, 30, 1, 20); got != 12 {
		t.Fatalf("legacy from 6: %d", got)
	}
}
