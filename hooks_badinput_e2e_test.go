package wasmpod_test

// Issue 12's "bad input" for hooks, probes and exec, as the kubelet and the
// container runtime word it, read back with the real kubectl: a hook or
// probe whose command is not found or does not parse, a hook cut off by
// the grace period, an exec probe that times out, and kubectl exec of a
// command that does not exist or a script that does not parse.

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// notFoundMsg is runc's message for a command that cannot start, which
// kubectl exec, exec probes and exec hooks show upstream.
const notFoundMsg = `OCI runtime exec failed: exec failed: unable to start container process: exec: "nosuchcmd": executable file not found in $PATH: unknown`

func gracefulPod(name string, edit func(p *corev1.Pod, c *corev1.Container)) *corev1.Pod {
	grace := int64(2)
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{Name: "main", Image: "wasmpod.local/graceful:v1"}}}}
	edit(p, &p.Spec.Containers[0])
	return p
}

func execHook(cmd ...string) *corev1.LifecycleHandler {
	return &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: cmd}}
}

// TestBadInputHooksProbesExec — the kubelet's wording
// (kuberuntime_container.go, prober.go, the CRI's ExecSync):
//   - a failing postStart records FailedPostStartHook "PostStartHook failed"
//     (the handler's message is kept out of Events, so no secret leaks),
//     then Killing "FailedPostStartHook", and the container restarts;
//   - a preStop that fails, or whose command the grace period cuts off,
//     records FailedPreStopHook "PreStopHook failed" and the pod still
//     ends within grace + 2 s;
//   - an exec probe whose command is not found fails with the runtime's
//     message; one that overruns timeoutSeconds fails with
//     `command "..." timed out`;
//   - kubectl exec of a missing command exits 127 with the runtime's
//     message, and a script that does not parse exits 2 as sh.
func TestBadInputHooksProbesExec(t *testing.T) {
	e := newToolboxEnv(t)
	cs := e.c.Client()
	ctx := context.Background()
	pods := []*corev1.Pod{
		gracefulPod("ps-notfound", func(_ *corev1.Pod, c *corev1.Container) {
			c.Lifecycle = &corev1.Lifecycle{PostStart: execHook("nosuchcmd", "x")}
		}),
		gracefulPod("ps-badscript", func(_ *corev1.Pod, c *corev1.Container) {
			c.Lifecycle = &corev1.Lifecycle{PostStart: execHook("sh", "-c", "if")}
		}),
		gracefulPod("probes", func(_ *corev1.Pod, c *corev1.Container) {
			c.LivenessProbe = &corev1.Probe{PeriodSeconds: 1, FailureThreshold: 1000,
				ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"nosuchcmd"}}}}
			c.ReadinessProbe = &corev1.Probe{PeriodSeconds: 1, TimeoutSeconds: 1,
				ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "sleep 5"}}}}
		}),
		gracefulPod("prestop-slow", func(_ *corev1.Pod, c *corev1.Container) {
			c.Lifecycle = &corev1.Lifecycle{PreStop: execHook("sh", "-c", "sleep 30")}
		}),
		gracefulPod("prestop-notfound", func(_ *corev1.Pod, c *corev1.Container) {
			c.Lifecycle = &corev1.Lifecycle{PreStop: execHook("nosuchcmd")}
		}),
	}
	for _, p := range pods {
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// postStart: not found, and a script that does not parse.
	for _, name := range []string{"ps-notfound", "ps-badscript"} {
		waitFor(t, name+" restarted after its postStart failed", 90*time.Second, func() bool {
			p := getPod(t, cs, name)
			return len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].RestartCount >= 1
		})
		desc := e.must(t, "describe", "pod", name)
		for _, re := range []string{`(?m)^\s+Warning\s+FailedPostStartHook\s+.*\s+PostStartHook failed$`,
			`(?m)^\s+Normal\s+Killing\s+.*\s+FailedPostStartHook$`} {
			if !regexp.MustCompile(re).MatchString(desc) {
				t.Errorf("kubectl describe pod %s: no line matches %q:\n%s", name, re, desc)
			}
		}
		if strings.Contains(desc, "lifecycle hook") {
			t.Errorf("kubectl describe pod %s shows the hook's message in an Event (upstream keeps it out):\n%s", name, desc)
		}
	}

	// Exec probes: a command that is not found, and a timeout.
	waitFor(t, "the probes' failures", 60*time.Second, func() bool {
		ev := podEvents(t, cs, "probes")
		return strings.Contains(ev, "Liveness probe failed") && strings.Contains(ev, "Readiness probe failed")
	})
	desc := e.must(t, "describe", "pod", "probes")
	for _, want := range []string{"Liveness probe failed: " + notFoundMsg, `Readiness probe failed: command "sh -c sleep 5" timed out`} {
		if !strings.Contains(desc, want) {
			t.Errorf("kubectl describe pod probes lacks %q:\n%s", want, desc)
		}
	}
	if p := getPod(t, cs, "probes"); podReady(p) == corev1.ConditionTrue || p.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("probes: Ready %s, restarts %d; want never Ready and no restart (failureThreshold 1000)", podReady(p), p.Status.ContainerStatuses[0].RestartCount)
	}

	// kubectl exec: a command that is not found, a script that does not parse.
	out, errOut, code := e.run(t, "", "exec", "probes", "--", "nosuchcmd", "x")
	if code != 127 || out != "" || !strings.Contains(errOut, notFoundMsg+"\n") || !strings.Contains(errOut, "command terminated with exit code 127") {
		t.Errorf("kubectl exec nosuchcmd: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	_, errOut, code = e.run(t, "", "exec", "probes", "--", "sh", "-c", "if")
	if code != 2 || !strings.Contains(errOut, "sh: syntax error: ") || !strings.Contains(errOut, "command terminated with exit code 2") {
		t.Errorf("kubectl exec sh -c if: exit %d, stderr %q", code, errOut)
	}

	// preStop: cut off by the 2 s grace period, and not found. Both fail
	// with FailedPreStopHook; the pods end within grace + 2 s (+ slack).
	for _, name := range []string{"prestop-slow", "prestop-notfound"} {
		e.must(t, "wait", "--for=condition=Ready", "pod/"+name, "--timeout=60s")
	}
	t0 := time.Now()
	e.must(t, "delete", "pod", "prestop-slow", "prestop-notfound", "--wait=true", "--timeout=60s")
	if d := time.Since(t0); d > 12*time.Second {
		t.Errorf("deleting the preStop pods took %v; want about grace (2 s) + 2 s", d)
	}
	for _, name := range []string{"prestop-slow", "prestop-notfound"} {
		out := e.must(t, "get", "events", "--field-selector", "involvedObject.name="+name)
		if !regexp.MustCompile(`(?m)\s+Warning\s+FailedPreStopHook\s+pod/` + name + `\s+PreStopHook failed$`).MatchString(out) {
			t.Errorf("kubectl get events for %s: no FailedPreStopHook \"PreStopHook failed\":\n%s", name, out)
		}
	}
}
