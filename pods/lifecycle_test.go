package pods

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The tests in this file drive the pure state machine directly: they build a
// podState, ask plan() what to do, and then change the records exactly as
// the worker does when a container starts (startRec) or exits (exitRec).

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func sec(n int) time.Duration { return time.Duration(n) * time.Second }

func sidecar(name string) corev1.Container {
	always := corev1.ContainerRestartPolicyAlways
	return corev1.Container{Name: name, Image: name + ".wasm", RestartPolicy: &always}
}

func ctrSpec(name string) corev1.Container {
	return corev1.Container{Name: name, Image: name + ".wasm"}
}

func mkPod(policy corev1.RestartPolicy, init []corev1.Container, app ...corev1.Container) *corev1.Pod {
	grace := int64(30)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "uid-1"},
		Spec: corev1.PodSpec{
			RestartPolicy:                 policy,
			InitContainers:                init,
			Containers:                    app,
			TerminationGracePeriodSeconds: &grace,
		},
	}
}

func newState(pod *corev1.Pod, now time.Time) *podState {
	s := newPodState(pod)
	s.startTime = now
	s.sandboxReady = true // as the worker sets it once the sandbox exists
	return s
}

func (s *podState) get(t *testing.T, name string) *ctr {
	t.Helper()
	for _, c := range s.ctrs {
		if c.spec.Name == name {
			return c
		}
	}
	t.Fatalf("no container %q", name)
	return nil
}

// startRec records a successful start, as Worker.start does.
func startRec(c *ctr, now time.Time) {
	if c.exited != nil {
		c.crash.next(now, c.exited.FinishedAt.Time)
		c.last = c.exited
		c.exited = nil
		c.restarts++
	}
	c.retryAt = time.Time{}
	c.pull = backoff{}
	c.running, c.ever, c.started = true, true, now
	c.waitReason, c.waitMessage = "", ""
}

// exitRec records an exit, as Worker.recordExit does.
func exitRec(c *ctr, now time.Time, code int32, oom bool) {
	term := &corev1.ContainerStateTerminated{
		ExitCode:   code,
		StartedAt:  metav1.NewTime(c.started),
		FinishedAt: metav1.NewTime(now),
	}
	switch {
	case oom:
		term.Reason = "OOMKilled"
	case code == 0:
		term.Reason = "Completed"
	default:
		term.Reason = "Error"
	}
	c.running = false
	c.exited = term
	c.waitReason, c.waitMessage = "", ""
}

// pullFail records a failed image pull, as Worker.start does.
func pullFail(c *ctr, now time.Time) {
	c.pull.next(now, now)
	c.retryAt = now.Add(c.pull.delay)
	c.waitReason, c.waitMessage = "ErrImagePull", "Failed to pull image"
}

func names(cs []*ctr) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.spec.Name)
	}
	return strings.Join(out, ",")
}

// startPlanned plans and records the start of everything plan asks for,
// repeating as the worker does until nothing more starts. It returns the
// names started, in order.
func startPlanned(s *podState, now time.Time) string {
	var started []string
	for {
		a := s.plan(now)
		if len(a.start) == 0 {
			return strings.Join(started, ",")
		}
		for _, c := range a.start {
			startRec(c, now)
			started = append(started, c.spec.Name)
		}
	}
}

func statusOf(st corev1.PodStatus, name string) corev1.ContainerStatus {
	for _, cs := range append(append([]corev1.ContainerStatus{}, st.InitContainerStatuses...), st.ContainerStatuses...) {
		if cs.Name == name {
			return cs
		}
	}
	return corev1.ContainerStatus{}
}

func condOf(st corev1.PodStatus, t corev1.PodConditionType) corev1.PodCondition {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c
		}
	}
	return corev1.PodCondition{}
}

// --- phase ---------------------------------------------------------------

func running() corev1.ContainerStatus {
	t := true
	return corev1.ContainerStatus{Started: &t, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
}

func notStartedRunning() corev1.ContainerStatus {
	f := false
	return corev1.ContainerStatus{Started: &f, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
}

func terminated(code int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}}
}

func waitingFresh() corev1.ContainerStatus {
	return corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
}

func restarting(code int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}},
	}
}

