package kubeutil

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/internal/apitest"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
)

// TestEventRecorderShared: the recorders of one client share one
// broadcaster, which outlives the first user's ctx and its release, keeps
// each recorder's source component, and is shut down at the last release.
func TestEventRecorderShared(t *testing.T) {
	cs := apitest.Client(t, nil)
	ctx1, cancel1 := context.WithCancel(context.Background())
	rec1, release1 := EventRecorder(ctx1, cs, "first-controller")
	rec2, release2 := EventRecorder(context.Background(), cs, "second-controller")
	other := apitest.Client(t, nil)
	_, releaseOther := EventRecorder(context.Background(), other, "other")

	sinks := func() (clients, users int) {
		eventSinks.Lock()
		defer eventSinks.Unlock()
		for _, s := range eventSinks.m {
			users += s.users
		}
		return len(eventSinks.m), users
	}
	if c, u := sinks(); c != 2 || u != 3 {
		t.Fatalf("%d broadcasters for %d recorders, want 2 (one per client) for 3", c, u)
	}

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "p", UID: "u1"}}
	cancel1()
	rec1.Event(pod, corev1.EventTypeNormal, "One", "from the first")
	rec2.Event(pod, corev1.EventTypeNormal, "Two", "from the second")
	waitEvent(t, cs, "One", "first-controller")
	waitEvent(t, cs, "Two", "second-controller")

	release1()
	release1() // a second call is no second release
	if c, u := sinks(); c != 2 || u != 2 {
		t.Fatalf("after one release: %d broadcasters for %d recorders, want 2 for 2", c, u)
	}
	rec2.Event(pod, corev1.EventTypeNormal, "Three", "after the first's release")
	waitEvent(t, cs, "Three", "second-controller")

	release2()
	releaseOther()
	if c, u := sinks(); c != 0 || u != 0 {
		t.Fatalf("after every release: %d broadcasters for %d recorders, want none", c, u)
	}
	// A recorder after the last release gets a new broadcaster.
	rec4, release4 := EventRecorder(context.Background(), cs, "fourth-controller")
	defer release4()
	rec4.Event(pod, corev1.EventTypeNormal, "Four", "from a new broadcaster")
	waitEvent(t, cs, "Four", "fourth-controller")
}

// waitEvent waits for an Event of reason from component in default.
func waitEvent(t *testing.T, cs kubernetes.Interface, reason, component string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		l, err := cs.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range l.Items {
			if e.Reason == reason {
				if e.Source.Component != component {
					t.Fatalf("event %s from %q, want %q", reason, e.Source.Component, component)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no event %s from %s within 30s: %v", reason, component, l.Items)
		}
	}
}
