package job

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
)

// TestPodEventsBatched: a Job's status writes are batched as upstream's
// syncJobBatchPeriod batches them, but not the pods. Five pods of a Job of
// ten finish within one batch period: their replacements are created at
// once (the fake clock not moved: upstream's delayed sync would wait the
// period), the Job's status is not written within the period, then one
// round takes all five: two status writes, as upstream's finalizer
// tracking makes them (the five UIDs to uncountedTerminatedPods, then
// succeeded 5), where writing on each pod event writes twice per pod.
func TestPodEventsBatched(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.create(t, newJob("bat", ptr.To[int32](10), ptr.To[int32](5)))
	waitFor(t, "5 pods, active 5", func() bool {
		return len(e.running(t, "bat")) == 5 && e.job(t, "bat").Status.Active == 5
	})
	w, err := e.cs.BatchV1().Jobs("default").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=bat",
		ResourceVersion: e.job(t, "bat").ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var writes []*batchv1.Job
	// collect takes the Job's writes until none came for quiet.
	collect := func(quiet time.Duration) {
		for {
			select {
			case ev := <-w.ResultChan():
				j, ok := ev.Object.(*batchv1.Job)
				if !ok || ev.Type != watch.Modified {
					t.Fatalf("watch: %s %v", ev.Type, ev.Object)
				}
				writes = append(writes, j)
			case <-time.After(quiet):
				return
			}
		}
	}

	first := e.running(t, "bat")
	for _, p := range first {
		e.finish(t, p.Name, 0)
	}
	sel := labels.SelectorFromSet(labels.Set{batchv1.JobNameLabel: "bat"})
	waitFor(t, "the 5 finished and 5 replacements, the fake clock not moved", func() bool {
		ps, err := e.ctrl.pods.Pods("default").List(sel)
		done := 0
		for _, p := range ps {
			if p.Status.Phase == corev1.PodSucceeded {
				done++
			}
		}
		return err == nil && done == 5 && len(e.running(t, "bat")) == 5 && len(ps) == 10
	})
	collect(200 * time.Millisecond)
	if len(writes) != 0 {
		t.Fatalf("%d Job writes within the batch period (fake clock not moved), first: %+v", len(writes), writes[0].Status)
	}

	e.waitBatched(t, "succeeded 5", func() bool {
		j := e.job(t, "bat")
		return j.Status.Succeeded == 5 && j.Status.UncountedTerminatedPods != nil && len(j.Status.UncountedTerminatedPods.Succeeded) == 0
	})
	collect(200 * time.Millisecond)
	if len(writes) != 2 {
		for i, j := range writes {
			t.Logf("write %d: succeeded %d, uncounted %+v, active %d", i+1, j.Status.Succeeded, j.Status.UncountedTerminatedPods, j.Status.Active)
		}
		t.Fatalf("%d Job status writes for 5 pod events in one batch period, want 2 (one round)", len(writes))
	}
	if u := writes[0].Status.UncountedTerminatedPods; u == nil || len(u.Succeeded) != 5 || writes[0].Status.Succeeded != 0 {
		t.Errorf("first write: %+v", writes[0].Status)
	}
	if s := writes[1].Status; s.Succeeded != 5 || len(s.UncountedTerminatedPods.Succeeded) != 0 || s.Active != 5 {
		t.Errorf("second write: %+v", s)
	}

	// The rest completes the Job; its conditions are not held back.
	for _, p := range e.running(t, "bat") {
		e.finish(t, p.Name, 0)
	}
	e.waitBatched(t, "Complete", func() bool { return cond(e.job(t, "bat"), batchv1.JobComplete) != nil })
	if j := e.job(t, "bat"); j.Status.Succeeded != 10 || j.Status.Active != 0 {
		t.Errorf("completed Job: %+v", j.Status)
	}
}
