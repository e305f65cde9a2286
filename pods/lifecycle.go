package pods

// The pod lifecycle state machine. Everything in this file is pure: it reads
// the pod spec, the per-container records and the time, and decides what to
// do next and what status to report. The worker (worker.go) does the I/O.
//
// One container:
//
//	          start ok                 exit (code, reason)
//	Waiting ──────────────► Running ─────────────────────► Terminated
//	(ContainerCreating,        ▲                               │
//	 PodInitializing,          │ back-off expired              │ restart policy
//	 ErrImagePull,             │                               │ says restart
//	 ImagePullBackOff,         └── Waiting(CrashLoopBackOff) ◄─┘
//	 CreateContainerError)
//
// The first restart of a container is immediate; later ones wait 10 s,
// doubling up to 300 s, counted from the exit; a container that ran for
// 10 minutes since its last restart starts over at 10 s (the kubelet's
// flowcontrol.Backoff semantics).
//
// One pod:
//
//	Pending ──(init containers one at a time, in order; sidecars
//	   │       — init containers with restartPolicy Always — start and stay)
//	   ▼
//	Running ──(all app containers exited and none will restart)──► Succeeded | Failed
//	   │
//	   └──(terminate: deletion, activeDeadlineSeconds, Ctrl-C)
//	        TERM to app containers, then to sidecars once the app
//	        containers are gone; KILL (exit 137) at the grace deadline ──► Succeeded | Failed
//
// A failed init container fails the pod under restartPolicy Never and is
// retried with back-off otherwise.

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Back-off parameters, as the kubelet's.
const (
	backoffInitial = 10 * time.Second
	backoffMax     = 300 * time.Second
)

type kind int

const (
	kindInit kind = iota
	kindSidecar
	kindApp
)

// backoff mirrors k8s.io/client-go/util/flowcontrol.Backoff for one key.
type backoff struct {
	set        bool
	delay      time.Duration
	lastUpdate time.Time
}

func (b *backoff) expired(eventTime time.Time) bool {
	return eventTime.Sub(b.lastUpdate) > 2*backoffMax
}

// inBackoffSince reports whether a restart must still wait, and until when.
func (b *backoff) inBackoffSince(now, eventTime time.Time) (bool, time.Time) {
	if !b.set || b.expired(eventTime) {
		return false, time.Time{}
	}
	until := eventTime.Add(b.delay)
	return now.Before(until), until
}

func (b *backoff) next(now, eventTime time.Time) {
	if !b.set || b.expired(eventTime) {
		b.delay = backoffInitial
	} else {
		b.delay = min(2*b.delay, backoffMax)
	}
	b.set = true
	b.lastUpdate = now
}

// ctr is the worker's record of one container.
type ctr struct {
	spec *corev1.Container
	kind kind

	image   string // resolved digest, set once the image is resolved
	running bool
	started time.Time
	// exited is the latest instance's termination; nil while running or
	// before the first start.
	exited *corev1.ContainerStateTerminated
	// last is the termination before the current instance (lastState).
	last     *corev1.ContainerStateTerminated
	restarts int32
	ever     bool // started at least once

	// Waiting state while not running.
	waitReason, waitMessage string
	// Back-off for restarts after exits, and for failed starts.
	crash, pull backoff
	retryAt     time.Time // earliest retry after a failed start
	containerID string
	// restored: the instance was lost in a node reboot and the container
	// waits to start again; it reports Waiting with exited as lastState.
	restored bool
	// probe is the running instance's probe state (probe.go).
	probe probeStatus
	// respawn: the running instance was stopped because its image changed
	// (Worker.SetImages): it starts again whatever the restartPolicy.
	respawn bool
	// runImage is the image the running instance was started from; the
	// status reports it, as the kubelet reports the runtime's image.
	runImage string
}

