package namespace

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/store/memory"
)

func TestEmptiesAndFinalizes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := memory.New()
	defer st.Close()
	s, err := apiserver.New(ctx, st, apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	nsr, _ := s.Resource("", "namespaces")
	pods, _ := s.Resource("", "pods")
	cms, _ := s.Resource("", "configmaps")
	s.Create(ctx, nsr, "", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}})
	s.Create(ctx, cms, "team", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}})
	s.Create(ctx, pods, "team", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x.wasm"}}}})
	// A bound pod is deleted gracefully: the namespace waits for it.
	s.Bind(ctx, "team", &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Target: corev1.ObjectReference{Name: "n1"}})

	c := New(s)
	c.Resync = 10 * time.Millisecond
	go c.Run(ctx)
	if _, err := s.Delete(ctx, nsr, "", "team", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("configmap deleted", func() bool {
		_, err := s.Get(ctx, cms, "team", "c")
		return apierrors.IsNotFound(err)
	})
	waitFor("pod marked for deletion", func() bool {
		obj, err := s.Get(ctx, pods, "team", "p")
		return err == nil && obj.(*corev1.Pod).DeletionTimestamp != nil
	})
	if _, err := s.Get(ctx, nsr, "", "team"); err != nil {
		t.Fatalf("namespace went while a pod was terminating: %v", err)
	}
	// The node agent finishes the pod.
	zero := int64(0)
	if _, err := s.Delete(ctx, pods, "team", "p", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	waitFor("namespace gone", func() bool {
		_, err := s.Get(ctx, nsr, "", "team")
		return apierrors.IsNotFound(err)
	})
}
