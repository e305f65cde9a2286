package wasmpod_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// burnDeployment is wasm-examples/burn's Deployment: a CPU-burning guest
// requesting 40m.
const burnDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: burn
spec:
  replicas: 1
  selector:
    matchLabels:
      app: burn
  template:
    metadata:
      labels:
        app: burn
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: burn
        image: wasmpod.local/burn:v1
        resources:
          requests:
            cpu: 40m
`

// TestHPAScalesBurningDeployment (issue 16 §3): a Deployment of a
// CPU-burning guest (wasm-examples/burn) with a 40m request on a node of
// 200m, autoscaled with the real kubectl (--cpu-percent=50 --min=1
// --max=4). The HPA controller reads its usage from metrics.k8s.io
// (served from the agent's Summary) every 15 s of the cluster's fake
// clock and scales it to 4 (SuccessfulRescale "New size: 4; reason: cpu
// resource utilization (percentage of request) above target"); kubectl
// get hpa shows the utilization above the target. Then BURN=0 rolls out
// idle pods: the recommendation drops, the downscale stabilization keeps
// 4 replicas (AbleToScale ScaleDownStabilized) until 5 minutes of the
// fake clock have passed since the last high recommendation, and then it
// scales to 1 ("All metrics below target").
func TestHPAScalesBurningDeployment(t *testing.T) {
	if testing.Short() {
		t.Skip("burns CPU for a while")
	}
	ctx := context.Background()
	dir := t.TempDir()
	// The cluster's clock runs 20 minutes behind the real one, which the
	// agent's usage samples are stamped with: stepped 15 s a real second,
	// it stays behind for the test's length, so a pod's samples are never
	// older than its Ready condition (upstream's check that a sample's
	// window began after readiness compares the two).
	clk := clocktesting.NewFakeClock(time.Now().Add(-20 * time.Minute))
	store := moduleStore(t, map[string][]byte{"burn:v1": exampleModule(t, "burn")})
	c, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: testwasm.CacheDir(), Modules: store, Clock: clk,
		EvictionHard: map[string]string{"nodefs.available": "1Mi"},
		NodeCapacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: w\n  cluster:\n    server: "+srv.URL+
		"\ncontexts:\n- name: w\n  context:\n    cluster: w\n    user: me\n    namespace: default\ncurrent-context: w\nusers:\n- name: me\n  user: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &streamEnv{c: c, dir: dir, kc: kc}
	cs := c.Client()

	e.apply(t, burnDeployment)
	readyPods := func() int {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=burn"})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range l.Items {
			for _, cond := range p.Status.Conditions {
				if p.DeletionTimestamp == nil && cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
					n++
				}
			}
		}
		return n
	}
	for deadline := time.Now().Add(60 * time.Second); readyPods() < 1; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the burn pod never became Ready")
		}
	}
	if out := e.must(t, "autoscale", "deployment", "burn", "--cpu-percent=50", "--min=1", "--max=4"); !strings.Contains(out, "autoscaled") {
		t.Fatalf("kubectl autoscale: %s", out)
	}
	hpa := func() *autoscalingv2.HorizontalPodAutoscaler {
		h, err := cs.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "burn", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	replicas := func() int32 {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, "burn", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return *d.Spec.Replicas
	}
	events := func() []string {
		l, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("involvedObject.name", "burn").String() +
			",involvedObject.kind=HorizontalPodAutoscaler"})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, ev := range l.Items {
			out = append(out, ev.Reason+": "+ev.Message)
		}
		return out
	}
	hasEvent := func(want string) bool {
		for _, ev := range events() {
			if ev == want {
				return true
			}
		}
		return false
	}
	// Each round is one sync period of the fake clock, with a real second
	// for the agent's usage samples (real time) to follow.
	round := func() {
		clk.Step(15 * time.Second)
		time.Sleep(time.Second)
	}

	// Scale up: one pod burning up to the node's 200m against a 40m
	// request is far above 50%.
	time.Sleep(10 * time.Second) // a sample window after readiness
	for i := 0; replicas() != 4; i++ {
		if i == 60 {
			t.Fatalf("no scale up to 4 after %d sync periods; HPA status %+v; events %q", i, hpa().Status, events())
		}
		round()
	}
	const upEvent = "SuccessfulRescale: New size: 4; reason: cpu resource utilization (percentage of request) above target"
	for i := 0; !hasEvent(upEvent); i++ {
		if i == 50 {
			t.Fatalf("no %q event; events %q", upEvent, events())
		}
		time.Sleep(100 * time.Millisecond)
	}
	h := hpa()
	if h.Status.DesiredReplicas != 4 || h.Status.LastScaleTime == nil || len(h.Status.CurrentMetrics) != 1 ||
		h.Status.CurrentMetrics[0].Resource == nil || *h.Status.CurrentMetrics[0].Resource.Current.AverageUtilization <= 50 {
		t.Fatalf("after scale up: status %+v", h.Status)
	}
	t.Logf("scaled up to 4 at %d%% of the request (target 50%%)", *h.Status.CurrentMetrics[0].Resource.Current.AverageUtilization)
	if out := e.must(t, "get", "hpa", "burn", "--no-headers"); !regexp.MustCompile(`^burn\s+Deployment/burn\s+cpu: \d+%/50%\s+1\s+4\s+\d\s+\S+\n$`).MatchString(out) {
		t.Fatalf("kubectl get hpa: %q", out)
	}
	e.same(t, "get", "hpa") // the wasmpod CLI prints what kubectl prints

	// Stop the burn: idle pods roll out. The HPA's status shows each
	// sync's utilization: the last one above the target is the last
	// recommendation of 4, and the scale down waits for the 5 minute
	// window after it.
	highAt := clk.Now()
	e.must(t, "set", "env", "deployment/burn", "BURN=0")
	stabilized := false
	for i := 0; replicas() != 1; i++ {
		if i == 120 {
			t.Fatalf("no scale down after %d sync periods; HPA status %+v; events %q", i, hpa().Status, events())
		}
		round()
		h := hpa()
		if m := h.Status.CurrentMetrics; len(m) == 1 && m[0].Resource != nil && *m[0].Resource.Current.AverageUtilization > 50 {
			highAt = clk.Now()
		}
		for _, cond := range h.Status.Conditions {
			stabilized = stabilized || cond.Type == autoscalingv2.AbleToScale && cond.Reason == "ScaleDownStabilized"
		}
	}
	scaledAt := clk.Now()
	if !stabilized {
		t.Fatalf("the scale down was never held by the stabilization window; events %q", events())
	}
	if d := scaledAt.Sub(highAt); d < 5*time.Minute-15*time.Second {
		t.Fatalf("scaled down %v after the last sync above the target, want the 5 minute window", d)
	}
	t.Logf("scaled down %v of the fake clock after the last sync above the target", scaledAt.Sub(highAt))
	const downEvent = "SuccessfulRescale: New size: 1; reason: All metrics below target"
	for i := 0; !hasEvent(downEvent); i++ {
		if i == 50 {
			t.Fatalf("no %q event; events %q", downEvent, events())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if h := hpa(); h.Status.DesiredReplicas != 1 || h.Status.LastScaleTime == nil || h.Status.LastScaleTime.Time.Before(highAt) || h.Status.LastScaleTime.Time.After(scaledAt) {
		t.Fatalf("after scale down: status %+v", h.Status)
	}
}
