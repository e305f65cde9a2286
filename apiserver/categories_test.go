package apiserver

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestGetAllRealKubectl: discovery names the "all" category on pods,
// services and the workload kinds, as upstream's, so `kubectl get all`
// lists them (it printed "No resources found" without categories) and
// leaves out what upstream leaves out (configmaps).
func TestGetAllRealKubectl(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	cs := e.client(t, "http")
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "app.wasm"}}}}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "front"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out := k.run(t, "get", "all")
	for _, want := range []string{"pod/web", "service/front"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl get all: no %s in\n%s", want, out)
		}
	}
	if strings.Contains(out, "settings") {
		t.Errorf("kubectl get all lists a configmap:\n%s", out)
	}
	rl, err := cs.Discovery().ServerResourcesForGroupVersion("apps/v1")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rl.APIResources {
		if r.Name == "deployments" && (len(r.Categories) != 1 || r.Categories[0] != "all") {
			t.Errorf("deployments' categories %v, want [all]", r.Categories)
		}
	}
}
