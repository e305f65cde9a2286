package controllerutil

import (
	"errors"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

func pod(name, node string, phase corev1.PodPhase, readySince *time.Time, restarts int32, created time.Time) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(created)},
		Spec:   corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: phase, ContainerStatuses: []corev1.ContainerStatus{{RestartCount: restarts}}}}
	if readySince != nil {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(*readySince)}}
	}
	return p
}

// TestActivePodsOrder: upstream's ActivePodsWithRanks order
// (controller_utils_test.go TestSortingActivePodsWithRanks): each pod is to
// be deleted before the next.
func TestActivePodsOrder(t *testing.T) {
	now := time.Now()
	old := now.Add(-time.Hour)
	at := func(d time.Duration) *time.Time { x := now.Add(-d); return &x }
	ordered := []*corev1.Pod{
		pod("unassigned", "", corev1.PodPending, nil, 0, old),
		pod("pending", "n1", corev1.PodPending, nil, 0, old),
		pod("unknown", "n1", corev1.PodUnknown, nil, 0, old),
		pod("running-not-ready", "n1", corev1.PodRunning, nil, 0, old),
		pod("ready-low-cost", "n2", corev1.PodRunning, at(time.Second), 0, old),
		pod("ready-doubled-up", "n1", corev1.PodRunning, at(time.Hour), 0, old),
		pod("ready-1s", "n2", corev1.PodRunning, at(time.Second), 0, old),
		pod("ready-1h-5-restarts", "n2", corev1.PodRunning, at(time.Hour), 5, old),
		pod("ready-1h-1-restart", "n2", corev1.PodRunning, at(time.Hour), 1, old),
		pod("ready-1h-newer", "n2", corev1.PodRunning, at(time.Hour), 0, now.Add(-2*time.Hour)),
		pod("ready-1h-older", "n2", corev1.PodRunning, at(time.Hour), 0, now.Add(-24*time.Hour)),
	}
	ordered[4].Annotations = map[string]string{PodDeletionCostAnnotation: "-10"}
	// n1 has 4 related pods, n2 has 6 → rank of n1 pods 4, n2 pods 6;
	// give n1 more so the doubled-up pod outranks the n2 ones.
	related := append([]*corev1.Pod{}, ordered...)
	for range 4 {
		related = append(related, pod("extra", "n1", corev1.PodRunning, nil, 0, old))
	}
	for seed := range 20 {
		ps := append([]*corev1.Pod{}, ordered...)
		for i := range ps { // a deterministic shuffle
			j := (i*7 + seed*3) % len(ps)
			ps[i], ps[j] = ps[j], ps[i]
		}
		s := RankByRelatedPodsOnSameNode(ps, related, now)
		sort.Sort(s)
		var got, want []string
		for i := range ps {
			got, want = append(got, s.Pods[i].Name), append(want, ordered[i].Name)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("seed %d:\n got  %v\n want %v", seed, got, want)
		}
	}
	// Within one power of two of age, the UID decides (log scale-down).
	a := pod("a", "n", corev1.PodRunning, at(1000*time.Second), 0, old)
	b := pod("b", "n", corev1.PodRunning, at(1001*time.Second), 0, old)
	s := ActivePodsWithRanks{Pods: []*corev1.Pod{b, a}, Rank: []int{0, 0}, Now: metav1.NewTime(now)}
	if !s.Less(1, 0) || s.Less(0, 1) {
		t.Error("same log2 bucket of ready time: not ordered by UID")
	}
}

func TestSlowStartBatch(t *testing.T) {
	var calls atomic.Int64
	n, err := SlowStartBatch(10, 1, func() error { calls.Add(1); return nil })
	if n != 10 || err != nil || calls.Load() != 10 {
		t.Fatalf("all ok: %d, %v, %d calls", n, err, calls.Load())
	}
	// Batches 1, 2, 4, 3: a failure from the 4th call on stops after the
	// batch of 4 (7 calls, 3 + 3 successes at most).
	calls.Store(0)
	n, err = SlowStartBatch(10, 1, func() error {
		if calls.Add(1) > 3 {
			return errors.New("quota")
		}
		return nil
	})
	if err == nil || calls.Load() != 7 || n != 3 {
		t.Fatalf("failing: %d successes, %v, %d calls; want 3, an error, 7", n, err, calls.Load())
	}
	calls.Store(0)
	if n, err := SlowStartBatch(5, 1, func() error { calls.Add(1); return errors.New("x") }); n != 0 || err == nil || calls.Load() != 1 {
		t.Fatalf("first fails: %d, %v, %d calls", n, err, calls.Load())
	}
}

func TestExpectations(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	e := NewExpectations(clk)
	if !e.Satisfied("a") {
		t.Fatal("no expectations: not satisfied")
	}
	e.ExpectCreations("a", 2)
	e.CreationObserved("a")
	if e.Satisfied("a") {
		t.Fatal("1 of 2 creations: satisfied")
	}
	e.CreationObserved("a")
	if !e.Satisfied("a") {
		t.Fatal("2 of 2: not satisfied")
	}
	e.ExpectDeletions("a", []string{"ns/p1", "ns/p2"})
	e.DeletionObserved("a", "ns/p1")
	e.DeletionObserved("a", "ns/p1") // twice: counts once
	e.DeletionObserved("a", "ns/other")
	if e.Satisfied("a") {
		t.Fatal("p2 not deleted yet: satisfied")
	}
	clk.Step(ExpectationsTimeout + time.Second)
	if !e.Satisfied("a") {
		t.Fatal("expired: not satisfied")
	}
}

func TestPodFromTemplate(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}, Annotations: map[string]string{"x": "y"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}}
	ctl := true
	ref := &metav1.OwnerReference{Name: "rs", UID: "u", Controller: &ctl}
	p := PodFromTemplate(tmpl, "ns", "rs", ref)
	if p.GenerateName != "rs-" || p.Namespace != "ns" || p.Labels["a"] != "b" || p.Annotations["x"] != "y" || p.OwnerReferences[0].UID != "u" {
		t.Fatalf("pod %+v", p.ObjectMeta)
	}
	p.Labels["a"] = "changed"
	p.Spec.Containers[0].Image = "changed"
	if tmpl.Labels["a"] != "b" || tmpl.Spec.Containers[0].Image != "i" {
		t.Fatal("the pod shares the template's maps or spec")
	}
	if got := PodsPrefix("Bad_Name"); got != "Bad_Name" {
		t.Errorf("prefix of an invalid name: %q", got)
	}
}