func TestPhase(t *testing.T) {
	type st = corev1.ContainerStatus
	cases := []struct {
		name        string
		policy      corev1.RestartPolicy
		init        []corev1.Container // specs of the init statuses, in order
		initSt, app []st
		terminal    bool
		initialized bool
		want        corev1.PodPhase
	}{
		// Regular containers (upstream TestPodPhaseWithRestartAlways/Never/OnFailure).
		{name: "all running", policy: "Always", app: []st{running(), running()}, want: corev1.PodRunning},
		{name: "all stopped, Always, restarting", policy: "Always", app: []st{terminated(0), terminated(1)}, want: corev1.PodRunning},
		{name: "all stopped, Always, terminal, all ok", policy: "Always", app: []st{terminated(0), terminated(0)}, terminal: true, want: corev1.PodSucceeded},
		{name: "all stopped, Always, terminal, one failed", policy: "Always", app: []st{terminated(0), terminated(137)}, terminal: true, want: corev1.PodFailed},
		{name: "mixed running and stopped", policy: "Always", app: []st{running(), terminated(0)}, want: corev1.PodRunning},
		{name: "one waiting to start", policy: "Always", app: []st{running(), waitingFresh()}, want: corev1.PodPending},
		{name: "all in back-off, Always", policy: "Always", app: []st{restarting(1), restarting(2)}, want: corev1.PodRunning},
		{name: "Never, all succeeded", policy: "Never", app: []st{terminated(0), terminated(0)}, want: corev1.PodSucceeded},
		{name: "Never, one failed", policy: "Never", app: []st{terminated(0), terminated(1)}, want: corev1.PodFailed},
		{name: "Never, one failed one running", policy: "Never", app: []st{running(), terminated(1)}, want: corev1.PodRunning},
		{name: "OnFailure, all succeeded", policy: "OnFailure", app: []st{terminated(0), terminated(0)}, want: corev1.PodSucceeded},
		{name: "OnFailure, one restarting", policy: "OnFailure", app: []st{terminated(0), restarting(3)}, want: corev1.PodRunning},
		{name: "OnFailure, terminal with failure", policy: "OnFailure", app: []st{terminated(0), restarting(3)}, terminal: true, want: corev1.PodFailed},
		{name: "no status yet", policy: "Always", app: []st{{}}, want: corev1.PodPending},

		// Init containers.
		{name: "init running", policy: "Always", init: []corev1.Container{ctrSpec("i")}, initSt: []st{running()}, app: []st{waitingFresh()}, want: corev1.PodPending},
		{name: "init waiting", policy: "Always", init: []corev1.Container{ctrSpec("i")}, initSt: []st{waitingFresh()}, app: []st{waitingFresh()}, want: corev1.PodPending},
		{name: "init failed, Never", policy: "Never", init: []corev1.Container{ctrSpec("i")}, initSt: []st{terminated(1)}, app: []st{waitingFresh()}, want: corev1.PodFailed},
		{name: "init failed, Never, terminal", policy: "Never", init: []corev1.Container{ctrSpec("i")}, initSt: []st{terminated(1)}, app: []st{waitingFresh()}, terminal: true, want: corev1.PodFailed},
		{name: "init failed, OnFailure, retrying", policy: "OnFailure", init: []corev1.Container{ctrSpec("i")}, initSt: []st{restarting(1)}, app: []st{waitingFresh()}, want: corev1.PodPending},
		{name: "init done, app running", policy: "Never", init: []corev1.Container{ctrSpec("i")}, initSt: []st{terminated(0)}, app: []st{running()}, initialized: true, want: corev1.PodRunning},
		{name: "init done, app succeeded", policy: "Never", init: []corev1.Container{ctrSpec("i")}, initSt: []st{terminated(0)}, app: []st{terminated(0)}, initialized: true, want: corev1.PodSucceeded},

		// Sidecars (restartable init containers).
		{name: "sidecar waiting", policy: "Never", init: []corev1.Container{sidecar("s")}, initSt: []st{waitingFresh()}, app: []st{waitingFresh()}, want: corev1.PodPending},
		{name: "sidecar running, not started", policy: "Never", init: []corev1.Container{sidecar("s")}, initSt: []st{notStartedRunning()}, app: []st{waitingFresh()}, want: corev1.PodPending},
		{name: "sidecar and app running", policy: "Never", init: []corev1.Container{sidecar("s")}, initSt: []st{running()}, app: []st{running()}, initialized: true, want: corev1.PodRunning},
		{name: "sidecar restarting after init", policy: "Never", init: []corev1.Container{sidecar("s")}, initSt: []st{restarting(1)}, app: []st{running()}, initialized: true, want: corev1.PodRunning},
		{name: "sidecar still running after app succeeded", policy: "Never", init: []corev1.Container{sidecar("s")}, initSt: []st{running()}, app: []st{terminated(0)}, initialized: true, want: corev1.PodRunning},
		{name: "sidecar stopped after app succeeded, terminal", policy: "Never", init: []corev1.Container{sidecar("s")}, initSt: []st{terminated(137)}, app: []st{terminated(0)}, initialized: true, terminal: true, want: corev1.PodSucceeded},
		{name: "sidecar then init running", policy: "Never", init: []corev1.Container{sidecar("s"), ctrSpec("i")}, initSt: []st{running(), running()}, app: []st{waitingFresh()}, want: corev1.PodPending},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := &corev1.PodSpec{RestartPolicy: tc.policy, InitContainers: tc.init}
			for i := range tc.app {
				spec.Containers = append(spec.Containers, ctrSpec(fmt.Sprint("c", i)))
			}
			if got := phase(spec, tc.initSt, tc.app, tc.terminal, tc.initialized); got != tc.want {
				t.Errorf("phase = %s, want %s", got, tc.want)
			}
		})
	}
}

