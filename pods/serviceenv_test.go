package pods

import (
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func svcFixture(ns, name, ip string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{ClusterIP: ip, Ports: ports}}
}

func servicesFixture() func(string) []*corev1.Service {
	all := []*corev1.Service{
		svcFixture("team-a", "web-front", "10.96.0.10",
			corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP},
			corev1.ServicePort{Name: "dns-udp", Port: 53, Protocol: corev1.ProtocolUDP}),
		svcFixture("team-a", "headless", corev1.ClusterIPNone, corev1.ServicePort{Port: 80}),
		svcFixture("default", "kubernetes", "10.96.0.1", corev1.ServicePort{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}),
		svcFixture("default", "other", "10.96.0.20", corev1.ServicePort{Port: 8080}),
	}
	return func(ns string) []*corev1.Service {
		var out []*corev1.Service
		for _, s := range all {
			if s.Namespace == ns {
				out = append(out, s)
			}
		}
		return out
	}
}

func TestServiceEnvVars(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "team-a"}}
	w := NewWorker(&Config{Services: servicesFixture()}, pod)
	var got []string
	for _, kv := range w.serviceEnv() {
		got = append(got, kv[0]+"="+kv[1])
	}
	want := []string{
		"KUBERNETES_PORT=tcp://10.96.0.1:443",
		"KUBERNETES_PORT_443_TCP=tcp://10.96.0.1:443",
		"KUBERNETES_PORT_443_TCP_ADDR=10.96.0.1",
		"KUBERNETES_PORT_443_TCP_PORT=443",
		"KUBERNETES_PORT_443_TCP_PROTO=tcp",
		"KUBERNETES_SERVICE_HOST=10.96.0.1",
		"KUBERNETES_SERVICE_PORT=443",
		"KUBERNETES_SERVICE_PORT_HTTPS=443",
		"WEB_FRONT_PORT=tcp://10.96.0.10:80",
		"WEB_FRONT_PORT_53_UDP=udp://10.96.0.10:53",
		"WEB_FRONT_PORT_53_UDP_ADDR=10.96.0.10",
		"WEB_FRONT_PORT_53_UDP_PORT=53",
		"WEB_FRONT_PORT_53_UDP_PROTO=udp",
		"WEB_FRONT_PORT_80_TCP=tcp://10.96.0.10:80",
		"WEB_FRONT_PORT_80_TCP_ADDR=10.96.0.10",
		"WEB_FRONT_PORT_80_TCP_PORT=80",
		"WEB_FRONT_PORT_80_TCP_PROTO=tcp",
		"WEB_FRONT_SERVICE_HOST=10.96.0.10",
		"WEB_FRONT_SERVICE_PORT=80",
		"WEB_FRONT_SERVICE_PORT_DNS_UDP=53",
		"WEB_FRONT_SERVICE_PORT_HTTP=80",
	}
	if !slices.Equal(got, want) {
		t.Errorf("service env:\n got %q\nwant %q", got, want)
	}

	// enableServiceLinks: false keeps only the kubernetes Service.
	off := false
	pod.Spec.EnableServiceLinks = &off
	w = NewWorker(&Config{Services: servicesFixture()}, pod)
	for _, kv := range w.serviceEnv() {
		if kv[0][:len("KUBERNETES_")] != "KUBERNETES_" {
			t.Errorf("enableServiceLinks=false still has %s", kv[0])
		}
	}
	// In default, "other" is a same-namespace Service.
	pod = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}}
	w = NewWorker(&Config{Services: servicesFixture()}, pod)
	env, _, err := w.env(&corev1.Container{Name: "c"})
	if err != nil || !slices.Contains(env, "OTHER_SERVICE_HOST=10.96.0.20") || !slices.Contains(env, "KUBERNETES_SERVICE_PORT=443") {
		t.Errorf("default namespace env: %q %v", env, err)
	}
}

// TestServiceEnvInGuest runs a real guest: the Service variables come
// before the container's env, which can reference and override them.
func TestServiceEnvInGuest(t *testing.T) {
	t.Parallel()
	pod := &corev1.Pod{}
	pod.Name, pod.Namespace, pod.UID = "envsvc", "team-a", "uid-envsvc"
	pod.Annotations = map[string]string{AnnotationManifestDir: filepath.Join(examplesDir(t), "testguests")}
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Spec.Containers = []corev1.Container{{
		Name: "probe", Image: "go://./probe", Args: []string{"env"},
		Env: []corev1.EnvVar{
			{Name: "BACKEND", Value: "http://$(WEB_FRONT_SERVICE_HOST):$(WEB_FRONT_SERVICE_PORT_HTTP)/"},
			{Name: "WEB_FRONT_SERVICE_PORT", Value: "8080"},
		},
	}}
	h := newHarness(t, pod)
	h.cfg.Services = servicesFixture()
	h.run()
	p := h.waitDone()
	if p.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("status: %s", describe(p))
	}
	got := texts(h.fileLines("probe", 0))
	for _, want := range []string{"BACKEND=http://10.96.0.10:80/", "WEB_FRONT_SERVICE_PORT=8080", "KUBERNETES_SERVICE_HOST=10.96.0.1", "WEB_FRONT_PORT_80_TCP_PROTO=tcp"} {
		if !slices.Contains(got, want) {
			t.Errorf("environment lacks %q; got %q", want, got)
		}
	}
}
