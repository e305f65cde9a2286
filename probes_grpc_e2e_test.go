package wasmpod_test

// grpc probes against real pods: the guest is grpc-go's own server and
// health service (wasm-examples/grpchealth) on the pod network; the probes
// are the node agent's (pods/probe_grpc.go), with upstream's outcomes and
// messages, as client-go and the real kubectl see them.

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

func grpcProbe(port int32, service string) corev1.ProbeHandler {
	g := &corev1.GRPCAction{Port: port}
	if service != "" {
		g.Service = &service
	}
	return corev1.ProbeHandler{GRPC: g}
}

// grpcPod runs the grpchealth guest with args, serving on 9000.
func grpcPod(name, image string, args []string, edit func(c *corev1.Container)) *corev1.Pod {
	grace := int64(5)
	c := corev1.Container{Name: "grpchealth", Image: image, Args: args,
		Ports: []corev1.ContainerPort{{Name: "grpc", ContainerPort: 9000}}}
	edit(&c)
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &grace, Containers: []corev1.Container{c}}}
}

// TestProbesGRPC — upstream e2e "Probing container should *not* be
// restarted with a GRPC liveness probe" and "should be restarted with a
// GRPC liveness probe", and the prober's messages: a grpc readiness probe
// makes the pod Ready; a service's NOT_SERVING keeps it from Ready; a
// liveness probe that starts failing (the server turns NOT_SERVING) kills
// and restarts the container with the Unhealthy and Killing events; a
// closed port and an unknown service are probe failures (Unhealthy
// events), never agent errors; a probe with mode TLS reaches a TLS server
// (KEP-4939, GRPCContainerProbeTLS); kubectl describe shows the probe as
// upstream's kubectl does.
func TestProbesGRPC(t *testing.T) {
	image := moduleFile(t, "grpchealth.wasm", testwasm.Build(t, filepath.Join(testwasm.RepoRoot(t), "wasm-examples", "grpchealth")))
	// The tests' shared cache: the guest (grpc-go, 20 MB) compiles once per
	// machine. The machine's disk is shared: no ephemeral-storage eviction.
	c, err := wasmpod.New(context.Background(), wasmpod.Config{CacheDir: testwasm.CacheDir(),
		EvictionHard: map[string]string{"nodefs.available": "1Mi"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cs := c.Client()
	grace := int64(1)
	// A startup probe holds liveness back until the server answers: a slow
	// start on a loaded machine is no liveness failure.
	startup := func() *corev1.Probe {
		return &corev1.Probe{ProbeHandler: grpcProbe(9000, ""), PeriodSeconds: 1, FailureThreshold: 60}
	}
	pods := []*corev1.Pod{
		// Ready through the service "db"; liveness on the server's overall
		// status (service "") keeps passing.
		grpcPod("grpc-ready", image, []string{"db=SERVING"}, func(c *corev1.Container) {
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: grpcProbe(9000, "db"), PeriodSeconds: 1}
			c.StartupProbe = startup()
			c.LivenessProbe = &corev1.Probe{ProbeHandler: grpcProbe(9000, ""), PeriodSeconds: 1, FailureThreshold: 3}
		}),
		// The service the probe names is NOT_SERVING while the server is
		// SERVING: never Ready, never restarted.
		grpcPod("grpc-svc-down", image, []string{"db=NOT_SERVING"}, func(c *corev1.Container) {
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: grpcProbe(9000, "db"), PeriodSeconds: 1, FailureThreshold: 1}
			c.StartupProbe = startup()
			c.LivenessProbe = &corev1.Probe{ProbeHandler: grpcProbe(9000, ""), PeriodSeconds: 1, FailureThreshold: 3}
		}),
		// SERVING for 3 s, then NOT_SERVING: the liveness probe kills it
		// (the startup probe passed, in those 3 s).
		grpcPod("grpc-live", image, []string{"-after", "3s"}, func(c *corev1.Container) {
			c.StartupProbe = startup()
			c.LivenessProbe = &corev1.Probe{ProbeHandler: grpcProbe(9000, ""), PeriodSeconds: 1, FailureThreshold: 2, TerminationGracePeriodSeconds: &grace}
		}),
		// A TLS server (self-signed): a probe with mode TLS, which does
		// not verify the certificate, makes it Ready.
		grpcPod("grpc-tls", image, []string{"-tls"}, func(c *corev1.Container) {
			tls := corev1.GRPCProbeModeTLS
			h := grpcProbe(9000, "")
			h.GRPC.Mode = &tls
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: h, PeriodSeconds: 1}
		}),
		grpcPod("grpc-closed", image, nil, func(c *corev1.Container) {
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: grpcProbe(9999, ""), PeriodSeconds: 1, FailureThreshold: 1}
		}),
		grpcPod("grpc-unknown", image, nil, func(c *corev1.Container) {
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: grpcProbe(9000, "nope"), PeriodSeconds: 1, FailureThreshold: 1}
		}),
	}
	for _, p := range pods {
		if _, err := cs.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	kubectl, _ := serveKubectl(t, c)

	t.Run("readiness", func(t *testing.T) {
		t.Parallel()
		waitFor(t, "grpc-ready Ready", 90*time.Second, func() bool { return podReady(getPod(t, cs, "grpc-ready")) == corev1.ConditionTrue })
		out, code := kubectl("describe", "pod", "grpc-ready")
		if code != 0 {
			t.Fatalf("kubectl describe pod: exit %d\n%s", code, out)
		}
		for _, re := range []string{
			// kubectl's DescribeProbe: "grpc <pod>:PORT SERVICE ATTRS", the
			// service defaulted to "" by the API server.
			`(?m)^    Liveness:\s+grpc <pod>:9000  delay=0s timeout=1s period=1s successThreshold=1 failureThreshold=3$`,
			`(?m)^    Readiness:\s+grpc <pod>:9000 db delay=0s timeout=1s period=1s successThreshold=1 failureThreshold=3$`,
			`(?m)^    Startup:\s+grpc <pod>:9000  delay=0s timeout=1s period=1s successThreshold=1 failureThreshold=60$`,
			`(?m)^    Ready:\s+True$`,
			`(?m)^    Restart Count:\s+0$`,
		} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("kubectl describe pod lacks %s:\n%s", re, out)
			}
		}
	})

	t.Run("tls", func(t *testing.T) {
		t.Parallel()
		waitFor(t, "grpc-tls Ready", 90*time.Second, func() bool { return podReady(getPod(t, cs, "grpc-tls")) == corev1.ConditionTrue })
		if mode := getPod(t, cs, "grpc-tls").Spec.Containers[0].ReadinessProbe.GRPC.Mode; mode == nil || *mode != corev1.GRPCProbeModeTLS {
			t.Errorf("the API lost the probe's mode: %v", mode)
		}
	})

	t.Run("service not serving", func(t *testing.T) {
		t.Parallel()
		want := `Warning Unhealthy: Readiness probe failed: service unhealthy (responded with "NOT_SERVING")`
		waitForEvent(t, cs, "grpc-svc-down", func(string) string { return want })
		time.Sleep(3 * time.Second) // more probes: liveness on "" keeps passing
		p := getPod(t, cs, "grpc-svc-down")
		st := p.Status.ContainerStatuses[0]
		if podReady(p) != corev1.ConditionFalse || st.Ready || st.RestartCount != 0 || st.State.Running == nil {
			t.Errorf("Ready %s, container ready %v, restarts %d, state %+v; want Running, never Ready, never restarted", podReady(p), st.Ready, st.RestartCount, st.State)
		}
		if ev := podEvents(t, cs, "grpc-svc-down"); strings.Contains(ev, "Liveness probe failed: service unhealthy") {
			t.Errorf("the liveness probe (service \"\") saw the service db's status:\n%s", ev)
		}
	})

	t.Run("liveness restarts", func(t *testing.T) {
		t.Parallel()
		waitFor(t, "grpc-live restarted", 90*time.Second, func() bool {
			p := getPod(t, cs, "grpc-live")
			return len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].RestartCount >= 1
		})
		ev := podEvents(t, cs, "grpc-live")
		for _, want := range []string{
			`Warning Unhealthy: Liveness probe failed: service unhealthy (responded with "NOT_SERVING")`,
			"Normal Killing: Container grpchealth failed liveness probe, will be restarted",
		} {
			if !strings.Contains(ev, want) {
				t.Errorf("events lack %q:\n%s", want, ev)
			}
		}
		if st := getPod(t, cs, "grpc-live").Status.ContainerStatuses[0]; st.LastTerminationState.Terminated == nil {
			t.Errorf("no lastState after the liveness kill: %+v", st)
		}
		out, code := kubectl("describe", "pod", "grpc-live")
		if code != 0 {
			t.Fatalf("kubectl describe pod: exit %d\n%s", code, out)
		}
		for _, re := range []string{
			`(?m)^    Liveness:\s+grpc <pod>:9000  delay=0s timeout=1s period=1s successThreshold=1 failureThreshold=2$`,
			`(?m)^  Warning\s+Unhealthy\s+.*Liveness probe failed: service unhealthy \(responded with "NOT_SERVING"\)$`,
			`(?m)^  Normal\s+Killing\s+.*Container grpchealth failed liveness probe, will be restarted$`,
		} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("kubectl describe pod lacks %s:\n%s", re, out)
			}
		}
	})

	// A closed port and an unknown service: probe failures with upstream's
	// messages (a failure, not "probe errored"), never Ready, never restarted.
	for _, tc := range []struct{ pod, want string }{
		{"grpc-closed", `Warning Unhealthy: Readiness probe failed: timeout: failed to connect service "%s:9999" within 1s: context deadline exceeded`},
		{"grpc-unknown", `Warning Unhealthy: Readiness probe failed: error: health rpc probe failed: rpc error: code = NotFound desc = unknown service`},
	} {
		t.Run(tc.pod, func(t *testing.T) {
			t.Parallel()
			waitForEvent(t, cs, tc.pod, func(ip string) string {
				if strings.Contains(tc.want, "%s") {
					return fmt.Sprintf(tc.want, ip)
				}
				return tc.want
			})
			p := getPod(t, cs, tc.pod)
			st := p.Status.ContainerStatuses[0]
			if podReady(p) != corev1.ConditionFalse || st.Ready || st.RestartCount != 0 || st.State.Running == nil {
				t.Errorf("Ready %s, container ready %v, restarts %d, state %+v; want Running, never Ready, never restarted", podReady(p), st.Ready, st.RestartCount, st.State)
			}
			if ev := podEvents(t, cs, tc.pod); strings.Contains(ev, "probe errored") {
				t.Errorf("an agent error instead of a probe failure:\n%s", ev)
			}
		})
	}
}

// waitForEvent waits for an event of the pod that contains want(podIP),
// and fails with the pod's events when none comes.
func waitForEvent(t *testing.T, cs kubernetes.Interface, pod string, want func(podIP string) string) {
	t.Helper()
	end := time.Now().Add(90 * time.Second)
	for {
		ip := getPod(t, cs, pod).Status.PodIP
		ev := podEvents(t, cs, pod)
		if ip != "" && strings.Contains(ev, want(ip)) {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%s: no event %q in 90 s; events:\n%s", pod, want(ip), ev)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
