package wasmpod_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestHostile12HooksCannotOutliveTheKill: hooks that never end (a
// postStart spinning, a preStop spinning or blocked) in a container that
// ignores TERM: deleting the pod with a 2 s grace period ends it within
// grace + 2 s (upstream's preStop extension) and a little slack.
func TestHostile12HooksCannotOutliveTheKill(t *testing.T) {
	e := newH12Env(t)
	ctx := context.Background()
	mk := func(name string, lc *corev1.Lifecycle) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{TerminationGracePeriodSeconds: ptr.To[int64](2),
				Containers: []corev1.Container{{Name: "main", Image: e.guestImage, Command: []string{"h12"}, Args: []string{"spin"}, Lifecycle: lc}}}}
	}
	spin := &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"h12", "spin"}}}
	hold := &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"h12", "hold"}}}
	pods := map[string]*corev1.Pod{
		"poststart-spin": mk("poststart-spin", &corev1.Lifecycle{PostStart: spin}),
		"prestop-spin":   mk("prestop-spin", &corev1.Lifecycle{PreStop: spin}),
		"prestop-hold":   mk("prestop-hold", &corev1.Lifecycle{PreStop: hold, PostStart: hold}),
	}
	for _, p := range pods {
		startH12Pod(t, e, p)
	}
	time.Sleep(time.Second) // the postStart hooks are running
	for name := range pods {
		t0 := time.Now()
		if err := e.c.Client().CoreV1().Pods("default").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		for {
			_, err := e.c.Client().CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				break
			}
			if time.Since(t0) > 15*time.Second {
				t.Errorf("%s: still there %v after its deletion with a 2 s grace period", name, time.Since(t0))
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if d := time.Since(t0); d > 7*time.Second {
			t.Errorf("%s: deletion took %v (grace 2 s + 2 s preStop extension)", name, d)
		}
	}
}