// --- plan: ordering --------------------------------------------------------

func TestPlanInitContainersOneAtATimeInOrder(t *testing.T) {
	s := newState(mkPod(corev1.RestartPolicyNever, []corev1.Container{ctrSpec("first"), ctrSpec("second")}, ctrSpec("a"), ctrSpec("b")), t0)
	now := t0

	for i, name := range []string{"first", "second"} {
		a := s.plan(now)
		if got := names(a.start); got != name {
			t.Fatalf("step %d: plan starts %q, want %q", i, got, name)
		}
		startRec(a.start[0], now)
		if a := s.plan(now); len(a.start) != 0 {
			t.Fatalf("while %s runs, plan starts %s", name, names(a.start))
		}
		st := s.status(now, nil)
		if st.Phase != corev1.PodPending {
			t.Errorf("while %s runs: phase %s, want Pending", name, st.Phase)
		}
		if w := statusOf(st, "a").State.Waiting; w == nil || w.Reason != "PodInitializing" {
			t.Errorf("while %s runs: app container state %+v, want Waiting PodInitializing", name, statusOf(st, "a").State)
		}
		c := condOf(st, corev1.PodInitialized)
		if c.Status != corev1.ConditionFalse || c.Reason != "ContainersNotInitialized" || !strings.Contains(c.Message, name) {
			t.Errorf("while %s runs: Initialized condition %+v", name, c)
		}
		now = now.Add(sec(1))
		exitRec(a.start[0], now, 0, false)
	}

	a := s.plan(now)
	if got := names(a.start); got != "a,b" {
		t.Fatalf("after init: plan starts %q, want a,b together", got)
	}
	if !s.initialized {
		t.Error("pod not marked initialized")
	}
	for _, c := range a.start {
		startRec(c, now)
	}
	st := s.status(now, nil)
	if st.Phase != corev1.PodRunning {
		t.Errorf("phase %s, want Running", st.Phase)
	}
	for _, ct := range []corev1.PodConditionType{corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady, corev1.PodScheduled, corev1.PodReadyToStartContainers} {
		if c := condOf(st, ct); c.Status != corev1.ConditionTrue {
			t.Errorf("condition %s = %+v, want True", ct, c)
		}
	}
	if cs := statusOf(st, "first"); cs.State.Terminated == nil || cs.State.Terminated.Reason != "Completed" {
		t.Errorf("init container status %+v, want Terminated Completed", cs.State)
	}
}

func TestPlanSidecarStartsAndNextInitProceeds(t *testing.T) {
	s := newState(mkPod(corev1.RestartPolicyNever, []corev1.Container{sidecar("proxy"), ctrSpec("setup")}, ctrSpec("app")), t0)
	now := t0
	if got := startPlanned(s, now); got != "proxy,setup" {
		t.Fatalf("started %q, want proxy then setup (the sidecar keeps running)", got)
	}
	if s.initialized {
		t.Fatal("initialized while setup runs")
	}
	if st := s.status(now, nil); st.Phase != corev1.PodPending {
		t.Errorf("phase %s while setup runs, want Pending", st.Phase)
	}
	exitRec(s.get(t, "setup"), now, 0, false)
	if got := startPlanned(s, now); got != "app" {
		t.Fatalf("started %q, want app", got)
	}
	st := s.status(now, nil)
	if st.Phase != corev1.PodRunning || condOf(st, corev1.PodReady).Status != corev1.ConditionTrue {
		t.Fatalf("phase %s, Ready %v; want Running and Ready", st.Phase, condOf(st, corev1.PodReady).Status)
	}

	// The sidecar crashes: it restarts (even under restartPolicy Never)
	// and the pod stays Running.
	now = now.Add(sec(5))
	exitRec(s.get(t, "proxy"), now, 1, false)
	st = s.status(now, nil)
	if st.Phase != corev1.PodRunning {
		t.Errorf("phase %s with a crashed sidecar, want Running", st.Phase)
	}
	if c := condOf(st, corev1.ContainersReady); c.Status != corev1.ConditionFalse || c.Message != "containers with unready status: [proxy]" {
		t.Errorf("ContainersReady %+v", c)
	}
	if got := startPlanned(s, now); got != "proxy" {
		t.Fatalf("started %q, want the sidecar restarted", got)
	}

	// The app exits: the sidecar gets TERM only now, and the pod is Running
	// until it is gone.
	now = now.Add(sec(5))
	exitRec(s.get(t, "app"), now, 0, false)
	a := s.plan(now)
	if !s.terminating || names(a.terminate) != "proxy" {
		t.Fatalf("terminating=%v terminate=%q, want TERM to proxy", s.terminating, names(a.terminate))
	}
	if st := s.status(now, nil); st.Phase != corev1.PodRunning {
		t.Errorf("phase %s while the sidecar stops, want Running", st.Phase)
	}
	exitRec(s.get(t, "proxy"), now, 0, false)
	s.plan(now)
	if !s.terminal {
		t.Fatal("not terminal after the sidecar stopped")
	}
	if st := s.status(now, nil); st.Phase != corev1.PodSucceeded {
		t.Errorf("phase %s, want Succeeded", st.Phase)
	}
}

