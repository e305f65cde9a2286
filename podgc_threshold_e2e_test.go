package wasmpod_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/controllers/podgc"
)

// TestTerminatedPodGCThreshold: wasmpod.Config.TerminatedPodGCThreshold
// (kube-controller-manager's --terminated-pod-gc-threshold; the serve
// config's terminatedPodGCThreshold) reaches the pod GC: with 2, of four
// finished pods the two oldest are deleted at the next pass (every 20 s,
// upstream's gcCheckPeriod) and the two newest stay.
func TestTerminatedPodGCThreshold(t *testing.T) {
	t.Parallel()
	cc := newConformanceCluster(t, func(c *wasmpod.Config) { c.TerminatedPodGCThreshold = 2 })
	cs := cc.cs
	ctx := context.Background()
	names := []string{"old-1", "old-2", "new-1", "new-2"}
	for i, n := range names {
		if i == 2 {
			time.Sleep(1100 * time.Millisecond) // creationTimestamp has seconds
		}
		cc.create(t, busyboxPod(n, "sh", "-c", "exit 0"))
	}
	deadline := time.Now().Add(podgc.CheckPeriod + 60*time.Second)
	for {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		left := map[string]corev1.PodPhase{}
		for _, p := range l.Items {
			left[p.Name] = p.Status.Phase
		}
		if len(left) == 2 {
			if left["new-1"] != corev1.PodSucceeded || left["new-2"] != corev1.PodSucceeded {
				t.Fatalf("the pods left are %v, want new-1 and new-2, Succeeded", left)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pods %v: want the two oldest collected (threshold 2)", left)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
