package wasmpod_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestEventsNameTheirContainer: the node agent's Events about a container
// carry its field path as involvedObject.fieldPath, as the kubelet's
// container references do (kubectl get events -o wide shows it as
// SUBOBJECT); Events about the pod itself (Scheduled) have none.
func TestEventsNameTheirContainer(t *testing.T) {
	e := newStreamEnv(t)
	e.startPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "fp"}, Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "setup", Image: e.guestImage, Command: []string{"test", "-d", "/etc"}}},
		Containers:     []corev1.Container{{Name: "main", Image: e.guestImage, Args: []string{"ticker"}}},
	}})
	want := map[string]bool{
		"Scheduled <none>":                   true,
		"Pulled spec.initContainers{setup}":  true,
		"Created spec.initContainers{setup}": true,
		"Started spec.initContainers{setup}": true,
		"Pulled spec.containers{main}":       true,
		"Created spec.containers{main}":      true,
		"Started spec.containers{main}":      true,
	}
	// Events are recorded asynchronously (client-go's recorder): wait for
	// the last one.
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l, err := e.c.Client().CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=fp,reason=Started"})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Started events: %d, want 2", len(l.Items))
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := e.must(t, "get", "events", "--field-selector", "involvedObject.name=fp", "-o", "custom-columns=REASON:.reason,SUBOBJECT:.involvedObject.fieldPath", "--no-headers")
	got := map[string]bool{}
	for _, ln := range strings.Split(strings.TrimSpace(out), "\n") {
		got[strings.Join(strings.Fields(ln), " ")] = true
	}
	for w := range want {
		if !got[w] {
			t.Errorf("no event %q in:\n%s", w, out)
		}
	}
	// The server's table for -o wide has the SUBOBJECT column filled.
	wide := e.must(t, "get", "events", "--field-selector", "involvedObject.name=fp,reason=Started", "-o", "wide")
	if !strings.Contains(wide, "SUBOBJECT") || !strings.Contains(wide, "spec.containers{main}") || !strings.Contains(wide, "spec.initContainers{setup}") {
		t.Errorf("kubectl get events -o wide:\n%s", wide)
	}
}
