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
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	cu "github.com/wasmpod/wasmpod/internal/controllerutil"
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

// TestCreatedPods: a created pod counts until the informer shows it (its
// own event), until an event past its resourceVersion shows the informer
// relisted past its whole life, or, where resourceVersions do not
// compare, until upstream's ExpectationsTimeout; a pod whose event came
// before its create call returned is not held at all.
func TestCreatedPods(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	u := &createdPods{clk: clk, m: map[string]map[types.UID]createdPod{}}
	const k = "default/j"
	u.add(k, ownedPod("a", "10"))
	u.add(k, ownedPod("b", "11"))
	if got := uids(u.get(k)); len(got) != 2 || !got["a"] || !got["b"] {
		t.Fatalf("held %v, want a and b", got)
	}
	u.seen(ownedPod("a", "10"))
	if got := uids(u.get(k)); len(got) != 1 || !got["b"] {
		t.Fatalf("after a's event: held %v, want b", got)
	}
	other := ownedPod("x", "15")
	other.OwnerReferences = nil
	u.seen(other) // a later event of any pod: b's was missed (a relist)
	if got := u.get(k); len(got) != 0 {
		t.Fatalf("after rv 15: held %v", uids(got))
	}
	u.add(k, ownedPod("c", "14")) // its event (<= 15) is in already
	if got := u.get(k); len(got) != 0 {
		t.Fatalf("c (rv 14 <= seen 15) held")
	}
	u.add(k, ownedPod("d", "not-a-number"))
	if got := uids(u.get(k)); !got["d"] {
		t.Fatal("d (rv does not compare) not held")
	}
	clk.Step(cu.ExpectationsTimeout + time.Second)
	if got := u.get(k); len(got) != 0 {
		t.Fatal("d held past the expectations timeout")
	}
	u.add(k, ownedPod("e", "20"))
	u.delete(k)
	if got := u.get(k); len(got) != 0 {
		t.Fatal("held after delete")
	}
	if got := withUnseen([]*corev1.Pod{ownedPod("a", "10")}, []*corev1.Pod{ownedPod("a", "10"), ownedPod("f", "21")}); len(got) != 2 {
		t.Fatalf("withUnseen: %d pods, want 2 (a once, f)", len(got))
	}
}

// TestFastCompletionsNeverExceedParallelism: pods that finish as soon as
// they appear (the next sync creates before the informer shows the last
// one's pods): at no resourceVersion are more than parallelism pods
// unfinished, and exactly completions pods exist in the end.
func TestFastCompletionsNeverExceedParallelism(t *testing.T) {
	e := setup(t)
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