// podState is everything the pure functions decide on.
type podState struct {
	pod  *corev1.Pod
	ctrs []*ctr // init and sidecar containers in spec order, then app containers

	startTime   time.Time
	initialized bool

	terminating bool
	termReason  string // DeadlineExceeded, or "" for deletion/stop
	deadline    time.Time
	// terminal: nothing runs and nothing will start again.
	terminal bool
	// sandboxReady: the pod's sandbox (network namespace, hostPorts)
	// exists, so containers can start: PodReadyToStartContainers, which is
	// False before it is created (a sandbox that cannot be created keeps
	// it False) and after the pod is terminal, as the kubelet reports it.
	sandboxReady bool
	// preStopExtended: the deadline got its preStop extension (hooks.go).
	preStopExtended bool
}

func newPodState(pod *corev1.Pod) *podState {
	s := &podState{pod: pod}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		k := kindInit
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			k = kindSidecar
		}
		s.ctrs = append(s.ctrs, &ctr{spec: c, kind: k, waitReason: "PodInitializing"})
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		reason := "ContainerCreating"
		if len(pod.Spec.InitContainers) > 0 {
			reason = "PodInitializing"
		}
		s.ctrs = append(s.ctrs, &ctr{spec: c, kind: kindApp, waitReason: reason})
	}
	if len(pod.Spec.InitContainers) > 0 {
		s.ctrs[0].waitReason = "ContainerCreating"
	}
	return s
}

func (s *podState) policy() corev1.RestartPolicy {
	if s.pod.Spec.RestartPolicy == "" {
		return corev1.RestartPolicyAlways
	}
	return s.pod.Spec.RestartPolicy
}

// wantsRestart reports whether an exited container should run again.
func (s *podState) wantsRestart(c *ctr) bool {
	if c.exited == nil {
		return false
	}
	if c.respawn {
		return true // its definition changed (Worker.SetImages)
	}
	switch c.kind {
	case kindSidecar:
		return true
	case kindInit:
		return c.exited.ExitCode != 0 && s.policy() != corev1.RestartPolicyNever
	}
	switch s.policy() {
	case corev1.RestartPolicyAlways:
		return true
	case corev1.RestartPolicyOnFailure:
		return c.exited.ExitCode != 0
	}
	return false
}

// actions is what the worker must do now.
type actions struct {
	start     []*ctr // start (or restart) these, in order
	terminate []*ctr // deliver TERM to these (running) containers
	kill      bool   // kill everything still running
	wake      time.Time

	// prestop: running sidecars whose turn for TERM has not come (an app
	// container or a later sidecar still runs): their preStop runs now
	// (termination_order.go).
	prestop []*ctr
}

func (a *actions) wakeAt(t time.Time) {
	if !t.IsZero() && (a.wake.IsZero() || t.Before(a.wake)) {
		a.wake = t
	}
}

// plan decides the next actions. It updates the waiting reasons of
// containers held back by back-off, and marks the pod initialized or
// terminal; it starts and stops nothing itself.
func (s *podState) plan(now time.Time) actions {
	var a actions
	if s.terminal {
		return a
	}
	if !s.terminating {
		if d := s.pod.Spec.ActiveDeadlineSeconds; d != nil && !s.startTime.IsZero() {
			dl := s.startTime.Add(time.Duration(*d) * time.Second)
			if !now.Before(dl) {
				s.beginTermination(now, "DeadlineExceeded", s.gracePeriod())
			} else {
				a.wakeAt(dl)
			}
		}
	}
	if s.terminating {
		return s.planTermination(now)
	}

	// Init containers, one at a time, in order.
	if !s.initialized {
		done := true
		for _, c := range s.ctrs {
			if c.kind == kindApp {
				break
			}
			if c.running {
				if c.kind == kindSidecar {
					continue // started: the next init container may go
				}
				done = false
				break
			}
			if c.exited != nil && c.kind == kindInit && c.exited.ExitCode == 0 {
				continue
			}
			if c.exited != nil && !s.wantsRestart(c) {
				// A regular init container failed under restartPolicy Never.
				s.beginTermination(now, "", s.gracePeriod())
				return s.planTermination(now)
			}
			s.maybeStart(c, now, &a)
			done = false
			break
		}
		if !done {
			return a
		}
		s.initialized = true
	}

	// Sidecars keep running; app containers start together.
	live := false
	for _, c := range s.ctrs {
		switch {
		case c.running:
			if c.kind == kindApp {
				live = true
			}
		case c.kind == kindInit:
		case !c.ever, s.wantsRestart(c):
			if c.kind == kindApp {
				live = true
			}
			s.maybeStart(c, now, &a)
		}
	}
	if !live {
		// Every app container has exited for good: stop the sidecars.
		s.beginTermination(now, "", s.gracePeriod())
		return s.planTermination(now)
	}
	return a
}

