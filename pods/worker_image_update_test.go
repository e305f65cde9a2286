package pods

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// imagePod is a pod of long-running graceful containers named names, with
// images resolved against wasm-examples (go://./graceful, go://./hello...).
func imagePod(t *testing.T, policy corev1.RestartPolicy, names ...string) *corev1.Pod {
	pod := loadPod(t, "graceful")
	pod.Name = "img"
	pod.Spec.RestartPolicy = policy
	pod.Annotations[AnnotationManifestDir] = examplesDir(t)
	tmpl := pod.Spec.Containers[0]
	pod.Spec.Containers = nil
	for _, n := range names {
		c := *tmpl.DeepCopy()
		c.Name, c.Image = n, "go://./graceful"
		pod.Spec.Containers = append(pod.Spec.Containers, c)
	}
	return pod
}

// withImage is pod's spec with container name's image set to img, as the
// API server stores it after `kubectl set image`.
func withImage(pod *corev1.Pod, name, img string) *corev1.Pod {
	p := pod.DeepCopy()
	setContainerImage(p, name, img)
	return p
}

// eventsFrom returns the events from the first one starting with prefix.
func eventsFrom(evs []string, prefix string) []string {
	i := slices.IndexFunc(evs, func(e string) bool { return strings.HasPrefix(e, prefix) })
	if i < 0 {
		return nil
	}
	return evs[i:]
}

