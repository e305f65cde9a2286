package wasmpod_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wasmpod/wasmpod"
)

// TestActiveDeadlineSetOnRunningPod — upstream e2e "Pods should allow
// activeDeadlineSeconds to be updated": a running pod given a deadline
// that has already passed fails with DeadlineExceeded.
func TestActiveDeadlineSetOnRunningPod(t *testing.T) {
	image := probeGuest(t)
	c := newTestCluster(t)
	cs := c.Client()
	ctx := context.Background()
	if _, err := cs.CoreV1().Pods("default").Create(ctx, probePod("deadline", image, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := c.WaitPod(wctx, "default", "deadline", wasmpod.PodRunning); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the deadline below has passed
	if _, err := cs.CoreV1().Pods("default").Patch(ctx, "deadline", types.StrategicMergePatchType, []byte(`{"spec":{"activeDeadlineSeconds":1}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "DeadlineExceeded", 30*time.Second, func() bool {
		p := getPod(t, cs, "deadline")
		return p.Status.Phase == corev1.PodFailed && p.Status.Reason == "DeadlineExceeded"
	})
}