func TestPlanRestartPolicy(t *testing.T) {
	cases := []struct {
		policy  corev1.RestartPolicy
		code    int32
		restart bool
		phase   corev1.PodPhase // final phase when it does not restart
	}{
		{corev1.RestartPolicyAlways, 0, true, ""},
		{corev1.RestartPolicyAlways, 1, true, ""},
		{corev1.RestartPolicyOnFailure, 0, false, corev1.PodSucceeded},
		{corev1.RestartPolicyOnFailure, 2, true, ""},
		{corev1.RestartPolicyNever, 0, false, corev1.PodSucceeded},
		{corev1.RestartPolicyNever, 2, false, corev1.PodFailed},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/exit%d", tc.policy, tc.code), func(t *testing.T) {
			s := newState(mkPod(tc.policy, nil, ctrSpec("c")), t0)
			startPlanned(s, t0)
			exitRec(s.get(t, "c"), t0.Add(sec(1)), tc.code, false)
			a := s.plan(t0.Add(sec(1)))
			if got := len(a.start) == 1; got != tc.restart {
				t.Fatalf("restart = %v, want %v", got, tc.restart)
			}
			if tc.restart {
				return
			}
			if !s.terminal {
				t.Fatal("pod not terminal")
			}
			st := s.status(t0.Add(sec(1)), nil)
			if st.Phase != tc.phase {
				t.Errorf("phase %s, want %s", st.Phase, tc.phase)
			}
			cs := statusOf(st, "c")
			wantReason := map[bool]string{true: "Completed", false: "Error"}[tc.code == 0]
			if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != tc.code || cs.State.Terminated.Reason != wantReason {
				t.Errorf("container state %+v, want Terminated %d %s", cs.State, tc.code, wantReason)
			}
			ready := condOf(st, corev1.PodReady)
			wantCond := map[corev1.PodPhase]string{corev1.PodSucceeded: "PodCompleted", corev1.PodFailed: "PodFailed"}[tc.phase]
			if ready.Status != corev1.ConditionFalse || ready.Reason != wantCond {
				t.Errorf("Ready %+v, want False %s", ready, wantCond)
			}
			if c := condOf(st, corev1.ContainersReady); c.Reason != wantCond {
				t.Errorf("ContainersReady %+v, want reason %s", c, wantCond)
			}
			if a := s.plan(t0.Add(time.Hour)); len(a.start)+len(a.terminate) != 0 || a.kill {
				t.Errorf("terminal pod plans %+v", a)
			}
		})
	}
}

