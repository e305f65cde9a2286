package pods

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestPlanTerminationOrder: on deletion every running container is
// stopped at once, but the sidecars' TERM waits: the app containers get
// TERM first, the sidecars' preStop runs meanwhile (a.prestop), and the
// sidecars get TERM in reverse spec order, each once the ones after it
// are gone, as the kubelet's terminationOrdering.
func TestPlanTerminationOrder(t *testing.T) {
	s := newState(mkPod(corev1.RestartPolicyAlways, []corev1.Container{sidecar("log"), ctrSpec("setup"), sidecar("proxy")}, ctrSpec("app"), ctrSpec("web")), t0)
	now := t0
	if got := startPlanned(s, now); got != "log,setup" {
		t.Fatalf("started %q, want log then setup", got)
	}
	exitRec(s.get(t, "setup"), now, 0, false)
	if got := startPlanned(s, now); got != "proxy,app,web" {
		t.Fatalf("started %q, want proxy then the app containers", got)
	}

	s.beginTermination(now, "", sec(30))
	a := s.plan(now)
	if names(a.terminate) != "web,app" || names(a.prestop) != "proxy,log" {
		t.Fatalf("terminate %q prestop %q, want TERM to web,app and the preStop of proxy,log", names(a.terminate), names(a.prestop))
	}
	exitRec(s.get(t, "app"), now.Add(sec(1)), 0, false)
	a = s.plan(now.Add(sec(1)))
	if names(a.terminate) != "web" || names(a.prestop) != "proxy,log" {
		t.Fatalf("with web running: terminate %q prestop %q", names(a.terminate), names(a.prestop))
	}
	exitRec(s.get(t, "web"), now.Add(sec(2)), 0, false)
	a = s.plan(now.Add(sec(2)))
	if names(a.terminate) != "proxy" || names(a.prestop) != "log" {
		t.Fatalf("apps gone: terminate %q prestop %q, want TERM to the last sidecar only", names(a.terminate), names(a.prestop))
	}
	exitRec(s.get(t, "proxy"), now.Add(sec(3)), 0, false)
	a = s.plan(now.Add(sec(3)))
	if names(a.terminate) != "log" || len(a.prestop) != 0 {
		t.Fatalf("proxy gone: terminate %q prestop %q, want TERM to log", names(a.terminate), names(a.prestop))
	}
	// At the deadline everything still running is killed.
	a = s.plan(now.Add(sec(31)))
	if !a.kill {
		t.Fatalf("at the deadline: %+v, want kill", a)
	}
	exitRec(s.get(t, "log"), now.Add(sec(31)), 137, false)
	if s.plan(now.Add(sec(31))); !s.terminal {
		t.Fatal("not terminal once everything stopped")
	}
}
