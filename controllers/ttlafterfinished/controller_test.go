package ttlafterfinished

// Against a real in-process API server through client-go, with a fake
// clock (upstream's test/e2e/apps/job.go "should delete a job" side of
// ttlSecondsAfterFinished, and pkg/controller/ttlafterfinished's
// behaviours).

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/store/memory"
)

func setup(t *testing.T) (kubernetes.Interface, *clocktesting.FakeClock) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st := memory.New()
	s, err := apiserver.New(ctx, st, apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(s.InProcessConfig(s.Handler(apiserver.HandlerOptions{})))
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(time.Now())
	done := make(chan struct{})
	go func() {
		defer close(done)
		New(cs, clk).Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
	})
	return cs, clk
}

// finished creates a Job and marks it finished (ty) at the clock's now.
func finished(t *testing.T, cs kubernetes.Interface, name string, ttl *int32, ty batchv1.JobConditionType, at time.Time) {
	t.Helper()
	ctx := context.Background()
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: batchv1.JobSpec{
		TTLSecondsAfterFinished: ttl,
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}},
	}}
	j, err := cs.BatchV1().Jobs("default").Create(ctx, j, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.NewTime(at)
	j.Status.StartTime = &now
	if ty == batchv1.JobComplete {
		j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now})
		j.Status.CompletionTime = &now
		j.Status.Succeeded = 1
	} else {
		j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, LastTransitionTime: now})
		j.Status.Failed = 1
	}
	j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: ty, Status: corev1.ConditionTrue, LastTransitionTime: now})
	if _, err := cs.BatchV1().Jobs("default").UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func exists(t *testing.T, cs kubernetes.Interface, name string) bool {
	t.Helper()
	j, err := cs.BatchV1().Jobs("default").Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	if j.DeletionTimestamp != nil {
		// No garbage collector here: a Foreground deletion waits for it.
		if len(j.Finalizers) != 1 || j.Finalizers[0] != metav1.FinalizerDeleteDependents {
			t.Fatalf("job %s deleted with finalizers %v, want Foreground's", name, j.Finalizers)
		}
		return false
	}
	return true
}

func waitGone(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for exists(t, cs, name) {
		if time.Now().After(deadline) {
			t.Fatalf("job %s not deleted", name)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTTLAfterFinished: a Complete Job with ttlSecondsAfterFinished 100 is
// deleted 100 s (fake clock) after its Complete condition, a Failed one
// likewise, a Job without a TTL never, and ttl 0 at once.
func TestTTLAfterFinished(t *testing.T) {
	cs, clk := setup(t)
	finished(t, cs, "done", ptr.To[int32](100), batchv1.JobComplete, clk.Now())
	finished(t, cs, "failed", ptr.To[int32](100), batchv1.JobFailed, clk.Now().Add(-50*time.Second))
	finished(t, cs, "keep", nil, batchv1.JobComplete, clk.Now())
	finished(t, cs, "zero", ptr.To[int32](0), batchv1.JobComplete, clk.Now())
	waitGone(t, cs, "zero")
	clk.Step(49 * time.Second)
	time.Sleep(100 * time.Millisecond)
	if !exists(t, cs, "done") || !exists(t, cs, "failed") {
		t.Fatal("deleted before its TTL")
	}
	clk.Step(time.Second)
	waitGone(t, cs, "failed") // finished 50 s earlier
	if !exists(t, cs, "done") {
		t.Fatal("done deleted 50 s early")
	}
	clk.Step(50 * time.Second)
	waitGone(t, cs, "done")
	clk.Step(time.Hour)
	time.Sleep(100 * time.Millisecond)
	if !exists(t, cs, "keep") {
		t.Fatal("a Job without ttlSecondsAfterFinished was deleted")
	}
}

// TestTTLChanged: a TTL raised before expiry is honoured (the fresh read).
func TestTTLChanged(t *testing.T) {
	cs, clk := setup(t)
	finished(t, cs, "j", ptr.To[int32](10), batchv1.JobComplete, clk.Now())
	j, err := cs.BatchV1().Jobs("default").Get(context.Background(), "j", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	j.Spec.TTLSecondsAfterFinished = ptr.To[int32](60)
	if _, err := cs.BatchV1().Jobs("default").Update(context.Background(), j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	clk.Step(11 * time.Second)
	time.Sleep(100 * time.Millisecond)
	if !exists(t, cs, "j") {
		t.Fatal("deleted at the old TTL")
	}
	clk.Step(50 * time.Second)
	waitGone(t, cs, "j")
}
