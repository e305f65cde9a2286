package apiserver

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/store/memory"
)

// TestPodActiveDeadlineUpdate: a pod's activeDeadlineSeconds may be set or
// lowered, never raised or removed (upstream's ValidatePodUpdate).
func TestPodActiveDeadlineUpdate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := New(ctx, memory.New(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := s.Resource("", "pods")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "wasmpod.local/x"}}}}
	if _, err := s.Create(ctx, r, "default", pod); err != nil {
		t.Fatal(err)
	}
	set := func(d *int64) error {
		obj, err := s.Get(ctx, r, "default", "p")
		if err != nil {
			t.Fatal(err)
		}
		p := obj.(*corev1.Pod)
		p.Spec.ActiveDeadlineSeconds = d
		_, err = s.Update(ctx, r, "default", p, "")
		return err
	}
	n := func(v int64) *int64 { return &v }
	if err := set(n(100)); err != nil {
		t.Fatalf("setting a deadline: %v", err)
	}
	if err := set(n(30)); err != nil {
		t.Fatalf("lowering it: %v", err)
	}
	if err := set(n(60)); err == nil || !strings.Contains(err.Error(), "spec.activeDeadlineSeconds: Invalid value: 60: must be less than or equal to previous value") {
		t.Errorf("raising it: %v", err)
	}
	if err := set(nil); err == nil || !strings.Contains(err.Error(), "must not update from a positive integer to nil value") {
		t.Errorf("removing it: %v", err)
	}
}
