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

// TestNodeEvents: as a kubelet and kube-controller-manager do, the node
// agent records Starting, its conditions' events, NodeAllocatableEnforced
// and NodeReady about its Node, and the node lifecycle controller
// RegisteredNode; kubectl describe node shows them.
func TestNodeEvents(t *testing.T) {
	e := newStreamEnv(t)
	want := map[string]string{
		"Starting":                "Starting kubelet.",
		"NodeHasSufficientMemory": "Node node-1 status is now: NodeHasSufficientMemory",
		"NodeHasNoDiskPressure":   "Node node-1 status is now: NodeHasNoDiskPressure",
		"NodeHasSufficientPID":    "Node node-1 status is now: NodeHasSufficientPID",
		"NodeAllocatableEnforced": "Updated Node Allocatable limit across pods",
		"NodeReady":               "Node node-1 status is now: NodeReady",
		"RegisteredNode":          "Node node-1 event: Registered Node node-1 in Controller",
	}
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l, err := e.c.Client().CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=Node,involvedObject.name=node-1"})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, ev := range l.Items {
			got[ev.Reason] = ev.Message
			wantSource := "kubelet"
			if ev.Reason == "RegisteredNode" {
				wantSource = "node-controller"
			}
			if ev.Source.Component != wantSource || ev.Count != 1 {
				t.Errorf("event %s: source %q count %d, want %q once", ev.Reason, ev.Source.Component, ev.Count, wantSource)
			}
		}
		missing := false
		for r, m := range want {
			missing = missing || got[r] != m
		}
		if !missing && len(got) == len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node events %v, want %v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := e.must(t, "describe", "node", "node-1")
	for _, m := range want {
		if !strings.Contains(out, m) {
			t.Errorf("kubectl describe node has no %q:\n%s", m, out)
		}
	}
}
