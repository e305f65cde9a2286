package job

// Hostile users against the Job controller (issue 13's attacker).

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestHostile13PodsDeletedBehindItsBack: a user deletes a running Job's
// pods (kubectl delete pod): the pods must not stay Terminating with the
// batch.kubernetes.io/job-tracking finalizer (the controller removes it
// and counts each as failed, as upstream's trackJobStatusAndRemoveFinalizers
// for a pod deleted before it finished), and replacements come.
func TestHostile13PodsDeletedBehindItsBack(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.create(t, newJob("behind", ptr.To[int32](3), ptr.To[int32](3)))
	waitFor(t, "3 pods", func() bool { return len(e.running(t, "behind")) == 3 })
	var gone []string
	for _, p := range e.running(t, "behind") {
		if err := e.cs.CoreV1().Pods("default").Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		gone = append(gone, p.Name)
	}
	e.waitBatched(t, "the deleted pods gone (finalizer removed)", func() bool {
		for _, n := range gone {
			if _, err := e.cs.CoreV1().Pods("default").Get(ctx, n, metav1.GetOptions{}); err == nil {
				return false
			}
		}
		return true
	})
	// The re-creation back-off (10 s after the first failures) is on the
	// fake clock.
	waitFor(t, "3 replacements, failed 3", func() bool {
		e.clk.Step(11 * time.Second)
		j := e.job(t, "behind")
		return len(e.running(t, "behind")) == 3 && j.Status.Failed == 3
	})
}

// TestHostile13HugeJob: completions and parallelism 1e9 create at most
// 500 pods per sync (upstream's MaxPodCreateDeletePerSync) and nothing
// allocates per completion; suspending it then deletes its pods.
func TestHostile13HugeJob(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.create(t, newJob("huge", ptr.To[int32](1_000_000_000), ptr.To[int32](1_000_000_000)))
	waitFor(t, "the first 500", func() bool { return len(e.pods(t, "huge")) >= 500 })
	j := e.job(t, "huge")
	j.Spec.Suspend = ptr.To(true)
	for {
		_, err := e.cs.BatchV1().Jobs("default").Update(ctx, j, metav1.UpdateOptions{})
		if err == nil {
			break
		}
		j = e.job(t, "huge")
		j.Spec.Suspend = ptr.To(true)
	}
	e.waitBatched(t, "suspended: no active pods", func() bool {
		return len(e.running(t, "huge")) == 0 && e.job(t, "huge").Status.Active == 0
	})
}

// TestHostile13BackoffLimitHuge: backoffLimit 2147483647 with pods that
// keep failing: the re-creation delay grows to upstream's 6 minute cap and
// never wraps (10 s << n overflowing to zero or a negative delay would
// re-create at once, a hot loop).
func TestHostile13BackoffLimitHuge(t *testing.T) {
	e := setup(t)
	j := newJob("bo", ptr.To[int32](1), ptr.To[int32](1))
	j.Spec.BackoffLimit = ptr.To[int32](2147483647)
	e.create(t, j)
	for i := range 70 {
		var name string
		waitFor(t, "a pod", func() bool {
			r := e.running(t, "bo")
			if len(r) == 1 {
				name = r[0].Name
				return true
			}
			e.clk.Step(time.Minute)
			return false
		})
		e.finish(t, name, 1)
		if i >= 60 {
			// Past the cap a new pod may come only after 6 minutes.
			e.settle(50 * time.Millisecond)
			if r := e.running(t, "bo"); len(r) != 0 && r[0].Name != name {
				t.Fatalf("failure %d: a new pod at once (back-off wrapped?)", i)
			}
			e.clk.Step(5 * time.Minute)
			time.Sleep(50 * time.Millisecond)
			if r := e.running(t, "bo"); len(r) != 0 && r[0].Name != name {
				t.Fatalf("failure %d: a new pod before 6 minutes", i)
			}
		}
	}
	_ = corev1.PodFailed
}
