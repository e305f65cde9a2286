package runtime

import (
	"math"
	"testing"
	"time"
)

// claimMeters makes n meters of s with the given weights (requests) and,
// for the last period, what each used and whether it was throttled.
func claimMeters(s *CPUScheduler, weights []int64, used []time.Duration, throttled []bool) []*CPUMeter {
	ms := make([]*CPUMeter, len(weights))
	for i, w := range weights {
		m := s.NewMeter("m", w, 0)
		m.epochUsed.Store(int64(used[i]))
		m.throttled.Store(throttled[i])
		m.blockedSince.Store(1) // in a host call now: demand is what it used
		s.add(m)
		ms[i] = m
	}
	return ms
}

func allowances(ms []*CPUMeter) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m.allowance.Load())
	}
	return out
}

// TestCPUSchedulerShares: the allocation of a new period. A node that was
// not oversubscribed allows each meter its limit; an oversubscribed one
// shares its capacity by weight (requests), a meter that wanted less than
// its share keeping what it wanted and the rest going to the others, and
// never below a meter's guaranteed share.
func TestCPUSchedulerShares(t *testing.T) {
	const ms = time.Millisecond
	next := func(s *CPUScheduler) {
		s.base = s.base.Add(-CPUPeriod) // the next period has begun
		s.advance()
	}
	t.Run("not oversubscribed", func(t *testing.T) {
		s := NewCPUScheduler("n", 1000)
		m := claimMeters(s, []int64{100, 300}, []time.Duration{30 * ms, 40 * ms}, []bool{false, false})
		next(s)
		if c, _ := s.Contended(); c {
			t.Error("70 ms of demand on a node of 100 ms per period: contended")
		}
		for i, a := range allowances(m) {
			if a != math.MaxInt64 {
				t.Errorf("meter %d allowed %v, want no bound", i, a)
			}
		}
	})
	t.Run("two spinners 1:3", func(t *testing.T) {
		s := NewCPUScheduler("n", 1000)
		m := claimMeters(s, []int64{100, 300}, []time.Duration{100 * ms, 100 * ms}, []bool{true, true})
		next(s)
		if c, n := s.Contended(); !c || n != 1 {
			t.Errorf("Contended() = %v, %d; want true, 1", c, n)
		}
		if a := allowances(m); a[0] != 25*ms || a[1] != 75*ms {
			t.Errorf("allowances %v, want [25ms 75ms]", a)
		}
	})
	t.Run("one wants less than its share", func(t *testing.T) {
		s := NewCPUScheduler("n", 1000)
		// weights 1:1:2, capacity 100 ms: shares 25, 25, 50; the first
		// wants 10, so the others share 90 by 1:2 (30, 60).
		m := claimMeters(s, []int64{100, 100, 200}, []time.Duration{10 * ms, 100 * ms, 100 * ms}, []bool{false, true, true})
		next(s)
		// The first keeps its guaranteed share (25) though it wanted 10.
		if a := allowances(m); a[0] != 25*ms || a[1] != 30*ms || a[2] != 60*ms {
			t.Errorf("allowances %v, want [25ms 30ms 60ms]", a)
		}
	})
	t.Run("limits bound shares", func(t *testing.T) {
		s := NewCPUScheduler("n", 1000)
		lim := s.NewMeter("lim", 500, 200) // 20 ms per period at most
		lim.epochUsed.Store(int64(20 * ms))
		lim.throttled.Store(true)
		s.add(lim)
		other := claimMeters(s, []int64{500}, []time.Duration{100 * ms}, []bool{true})[0]
		next(s)
		// Demand 20 + 100 > 100: contended; the limited one wants 20 (its
		// quota), the other gets the remaining 80.
		if a, b := time.Duration(lim.allowance.Load()), time.Duration(other.allowance.Load()); a != 20*ms || b != 80*ms {
			t.Errorf("allowances %v, %v; want 20ms, 80ms", a, b)
		}
	})
	t.Run("overshoot carried", func(t *testing.T) {
		s := NewCPUScheduler("n", 0)
		m := s.NewMeter("m", 0, 200)
		m.epochUsed.Store(int64(25 * ms)) // 5 ms past its quota
		s.add(m)
		next(s)
		if got := time.Duration(m.epochUsed.Load()); got != 5*ms {
			t.Errorf("after the period %v charged, want the 5ms overshoot", got)
		}
	})
}

// BenchmarkThreadClock is the cost of one CPU clock read (two per host
// call, one per round trip of a busy guest).
func BenchmarkThreadClock(b *testing.B) {
	for i := 0; i < b.N; i++ {
		threadClock()
	}
}

func BenchmarkWallClock(b *testing.B) {
	for i := 0; i < b.N; i++ {
		wallClock()
	}
}
