package nodelifecycle

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestNotReadyTaint: as upstream's condition tainting pass, a Node
// registered with node.kubernetes.io/not-ready:NoSchedule (what
// kube-apiserver's TaintNodesByCondition admission plugin adds to every
// new Node) loses it once its agent reports Ready=True, and a Node whose
// agent reports Ready=False gets it; other taints stay.
func TestNotReadyTaint(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	registered := readyNode("registered")
	registered.Spec.Taints = append(registered.Spec.Taints, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule})
	sick := readyNode("sick")
	for i := range sick.Status.Conditions {
		if sick.Status.Conditions[i].Type == corev1.NodeReady {
			sick.Status.Conditions[i].Status = corev1.ConditionFalse
		}
	}
	client := start(t, clk, registered, lease("registered", t0), sick, lease("sick", t0))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go New(client, clk, 40*time.Second).Run(ctx)
	taints := func(name string) []corev1.Taint {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return n.Spec.Taints
	}
	want := map[string][]corev1.Taint{
		"registered": {{Key: "dedicated", Value: "wasm", Effect: corev1.TaintEffectNoSchedule}},
		"sick":       {{Key: "dedicated", Value: "wasm", Effect: corev1.TaintEffectNoSchedule}, {Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}},
	}
	for name, w := range want {
		eventually(t, clk, 0, name+"'s taints "+fmt.Sprint(w), func() (bool, string) {
			got := taints(name)
			return fmt.Sprint(got) == fmt.Sprint(w), fmt.Sprint(got)
		})
	}
}
