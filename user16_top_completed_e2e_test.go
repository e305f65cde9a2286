package wasmpod_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestUser16TopSkipsFinishedPods: `kubectl top pods` lists the pods that
// run, not one whose containers have exited (here a pod past its
// activeDeadlineSeconds, Failed, its container terminated), as upstream's
// metrics-server (the kubelet's resource metrics carry running containers
// only, and a pod with none is left out); `kubectl top pod` of the
// finished pod is NotFound. They were listed with 0m and 0Mi.
func TestUser16TopSkipsFinishedPods(t *testing.T) {
	e := newMetricsEnv(t, 1)
	ctx := context.Background()
	cs := e.c.Client()
	deadline, zero := int64(1), int64(0)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "done", Namespace: "default"},
		Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &zero, ActiveDeadlineSeconds: &deadline, RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "main", Image: "wasmpod.local/graceful:v1",
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}}}}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pod done Failed with its container terminated", 120*time.Second, func() bool {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "done", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodFailed && len(p.Status.ContainerStatuses) == 1 &&
			p.Status.ContainerStatuses[0].State.Terminated != nil && p.Status.ContainerStatuses[0].LastTerminationState.Terminated == nil
	})
	out, errOut, code := e.kubectl(t, "top", "pods")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[1], "idle-0 ") {
		t.Errorf("kubectl top pods: exit %d, want idle-0 alone:\n%s%s", code, out, errOut)
	}
	out, errOut, code = e.kubectl(t, "top", "pod", "done")
	if code == 0 || !strings.Contains(errOut, `"done" not found`) {
		t.Errorf("kubectl top pod done: exit %d, want NotFound:\n%s%s", code, out, errOut)
	}
}
