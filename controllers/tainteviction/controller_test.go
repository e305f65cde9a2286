package tainteviction

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/wasmpod/wasmpod/internal/apitest"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func pod(name, node string, tols ...corev1.Toleration) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.PodSpec{NodeName: node, Tolerations: tols, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

func unreachableFor(secs int64) corev1.Toleration {
	t := corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}
	if secs >= 0 {
		t.TolerationSeconds = &secs
	}
	return t
}

var unreachable = []corev1.Taint{
	{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute},
}

func setTaints(t *testing.T, cs kubernetes.Interface, node string, taints []corev1.Taint) {
	t.Helper()
	n, err := cs.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Spec.Taints = taints
	if _, err := cs.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// deleting reports which of the pods have a deletionTimestamp.
func deleting(t *testing.T, cs kubernetes.Interface) map[string]bool {
	t.Helper()
	pl, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, p := range pl.Items {
		out[p.Name] = p.DeletionTimestamp != nil
	}
	return out
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !f(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func events(t *testing.T, cs kubernetes.Interface) string {
	t.Helper()
	el, err := cs.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range el.Items {
		fmt.Fprintf(&b, "%s %s %s: %s\n", e.Source.Component, e.Reason, e.InvolvedObject.Name, e.Message)
	}
	return b.String()
}

func TestTaintEviction(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	cs := apitest.Client(t, clk)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, n := range []string{"lost", "alive", "broken"} {
		if _, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []*corev1.Pod{
		// The API server's DefaultTolerationSeconds admission gives every
		// pod without its own a 300 s toleration of the unreachable and
		// not-ready taints, so the pod that tolerates nothing is on a node
		// with a taint of another key.
		pod("untolerating", "broken"),
		pod("tolerates-30s", "lost", unreachableFor(30)),
		pod("tolerates-60s-and-forever", "lost", unreachableFor(60), corev1.Toleration{Operator: corev1.TolerationOpExists}),
		pod("tolerates-0s", "lost", unreachableFor(0)),
		pod("cancelled-90s", "lost", unreachableFor(90)),
		pod("elsewhere", "alive"),
		pod("unbound", ""),
	} {
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c := New(cs, clk)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	// No NoExecute taint: nothing happens.
	time.Sleep(200 * time.Millisecond)
	for name, d := range deleting(t, cs) {
		if d {
			t.Errorf("%s deleted without a taint", name)
		}
	}

	setTaints(t, cs, "lost", unreachable)
	setTaints(t, cs, "broken", []corev1.Taint{{Key: "example.com/broken", Effect: corev1.TaintEffectNoExecute}})
	waitFor(t, "the untolerating pods' eviction", func() bool {
		d := deleting(t, cs)
		return d["untolerating"] && d["tolerates-0s"]
	})
	p, err := cs.CoreV1().Pods("default").Get(ctx, "untolerating", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var cond *corev1.PodCondition
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.DisruptionTarget {
			cond = &p.Status.Conditions[i]
		}
	}
	if cond == nil || cond.Status != corev1.ConditionTrue || cond.Reason != ReasonDeletionByTaints || cond.Message != MessageDeletion {
		t.Errorf("evicted pod's DisruptionTarget condition: %+v", cond)
	}
	if p.DeletionGracePeriodSeconds == nil || *p.DeletionGracePeriodSeconds != 30 {
		t.Errorf("evicted with grace period %v, want the pod's 30 s", p.DeletionGracePeriodSeconds)
	}
	// 29 s later, the 30 s pod is still there.
	waitFor(t, "the scheduled evictions' timers", func() bool { return clk.HasWaiters() })
	clk.Step(29 * time.Second)
	time.Sleep(200 * time.Millisecond)
	if deleting(t, cs)["tolerates-30s"] {
		t.Fatal("tolerates-30s evicted after 29 s")
	}
	// Another change of the node's taints does not restart the count.
	setTaints(t, cs, "lost", append(unreachable, corev1.Taint{Key: "example.com/other", Effect: corev1.TaintEffectNoSchedule}))
	time.Sleep(100 * time.Millisecond)
	clk.Step(2 * time.Second)
	waitFor(t, "tolerates-30s evicted after 31 s", func() bool { return deleting(t, cs)["tolerates-30s"] })
	// The taint goes away at 40 s: the 90 s eviction is cancelled.
	clk.Step(9 * time.Second)
	setTaints(t, cs, "lost", nil)
	waitFor(t, "the cancelled eviction's Event", func() bool {
		return strings.Contains(events(t, cs), "Cancelling deletion of Pod default/cancelled-90s")
	})
	clk.Step(5 * time.Minute)
	time.Sleep(200 * time.Millisecond)
	d := deleting(t, cs)
	for name, want := range map[string]bool{"untolerating": true, "tolerates-0s": true, "tolerates-30s": true,
		"tolerates-60s-and-forever": false, "cancelled-90s": false, "elsewhere": false, "unbound": false} {
		if d[name] != want {
			t.Errorf("pod %s: being deleted %v, want %v", name, d[name], want)
		}
	}
	ev := events(t, cs)
	for _, want := range []string{"taint-eviction-controller TaintManagerEviction untolerating: Marking for deletion Pod default/untolerating",
		"TaintManagerEviction tolerates-30s: Marking for deletion Pod default/tolerates-30s"} {
		if !strings.Contains(ev, want) {
			t.Errorf("events lack %q:\n%s", want, ev)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestTolerationTime(t *testing.T) {
	s := func(n int64) *int64 { return &n }
	taints := []corev1.Taint{{Key: "a", Effect: corev1.TaintEffectNoExecute}, {Key: "b", Value: "x", Effect: corev1.TaintEffectNoExecute}}
	for _, tc := range []struct {
		name string
		tols []corev1.Toleration
		d    time.Duration
		ok   bool
	}{
		{"none", nil, 0, false},
		{"one of two", []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists}}, 0, false},
		{"both forever", []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists}, {Key: "b", Value: "x"}}, -1, true},
		{"the smallest", []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists, TolerationSeconds: s(50)}, {Key: "b", Value: "x", TolerationSeconds: s(20)}}, 20 * time.Second, true},
		{"wrong value", []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists}, {Key: "b", Value: "y"}}, 0, false},
		{"negative is now", []corev1.Toleration{{Operator: corev1.TolerationOpExists, TolerationSeconds: s(-5)}}, 0, true},
		{"wrong effect", []corev1.Toleration{{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}, 0, false},
	} {
		d, ok := tolerationTime(taints, tc.tols)
		if d != tc.d || ok != tc.ok {
			t.Errorf("%s: %v %v, want %v %v", tc.name, d, ok, tc.d, tc.ok)
		}
	}
}