// TestWorkerImageChangeRestartsContainer: a changed image of a running
// container stops it (Killing "Container a definition changed, will be
// restarted", TERM, so the graceful guest cleans up) and starts the new
// module (Pulling, Pulled, Created, Started), under restartPolicy Never too,
// as the kubelet restarts a changed container whatever the policy. The
// restart count goes to 1, lastState is the old instance, the status shows
// the new image, and the other container keeps running untouched.
func TestWorkerImageChangeRestartsContainer(t *testing.T) {
	t.Parallel()
	pod := imagePod(t, corev1.RestartPolicyNever, "a", "b")
	h := newHarness(t, pod)
	h.run()
	h.waitLog("a", "ready")
	h.waitLog("b", "ready")
	h.waitFor("Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })

	h.w.SetImages(withImage(pod, "a", "go://./hello"))
	p := h.waitFor("a restarted with hello", func(p *corev1.Pod) bool {
		cs := ctrStatus(p, "a")
		return cs.RestartCount == 1 && cs.State.Terminated != nil
	})
	evs := eventsFrom(h.eventList(), "Normal Killing")
	want := []string{
		"Normal Killing Container a definition changed, will be restarted",
		`Normal Pulling Pulling image "go://./hello"`,
		`Normal Pulled Successfully pulled image "go://./hello"`,
		"Normal Created Created container: a",
		"Normal Started Started container a",
	}
	if len(evs) < len(want) {
		t.Fatalf("events after the change: %q", evs)
	}
	for i, w := range want {
		if !strings.HasPrefix(evs[i], w) {
			t.Errorf("event %d: %q, want %q\nall: %q", i, evs[i], w, evs)
		}
	}
	a := ctrStatus(p, "a")
	if a.Image != "go://./hello" || a.State.Terminated.ExitCode != 0 {
		t.Errorf("a: image %q, %s", a.Image, describe(p))
	}
	if lt := a.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 0 || lt.Reason != "Completed" {
		t.Errorf("a's lastState: %s", describe(p))
	}
	if got := p.Spec.Containers[0].Image; got != "go://./hello" {
		t.Errorf("spec image %q", got)
	}
	b := ctrStatus(p, "b")
	if b.State.Running == nil || b.RestartCount != 0 || b.Image != "go://./graceful" {
		t.Errorf("b was touched: %s", describe(p))
	}
	if p.Status.Phase != corev1.PodRunning {
		t.Errorf("phase: %s", describe(p))
	}
	// The old instance's log and the new one's.
	if old := texts(h.fileLines("a", 0)); !slices.Contains(old, "TERM received, cleaning up") {
		t.Errorf("old instance's log: %q", old)
	}
	if cur := texts(h.fileLines("a", 1)); !slices.Contains(cur, "hello from an unnamed pod") {
		t.Errorf("new instance's log: %q", cur)
	}
	if strings.Count(strings.Join(h.eventList(), "\n"), "Started container b") != 1 {
		t.Errorf("b started again: %q", h.eventList())
	}
}

// TestWorkerImageChangeToMissingImage: a new image that cannot be pulled
// leaves the container waiting in ErrImagePull, then ImagePullBackOff, with
// the old instance as lastState and restartCount 0 (as the kubelet: nothing
// new started); the image set back to a good one starts at once, without
// waiting out the pull back-off.
func TestWorkerImageChangeToMissingImage(t *testing.T) {
	t.Parallel()
	pod := imagePod(t, corev1.RestartPolicyAlways, "a")
	h := newHarness(t, pod)
	h.run()
	h.waitLog("a", "ready")
	h.waitFor("Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })

	h.w.SetImages(withImage(pod, "a", "go://./no-such-guest"))
	p := h.waitFor("ImagePullBackOff", func(p *corev1.Pod) bool { return waiting(p, "a", "ImagePullBackOff") })
	a := ctrStatus(p, "a")
	if a.RestartCount != 0 || a.LastTerminationState.Terminated == nil || a.Image != "go://./no-such-guest" {
		t.Errorf("after the bad image: image %q, %s", a.Image, describe(p))
	}
	if !strings.Contains(a.State.Waiting.Message, `Back-off pulling image "go://./no-such-guest"`) {
		t.Errorf("waiting message: %q", a.State.Waiting.Message)
	}
	if !h.hasEvent(`Warning Failed Failed to build image "go://./no-such-guest"`) && !h.hasEvent(`Warning Failed Failed to pull image "go://./no-such-guest"`) {
		t.Errorf("no Failed event: %q", h.eventList())
	}
	// Fixed: no clock step needed, the pull back-off was for the bad image.
	h.w.SetImages(withImage(pod, "a", "go://./graceful"))
	p = h.waitFor("a running again", func(p *corev1.Pod) bool {
		cs := ctrStatus(p, "a")
		return cs.State.Running != nil && cs.RestartCount == 1
	})
	if a := ctrStatus(p, "a"); a.Image != "go://./graceful" {
		t.Errorf("image %q", a.Image)
	}
}

// TestWorkerImageChangeInitContainer: changing a completed init
// container's image on a running pod does not run it again (the kubelet
// only restarts changed app containers and sidecars); the spec records it.
// A sidecar's change restarts it with the kubelet's "Init container NAME
// definition changed" message.
func TestWorkerImageChangeInitContainer(t *testing.T) {
	t.Parallel()
	pod := imagePod(t, corev1.RestartPolicyAlways, "a")
	always := corev1.ContainerRestartPolicyAlways
	pod.Spec.InitContainers = []corev1.Container{
		{Name: "init", Image: "go://./hello"},
		{Name: "side", Image: "go://./graceful", RestartPolicy: &always},
	}
	h := newHarness(t, pod)
	h.run()
	h.waitLog("a", "ready")
	h.waitFor("Running", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && ctrStatus(p, "side").State.Running != nil
	})
	n := len(h.eventList())

	upd := withImage(pod, "init", "go://./crash")
	upd = withImage(upd, "side", "go://./hello")
	h.w.SetImages(upd)
	p := h.waitFor("side restarted", func(p *corev1.Pod) bool { return ctrStatus(p, "side").RestartCount == 1 })
	evs := h.eventList()[n:]
	if len(evs) == 0 || evs[0] != "Normal Killing Init container side definition changed" {
		t.Errorf("events after the change: %q", evs)
	}
	for _, e := range evs {
		if strings.Contains(e, "container init") || strings.Contains(e, "go://./crash") {
			t.Errorf("the init container ran again: %q", evs)
		}
	}
	init := statusOf(p.Status, "init")
	if init.RestartCount != 0 || init.State.Terminated == nil || init.State.Terminated.Reason != "Completed" || init.Image != "go://./hello" {
		t.Errorf("init: image %q, %s", init.Image, describe(p))
	}
	if got := p.Spec.InitContainers[0].Image; got != "go://./crash" {
		t.Errorf("spec image of init: %q", got)
	}
	if a := ctrStatus(p, "a"); a.State.Running == nil || a.RestartCount != 0 {
		t.Errorf("a was touched: %s", describe(p))
	}
}

// TestWorkerImageUnchangedNoop: a pod update with the same images (every
// update passes through SetImages) restarts nothing.
func TestWorkerImageUnchangedNoop(t *testing.T) {
	t.Parallel()
	pod := imagePod(t, corev1.RestartPolicyAlways, "a")
	h := newHarness(t, pod)
	h.run()
	h.waitLog("a", "ready")
	h.waitFor("Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	h.w.SetImages(pod.DeepCopy())
	if len(h.w.imageCh) != 0 {
		t.Fatal("an unchanged image was sent to Run")
	}
	if h.hasEvent("Normal Killing") {
		t.Errorf("events: %q", h.eventList())
	}
}

// TestWorkerImageChangedBeforeStart: an image changed while the pod is
// still being set up (before any container started) is the one started:
// nothing is killed and the old image is never pulled.
func TestWorkerImageChangedBeforeStart(t *testing.T) {
	t.Parallel()
	pod := imagePod(t, corev1.RestartPolicyNever, "a")
	h := newHarness(t, pod)
	h.w.SetImages(withImage(pod, "a", "go://./hello"))
	h.run()
	p := h.waitFor("a done", func(p *corev1.Pod) bool { return ctrStatus(p, "a").State.Terminated != nil })
	if a := ctrStatus(p, "a"); a.RestartCount != 0 || a.Image != "go://./hello" {
		t.Errorf("a: image %q, %s", a.Image, describe(p))
	}
	for _, e := range h.eventList() {
		if strings.Contains(e, "Killing") || strings.Contains(e, "go://./graceful") {
			t.Errorf("events: %q", h.eventList())
			break
		}
	}
}

// TestWorkerImageChangeNeverPolicyPullFails: under restartPolicy Never, a
// lone container restarted for a new image that cannot be pulled leaves
// the pod Failed (the kubelet's getPhase: a waiting container with a last
// termination is stopped, not succeeded), and, as the kubelet does with a
// terminal pod, the worker ends it rather than retrying the pull.
func TestWorkerImageChangeNeverPolicyPullFails(t *testing.T) {
	t.Parallel()
	pod := imagePod(t, corev1.RestartPolicyNever, "a")
	h := newHarness(t, pod)
	h.run()
	h.waitLog("a", "ready")
	h.waitFor("Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	h.w.SetImages(withImage(pod, "a", "go://./no-such-guest"))
	p := h.waitDone()
	if p.Status.Phase != corev1.PodFailed {
		t.Fatalf("status: %s", describe(p))
	}
	for _, q := range h.history() {
		if q.Status.Phase == corev1.PodFailed {
			break
		}
		if q.Status.Phase != corev1.PodRunning && q.Status.Phase != corev1.PodPending {
			t.Errorf("phase %s before Failed", q.Status.Phase)
		}
	}
	if !h.hasEvent("Normal Killing Container a definition changed, will be restarted") {
		t.Errorf("events: %q", h.eventList())
	}
}

// TestWorkerImageChangeDuringExec: execs keep resolving their command (which
// reads the container's image) while a live image change rewrites it. Under
// -race it guards Exec's read of the image under the worker's lock; the
// unlocked read it replaced raced only in a narrow window, which this test
// does not reliably hit.
func TestWorkerImageChangeDuringExec(t *testing.T) {
	t.Parallel()
	pod := imagePod(t, corev1.RestartPolicyAlways, "a")
	h := newHarness(t, pod)
	h.run()
	h.waitLog("a", "ready")
	h.waitFor("Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				done <- n
				return
			default:
			}
			// Neither the module nor an applet: resolved, then 127.
			if code, err := h.w.Exec(t.Context(), "a", []string{"no-such-program"}, nil, nil, nil); err == nil && code == 127 {
				n++
			}
		}
	}()
	h.w.SetImages(withImage(pod, "a", "go://./hello"))
	h.waitFor("a restarted", func(p *corev1.Pod) bool { return ctrStatus(p, "a").RestartCount >= 1 })
	close(stop)
	if n := <-done; n == 0 {
		t.Fatal("no exec was resolved while the image changed")
	}
}