func TestPlanFailedInitUnderNeverFailsPod(t *testing.T) {
	s := newState(mkPod(corev1.RestartPolicyNever, []corev1.Container{sidecar("proxy"), ctrSpec("setup"), ctrSpec("later")}, ctrSpec("app")), t0)
	if got := startPlanned(s, t0); got != "proxy,setup" {
		t.Fatalf("started %q", got)
	}
	exitRec(s.get(t, "setup"), t0.Add(sec(1)), 1, false)
	a := s.plan(t0.Add(sec(1)))
	if len(a.start) != 0 {
		t.Fatalf("plan starts %s after a failed init container under Never", names(a.start))
	}
	if !s.terminating || names(a.terminate) != "proxy" {
		t.Fatalf("terminating=%v terminate=%q, want the sidecar stopped", s.terminating, names(a.terminate))
	}
	exitRec(s.get(t, "proxy"), t0.Add(sec(2)), 0, false)
	s.plan(t0.Add(sec(2)))
	if !s.terminal {
		t.Fatal("not terminal")
	}
	st := s.status(t0.Add(sec(2)), nil)
	if st.Phase != corev1.PodFailed {
		t.Errorf("phase %s, want Failed", st.Phase)
	}
	if cs := statusOf(st, "setup"); cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 1 || cs.State.Terminated.Reason != "Error" {
		t.Errorf("setup state %+v, want Terminated 1 Error", cs.State)
	}
	// The pod never initialized: containers that never ran stay Waiting
	// (the kubelet's TerminatePod leaves them alone).
	for _, n := range []string{"later", "app"} {
		if cs := statusOf(st, n); cs.State.Waiting == nil {
			t.Errorf("%s state %+v, want Waiting", n, cs.State)
		}
	}
	if c := condOf(st, corev1.PodInitialized); c.Status != corev1.ConditionFalse {
		t.Errorf("Initialized %+v, want False", c)
	}
}

func TestPlanFailedInitRetriedUnderOnFailure(t *testing.T) {
	s := newState(mkPod(corev1.RestartPolicyOnFailure, []corev1.Container{ctrSpec("setup")}, ctrSpec("app")), t0)
	startPlanned(s, t0)
	exitRec(s.get(t, "setup"), t0, 1, false)
	if got := startPlanned(s, t0); got != "setup" {
		t.Fatalf("started %q, want setup retried at once", got)
	}
	exitRec(s.get(t, "setup"), t0, 1, false)
	a := s.plan(t0)
	if len(a.start) != 0 || !a.wake.Equal(t0.Add(sec(10))) {
		t.Fatalf("plan %s wake %v, want back-off until +10s", names(a.start), a.wake)
	}
	st := s.status(t0, nil)
	if st.Phase != corev1.PodPending {
		t.Errorf("phase %s, want Pending", st.Phase)
	}
	if w := statusOf(st, "setup").State.Waiting; w == nil || w.Reason != "CrashLoopBackOff" {
		t.Errorf("setup %+v, want CrashLoopBackOff", statusOf(st, "setup").State)
	}
	if got := startPlanned(s, t0.Add(sec(10))); got != "setup" {
		t.Fatalf("started %q at +10s", got)
	}
	exitRec(s.get(t, "setup"), t0.Add(sec(11)), 0, false)
	if got := startPlanned(s, t0.Add(sec(11))); got != "app" {
		t.Fatalf("started %q after setup succeeded", got)
	}
}

// --- back-off --------------------------------------------------------------

func TestCrashLoopBackOffSequence(t *testing.T) {
	s := newState(mkPod(corev1.RestartPolicyAlways, nil, ctrSpec("c")), t0)
	c := s.get(t, "c")
	now := t0
	startPlanned(s, now)

	// First exit: restarted at once.
	exitRec(c, now, 3, false)
	if got := startPlanned(s, now); got != "c" {
		t.Fatalf("first restart: started %q, want immediate", got)
	}
	if c.restarts != 1 {
		t.Fatalf("restarts = %d, want 1", c.restarts)
	}

	want := []time.Duration{10, 20, 40, 80, 160, 300, 300, 300}
	for i, d := range want {
		d *= time.Second
		exitRec(c, now, 3, false)
		a := s.plan(now)
		if len(a.start) != 0 {
			t.Fatalf("exit %d: restarted without back-off", i+2)
		}
		if !a.wake.Equal(now.Add(d)) {
			t.Fatalf("exit %d: wake %v, want exit+%v", i+2, a.wake.Sub(now), d)
		}
		st := s.status(now, nil)
		cs := statusOf(st, "c")
		wantMsg := fmt.Sprintf("back-off %s restarting failed container=c pod=web_default(uid-1)", d)
		if cs.State.Waiting == nil || cs.State.Waiting.Reason != "CrashLoopBackOff" || cs.State.Waiting.Message != wantMsg {
			t.Fatalf("exit %d: state %+v, want CrashLoopBackOff %q", i+2, cs.State, wantMsg)
		}
		if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 3 {
			t.Errorf("exit %d: lastState %+v, want exit 3", i+2, cs.LastTerminationState)
		}
		if cs.RestartCount != int32(i+1) {
			t.Errorf("exit %d: restartCount %d, want %d", i+2, cs.RestartCount, i+1)
		}
		if st.Phase != corev1.PodRunning {
			t.Errorf("exit %d: phase %s, want Running", i+2, st.Phase)
		}
		// Just before the wake time it still waits.
		if a := s.plan(now.Add(d - time.Millisecond)); len(a.start) != 0 {
			t.Fatalf("exit %d: restarted before the back-off expired", i+2)
		}
		now = now.Add(d)
		if got := startPlanned(s, now); got != "c" {
			t.Fatalf("exit %d: not restarted at the wake time", i+2)
		}
	}

	// Ten minutes of running resets the back-off: the next restart is
	// immediate and the one after waits 10 s again.
	now = now.Add(10*time.Minute + time.Second)
	exitRec(c, now, 3, false)
	if got := startPlanned(s, now); got != "c" {
		t.Fatalf("after 10 min of running: started %q, want an immediate restart", got)
	}
	exitRec(c, now, 3, false)
	if a := s.plan(now); len(a.start) != 0 || !a.wake.Equal(now.Add(backoffInitial)) {
		t.Fatalf("after reset: start %q wake +%v, want back-off 10s", names(a.start), a.wake.Sub(now))
	}
}

