package pods

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TestWorkerActiveDeadlineUpdated: activeDeadlineSeconds set on a running
// pod that had none, once already past, ends it at once; lowered from 100
// to 30 s, it ends the pod 30 s after its start (the clock is fake: with the
// old deadline it would still run).
func TestWorkerActiveDeadlineUpdated(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		initial *int64
		set     int64
		step    time.Duration // before the update
		after   time.Duration // after the update
	}{
		{name: "set-past", set: 10, step: 20 * time.Second},
		{name: "lowered", initial: ptrTo(int64(100)), set: 30, after: 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := loadPod(t, "graceful")
			pod.Spec.ActiveDeadlineSeconds = tc.initial
			h := newHarness(t, pod)
			h.run()
			h.waitLog("graceful", "ready")
			// The log line can come before the worker publishes Running.
			h.waitFor("Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
			if tc.step > 0 {
				h.clk.Step(tc.step)
			}
			if p := h.w.Pod(); p.Status.Phase != corev1.PodRunning {
				t.Fatalf("before the update: %s", describe(p))
			}
			h.w.SetActiveDeadlineSeconds(&tc.set)
			if tc.after > 0 {
				h.waitTimer()
				h.clk.Step(tc.after)
			}
			p := h.waitDone()
			if p.Status.Phase != corev1.PodFailed || p.Status.Reason != "DeadlineExceeded" {
				t.Fatalf("status: %s", describe(p))
			}
			if d := p.Spec.ActiveDeadlineSeconds; d == nil || *d != tc.set {
				t.Errorf("spec.activeDeadlineSeconds %v, want %d", d, tc.set)
			}
			wantTerminated(t, p, "graceful", 0, "Completed")
		})
	}
}

func ptrTo[T any](v T) *T { return &v }
