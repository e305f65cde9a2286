package pods

// Lifecycle hooks, as the kubelet's (pkg/kubelet/lifecycle/handlers.go and
// kuberuntime's startContainer/killContainer):
//
//   - postStart runs once the container's Running status is published; its
//     probes start after it. A failing postStart records
//     FailedPostStartHook and kills the container, which restartPolicy then
//     restarts.
//   - preStop runs before TERM, within the grace period (the delete call's,
//     else the probe-level terminationGracePeriodSeconds for a probe kill,
//     else the pod's). TERM follows when it ends; a preStop that uses up
//     the grace period is cut off and the container gets
//     minGraceAfterPreStop more before the kill, as upstream's
//     minimumGracePeriodInSeconds.
//
// Handlers: exec (in the container's sandbox, as exec), httpGet (as the
// HTTP probe) and sleep.

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// minGraceAfterPreStop is upstream's minimumGracePeriodInSeconds.
const minGraceAfterPreStop = 2 * time.Second

// hookResult is a failed hook: name is PostStart or PreStop, msg the
// handler runner's message (upstream's handlers.go: "Exec lifecycle hook
// ([cmd]) for Container "c" in Pod "p_ns(uid)" failed - error: ...,
// message: ...", "HTTP lifecycle hook (/path) ... failed - error: ...",
// "Sleep lifecycle hook (N) ... failed - error: ..."). As the kubelet, the
// Event does not carry msg, only "PostStartHook failed" or "PreStopHook
// failed", so that a secret the hook printed does not leak into Events.
type hookResult struct {
	name string // PostStart or PreStop
	msg  string
}

// event is the failed hook's Event message.
func (r *hookResult) event() string { return r.name + "Hook failed" }

// runHook runs a hook handler; timeout 0 means no limit but ctx. It
// returns nil on success. As upstream, an exec handler's error for a
// non-zero exit is the CRI's "command 'CMD' exited with N: STDERR" and
// its message stdout then stderr; a command that is not found exits 127
// with the runtime's message (exec.go). A preStop cut off by its grace
// period fails only when it is an exec (its command is killed with the
// container, as upstream's); a sleep or httpGet cut off is no failure
// (upstream leaves it running and only logs it).
func (w *Worker) runHook(ctx context.Context, c *ctr, in *instance, name string, h *corev1.LifecycleHandler, timeout time.Duration) *hookResult {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	// The hook ends with the instance.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-in.done():
			cancel()
		case <-ctx.Done():
		}
	}()
	pod := podRef(w.state.pod)
	switch {
	case h.Exec != nil:
		var stdout, stderr limitedBuffer
		code, err := w.Exec(ctx, c.spec.Name, h.Exec.Command, strings.NewReader(""), &stdout, &stderr)
		if err == nil && code != 0 {
			err = fmt.Errorf("command '%s' exited with %d: %s", strings.Join(h.Exec.Command, " "), code, stderr.String())
		}
		if err != nil {
			return &hookResult{name: name, msg: fmt.Sprintf("Exec lifecycle hook (%v) for Container %q in Pod %q failed - error: %v, message: %q",
				h.Exec.Command, c.spec.Name, pod, err, stdout.String()+stderr.String())}
		}
	case h.HTTPGet != nil:
		ok, _, out := w.httpProbe(ctx, c, h.HTTPGet)
		if !ok && !(name == "PreStop" && ctx.Err() != nil) {
			return &hookResult{name: name, msg: fmt.Sprintf("HTTP lifecycle hook (%s) for Container %q in Pod %q failed - error: %v",
				h.HTTPGet.Path, c.spec.Name, pod, out)}
		}
	case h.Sleep != nil:
		t := w.clk.NewTimer(time.Duration(h.Sleep.Seconds) * time.Second)
		defer t.Stop()
		select {
		case <-t.C():
		case <-ctx.Done():
			if name == "PostStart" {
				// The container ended first (upstream's runSleepHandler).
				return &hookResult{name: name, msg: fmt.Sprintf("Sleep lifecycle hook (%d) for Container %q in Pod %q failed - error: container terminated before sleep hook finished",
					h.Sleep.Seconds, c.spec.Name, pod)}
			}
		}
	case h.TCPSocket != nil:
		// Deprecated upstream and never run by the kubelet: it only warns.
		w.ctrEvent(c, corev1.EventTypeWarning, "Failed"+name+"Hook", fmt.Sprintf("TCPSocket lifecycle hook for Container %q in Pod %q is deprecated and is not run", c.spec.Name, pod))
	}
	return nil
}

// onHookFailure handles a failed postStart on the worker's goroutine, as
// the kubelet's startContainer: the FailedPostStartHook event ("PostStartHook
// failed"), then the container is stopped as killContainer does, with a
// Killing event whose message is "FailedPostStartHook".
func (w *Worker) onHookFailure(c *ctr, in *instance, r *hookResult) {
	w.ctrEvent(c, corev1.EventTypeWarning, "Failed"+r.name+"Hook", r.event())
	w.ctrEvent(c, corev1.EventTypeNormal, "Killing", "FailedPostStartHook")
	c.probe.hold = true
	// As upstream's killContainer for reasonFailedPostStartHook: preStop,
	// then TERM, with the pod's grace period.
	w.stopInstance(c, in, w.state.gracePeriod())
}

// terminateInstance delivers the pod's termination to one running
// instance: its preStop first, when it has one, within the time left to
// the pod's deadline, then TERM. The deadline moves out by
// minGraceAfterPreStop so a preStop that uses up the grace period still
// leaves the container that long after TERM.
func (w *Worker) terminateInstance(c *ctr, in *instance) {
	in.termSent = true
	h := c.spec.Lifecycle
	if h == nil || h.PreStop == nil {
		in.inst.Terminate()
		return
	}
	s := w.state
	left := s.deadline.Sub(w.clk.Now())
	if left <= 0 {
		in.inst.Terminate()
		return
	}
	if !s.preStopExtended {
		s.preStopExtended = true
		s.deadline = s.deadline.Add(minGraceAfterPreStop)
	}
	go func() {
		if r := w.runHook(context.Background(), c, in, "PreStop", h.PreStop, left); r != nil {
			w.sendProbe(probeMsg{c: c, in: in, hook: r, eventOnly: true})
		}
		in.inst.Terminate()
	}()
}