func TestImagePullBackOff(t *testing.T) {
	s := newState(mkPod(corev1.RestartPolicyAlways, nil, ctrSpec("c")), t0)
	c := s.get(t, "c")
	a := s.plan(t0)
	if names(a.start) != "c" {
		t.Fatal("not started")
	}
	pullFail(c, t0)
	if cs := statusOf(s.status(t0, nil), "c"); cs.State.Waiting == nil || cs.State.Waiting.Reason != "ErrImagePull" {
		t.Fatalf("state %+v, want ErrImagePull", cs.State)
	}
	a = s.plan(t0)
	if len(a.start) != 0 || !a.wake.Equal(t0.Add(sec(10))) {
		t.Fatalf("start %q wake %v, want a retry at +10s", names(a.start), a.wake)
	}
	cs := statusOf(s.status(t0, nil), "c")
	if cs.State.Waiting == nil || cs.State.Waiting.Reason != "ImagePullBackOff" || cs.State.Waiting.Message != `Back-off pulling image "c.wasm": ErrImagePull: Failed to pull image` {
		t.Fatalf("state %+v, want ImagePullBackOff", cs.State)
	}
	if st := s.status(t0, nil); st.Phase != corev1.PodPending {
		t.Errorf("phase %s, want Pending", st.Phase)
	}
	if names(s.plan(t0.Add(sec(10))).start) != "c" {
		t.Fatal("not retried at +10s")
	}
	pullFail(c, t0.Add(sec(10)))
	if a := s.plan(t0.Add(sec(10))); !a.wake.Equal(t0.Add(sec(30))) {
		t.Fatalf("second retry at +%v, want +30s (20s after the second failure)", a.wake.Sub(t0))
	}
}

// --- termination and deadlines -----------------------------------------------

func TestTerminationOrderAndKill(t *testing.T) {
	pod := mkPod(corev1.RestartPolicyAlways, []corev1.Container{sidecar("s1"), sidecar("s2")}, ctrSpec("a"), ctrSpec("b"))
	s := newState(pod, t0)
	if got := startPlanned(s, t0); got != "s1,s2,a,b" {
		t.Fatalf("started %q", got)
	}
	now := t0.Add(sec(1))
	s.beginTermination(now, "", sec(30))
	a := s.plan(now)
	if got := names(a.terminate); got != "b,a" {
		t.Fatalf("first TERM to %q, want the app containers only", got)
	}
	if a.kill || !a.wake.Equal(now.Add(sec(30))) {
		t.Fatalf("kill=%v wake=%v, want a wake at the deadline", a.kill, a.wake)
	}
	st := s.status(now, nil)
	if c := condOf(st, corev1.PodReady); c.Status != corev1.ConditionFalse {
		t.Errorf("Ready %+v while terminating, want False", c)
	}
	// A second request with a longer grace does not extend the deadline; a
	// shorter one shortens it.
	s.beginTermination(now, "", sec(60))
	if !s.deadline.Equal(now.Add(sec(30))) {
		t.Fatalf("deadline moved to %v", s.deadline)
	}
	s.beginTermination(now, "", sec(20))
	if !s.deadline.Equal(now.Add(sec(20))) {
		t.Fatalf("deadline %v, want shortened to +20s", s.deadline)
	}

	// App containers exit (they are not restarted while terminating): the
	// sidecars get TERM, in reverse order.
	exitRec(s.get(t, "a"), now, 0, false)
	exitRec(s.get(t, "b"), now, 1, false)
	a = s.plan(now)
	if len(a.start) != 0 {
		t.Fatalf("restarted %q while terminating", names(a.start))
	}
	if got := names(a.terminate); got != "s2" || names(a.prestop) != "s1" {
		t.Fatalf("then TERM to %q (preStop of %q), want s2, and s1 once s2 is gone", got, names(a.prestop))
	}
	if a := s.plan(now.Add(sec(20))); !a.kill {
		t.Fatal("no kill at the deadline")
	}
	exitRec(s.get(t, "s1"), now.Add(sec(20)), 137, false)
	exitRec(s.get(t, "s2"), now.Add(sec(20)), 137, false)
	s.plan(now.Add(sec(20)))
	if !s.terminal {
		t.Fatal("not terminal")
	}
	st = s.status(now.Add(sec(20)), nil)
	if st.Phase != corev1.PodFailed {
		t.Errorf("phase %s, want Failed (b exited 1)", st.Phase)
	}
	if c := condOf(st, corev1.PodReadyToStartContainers); c.Status != corev1.ConditionFalse {
		t.Errorf("PodReadyToStartContainers %+v, want False", c)
	}
}