// maybeStart queues c for start unless back-off holds it.
func (s *podState) maybeStart(c *ctr, now time.Time, a *actions) {
	if !c.retryAt.IsZero() && now.Before(c.retryAt) {
		if c.waitReason == "ErrImagePull" {
			// As the kubelet's image manager: between pull attempts the
			// container waits in ImagePullBackOff.
			c.waitReason = "ImagePullBackOff"
			// As since Kubernetes 1.32, the message keeps the failed
			// pull's, so the cause (a build's output) stays visible.
			c.waitMessage = fmt.Sprintf("Back-off pulling image %q: ErrImagePull: %s", c.spec.Image, c.waitMessage)
		}
		a.wakeAt(c.retryAt)
		return
	}
	if c.exited != nil {
		if hold, until := c.crash.inBackoffSince(now, c.exited.FinishedAt.Time); hold {
			c.waitReason = "CrashLoopBackOff"
			c.waitMessage = fmt.Sprintf("back-off %s restarting failed container=%s pod=%s",
				c.crash.delay, c.spec.Name, podRef(s.pod))
			a.wakeAt(until)
			return
		}
	}
	a.start = append(a.start, c)
}

// gracePeriod is the pod's terminationGracePeriodSeconds (default 30 s).
func (s *podState) gracePeriod() time.Duration {
	if g := s.pod.Spec.TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return 30 * time.Second
}

// beginTermination starts the pod's termination with the given grace. A
// later call may only shorten the deadline, as a second deletion with a
// smaller grace period does upstream.
func (s *podState) beginTermination(now time.Time, reason string, grace time.Duration) {
	dl := now.Add(grace)
	if s.terminating {
		if dl.Before(s.deadline) {
			s.deadline = dl
		}
		return
	}
	s.terminating = true
	s.termReason = reason
	s.deadline = dl
}

// planTermination: TERM the app and init containers, then the sidecars in
// reverse order, each once no app container and no later sidecar runs
// (their preStop hooks run from the start, as upstream's killContainer
// runs a sidecar's preStop before it waits for its turn); kill all at the
// deadline.
func (s *podState) planTermination(now time.Time) actions {
	var a actions
	anyRunning, appRunning := false, false
	for _, c := range s.ctrs {
		if c.running {
			anyRunning = true
			if c.kind != kindSidecar {
				appRunning = true
			}
		}
	}
	if !anyRunning {
		s.terminal = true
		return a
	}
	if !now.Before(s.deadline) {
		a.kill = true
		return a
	}
	laterSidecar := false
	for i := len(s.ctrs) - 1; i >= 0; i-- {
		c := s.ctrs[i]
		switch {
		case !c.running:
		case c.kind != kindSidecar:
			a.terminate = append(a.terminate, c)
		case appRunning || laterSidecar:
			a.prestop = append(a.prestop, c)
			laterSidecar = true
		default:
			a.terminate = append(a.terminate, c)
			laterSidecar = true
		}
	}
	a.wakeAt(s.deadline)
	return a
}

// --- restore after a node reboot ------------------------------------------

// Messages for instances lost in a node reboot. The first is the kubelet's
// (convertToAPIContainerStatuses) for a container that was Running and will
// start again; the second the kubelet's for a container reported lost when
// the pod ends.
const (
	msgLostRestart  = "The container could not be located when the pod was deleted.  The container used to be Running"
	msgLostTerminal = "The container could not be located when the pod was terminated"
)

