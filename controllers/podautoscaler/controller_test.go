package podautoscaler

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/store/memory"
)

type env struct {
	cs  kubernetes.Interface
	clk *clocktesting.FakeClock
}

// setup serves a real API server (memory store, the fake clock) and runs
// the controller against it until the test ends.
func setup(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st := memory.New()
	clk := clocktesting.NewFakeClock(t0)
	s, err := apiserver.New(ctx, st, apiserver.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(s.InProcessConfig(s.Handler(apiserver.HandlerOptions{})))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		New(cs, clk).Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
	})
	return &env{cs: cs, clk: clk}
}

func (e *env) deployment(t *testing.T, name string, replicas int32) {
	t.Helper()
	labels := map[string]string{"app": name}
	_, err := e.cs.AppsV1().Deployments("default").Create(context.Background(), &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "c", Image: "wasmpod.local/web:1", Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) hpa(t *testing.T, name, target string, minR, maxR int32) {
	t.Helper()
	_, err := e.cs.AutoscalingV2().HorizontalPodAutoscalers("default").Create(context.Background(), &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: &minR, MaxReplicas: maxR,
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: target},
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](50)}}}}}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

// waitCondition waits for the HPA's condition to have status and reason,
// and returns the HPA.
func (e *env) waitCondition(t *testing.T, name string, ct autoscalingv2.HorizontalPodAutoscalerConditionType, status corev1.ConditionStatus, reason string) *autoscalingv2.HorizontalPodAutoscaler {
	t.Helper()
	var last *autoscalingv2.HorizontalPodAutoscaler
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		h, err := e.cs.AutoscalingV2().HorizontalPodAutoscalers("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		last = h
		for _, c := range h.Status.Conditions {
			if c.Type == ct && c.Status == status && c.Reason == reason {
				return h
			}
		}
	}
	t.Fatalf("HPA %s never had %s=%s (%s); status %+v", name, ct, status, reason, last.Status)
	return nil
}

func (e *env) replicas(t *testing.T, name string) int32 {
	t.Helper()
	d, err := e.cs.AppsV1().Deployments("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return *d.Spec.Replicas
}

func (e *env) waitReplicas(t *testing.T, name string, want int32) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if e.replicas(t, name) == want {
			return
		}
	}
	t.Fatalf("deployment %s has %d replicas, want %d", name, e.replicas(t, name), want)
}

func (e *env) waitEvent(t *testing.T, name, reason, message string) {
	t.Helper()
	var seen []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		evs, err := e.cs.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("involvedObject.name", name).String()})
		if err != nil {
			t.Fatal(err)
		}
		seen = seen[:0]
		for _, ev := range evs.Items {
			seen = append(seen, ev.Reason+": "+ev.Message)
			if ev.Reason == reason && strings.Contains(ev.Message, message) && ev.Source.Component == Component {
				return
			}
		}
	}
	t.Fatalf("no %s event %q for %s; events: %q", reason, message, name, seen)
}