func TestTerminationWhileInBackOff(t *testing.T) {
	s := newState(mkPod(corev1.RestartPolicyAlways, nil, ctrSpec("c")), t0)
	c := s.get(t, "c")
	startPlanned(s, t0)
	exitRec(c, t0, 3, false)
	startPlanned(s, t0)
	exitRec(c, t0, 3, false)
	s.plan(t0) // CrashLoopBackOff
	s.beginTermination(t0.Add(sec(1)), "", sec(30))
	a := s.plan(t0.Add(sec(1)))
	if len(a.start) != 0 || !s.terminal {
		t.Fatalf("start=%q terminal=%v, want terminal at once", names(a.start), s.terminal)
	}
	st := s.status(t0.Add(sec(1)), nil)
	if st.Phase != corev1.PodFailed {
		t.Errorf("phase %s, want Failed", st.Phase)
	}
	if cs := statusOf(st, "c"); cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 3 || cs.RestartCount != 1 {
		t.Errorf("container %+v, want Terminated 3 with restartCount 1", cs)
	}
}

func TestActiveDeadlineSeconds(t *testing.T) {
	pod := mkPod(corev1.RestartPolicyAlways, nil, ctrSpec("c"))
	d := int64(60)
	pod.Spec.ActiveDeadlineSeconds = &d
	s := newState(pod, t0)
	startPlanned(s, t0)
	a := s.plan(t0.Add(sec(10)))
	if !a.wake.Equal(t0.Add(sec(60))) {
		t.Fatalf("wake %v, want the deadline at +60s", a.wake)
	}
	now := t0.Add(sec(60))
	a = s.plan(now)
	if !s.terminating || s.termReason != "DeadlineExceeded" || names(a.terminate) != "c" {
		t.Fatalf("terminating=%v reason=%q terminate=%q", s.terminating, s.termReason, names(a.terminate))
	}
	if !s.deadline.Equal(now.Add(sec(30))) {
		t.Errorf("kill deadline %v, want now+grace", s.deadline)
	}
	exitRec(s.get(t, "c"), now.Add(sec(1)), 0, false)
	s.plan(now.Add(sec(1)))
	st := s.status(now.Add(sec(1)), nil)
	if !s.terminal || st.Phase != corev1.PodFailed || st.Reason != "DeadlineExceeded" ||
		st.Message != "Pod was active on the node longer than the specified deadline" {
		t.Fatalf("terminal=%v phase=%s reason=%q message=%q", s.terminal, st.Phase, st.Reason, st.Message)
	}
}

// --- status ------------------------------------------------------------------

