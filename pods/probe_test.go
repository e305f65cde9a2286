package pods

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestProbeStatusObserve: the prober worker's threshold counting and the
// initial results (readiness failure, liveness success, startup unknown
// holding the others back).
func TestProbeStatusObserve(t *testing.T) {
	spec := &corev1.Container{
		StartupProbe:   &corev1.Probe{SuccessThreshold: 1, FailureThreshold: 3},
		LivenessProbe:  &corev1.Probe{SuccessThreshold: 1, FailureThreshold: 2},
		ReadinessProbe: &corev1.Probe{SuccessThreshold: 2, FailureThreshold: 1},
	}
	var p probeStatus
	p.reset(spec)
	if p.isStarted() || p.isReady() {
		t.Fatalf("fresh instance started %v ready %v; want neither", p.isStarted(), p.isReady())
	}
	// Before the startup probe succeeds, liveness and readiness count nothing.
	if v := p.observe(probeLiveness, spec.LivenessProbe, false); v != verdictNone {
		t.Fatalf("liveness before startup: %v", v)
	}
	if v := p.observe(probeStartup, spec.StartupProbe, false); v != verdictNone {
		t.Fatalf("startup failure 1 of 3: %v", v)
	}
	if v := p.observe(probeStartup, spec.StartupProbe, true); v != verdictChanged || !p.isStarted() || p.isReady() {
		t.Fatalf("startup success: %v started %v ready %v", v, p.isStarted(), p.isReady())
	}
	// successThreshold 2: one success is not enough.
	if p.observe(probeReadiness, spec.ReadinessProbe, true); p.isReady() {
		t.Fatal("ready after 1 of 2 successes")
	}
	if v := p.observe(probeReadiness, spec.ReadinessProbe, true); v != verdictChanged || !p.isReady() {
		t.Fatalf("not ready after 2 successes: %v", v)
	}
	if v := p.observe(probeReadiness, spec.ReadinessProbe, false); v != verdictChanged || p.isReady() {
		t.Fatalf("ready after a failure with failureThreshold 1: %v", v)
	}
	// A success between failures resets the run.
	p.observe(probeLiveness, spec.LivenessProbe, false)
	p.observe(probeLiveness, spec.LivenessProbe, true)
	if v := p.observe(probeLiveness, spec.LivenessProbe, false); v != verdictNone {
		t.Fatalf("liveness killed after non-consecutive failures: %v", v)
	}
	if v := p.observe(probeLiveness, spec.LivenessProbe, false); v != verdictKill {
		t.Fatalf("liveness 2 failures in a row: %v, want kill", v)
	}
	if v := p.observe(probeReadiness, spec.ReadinessProbe, true); v != verdictNone || p.isReady() {
		t.Fatalf("a killed instance is probed further: %v", v)
	}
	// Without probes a running container is started and ready.
	var none probeStatus
	none.reset(&corev1.Container{})
	if !none.isStarted() || !none.isReady() {
		t.Fatal("no probes: not started/ready")
	}
}

// TestWorkerLivenessProbeFakeClock: initialDelaySeconds, periodSeconds,
// failureThreshold and the probe-level terminationGracePeriodSeconds on the
// fake clock: no probe before the delay, no kill before the threshold, TERM
// on the kill and the kill itself after the probe's grace (the guest ignores
// TERM; at least 2 s, upstream's minimum), then an immediate restart with restartCount 1.
func TestWorkerLivenessProbeFakeClock(t *testing.T) {
	t.Parallel()
	grace, podGrace := int64(3), int64(30)
	pod := &corev1.Pod{}
	pod.Name, pod.Namespace, pod.UID = "live", "default", types.UID("uid-live")
	pod.Annotations = map[string]string{AnnotationManifestDir: examplesDir(t)}
	pod.Spec.RestartPolicy = corev1.RestartPolicyAlways
	pod.Spec.TerminationGracePeriodSeconds = &podGrace
	pod.Spec.Containers = []corev1.Container{{Name: "probe", Image: "go://./testguests/probe", Args: []string{"spin"},
		LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"probe", "exit", "1"}}},
			InitialDelaySeconds: 5, PeriodSeconds: 10, TimeoutSeconds: 60, SuccessThreshold: 1, FailureThreshold: 2,
			TerminationGracePeriodSeconds: &grace}}}
	h := newHarness(t, pod)
	h.run()
	h.waitLog("probe", "ready")
	h.waitTimer() // the probe's initial delay
	unhealthy := func() int {
		n := 0
		for _, e := range h.eventList() {
			if strings.HasPrefix(e, "Warning Unhealthy Liveness probe failed") {
				n++
			}
		}
		return n
	}
	h.clk.Step(4 * time.Second)
	time.Sleep(100 * time.Millisecond)
	if n := unhealthy(); n != 0 {
		t.Fatalf("%d probes before initialDelaySeconds", n)
	}
	h.clk.Step(time.Second)
	waitUntil(t, "first failed probe", func() bool { return unhealthy() == 1 })
	h.waitTimer()
	if h.hasEvent("Normal Killing") {
		t.Fatalf("killed after 1 of 2 failures: %q", h.eventList())
	}
	h.clk.Step(10 * time.Second)
	waitUntil(t, "Killing event", func() bool {
		return h.hasEvent("Normal Killing Container probe failed liveness probe, will be restarted")
	})
	// TERM went out; the guest ignores it and is killed after the probe's 3 s.
	if p := h.w.Pod(); ctrStatus(p, "probe").State.Running == nil {
		t.Fatalf("killed before the probe's grace: %s", describe(p))
	}
	// The kill timer is set by the stopping goroutine right after TERM;
	// other timers (the probe's period) exist already, so give it a moment.
	time.Sleep(300 * time.Millisecond)
	h.clk.Step(2900 * time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	if p := h.w.Pod(); ctrStatus(p, "probe").State.Running == nil || ctrStatus(p, "probe").RestartCount != 0 {
		t.Fatalf("killed before the probe's 3 s grace: %s", describe(p))
	}
	h.clk.Step(100 * time.Millisecond)
	p := h.waitFor("restart", func(p *corev1.Pod) bool {
		cs := ctrStatus(p, "probe")
		return cs.RestartCount == 1 && cs.State.Running != nil
	})
	if lt := ctrStatus(p, "probe").LastTerminationState.Terminated; lt == nil || lt.ExitCode != 137 {
		t.Errorf("lastState %+v; want exit 137", lt)
	}
}

func waitUntil(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
