package nodeagent

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/wasmpod/wasmpod/internal/apitest"
)

// TestAgentWaitsForAssignedPodCIDR: an agent without --pod-cidr registers
// its Node bare and takes the range the control plane assigns; with none
// assigned in time it fails saying to pass --pod-cidr.
func TestAgentWaitsForAssignedPodCIDR(t *testing.T) {
	cs := apitest.Client(t, clock.RealClock{})
	ctx := context.Background()
	logf := func(string, ...any) {}
	go func() {
		// The "IPAM controller": assigns a range once the Node exists.
		for range 200 {
			if _, err := cs.CoreV1().Nodes().Patch(ctx, "edge", types.StrategicMergePatchType,
				[]byte(`{"spec":{"podCIDR":"10.244.7.0/24","podCIDRs":["10.244.7.0/24"]}}`), metav1.PatchOptions{}); err == nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	got, err := assignedPodCIDR(ctx, cs, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "edge"}}, 20*time.Second, logf)
	if err != nil || got != "10.244.7.0/24" {
		t.Fatalf("assigned: %q, %v", got, err)
	}
	_, err = assignedPodCIDR(ctx, cs, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "lonely"}}, 300*time.Millisecond, logf)
	if err == nil || !strings.Contains(err.Error(), "--pod-cidr") {
		t.Fatalf("no IPAM: %v, want an error naming --pod-cidr", err)
	}
	if _, err := cs.CoreV1().Nodes().Get(ctx, "lonely", metav1.GetOptions{}); err != nil {
		t.Errorf("the bare Node was not registered: %v", err)
	}
}