func TestContainerStatusReasons(t *testing.T) {
	s := newState(mkPod(corev1.RestartPolicyNever, nil, ctrSpec("ok"), ctrSpec("bad"), ctrSpec("oom"), ctrSpec("run")), t0)
	startPlanned(s, t0)
	exitRec(s.get(t, "ok"), t0.Add(sec(1)), 0, false)
	exitRec(s.get(t, "bad"), t0.Add(sec(2)), 2, false)
	exitRec(s.get(t, "oom"), t0.Add(sec(3)), 137, true)
	st := s.status(t0.Add(sec(3)), nil)
	for _, tc := range []struct {
		name, reason string
		code         int32
	}{{"ok", "Completed", 0}, {"bad", "Error", 2}, {"oom", "OOMKilled", 137}} {
		cs := statusOf(st, tc.name)
		term := cs.State.Terminated
		if term == nil || term.Reason != tc.reason || term.ExitCode != tc.code {
			t.Errorf("%s: state %+v, want Terminated %s %d", tc.name, cs.State, tc.reason, tc.code)
			continue
		}
		if !term.StartedAt.Time.Equal(t0) || term.FinishedAt.Time.Before(t0.Add(sec(1))) {
			t.Errorf("%s: started %v finished %v", tc.name, term.StartedAt, term.FinishedAt)
		}
		if cs.Ready || cs.Started == nil || *cs.Started {
			t.Errorf("%s: ready=%v started=%v, want neither", tc.name, cs.Ready, cs.Started)
		}
	}
	run := statusOf(st, "run")
	if run.State.Running == nil || !run.State.Running.StartedAt.Time.Equal(t0) || !run.Ready || run.Started == nil || !*run.Started {
		t.Errorf("run: %+v, want Running since t0, ready and started", run)
	}
	if st.Phase != corev1.PodRunning {
		t.Errorf("phase %s, want Running", st.Phase)
	}
	if st.StartTime == nil || !st.StartTime.Time.Equal(t0) {
		t.Errorf("startTime %v", st.StartTime)
	}
	if c := condOf(st, corev1.ContainersReady); c.Status != corev1.ConditionFalse || c.Reason != "ContainersNotReady" ||
		c.Message != "containers with unready status: [ok bad oom]" {
		t.Errorf("ContainersReady %+v", c)
	}
	if c := condOf(st, corev1.PodReady); c.Reason != "ContainersNotReady" {
		t.Errorf("Ready %+v", c)
	}
}

func TestRestartCountAndLastState(t *testing.T) {
	s := newState(mkPod(corev1.RestartPolicyAlways, nil, ctrSpec("c")), t0)
	c := s.get(t, "c")
	startPlanned(s, t0)
	exitRec(c, t0.Add(sec(1)), 7, false)
	startPlanned(s, t0.Add(sec(1)))
	cs := statusOf(s.status(t0.Add(sec(1)), nil), "c")
	if cs.RestartCount != 1 || cs.State.Running == nil {
		t.Fatalf("restartCount %d state %+v, want 1 and Running", cs.RestartCount, cs.State)
	}
	if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 7 || lt.Reason != "Error" {
		t.Fatalf("lastState %+v, want Terminated 7 Error", cs.LastTerminationState)
	}
}

func TestConditionTransitionTimesKept(t *testing.T) {
	s := newState(mkPod(corev1.RestartPolicyAlways, nil, ctrSpec("c")), t0)
	startPlanned(s, t0)
	st1 := s.status(t0, nil)
	st2 := s.status(t0.Add(time.Minute), &st1)
	if c := condOf(st2, corev1.PodReady); !c.LastTransitionTime.Time.Equal(t0) {
		t.Errorf("unchanged Ready moved its transition time to %v", c.LastTransitionTime)
	}
	exitRec(s.get(t, "c"), t0.Add(time.Minute), 1, false)
	st3 := s.status(t0.Add(time.Minute), &st2)
	if c := condOf(st3, corev1.PodReady); c.Status != corev1.ConditionFalse || !c.LastTransitionTime.Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("Ready %+v, want False since +1m", c)
	}
}

func TestQOSClass(t *testing.T) {
	rl := func(kv ...string) corev1.ResourceList {
		l := corev1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		return l
	}
	res := func(req, lim corev1.ResourceList) corev1.Container {
		return corev1.Container{Name: "c", Resources: corev1.ResourceRequirements{Requests: req, Limits: lim}}
	}
	cases := []struct {
		name string
		ctrs []corev1.Container
		want corev1.PodQOSClass
	}{
		{"nothing set", []corev1.Container{res(nil, nil)}, corev1.PodQOSBestEffort},
		{"limits equal requests", []corev1.Container{res(rl("cpu", "100m", "memory", "64Mi"), rl("cpu", "100m", "memory", "64Mi"))}, corev1.PodQOSGuaranteed},
		{"limits only", []corev1.Container{res(nil, rl("cpu", "1", "memory", "64Mi"))}, corev1.PodQOSGuaranteed},
		{"memory limit only", []corev1.Container{res(rl("cpu", "10m", "memory", "32Mi"), rl("memory", "64Mi"))}, corev1.PodQOSBurstable},
		{"request below limit", []corev1.Container{res(rl("cpu", "100m", "memory", "32Mi"), rl("cpu", "100m", "memory", "64Mi"))}, corev1.PodQOSBurstable},
		{"one container best effort", []corev1.Container{res(rl("cpu", "1", "memory", "1Gi"), rl("cpu", "1", "memory", "1Gi")), res(nil, nil)}, corev1.PodQOSBurstable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := mkPod(corev1.RestartPolicyAlways, nil, tc.ctrs...)
			if got := newState(pod, t0).status(t0, nil).QOSClass; got != tc.want {
				t.Errorf("QoS %s, want %s", got, tc.want)
			}
		})
	}
}
