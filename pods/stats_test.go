package pods

import (
	"testing"
	"time"
)

// TestCPUSeriesRate: usageNanoCores spans one to two sampling windows
// (since the account began before the first window), and a sample is
// taken at most once per window.
func TestCPUSeriesRate(t *testing.T) {
	t0 := time.Unix(1000, 0)
	origin := cpuSample{t: t0}
	var s cpuSeries
	at := func(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }
	steps := []struct {
		now   float64
		usage time.Duration
		want  uint64 // nanocores
	}{
		{2, time.Second, 5e8},               // since the origin: 1 s in 2 s
		{4, time.Second, 25e7},              // still from the origin (one sample, no window passed): 1 s in 4 s
		{12, 9 * time.Second / 2, 35e7},     // a window after the first sample, from it: 3.5 s in 10 s
		{14, 5 * time.Second, 333333333},    // from the sample before the last: 4 s in 12 s
		{22, 5 * time.Second, 5e7},          // a window after the last, from it: 0.5 s in 10 s
		{23, 5*time.Second + 1e8, 54545454}, // from the one before: 0.6 s in 11 s
	}
	for _, st := range steps {
		got, ok := s.rate(at(st.now), st.usage, origin, 10*time.Second)
		if !ok || got+1 < st.want || got > st.want+1 {
			t.Errorf("at %vs, usage %v: rate %d (%v), want %d", st.now, st.usage, got, ok, st.want)
		}
	}
	if s.n != 3 {
		t.Errorf("%d samples taken, want 3 (at 2, 12 and 22 s)", s.n)
	}
}