// TestTargetMissing: an HPA whose target does not exist is AbleToScale
// False FailedGetScale, with a warning event.
func TestTargetMissing(t *testing.T) {
	e := setup(t)
	e.hpa(t, "ghost", "nothing", 1, 5)
	h := e.waitCondition(t, "ghost", autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedGetScale")
	if !strings.Contains(conditionMessage(h, autoscalingv2.AbleToScale), `deployments.apps "nothing" not found`) {
		t.Fatalf("message %q", conditionMessage(h, autoscalingv2.AbleToScale))
	}
	e.waitEvent(t, "ghost", "FailedGetScale", `deployments.apps "nothing" not found`)
}

func conditionMessage(h *autoscalingv2.HorizontalPodAutoscaler, ct autoscalingv2.HorizontalPodAutoscalerConditionType) string {
	for _, c := range h.Status.Conditions {
		if c.Type == ct {
			return c.Message
		}
	}
	return ""
}

// TestOutOfRangeAndResync: a target above maxReplicas is scaled to it
// through its scale subresource (SuccessfulRescale, lastScaleTime from
// the fake clock); a target scaled away again is brought back at the next
// sync period on the fake clock, not before.
func TestOutOfRangeAndResync(t *testing.T) {
	e := setup(t)
	e.deployment(t, "web", 8)
	e.hpa(t, "web", "web", 2, 5)
	e.waitReplicas(t, "web", 5)
	e.waitEvent(t, "web", "SuccessfulRescale", "New size: 5; reason: Current number of replicas above Spec.MaxReplicas")
	h := e.waitCondition(t, "web", autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale")
	if h.Status.DesiredReplicas != 5 || h.Status.LastScaleTime == nil || !h.Status.LastScaleTime.Time.Equal(t0) {
		t.Fatalf("status %+v", h.Status)
	}
	// Scaled to 1 by hand: below minReplicas. Nothing happens until the
	// next sync period.
	sc, err := e.cs.AppsV1().Deployments("default").GetScale(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc.Spec.Replicas = 1
	if _, err := e.cs.AppsV1().Deployments("default").UpdateScale(context.Background(), "web", sc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if got := e.replicas(t, "web"); got != 1 {
		t.Fatalf("replicas %d before the sync period, want 1", got)
	}
	e.clk.Step(SyncPeriod)
	e.waitReplicas(t, "web", 2)
	e.waitEvent(t, "web", "SuccessfulRescale", "New size: 2; reason: Current number of replicas below Spec.MinReplicas")
}

// TestScalingDisabledAtZero: a target scaled to 0 is left alone.
func TestScalingDisabledAtZero(t *testing.T) {
	e := setup(t)
	e.deployment(t, "off", 0)
	e.hpa(t, "off", "off", 1, 5)
	e.waitCondition(t, "off", autoscalingv2.ScalingActive, corev1.ConditionFalse, "ScalingDisabled")
	e.clk.Step(SyncPeriod)
	time.Sleep(200 * time.Millisecond)
	if got := e.replicas(t, "off"); got != 0 {
		t.Fatalf("replicas %d, want 0", got)
	}
}

// TestNoMetrics: pods without any sample from the metrics API make
// ScalingActive False FailedGetResourceMetric, and no rescale.
func TestNoMetrics(t *testing.T) {
	e := setup(t)
	e.deployment(t, "quiet", 2)
	for _, n := range []string{"quiet-a", "quiet-b"} {
		p, err := e.cs.CoreV1().Pods("default").Create(context.Background(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: n, Labels: map[string]string{"app": "quiet"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "wasmpod.local/web:1"}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_ = p
	}
	e.hpa(t, "quiet", "quiet", 1, 5)
	h := e.waitCondition(t, "quiet", autoscalingv2.ScalingActive, corev1.ConditionFalse, "FailedGetResourceMetric")
	if msg := conditionMessage(h, autoscalingv2.ScalingActive); !strings.Contains(msg, "the HPA was unable to compute the replica count: failed to get cpu utilization") {
		t.Fatalf("message %q", msg)
	}
	e.waitEvent(t, "quiet", "FailedGetResourceMetric", "failed to get cpu utilization")
	if got := e.replicas(t, "quiet"); got != 2 {
		t.Fatalf("replicas %d, want 2", got)
	}
}

// TestReplicaSetTarget: an HPA scales a ReplicaSet through its scale
// subresource as it scales a Deployment (issue 16 §3: Deployments and
// ReplicaSets).
func TestReplicaSetTarget(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	labels := map[string]string{"app": "rs"}
	if _, err := e.cs.AppsV1().ReplicaSets("default").Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "rs"},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](8), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "c", Image: "wasmpod.local/web:1"}}}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cs.AutoscalingV2().HorizontalPodAutoscalers("default").Create(ctx, &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "rs"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: ptr.To[int32](2), MaxReplicas: 5,
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs"}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var got int32
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		rs, err := e.cs.AppsV1().ReplicaSets("default").Get(ctx, "rs", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got = *rs.Spec.Replicas; got == 5 {
			break
		}
	}
	if got != 5 {
		t.Fatalf("replicaset rs has %d replicas, want 5", got)
	}
	e.waitEvent(t, "rs", "SuccessfulRescale", "New size: 5; reason: Current number of replicas above Spec.MaxReplicas")
	e.waitCondition(t, "rs", autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale")
}