// restore rebuilds the records from the status the pod had when the node
// stopped (wasmpod stopped or was killed): every instance is gone, as after
// a reboot. It reports false when prev has no container statuses (the pod
// never got going; it starts afresh).
//
// Under restartPolicy Always and OnFailure the pod starts again as the
// kubelet restarts it after a reboot: init containers and sidecars run again
// and app containers that restartPolicy allows start again, each with
// restartCount + 1 and the lost instance as lastState (a Running one as
// ContainerStatusUnknown, exit 137). Under Never, or when the pod is being
// deleted, nothing starts again: Running containers are reported
// Terminated (ContainerStatusUnknown, 137) and the pod ends.
func (s *podState) restore(prev *corev1.PodStatus, now time.Time) bool {
	if len(prev.ContainerStatuses) == 0 && len(prev.InitContainerStatuses) == 0 {
		return false
	}
	if prev.StartTime != nil {
		s.startTime = prev.StartTime.Time
	}
	byName := map[string]corev1.ContainerStatus{}
	for _, cs := range append(append([]corev1.ContainerStatus{}, prev.InitContainerStatuses...), prev.ContainerStatuses...) {
		byName[cs.Name] = cs
	}
	final := s.policy() == corev1.RestartPolicyNever || s.pod.DeletionTimestamp != nil
	appRan := false
	for _, c := range s.ctrs {
		cs, ok := byName[c.spec.Name]
		if !ok {
			continue
		}
		c.image, c.containerID, c.restarts = cs.ImageID, cs.ContainerID, cs.RestartCount
		if t := cs.LastTerminationState.Terminated; t != nil {
			c.last = t.DeepCopy()
		}
		var end *corev1.ContainerStateTerminated // how the latest instance ended
		switch {
		case cs.State.Running != nil:
			msg := msgLostRestart
			if final {
				msg = msgLostTerminal
			}
			end = &corev1.ContainerStateTerminated{
				ExitCode: 137, Reason: "ContainerStatusUnknown", Message: msg,
				StartedAt: cs.State.Running.StartedAt, ContainerID: cs.ContainerID,
			}
		case cs.State.Terminated != nil:
			end = cs.State.Terminated.DeepCopy()
		case cs.State.Waiting != nil && cs.LastTerminationState.Terminated != nil:
			// Waiting to restart (CrashLoopBackOff): the exited instance is
			// the one reported as lastState.
			end, c.last = cs.LastTerminationState.Terminated.DeepCopy(), nil
		default:
			continue // never ran
		}
		c.ever = true
		if c.kind == kindApp {
			appRan = true
		}
		switch {
		case final || c.kind == kindApp:
			c.exited = end
			if !final && s.wantsRestart(c) {
				c.restored = true
			}
		default:
			// Init containers and sidecars run again, as a new instance.
			c.restarts++
			c.last, c.exited = end, nil
		}
	}
	if final {
		// Whatever ran has ended; nothing starts again.
		if appRan {
			s.initialized = true
		}
		if s.pod.DeletionTimestamp != nil {
			s.terminating, s.deadline = true, now
		}
	}
	return true
}

// --- status --------------------------------------------------------------

func podRef(p *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", p.Name, p.Namespace, p.UID)
}

func (c *ctr) status(now time.Time, terminal bool) corev1.ContainerStatus {
	st := corev1.ContainerStatus{
		Name:         c.spec.Name,
		Image:        c.spec.Image,
		ImageID:      c.image,
		RestartCount: c.restarts,
		ContainerID:  c.containerID,
	}
	if c.last != nil {
		st.LastTerminationState.Terminated = c.last.DeepCopy()
	}
	if c.runImage != "" && (c.running || (c.exited != nil && c.waitReason == "")) {
		// The instance's own image, as the kubelet reports the runtime's,
		// until it is started again with a changed one (Worker.SetImages).
		st.Image = c.runImage
	}
	f := false
	st.Started = &f
	switch {
	case c.running:
		t := c.probe.isStarted()
		st.Started = &t
		st.Ready = c.probe.isReady()
		st.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(c.started)}
	case c.exited != nil && c.restored && !terminal:
		st.State.Waiting = &corev1.ContainerStateWaiting{Reason: c.waitReason, Message: c.waitMessage}
		st.LastTerminationState.Terminated = c.exited.DeepCopy()
	case c.exited != nil && (terminal || c.waitReason == ""):
		st.State.Terminated = c.exited.DeepCopy()
	case c.exited != nil:
		st.State.Waiting = &corev1.ContainerStateWaiting{Reason: c.waitReason, Message: c.waitMessage}
		st.LastTerminationState.Terminated = c.exited.DeepCopy()
	case terminal:
		st.State.Terminated = &corev1.ContainerStateTerminated{
			ExitCode: 137, Reason: "ContainerStatusUnknown",
			Message: "The container could not be located when the pod was terminated",
		}
	default:
		st.State.Waiting = &corev1.ContainerStateWaiting{Reason: c.waitReason, Message: c.waitMessage}
	}
	// An init container that completed is ready, as the kubelet's prober
	// manager reports it (UpdatePodStatus); sidecars are probed above.
	if c.kind == kindInit && st.State.Terminated != nil && st.State.Terminated.ExitCode == 0 {
		st.Ready = true
	}
	return st
}

