package pods

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime/wazero"
	"github.com/wasmpod/wasmpod/store/memory"
)

// TestAgentReadinessGates: a pod with spec.readinessGates is Ready only
// when its containers are and every gate's condition is True, with the
// kubelet's reason and messages; conditions set through pods/status by
// others survive the agent's own writes (a JSON merge patch that drops
// the agent's conditions gets them back), and labels set meanwhile are
// not reverted. Real API server (memory store) through client-go, real
// wazero, a fake clock.
func TestAgentReadinessGates(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := apiserver.New(ctx, memory.New(), apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(s.InProcessConfig(s.Handler(apiserver.HandlerOptions{})))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := wazero.New(ctx, wazero.Config{CacheDir: testwasm.CompileCacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	clk := clocktesting.NewFakeClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	a := NewAgent(AgentConfig{
		Client: cs, NodeName: "node-1", Clock: clk,
		Pods: &Config{Engine: eng, Images: testImages, RootDir: t.TempDir()},
	})
	stopped := make(chan error, 1)
	go func() { stopped <- a.Run(ctx) }()
	defer func() { cancel(); <-stopped }()

	pod := loadPod(t, "graceful")
	pod.UID = ""
	pod.Spec.NodeName = "node-1"
	pod.Finalizers = []string{"example.com/keep"} // the final status stays readable
	pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/gate-1"}, {ConditionType: "example.com/gate-2"}}
	podsRes, _ := s.Resource("", "pods")
	if _, err := s.Create(ctx, podsRes, "default", pod); err != nil {
		t.Fatal(err)
	}
	pods := cs.CoreV1().Pods("default")
	var last *corev1.Pod
	wait := func(what string, ok func(p *corev1.Pod) bool) *corev1.Pod {
		t.Helper()
		deadline := time.Now().Add(waitLimit)
		for {
			p, err := pods.Get(ctx, "graceful", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if last = p; ok(p) {
				return p
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; conditions %+v", what, p.Status.Conditions)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	ready := func(p *corev1.Pod) corev1.PodCondition { return condOf(p.Status, corev1.PodReady) }
	readyIs := func(status corev1.ConditionStatus, reason, msg string) func(p *corev1.Pod) bool {
		return func(p *corev1.Pod) bool {
			c := ready(p)
			return c.Status == status && c.Reason == reason && c.Message == msg
		}
	}
	patch := func(pt types.PatchType, body string) {
		t.Helper()
		if _, err := pods.Patch(ctx, "graceful", pt, []byte(body), metav1.PatchOptions{}, "status"); err != nil {
			t.Fatalf("patch %s: %v", body, err)
		}
	}
	gate := func(name, status string) {
		t.Helper()
		patch(types.StrategicMergePatchType, fmt.Sprintf(`{"status":{"conditions":[{"type":%q,"status":%q}]}}`, name, status))
	}

	// Running, containers ready, no gate set: not Ready.
	p := wait("containers ready, gates missing", func(p *corev1.Pod) bool {
		return condOf(p.Status, corev1.ContainersReady).Status == corev1.ConditionTrue &&
			readyIs(corev1.ConditionFalse, "ReadinessGatesNotReady",
				`corresponding condition of pod readiness gate "example.com/gate-1" does not exist., `+
					`corresponding condition of pod readiness gate "example.com/gate-2" does not exist.`)(p)
	})
	if p.Status.Phase != corev1.PodRunning {
		t.Fatalf("phase %s", p.Status.Phase)
	}

	gate("example.com/gate-1", "True")
	wait("gate-2 missing", readyIs(corev1.ConditionFalse, "ReadinessGatesNotReady",
		`corresponding condition of pod readiness gate "example.com/gate-2" does not exist.`))
	gate("example.com/gate-2", "False")
	wait("gate-2 False", readyIs(corev1.ConditionFalse, "ReadinessGatesNotReady",
		`the status of pod readiness gate "example.com/gate-2" is not "True", but False`))
	notReadySince := ready(last).LastTransitionTime
	clk.Step(time.Minute)
	gate("example.com/gate-2", "True")
	p = wait("Ready", readyIs(corev1.ConditionTrue, "", ""))
	if lt := ready(p).LastTransitionTime; !lt.After(notReadySince.Time) {
		t.Errorf("Ready's lastTransitionTime %v, not after %v", lt, notReadySince)
	}

	// kubectl patch --type=merge replaces the whole list: the agent's
	// conditions come back, the others' stay.
	patch(types.MergePatchType, `{"status":{"conditions":[{"type":"example.com/gate-1","status":"True"},{"type":"example.com/gate-2","status":"True"},{"type":"example.com/other","status":"False","reason":"Mine"}]}}`)
	p = wait("agent conditions back", func(p *corev1.Pod) bool {
		return ready(p).Status == corev1.ConditionTrue && condOf(p.Status, corev1.PodInitialized).Status == corev1.ConditionTrue &&
			condOf(p.Status, corev1.PodScheduled).Status == corev1.ConditionTrue
	})
	for _, c := range []corev1.PodConditionType{"example.com/gate-1", "example.com/gate-2", "example.com/other"} {
		if got := condOf(p.Status, c); got.Type != c {
			t.Errorf("condition %s lost: %+v", c, p.Status.Conditions)
		}
	}

	// A gate turned False: not Ready, at once.
	gate("example.com/gate-1", "False")
	wait("gate-1 False", readyIs(corev1.ConditionFalse, "ReadinessGatesNotReady",
		`the status of pod readiness gate "example.com/gate-1" is not "True", but False`))

	// A label set meanwhile survives the agent's next writes; the
	// worker's own status change (termination) keeps the others'
	// conditions.
	if _, err := pods.Patch(ctx, "graceful", types.MergePatchType, []byte(`{"metadata":{"labels":{"added":"later"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(ctx, "graceful", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	p = wait("terminated", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	})
	if p.Labels["added"] != "later" {
		t.Errorf("labels %v", p.Labels)
	}
	if c := ready(p); c.Status != corev1.ConditionFalse || c.Reason == "ReadinessGatesNotReady" {
		t.Errorf("terminal Ready %+v", c)
	}
	for _, c := range []corev1.PodConditionType{"example.com/gate-1", "example.com/gate-2", "example.com/other"} {
		if got := condOf(p.Status, c); got.Type != c {
			t.Errorf("condition %s lost by the final status: %+v", c, p.Status.Conditions)
		}
	}
	if g := condOf(p.Status, "example.com/gate-1"); g.Status != corev1.ConditionFalse {
		t.Errorf("gate-1 %+v", g)
	}
	if _, err := pods.Patch(ctx, "graceful", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestMergeStatus: the merge of the API's status and the worker's, as the
// kubelet's mergePodStatus and GeneratePodReadyCondition.
func TestMergeStatus(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	now := t0.Add(time.Hour)
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(t0.Add(d)) }
	gates := &corev1.PodSpec{ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "g"}}}
	mine := &corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: at(1)},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: at(1)},
		{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "TerminationByKubelet"},
	}}
	api := &corev1.PodStatus{Conditions: []corev1.PodCondition{
		{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: ReadinessGatesNotReady, LastTransitionTime: at(2)},
		{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "EvictionByEvictionAPI"},
		{Type: "g", Status: corev1.ConditionTrue},
		{Type: "other", Status: corev1.ConditionUnknown},
	}}

	// Without gates: the others' conditions first, then the worker's; the
	// worker's DisruptionTarget wins.
	st := mergeStatus(&corev1.PodSpec{}, api, mine, now)
	var list []string
	for _, c := range st.Conditions {
		list = append(list, string(c.Type)+"="+string(c.Status)+"/"+c.Reason)
	}
	if got, want := fmt.Sprint(list), "[g=True/ other=Unknown/ Ready=True/ ContainersReady=True/ DisruptionTarget=True/TerminationByKubelet]"; got != want {
		t.Errorf("conditions %s, want %s", got, want)
	}
	if c := condOf(st, corev1.PodReady); !c.LastTransitionTime.Equal(&metav1.Time{Time: t0.Add(1)}) {
		t.Errorf("Ready without gates keeps the worker's time: %v", c.LastTransitionTime)
	}
	if len(mine.Conditions) != 3 || len(api.Conditions) != 4 {
		t.Error("inputs modified")
	}

	// With the gate True: Ready True since now (it was False by the gate).
	st = mergeStatus(gates, api, mine, now)
	if c := condOf(st, corev1.PodReady); c.Status != corev1.ConditionTrue || !c.LastTransitionTime.Time.Equal(now) {
		t.Errorf("Ready %+v", c)
	}
	// Gate Unknown: False, the API's time kept.
	api.Conditions[2].Status = corev1.ConditionUnknown
	st = mergeStatus(gates, api, mine, now)
	if c := condOf(st, corev1.PodReady); c.Status != corev1.ConditionFalse || c.Reason != ReadinessGatesNotReady ||
		c.Message != `the status of pod readiness gate "g" is not "True", but Unknown` || !c.LastTransitionTime.Equal(&metav1.Time{Time: t0.Add(2)}) {
		t.Errorf("Ready %+v", c)
	}
	if !statusDiffers(&st, api) {
		t.Error("the message differs: a write is due")
	}
	// The containers not ready: the worker's Ready as it is.
	notReady := mine.DeepCopy()
	notReady.Conditions[0] = corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", Message: "containers with unready status: [c]", LastTransitionTime: at(3)}
	st = mergeStatus(gates, api, notReady, now)
	if c := condOf(st, corev1.PodReady); c.Reason != "ContainersNotReady" || !c.LastTransitionTime.Equal(&metav1.Time{Time: t0.Add(2)}) {
		t.Errorf("Ready %+v", c)
	}
	if statusDiffers(&st, &st) {
		t.Error("a status differs from itself")
	}
}
