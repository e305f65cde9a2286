package pods

// termination_order.go: the order in which a terminating pod's containers
// stop, as the kubelet's killContainersWithSyncResult with its
// terminationOrdering: every running container is stopped at once — its
// Killing event ("Stopping container NAME") and its preStop hook start
// together — but a sidecar (an init container with restartPolicy Always)
// gets TERM only in its turn: once no app container runs and no sidecar
// after it in the spec runs (planTermination, lifecycle.go), so sidecars
// stop in reverse order after the app containers, their preStop hooks
// having run meanwhile. All within the pod's grace period: at its deadline
// everything still running is killed.

import (
	"context"

	corev1 "k8s.io/api/core/v1"
)

// deliverTermination acts on the plan's termination: preStop for the
// sidecars in a.prestop, whose TERM waits for their turn; preStop then
// TERM for the containers in a.terminate (for a sidecar already stopping,
// its TERM now).
func (w *Worker) deliverTermination(a actions) {
	for _, c := range a.prestop {
		in := w.insts[c]
		if in == nil || in.termSent {
			continue
		}
		w.ctrEvent(c, corev1.EventTypeNormal, "Killing", "Stopping container "+c.spec.Name)
		in.turn = make(chan struct{})
		w.stopInTurn(c, in, in.turn)
	}
	for _, c := range a.terminate {
		in := w.insts[c]
		switch {
		case in == nil:
		case in.turn != nil:
			close(in.turn) // its preStop ran or runs: TERM once it ends
			in.turn = nil
		case !in.termSent:
			w.ctrEvent(c, corev1.EventTypeNormal, "Killing", "Stopping container "+c.spec.Name)
			w.terminateInstance(c, in) // preStop, then TERM (hooks.go)
		}
	}
}

// stopInTurn runs a sidecar's preStop, within the time left to the pod's
// deadline, and delivers TERM once it has ended and turn is closed (as
// terminateInstance, hooks.go, but for the wait).
func (w *Worker) stopInTurn(c *ctr, in *instance, turn <-chan struct{}) {
	in.termSent = true
	s := w.state
	var h *corev1.LifecycleHandler
	left := s.deadline.Sub(w.clk.Now())
	if lc := c.spec.Lifecycle; lc != nil && lc.PreStop != nil && left > 0 {
		h = lc.PreStop
		if !s.preStopExtended {
			s.preStopExtended = true
			s.deadline = s.deadline.Add(minGraceAfterPreStop)
		}
	}
	go func() {
		if h != nil {
			if r := w.runHook(context.Background(), c, in, "PreStop", h, left); r != nil {
				w.sendProbe(probeMsg{c: c, in: in, hook: r, eventOnly: true})
			}
		}
		select {
		case <-turn:
			in.inst.Terminate()
		case <-in.done(): // killed at the deadline, or exited
		}
	}()
}
