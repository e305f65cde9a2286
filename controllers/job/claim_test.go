package job

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	cu "github.com/wasmpod/wasmpod/internal/controllerutil"
)

// TestLabelsOnlyMatchesSelector: podsForJob's shortcut for a selector of
// matchLabels alone agrees with labels.Selector on random selectors and
// label sets (missing keys, empty values, other values); selectors with
// expressions, empty or nil take the claimer's path.
func TestLabelsOnlyMatchesSelector(t *testing.T) {
	keys := []string{"a", "b", "batch.kubernetes.io/controller-uid"}
	vals := []string{"", "x", "y"}
	rnd := rand.New(rand.NewPCG(1, 2))
	randMap := func(max int) map[string]string {
		m := map[string]string{}
		for range rnd.IntN(max + 1) {
			m[keys[rnd.IntN(len(keys))]] = vals[rnd.IntN(len(vals))]
		}
		return m
	}
	checked := 0
	for range 5000 {
		sel := &metav1.LabelSelector{MatchLabels: randMap(3)}
		ls := randMap(4)
		match, ok := labelsOnly(sel)
		if len(sel.MatchLabels) == 0 {
			if ok {
				t.Fatalf("empty selector %v took the shortcut", sel)
			}
			continue
		}
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil || !ok {
			t.Fatalf("selector %v: %v, ok %v", sel, err, ok)
		}
		if got, want := match(ls), s.Matches(labels.Set(ls)); got != want {
			t.Fatalf("selector %v, labels %v: shortcut %v, labels.Selector %v", sel.MatchLabels, ls, got, want)
		}
		checked++
	}
	if checked < 1000 {
		t.Fatalf("only %d cases checked", checked)
	}
	for _, sel := range []*metav1.LabelSelector{nil, {},
		{MatchLabels: map[string]string{"a": "x"}, MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "b", Operator: metav1.LabelSelectorOpExists}}}} {
		if _, ok := labelsOnly(sel); ok {
			t.Errorf("selector %v took the shortcut", sel)
		}
	}
}

// TestFinishedPodReleased: a finished pod the Job has counted (finalizer
// removed) whose controller-uid label is changed to another value is
// released, as ClaimPods releases any pod of the Job that stops matching;
// the Job still completes with each completion counted once.
func TestFinishedPodReleased(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.create(t, newJob("rel", ptr.To[int32](2), ptr.To[int32](1)))
	waitFor(t, "a pod", func() bool { return len(e.running(t, "rel")) == 1 })
	first := e.running(t, "rel")[0].Name
	e.finish(t, first, 0)
	e.waitBatched(t, "the first counted and its finalizer removed", func() bool {
		p, err := e.cs.CoreV1().Pods("default").Get(ctx, first, metav1.GetOptions{})
		return err == nil && !hasFin(p) && e.job(t, "rel").Status.Succeeded == 1
	})
	if _, err := e.cs.CoreV1().Pods("default").Patch(ctx, first, types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"batch.kubernetes.io/controller-uid":"other"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitBatched(t, "the finished pod released", func() bool {
		p, err := e.cs.CoreV1().Pods("default").Get(ctx, first, metav1.GetOptions{})
		return err == nil && metav1.GetControllerOf(p) == nil
	})
	waitFor(t, "the second pod", func() bool { return len(e.running(t, "rel")) == 1 })
	e.finish(t, e.running(t, "rel")[0].Name, 0)
	e.waitBatched(t, "Complete", func() bool { return cond(e.job(t, "rel"), batchv1.JobComplete) != nil })
	if s := e.job(t, "rel").Status; s.Succeeded != 2 || s.Failed != 0 {
		t.Fatalf("status %+v", s)
	}
	if p, _ := e.cs.CoreV1().Pods("default").Get(ctx, first, metav1.GetOptions{}); metav1.GetControllerOf(p) != nil {
		t.Fatalf("pod %s owned again: %+v", first, p.OwnerReferences)
	}
}

// BenchmarkPodsForJob: one sync's claim of a Job's pods, 1,000 of them
// (the finished pods of a Job stay until it is deleted), through
// podsForJob against every pod through the claimer in the same run
// (x-claimer: podsForJob's time ÷ the claimer's).
func BenchmarkPodsForJob(b *testing.B) {
	uid := types.UID("job-uid")
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "default", UID: uid},
		Spec: batchv1.JobSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: string(uid)}}}}
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{podControllerUIDIndex: func(obj any) ([]string, error) {
		if ref := metav1.GetControllerOfNoCopy(obj.(*corev1.Pod)); ref != nil {
			return []string{string(ref.UID)}, nil
		}
		return []string{orphanPodIndexKey}, nil
	}})
	for i := range 1000 {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("j-%d", i), Namespace: "default", UID: types.UID(fmt.Sprint(i)),
			Labels: map[string]string{batchv1.ControllerUidLabel: string(uid), "controller-uid": string(uid),
				batchv1.JobNameLabel: "j", "job-name": "j"},
			OwnerReferences: []metav1.OwnerReference{*cu.NewControllerRef(j, controllerKind)}},
			Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}
		if err := idx.Add(p); err != nil {
			b.Fatal(err)
		}
	}
	c := &Controller{podIndex: idx}
	ctx := context.Background()
	run := func(f func() int) time.Duration {
		t0 := time.Now()
		for range b.N {
			if n := f(); n != 1000 {
				b.Fatalf("%d pods", n)
			}
		}
		return time.Since(t0)
	}
	b.ResetTimer()
	viaClaimer := run(func() int {
		all, _ := c.podsOwnedBy(j, true)
		sel, _ := metav1.LabelSelectorAsSelector(j.Spec.Selector)
		pods, _ := (&cu.PodClaimer{Owner: j, GVK: controllerKind, Selector: sel}).ClaimPods(ctx, all)
		return len(pods)
	})
	now := run(func() int {
		pods, _ := c.podsForJob(ctx, j)
		return len(pods)
	})
	b.ReportMetric(float64(now.Nanoseconds())/float64(b.N), "ns/sync")
	b.ReportMetric(float64(viaClaimer.Nanoseconds())/float64(b.N), "claimer-ns/sync")
	b.ReportMetric(now.Seconds()/viaClaimer.Seconds(), "x-claimer")
}
