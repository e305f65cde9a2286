package wasmpod_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestHostile12EnvExpansionBounded: $(VAR) references to earlier
// variables let a small spec ask for an environment of any size (each
// entry may repeat the previous one thousands of times: 64 KiB, then
// 8192 references to it in 56 KiB of spec, is 512 MiB, and the next entry
// doubles it). The node agent runs inside the server, so building that
// environment must be refused (CreateContainerConfigError naming the
// bound) before it is built, not exhaust the server's memory.
func TestHostile12EnvExpansionBounded(t *testing.T) {
	e := newH12Env(t)
	ctx := context.Background()
	h := watchHeap(t)
	env := []corev1.EnvVar{
		{Name: "A", Value: strings.Repeat("x", 64<<10)},
		{Name: "B", Value: strings.Repeat("$(A)", 8192)},
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bomb"},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "main", Image: e.guestImage,
			Command: []string{"h12"}, Args: []string{"print:started"}, Env: env}}}}
	if _, err := e.c.Client().CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Logf("create refused: %v", err) // refusing it at admission is fine too
		return
	}
	var p *corev1.Pod
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		h.sample()
		p, _ = e.c.Client().CoreV1().Pods("default").Get(ctx, "bomb", metav1.GetOptions{})
		if p != nil && len(p.Status.ContainerStatuses) > 0 {
			if w := p.Status.ContainerStatuses[0].State.Waiting; w != nil && w.Reason == "CreateContainerConfigError" {
				break
			}
		}
	}
	grew := h.grew()
	t.Logf("heap grew by %d MiB at most while the environment was refused", grew>>20)
	// B alone expands to 512 MiB. The heap is the whole test process's
	// (other tests' servers included, GC timing under load: peaks of
	// 143-156 MiB were seen on a loaded machine with the bound refused
	// long before), so the bound is half of what building B would take.
	if grew > 256<<20 {
		t.Errorf("the server's heap grew by %d MiB building a container's environment from a 120 KiB spec", grew>>20)
	}
	if p == nil || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil ||
		p.Status.ContainerStatuses[0].State.Waiting.Reason != "CreateContainerConfigError" {
		var st any
		if p != nil {
			st = p.Status.ContainerStatuses
		}
		t.Fatalf("want CreateContainerConfigError naming the environment's bound; status %+v", st)
	}
	const msg = "container main: the environment and arguments after $(VAR) expansion exceed 2097152 bytes"
	if got := p.Status.ContainerStatuses[0].State.Waiting.Message; got != msg {
		t.Errorf("waiting message %q, want %q", got, msg)
	}
	// What a user sees with the real kubectl: the reason in STATUS and
	// the bound in the Failed event.
	out, errOut, code := e.run(t, "", "get", "pod", "bomb")
	if code != 0 || !strings.Contains(out, "CreateContainerConfigError") {
		t.Errorf("kubectl get pod: exit %d %s%s", code, out, errOut)
	}
	out, errOut, code = e.run(t, "", "describe", "pod", "bomb")
	if code != 0 || !strings.Contains(out, "Error: "+msg) {
		t.Errorf("kubectl describe pod: exit %d, want the Failed event %q:\n%s%s", code, "Error: "+msg, out, errOut)
	}
}
