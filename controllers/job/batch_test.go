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

// TestPodEventsBatched: upstream's syncJobBatchPeriod. Five pods of a Job
// finish within one batch period: no sync comes before the period ends
// (the controller's informer has all five finished, and the Job's status
// is not written), then one sync takes all five: two status writes, as
// upstream's finalizer tracking makes them (the five UIDs to
// uncountedTerminatedPods with SuccessCriteriaMet, then succeeded 5 with
// Complete), where a sync on each pod event writes twice per pod.
func TestPodEventsBatched(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.create(t, newJob("bat", ptr.To[int32](5), ptr.To[int32](5)))
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

	for _, p := range e.running(t, "bat") {
		e.finish(t, p.Name, 0)
	}
	sel := labels.SelectorFromSet(labels.Set{batchv1.JobNameLabel: "bat"})
	waitFor(t, "the controller's informer shows the 5 finished", func() bool {
		ps, err := e.ctrl.pods.Pods("default").List(sel)
		n := 0
		for _, p := range ps {
			if p.Status.Phase == corev1.PodSucceeded {
				n++
			}
		}
		return err == nil && n == 5
	})
	collect(200 * time.Millisecond)
	if len(writes) != 0 {
		t.Fatalf("%d Job writes within the batch period (fake clock not moved), first: %+v", len(writes), writes[0].Status)
	}

	e.waitBatched(t, "Complete", func() bool { return cond(e.job(t, "bat"), batchv1.JobComplete) != nil })
	e.settle(200 * time.Millisecond) // the syncs the writes and finalizer removals batch: nothing to write
	collect(200 * time.Millisecond)
	if len(writes) != 2 {
		for i, j := range writes {
			t.Logf("write %d: succeeded %d, uncounted %+v, conditions %d", i+1, j.Status.Succeeded, j.Status.UncountedTerminatedPods, len(j.Status.Conditions))
		}
		t.Fatalf("%d Job status writes for 5 pod events in one batch period, want 2 (one sync)", len(writes))
	}
	if u := writes[0].Status.UncountedTerminatedPods; u == nil || len(u.Succeeded) != 5 || writes[0].Status.Succeeded != 0 ||
		cond(writes[0], batchv1.JobSuccessCriteriaMet) == nil {
		t.Errorf("first write: %+v", writes[0].Status)
	}
	if s := writes[1].Status; s.Succeeded != 5 || len(s.UncountedTerminatedPods.Succeeded) != 0 || cond(writes[1], batchv1.JobComplete) == nil {
		t.Errorf("second write: %+v", s)
	}
}