// phase is the kubelet's getPhase over the reported container statuses
// (pkg/kubelet/kubelet_pods.go): sidecars (restartable init containers)
// count as running containers, and once the pod has initialized a
// restarting sidecar does not put it back to Pending.
func phase(spec *corev1.PodSpec, init, app []corev1.ContainerStatus, podIsTerminal, podHasInitialized bool) corev1.PodPhase {
	pendingRegularInit, pendingSidecars, failedInit := 0, 0, 0
	unknown, running, waiting, stopped, succeeded := 0, 0, 0, 0, 0
	for i, cs := range init {
		c := spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			switch {
			case cs.State.Running != nil:
				if cs.Started == nil || !*cs.Started {
					pendingSidecars++
				}
				running++
			case cs.State.Terminated != nil:
			case cs.State.Waiting != nil:
				if cs.LastTerminationState.Terminated == nil {
					pendingSidecars++
					waiting++
				}
			default:
				pendingSidecars++
				unknown++
			}
			continue
		}
		switch {
		case cs.State.Running != nil:
			pendingRegularInit++
		case cs.State.Terminated != nil:
			if cs.State.Terminated.ExitCode != 0 {
				failedInit++
			}
		case cs.State.Waiting != nil:
			if t := cs.LastTerminationState.Terminated; t != nil {
				if t.ExitCode != 0 {
					failedInit++
				}
			} else {
				pendingRegularInit++
			}
		default:
			pendingRegularInit++
		}
	}
	for _, cs := range app {
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			stopped++
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case cs.State.Waiting != nil:
			if cs.LastTerminationState.Terminated != nil {
				stopped++
			} else {
				waiting++
			}
		default:
			unknown++
		}
	}
	if failedInit > 0 && spec.RestartPolicy == corev1.RestartPolicyNever {
		return corev1.PodFailed
	}
	switch {
	case pendingRegularInit > 0 || (pendingSidecars > 0 && !podHasInitialized), waiting > 0:
		return corev1.PodPending
	case running > 0 && unknown == 0:
		return corev1.PodRunning
	case running == 0 && stopped > 0 && unknown == 0:
		if podIsTerminal {
			if stopped == succeeded {
				return corev1.PodSucceeded
			}
			return corev1.PodFailed
		}
		if spec.RestartPolicy == corev1.RestartPolicyAlways {
			return corev1.PodRunning
		}
		if stopped == succeeded {
			return corev1.PodSucceeded
		}
		if spec.RestartPolicy == corev1.RestartPolicyNever {
			return corev1.PodFailed
		}
		return corev1.PodRunning
	}
	return corev1.PodPending
}

