package job

import (
	"context"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

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

// TestCountedPodReleasedAfterRestart: a counted pod (succeeded, finalizer
// removed) relabeled while the controller is down is released by the
// first sync after it starts again, which claims the counted pods the
// later syncs leave out; the Job still completes with each completion
// counted once.
func TestCountedPodReleasedAfterRestart(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.create(t, newJob("rr", ptr.To[int32](2), ptr.To[int32](1)))
	waitFor(t, "a pod", func() bool { return len(e.running(t, "rr")) == 1 })
	first := e.running(t, "rr")[0].Name
	e.finish(t, first, 0)
	e.waitBatched(t, "the first counted and its finalizer removed", func() bool {
		p, err := e.cs.CoreV1().Pods("default").Get(ctx, first, metav1.GetOptions{})
		return err == nil && !hasFin(p) && e.job(t, "rr").Status.Succeeded == 1
	})
	waitFor(t, "the second pod", func() bool { return len(e.running(t, "rr")) == 1 })
	e.stop()
	if _, err := e.cs.CoreV1().Pods("default").Patch(ctx, first, types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"batch.kubernetes.io/controller-uid":"other"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.waitBatched(t, "the counted pod released", func() bool {
		p, err := e.cs.CoreV1().Pods("default").Get(ctx, first, metav1.GetOptions{})
		return err == nil && metav1.GetControllerOf(p) == nil
	})
	e.finish(t, e.running(t, "rr")[0].Name, 0)
	e.waitBatched(t, "Complete", func() bool { return cond(e.job(t, "rr"), batchv1.JobComplete) != nil })
	if s := e.job(t, "rr").Status; s.Succeeded != 2 || s.Failed != 0 {
		t.Fatalf("status %+v", s)
	}
}
