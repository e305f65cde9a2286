package podgc

import "testing"

// Threshold maps the configured --terminated-pod-gc-threshold to New's:
// unset is upstream's default, negative is off.
func TestThreshold(t *testing.T) {
	for in, want := range map[int]int{0: DefaultTerminatedPodThreshold, -1: 0, -100: 0, 1: 1, 40: 40} {
		if got := Threshold(in); got != want {
			t.Errorf("Threshold(%d) = %d, want %d", in, got, want)
		}
	}
}
