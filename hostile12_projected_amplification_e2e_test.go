package wasmpod_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestHostile12ProjectedSourcesBounded: a projected volume may name one
// 1 MiB ConfigMap hundreds of times (60 spec bytes a source, each to its own path). The node
// bounds a volume's payload (16 MiB), so it must stop reading sources
// once the bound is passed, not fetch and hold every copy first (400
// sources: 400 MiB live in the server, again at every 5 s resync).
func TestHostile12ProjectedSourcesBounded(t *testing.T) {
	e := newH12Env(t)
	ctx := context.Background()
	cs := e.c.Client()
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "big"},
		Data: map[string]string{"k": strings.Repeat("x", 1000<<10)}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var srcs []corev1.VolumeProjection
	for i := 0; i < 400; i++ {
		srcs = append(srcs, corev1.VolumeProjection{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "big"},
			Items: []corev1.KeyToPath{{Key: "k", Path: fmt.Sprintf("f%d", i)}}}})
	}
	h := watchHeap(t)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "proj"},
		Spec: corev1.PodSpec{Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: srcs}}}},
			Containers: []corev1.Container{{Name: "main", Image: e.guestImage, Command: []string{"h12"}, Args: []string{"hold"},
				VolumeMounts: []corev1.VolumeMount{{Name: "v", MountPath: "/v"}}}}}}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Logf("refused at admission: %v", err)
		return
	}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		h.sample()
	}
	if grew := h.grew(); grew > 128<<20 {
		t.Errorf("the server's heap grew by %d MiB setting up one projected volume of a 1 MiB ConfigMap named 400 times", grew>>20)
	}
	var evs string
	waitFor(t, "a FailedMount event", 30*time.Second, func() bool {
		evs, _, _ = e.run(t, "", "get", "events", "--field-selector", "involvedObject.name=proj", "-o", "custom-columns=REASON:.reason,MESSAGE:.message")
		return strings.Contains(evs, "FailedMount")
	})
	if !strings.Contains(evs, "more than 16777216 bytes") {
		t.Errorf("events: %s", evs)
	}
}
