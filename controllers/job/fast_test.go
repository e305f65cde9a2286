package job

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
)

func ownedPod(uid, rv string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p-" + uid, Namespace: "default", UID: types.UID(uid), ResourceVersion: rv,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: "j", UID: "job-uid", Controller: ptr.To(true)}}}}
}

func uids(ps []*corev1.Pod) map[types.UID]bool {
	m := map[types.UID]bool{}
	for _, p := range ps {
		m[p.UID] = true
	}
	return m
}

// TestFastCompletionsNeverExceedParallelism: pods that finish as soon as
// they appear (the next sync creates before the informer shows the last
// one's pods): at no resourceVersion are more than parallelism pods
// unfinished, and exactly completions pods exist in the end.
func TestFastCompletionsNeverExceedParallelism(t *testing.T) {
	e := setup(t)
	e.pump(t) // each batched sync as it comes due
	ctx := context.Background()
	w, err := e.cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=fast"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	e.create(t, newJob("fast", ptr.To[int32](40), ptr.To[int32](4)))
	unfinished := map[string]bool{}
	all := map[string]bool{}
	deadline := time.After(20 * time.Second)
	for done := 0; done < 40; {
		select {
		case ev := <-w.ResultChan():
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				t.Fatalf("watch: %v", ev.Object)
			}
			all[p.Name] = true
			fin := p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
			if ev.Type == watch.Added && !fin {
				unfinished[p.Name] = true
				if len(unfinished) > 4 {
					t.Fatalf("%d pods unfinished at rv %s, parallelism 4", len(unfinished), p.ResourceVersion)
				}
				e.finish(t, p.Name, 0)
			}
			if fin && unfinished[p.Name] {
				delete(unfinished, p.Name)
				done++
			}
		case <-deadline:
			t.Fatalf("%d of 40 done after 20 s", len(all)-len(unfinished))
		}
	}
	waitFor(t, "Complete", func() bool { return cond(e.job(t, "fast"), batchv1.JobComplete) != nil })
	if s := e.job(t, "fast").Status; s.Succeeded != 40 || s.Active != 0 {
		t.Fatalf("succeeded %d active %d, want 40 and 0", s.Succeeded, s.Active)
	}
	if n := len(e.pods(t, "fast")); n != 40 {
		t.Fatalf("%d pods, want 40", n)
	}
}
