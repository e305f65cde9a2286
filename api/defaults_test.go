package api

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
)

func decodePod(t *testing.T, y string) *corev1.Pod {
	t.Helper()
	docs, err := Decode([]byte(y), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 {
		t.Fatalf("got %d documents", len(docs))
	}
	return docs[0].Object.(*corev1.Pod)
}

func TestSetDefaultsPod(t *testing.T) {
	pod := decodePod(t, `
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  initContainers:
  - name: init
    image: registry.example/init
    resources: {limits: {memory: 64Mi}}
  containers:
  - name: a
    image: a.wasm
    ports: [{containerPort: 8080}]
    env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
    resources:
      limits: {cpu: 500m, memory: 128Mi}
      requests: {cpu: 100m}
    livenessProbe: {httpGet: {port: 8080}}
  - {name: b, image: "registry.example/b:v1"}
  - {name: c, image: "registry.example/c:latest"}
  - {name: d, image: "registry.example:5000/d"}
  - {name: e, image: "registry.example/e@sha256:0123"}
  - {name: f, image: "go://./cmd/f"}
  - {name: g, image: "file:///opt/g.wasm", imagePullPolicy: Never}
  volumes:
  - name: scratch
  - {name: host, hostPath: {path: /tmp}}
  - {name: mem, emptyDir: {medium: Memory}}
`)
	SetDefaultsPod(pod)
	s := pod.Spec
	check := func(what string, got, want any) {
		t.Helper()
		if !equality.Semantic.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("namespace", pod.Namespace, "default")
	check("restartPolicy", s.RestartPolicy, corev1.RestartPolicyAlways)
	check("dnsPolicy", s.DNSPolicy, corev1.DNSClusterFirst)
	check("terminationGracePeriodSeconds", s.TerminationGracePeriodSeconds, ptr.To[int64](30))
	check("schedulerName", s.SchedulerName, "default-scheduler")
	check("securityContext", s.SecurityContext, &corev1.PodSecurityContext{})
	check("enableServiceLinks", s.EnableServiceLinks, ptr.To(true))

	a := s.Containers[0]
	check("terminationMessagePath", a.TerminationMessagePath, "/dev/termination-log")
	check("terminationMessagePolicy", a.TerminationMessagePolicy, corev1.TerminationMessageReadFile)
	check("ports[0].protocol", a.Ports[0].Protocol, corev1.ProtocolTCP)
	check("ports[0].hostPort", a.Ports[0].HostPort, int32(0))
	check("env fieldRef apiVersion", a.Env[0].ValueFrom.FieldRef.APIVersion, "v1")
	check("requests", a.Resources.Requests, corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")})
	check("init requests", s.InitContainers[0].Resources.Requests, corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")})
	check("init terminationMessagePath", s.InitContainers[0].TerminationMessagePath, "/dev/termination-log")
	check("probe", *a.LivenessProbe, corev1.Probe{
		ProbeHandler:   corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: a.LivenessProbe.HTTPGet.Port, Scheme: corev1.URISchemeHTTP}},
		TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3,
	})

	pulls := map[string]corev1.PullPolicy{
		"init": corev1.PullAlways, "a": corev1.PullIfNotPresent, "b": corev1.PullIfNotPresent, "c": corev1.PullAlways,
		"d": corev1.PullAlways, "e": corev1.PullIfNotPresent, "f": corev1.PullIfNotPresent, "g": corev1.PullNever,
	}
	for _, c := range append(s.InitContainers, s.Containers...) {
		check("imagePullPolicy of "+c.Name, c.ImagePullPolicy, pulls[c.Name])
	}

	check("volume with no source", s.Volumes[0].VolumeSource, corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}})
	check("hostPath type", s.Volumes[1].HostPath.Type, ptr.To(corev1.HostPathUnset))
	check("emptyDir medium kept", s.Volumes[2].EmptyDir.Medium, corev1.StorageMediumMemory)

	// Idempotent, and explicit values are kept.
	again := pod.DeepCopy()
	SetDefaultsPod(again)
	check("second defaulting", again, pod)

	explicit := decodePod(t, `{apiVersion: v1, kind: Pod, metadata: {name: p, namespace: ns},
spec: {restartPolicy: Never, dnsPolicy: Default, terminationGracePeriodSeconds: 0, schedulerName: mine, enableServiceLinks: false,
containers: [{name: a, image: a.wasm, terminationMessagePath: /tmp/t, ports: [{containerPort: 53, protocol: UDP}]}]}}`)
	SetDefaults(explicit)
	check("namespace", explicit.Namespace, "ns")
	check("restartPolicy", explicit.Spec.RestartPolicy, corev1.RestartPolicyNever)
	check("dnsPolicy", explicit.Spec.DNSPolicy, corev1.DNSDefault)
	check("terminationGracePeriodSeconds", explicit.Spec.TerminationGracePeriodSeconds, ptr.To[int64](0))
	check("schedulerName", explicit.Spec.SchedulerName, "mine")
	check("enableServiceLinks", explicit.Spec.EnableServiceLinks, ptr.To(false))
	check("terminationMessagePath", explicit.Spec.Containers[0].TerminationMessagePath, "/tmp/t")
	check("protocol", explicit.Spec.Containers[0].Ports[0].Protocol, corev1.ProtocolUDP)
}

func TestSetDefaultsHostNetworkPorts(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{{Name: "a", Image: "a.wasm", Ports: []corev1.ContainerPort{{ContainerPort: 80}}}}}}
	SetDefaults(pod)
	if got := pod.Spec.Containers[0].Ports[0].HostPort; got != 80 {
		t.Errorf("hostPort = %d, want 80", got)
	}
	if pod.Kind != "Pod" || pod.APIVersion != "v1" {
		t.Errorf("type meta = %v", pod.TypeMeta)
	}
}
