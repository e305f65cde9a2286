package pods

// termination_deadline.go lets a running pod's activeDeadlineSeconds change,
// as the API allows (set, or lowered): the kubelet's active deadline
// handler reads the pod's current spec each sync, so the new deadline,
// still counted from the pod's startTime, applies at once.

// SetActiveDeadlineSeconds gives the worker the pod's current
// activeDeadlineSeconds (nil: none). A deadline already past ends the pod
// with DeadlineExceeded at once.
func (w *Worker) SetActiveDeadlineSeconds(d *int64) {
	w.mu.Lock()
	cur := w.state.pod.Spec.ActiveDeadlineSeconds
	w.mu.Unlock()
	if (cur == nil && d == nil) || (cur != nil && d != nil && *cur == *d) {
		return // unchanged: every pod update passes here
	}
	if d != nil {
		v := *d
		d = &v
	}
	for {
		select {
		case w.deadlineCh <- d:
			return
		case <-w.deadlineCh: // a value Run has not taken yet: replace it
		case <-w.done:
			return
		}
	}
}

// setActiveDeadline, in Run, puts d in the pod's spec.
func (w *Worker) setActiveDeadline(d *int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.state.pod.Spec.ActiveDeadlineSeconds = d
	if w.pod != w.state.pod {
		w.pod.Spec.ActiveDeadlineSeconds = d
	}
}
