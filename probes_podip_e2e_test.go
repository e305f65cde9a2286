package wasmpod_test

// httpGet and tcpSocket probes connect to the pod IP from the node, as the
// kubelet's do: a server bound only to the pod's 127.0.0.1 is not
// reachable by them (connection refused, so never Ready), while one bound
// to 0.0.0.0 is. The servers are the toolbox's httpd (image busybox, as an
// upstream manifest), checked through the real kubectl.

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func httpdPod(name, listen string) *corev1.Pod {
	grace := int64(1)
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &grace,
			Volumes: []corev1.Volume{{Name: "www", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			Containers: []corev1.Container{{Name: "web", Image: "busybox:1.36",
				Command:      []string{"httpd", "-f", "-p", listen, "-h", "/www"},
				VolumeMounts: []corev1.VolumeMount{{Name: "www", MountPath: "/www"}},
				ReadinessProbe: &corev1.Probe{PeriodSeconds: 1, ProbeHandler: corev1.ProbeHandler{
					HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt(8080)}}},
				StartupProbe: &corev1.Probe{PeriodSeconds: 1, FailureThreshold: 1000, ProbeHandler: corev1.ProbeHandler{
					TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt(8080)}}},
			}}}}
}

// TestProbesReachOnlyThePodIP: upstream's prober dials the pod IP, so a
// server on the pod's loopback fails both probes with "connection
// refused" (the pod runs, never Ready, and the server is there: wget
// inside the pod reaches it), and a server on 0.0.0.0 passes them.
func TestProbesReachOnlyThePodIP(t *testing.T) {
	e := newToolboxEnv(t)
	cs := e.c.Client()
	ctx := context.Background()
	for _, p := range []*corev1.Pod{httpdPod("lo", "127.0.0.1:8080"), httpdPod("any", "8080")} {
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, errOut, code := e.run(t, "", "wait", "--for=condition=Ready", "pod/any", "--timeout=180s"); code != 0 {
		out, _, _ := e.run(t, "", "describe", "pod", "any")
		logs, _, _ := e.run(t, "", "logs", "any")
		t.Fatalf("pod any not Ready: %s\n%s\nlogs:\n%s", errOut, out, logs)
	}
	waitFor(t, "the loopback server's startup probe to fail", 60*time.Second, func() bool {
		return strings.Contains(podEvents(t, cs, "lo"), "Startup probe failed")
	})
	// The server on loopback is up: from inside the pod it answers.
	if out := e.must(t, "exec", "lo", "--", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/"); !strings.Contains(out, "<pre>") {
		t.Errorf("wget of the loopback server inside the pod: %q", out)
	}
	time.Sleep(2 * time.Second) // more probes run
	p := getPod(t, cs, "lo")
	ip := p.Status.PodIP
	if podReady(p) != corev1.ConditionFalse || p.Status.Phase != corev1.PodRunning || ip == "" {
		t.Errorf("the loopback server's pod: phase %s, Ready %s, IP %q; want Running, never Ready", p.Status.Phase, podReady(p), ip)
	}
	out := e.must(t, "get", "pod", "lo", "any")
	for _, re := range []string{`(?m)^lo\s+0/1\s+Running\s+0\s`, `(?m)^any\s+1/1\s+Running\s+0\s`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("kubectl get pod: no line matches %q in\n%s", re, out)
		}
	}
	// The startup probe (tcpSocket) fails with the dialer's message, as
	// upstream's: dial tcp IP:8080: connect: connection refused.
	desc := e.must(t, "describe", "pod", "lo")
	want := "Startup probe failed: dial tcp " + ip + ":8080: connect: connection refused"
	if !strings.Contains(desc, want) {
		t.Errorf("kubectl describe pod lo lacks %q:\n%s", want, desc)
	}
	if strings.Contains(podEvents(t, cs, "any"), "Readiness probe failed") {
		t.Errorf("the 0.0.0.0 server's probes failed: %s", podEvents(t, cs, "any"))
	}

	// Without a startup probe, the readiness httpGet of a loopback server
	// fails with the HTTP client's message, as upstream's.
	lo2 := httpdPod("lo2", "127.0.0.1:8080")
	lo2.Spec.Containers[0].StartupProbe = nil
	if _, err := cs.CoreV1().Pods("default").Create(ctx, lo2, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the loopback server's readiness probe to fail", 60*time.Second, func() bool {
		return strings.Contains(podEvents(t, cs, "lo2"), "Readiness probe failed")
	})
	p = getPod(t, cs, "lo2")
	desc = e.must(t, "describe", "pod", "lo2")
	want = `Readiness probe failed: Get "http://` + p.Status.PodIP + `:8080/": dial tcp ` + p.Status.PodIP + ":8080: connect: connection refused"
	if !strings.Contains(desc, want) || podReady(p) == corev1.ConditionTrue {
		t.Errorf("kubectl describe pod lo2 (Ready %s) lacks %q:\n%s", podReady(p), want, desc)
	}
}