// status computes the pod's status from the records.
func (s *podState) status(now time.Time, prev *corev1.PodStatus) corev1.PodStatus {
	var st corev1.PodStatus
	if prev != nil {
		st.PodIP, st.PodIPs, st.HostIP, st.HostIPs = prev.PodIP, prev.PodIPs, prev.HostIP, prev.HostIPs
	}
	if !s.startTime.IsZero() {
		t := metav1.NewTime(s.startTime)
		st.StartTime = &t
	}
	st.QOSClass = qosClass(&s.pod.Spec)
	for _, c := range s.ctrs {
		// As the kubelet's TerminatePod: containers that never ran are
		// reported lost only once the pod has initialized.
		cs := c.status(now, s.terminal && s.initialized && c.kind == kindApp)
		if c.kind == kindApp {
			st.ContainerStatuses = append(st.ContainerStatuses, cs)
		} else {
			st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
		}
	}
	st.Phase = phase(&s.pod.Spec, st.InitContainerStatuses, st.ContainerStatuses, s.terminal, s.initialized)
	if s.terminal && st.Phase != corev1.PodSucceeded && st.Phase != corev1.PodFailed {
		st.Phase = corev1.PodFailed
	}
	if prev != nil && (prev.Phase == corev1.PodSucceeded || prev.Phase == corev1.PodFailed) {
		st.Phase = prev.Phase // as the kubelet's status manager: a terminal phase is final
	}
	if s.termReason == "DeadlineExceeded" {
		st.Phase = corev1.PodFailed
		st.Reason = "DeadlineExceeded"
		st.Message = "Pod was active on the node longer than the specified deadline"
	}
	st.Conditions = s.conditions(now, &st, prev)
	return st
}

func (s *podState) conditions(now time.Time, st *corev1.PodStatus, prev *corev1.PodStatus) []corev1.PodCondition {
	done := st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed
	cond := func(t corev1.PodConditionType, ok bool, reason, msg string) corev1.PodCondition {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, Reason: reason, Message: msg}
		if ok {
			c.Status = corev1.ConditionTrue
			c.Reason, c.Message = "", ""
		}
		c.LastTransitionTime = metav1.NewTime(now)
		if prev != nil {
			for _, p := range prev.Conditions {
				if p.Type == t && p.Status == c.Status {
					c.LastTransitionTime = p.LastTransitionTime
				}
			}
		}
		return c
	}
	var notInit, notReady []string
	for _, c := range s.ctrs {
		switch c.kind {
		case kindInit:
			if !s.initialized && !(c.exited != nil && c.exited.ExitCode == 0) {
				notInit = append(notInit, c.spec.Name)
			}
		case kindSidecar:
			if !s.initialized && !c.running {
				notInit = append(notInit, c.spec.Name)
			}
			if !c.running || !c.probe.isReady() {
				notReady = append(notReady, c.spec.Name)
			}
		case kindApp:
			if !c.running || !c.probe.isReady() {
				notReady = append(notReady, c.spec.Name)
			}
		}
	}
	list := func(names []string) string { return "[" + strings.Join(names, " ") + "]" } // spec order, as upstream
	initOK := s.initialized || len(notInit) == 0
	initCond := cond(corev1.PodInitialized, initOK, "ContainersNotInitialized", "containers with incomplete status: "+list(notInit))
	readyOK := len(notReady) == 0 && !done && !s.terminating
	readyReason, readyMsg := "ContainersNotReady", "containers with unready status: "+list(notReady)
	if done {
		readyReason, readyMsg = "PodCompleted", ""
		if st.Phase == corev1.PodFailed {
			readyReason = "PodFailed"
		}
		if initCond.Status == corev1.ConditionTrue && st.Phase == corev1.PodSucceeded {
			initCond.Reason = "PodCompleted"
		}
	}
	return []corev1.PodCondition{
		cond(corev1.PodReadyToStartContainers, s.sandboxReady && !s.terminal, "", ""),
		initCond,
		cond(corev1.PodReady, readyOK, readyReason, readyMsg),
		cond(corev1.ContainersReady, readyOK, readyReason, readyMsg),
		cond(corev1.PodScheduled, true, "", ""),
	}
}

// qosClass is the upstream QoS classification, over limits and requests.
func qosClass(spec *corev1.PodSpec) corev1.PodQOSClass {
	all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	anySet, guaranteed := false, true
	for _, c := range all {
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[r]
			lim, hasLim := c.Resources.Limits[r]
			if hasReq || hasLim {
				anySet = true
			}
			if !hasLim || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !anySet:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}
