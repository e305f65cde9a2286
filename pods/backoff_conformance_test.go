package pods

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Upstream's two slow crash back-off behaviours (test/e2e/common/node/
// pods.go), on the worker with real guests and the harness's fake clock:
// upstream needs 7 and 27 minutes of real time.

// crashLoop drives container a of h's pod through crash back-off: each
// round waits for restart count n in CrashLoopBackOff with the message of
// delay want[i], shows that the container is still waiting a millisecond
// before the delay ends, and that it starts (restart count n+1) at the
// delay. It returns the next restart count.
func crashLoop(t *testing.T, h *harness, n int32, want []time.Duration) int32 {
	t.Helper()
	for _, d := range want {
		msg := fmt.Sprintf("back-off %s restarting failed container=a pod=img_default(%s)", d, h.w.Pod().UID)
		h.waitFor(fmt.Sprintf("restart %d in CrashLoopBackOff %s", n, d), func(p *corev1.Pod) bool {
			cs := ctrStatus(p, "a")
			return cs.RestartCount == n && cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff" && cs.State.Waiting.Message == msg
		})
		h.waitTimer()
		h.clk.Step(d - time.Millisecond)
		time.Sleep(30 * time.Millisecond)
		if cs := ctrStatus(h.w.Pod(), "a"); cs.RestartCount != n || cs.State.Waiting == nil {
			t.Fatalf("restarted before the %s back-off ended: %s", d, describe(h.w.Pod()))
		}
		h.waitTimer()
		h.clk.Step(time.Millisecond)
		n++
		h.waitFor(fmt.Sprintf("restart %d after %s", n, d), func(p *corev1.Pod) bool { return ctrStatus(p, "a").RestartCount >= n })
	}
	return n
}

// crashPod is a pod whose container a runs image (a guest that exits at
// once) under restartPolicy Always, as upstream's pod whose container
// exits straight away.
func crashPod(t *testing.T, image string) *corev1.Pod {
	pod := imagePod(t, corev1.RestartPolicyAlways, "a")
	pod.Spec.Containers[0].Image = image
	return pod
}

// [sig-node] Pods should have their auto-restart back-off timer reset on
// image update [Slow] [NodeConformance]: after the back-off has grown to
// 80 s, a new image (the kubelet's back-off key includes the image) starts
// at once, and the next crash waits the initial 10 s, not 160 s.
func TestConformanceBackOffResetOnImageUpdate(t *testing.T) {
	t.Parallel()
	pod := crashPod(t, "go://./crash")
	h := newHarness(t, pod)
	h.run()
	h.waitFor("first exit", func(p *corev1.Pod) bool { return ctrStatus(p, "a").RestartCount >= 1 })
	n := crashLoop(t, h, 1, []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second})
	msg := fmt.Sprintf("back-off 1m20s restarting failed container=a pod=img_default(%s)", h.w.Pod().UID)
	h.waitFor("back-off 80s", func(p *corev1.Pod) bool {
		w := ctrStatus(p, "a").State.Waiting
		return w != nil && w.Message == msg
	})
	h.waitTimer()
	h.w.SetImages(withImage(pod, "a", "go://./hello"))
	// The new image starts without waiting out the 80 s (the clock stands).
	n++
	p := h.waitFor("the new image started", func(p *corev1.Pod) bool { return ctrStatus(p, "a").RestartCount >= n })
	if img := ctrStatus(p, "a").Image; img != "go://./hello" {
		t.Errorf("status image %q, want go://./hello", img)
	}
	crashLoop(t, h, n, []time.Duration{10 * time.Second, 20 * time.Second})
}

// [sig-node] Pods should cap back-off at MaxContainerBackOff [Slow]
// [NodeConformance]: the delays double from 10 s and stay at the kubelet's
// 300 s (MaxContainerBackOff) once they reach it.
func TestConformanceBackOffCapMaxContainerBackOff(t *testing.T) {
	t.Parallel()
	h := newHarness(t, crashPod(t, "go://./crash"))
	h.run()
	h.waitFor("first exit", func(p *corev1.Pod) bool { return ctrStatus(p, "a").RestartCount >= 1 })
	s := time.Second
	crashLoop(t, h, 1, []time.Duration{10 * s, 20 * s, 40 * s, 80 * s, 160 * s, 300 * s, 300 * s, 300 * s})
}
