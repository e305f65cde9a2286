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

// TestHostile12DownwardItemsBounded: a downwardAPI volume may render the
// pod's annotations (up to 256 KiB) into any number of items (70 spec
// bytes each). The node bounds a volume's payload (16 MiB), so it must
// stop rendering once past it, not build every copy first (400 items of
// 250 KiB: 100 MiB, again at every 5 s resync; 4096 items: 1 GiB).
func TestHostile12DownwardItemsBounded(t *testing.T) {
	e := newH12Env(t)
	ctx := context.Background()
	var items []corev1.DownwardAPIVolumeFile
	for i := 0; i < 400; i++ {
		items = append(items, corev1.DownwardAPIVolumeFile{Path: fmt.Sprintf("f%d", i), FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations"}})
	}
	h := watchHeap(t)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "dw", Annotations: map[string]string{"big": strings.Repeat("y", 250<<10)}},
		Spec: corev1.PodSpec{Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: items}}}},
			Containers: []corev1.Container{{Name: "main", Image: e.guestImage, Command: []string{"h12"}, Args: []string{"hold"},
				VolumeMounts: []corev1.VolumeMount{{Name: "v", MountPath: "/v"}}}}}}
	if _, err := e.c.Client().CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Logf("refused at admission: %v", err)
		return
	}
	for deadline := time.Now().Add(12 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		h.sample()
	}
	grew := h.grew()
	t.Logf("heap grew by %d MiB at most while the volume was rendered", grew>>20)
	if grew > 64<<20 {
		t.Errorf("the server's heap grew by %d MiB rendering one downwardAPI volume whose payload bound is 16 MiB", grew>>20)
	}
	var evs string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !strings.Contains(evs, "FailedMount"); time.Sleep(300 * time.Millisecond) {
		evs, _, _ = e.run(t, "", "get", "events", "--field-selector", "involvedObject.name=dw", "-o", "custom-columns=REASON:.reason,MESSAGE:.message")
	}
	if !strings.Contains(evs, `MountVolume.SetUp failed for volume "v" : the payload is more than 16777216 bytes`) {
		t.Errorf("want a FailedMount naming the payload bound; events:\n%s", evs)
	}
}
