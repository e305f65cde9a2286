package runtime

import (
	"math"
	goruntime "runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// CPU accounting and limits, engine-neutral.
//
// A CPUMeter measures one container instance's CPU time and throttles it
// as a CFS quota would. The engine calls it from the goroutine that runs
// the guest, at three kinds of points:
//
//   - Run when the guest starts running (before _start), Stop when it has
//     ended (whatever the way);
//   - Yield at every periodic round trip of a busy guest (the interrupt
//     budget's slow path on wazero, an epoch deadline on wasmtime): the
//     time since the last point is charged, and when the container has used
//     its quota of the current period Yield sleeps until the next period
//     (or until stop is closed: a kill is never delayed by a throttle);
//   - Pause and Resume around the host (WASI) calls that may wait
//     (poll_oneoff, a blocking read, a socket call): the time a guest
//     waits is never counted as running, and it holds no OS thread while
//     it waits. Other host calls are charged as the guest's own time.
//
// The time charged is the guest thread's CPU time (CLOCK_THREAD_CPUTIME_ID;
// wall time where the OS has no thread clock): between Run/Resume and the
// next Yield/Pause the goroutine is locked to its OS thread
// (runtime.LockOSThread), so both readings are of the same thread's clock,
// and time the OS gave to other processes is not charged. The lock is taken
// while guest code and the host calls that do not wait run (compiled wasm
// is not preemptible anyway); a guest waiting in a host call holds no
// thread. Where the OS has a thread clock, time the OS gave to other
// processes is not charged; elsewhere (Windows) it is wall time.
//
// Every meter belongs to a CPUScheduler, the node's CPU: periods of
// CPUPeriod on one grid for all its meters. A meter's allowance in a
// period is its limit's quota (limits.cpu × period). When the node is
// oversubscribed — the demand of its meters in the last period (what each
// used, or a whole period for one that was throttled or runnable for most
// of the period: what it used may be what the OS could give it) exceeded the node's
// capacity — the capacity is shared by weighted max-min fairness (weights
// are requests.cpu in millicores, at least 2, as cpu.shares), and a meter's
// allowance is the smaller of its quota and the larger of its fair
// allocation and its guaranteed share (capacity × weight / total weight).
// The shares are recomputed once per period, by the first meter that
// reaches it, in O(meters); between two periods a Yield is a few atomic
// operations and one thread-clock read.

// CPUPeriod is the CFS period: a container with limits.cpu L runs at most
// L × CPUPeriod per period.
const CPUPeriod = 100 * time.Millisecond

// minCPUWeight is the weight of a container that requests no CPU (the
// cgroup's cpu.shares minimum of 2).
const minCPUWeight = 2

// CPUScheduler is a node's CPU: the period grid, the capacity shared under
// contention, and the meters of its running instances. Safe for
// concurrent use.
type CPUScheduler struct {
	name     string
	capacity int64 // ns of CPU per period; 0: no node-wide bound
	base     time.Time
	epoch    atomic.Int64 // the period the allowances are for

	mu           sync.Mutex
	meters       map[*CPUMeter]struct{}
	total        time.Duration // usage of the meters that stopped
	contended    bool          // the last period was oversubscribed
	nContentions int64         // periods that were oversubscribed
}

// NewCPUScheduler returns the CPU of a node of capacityMilli millicores
// (0: no node-wide bound, only each container's limit). name is for
// diagnostics ("node-1 cpu").
func NewCPUScheduler(name string, capacityMilli int64) *CPUScheduler {
	return &CPUScheduler{
		name:     name,
		capacity: max(capacityMilli, 0) * int64(CPUPeriod) / 1000,
		base:     time.Now(),
		meters:   map[*CPUMeter]struct{}{},
	}
}

// Name is the scheduler's name.
func (s *CPUScheduler) Name() string { return s.name }

// CapacityMilli is the node's capacity in millicores (0: unbounded).
func (s *CPUScheduler) CapacityMilli() int64 { return s.capacity * 1000 / int64(CPUPeriod) }

// NewMeter returns the meter of one container instance with requests.cpu
// requestMilli and limits.cpu limitMilli millicores (0: no limit). A nil
// scheduler gives a meter of its own, bounded by its limit only. name is
// for diagnostics ("pod/container").
func (s *CPUScheduler) NewMeter(name string, requestMilli, limitMilli int64) *CPUMeter {
	if s == nil {
		s = NewCPUScheduler(name, 0)
	}
	m := &CPUMeter{sched: s, name: name, weight: max(requestMilli, minCPUWeight), quota: math.MaxInt64, created: time.Now()}
	if limitMilli > 0 {
		// A limit below 1m still runs: 1 ms per second would be absurdly
		// slow to kill, but never zero.
		m.quota = max(limitMilli*int64(CPUPeriod)/1000, int64(100*time.Microsecond))
	}
	m.allowance.Store(m.quota)
	return m
}

// NewCPUMeter is a meter with no node: it measures, and throttles to
// limitMilli (0: no limit).
func NewCPUMeter(name string, limitMilli int64) *CPUMeter {
	return (*CPUScheduler)(nil).NewMeter(name, 0, limitMilli)
}

// Usage is the CPU time used by the node's guests: the running ones and
// those that stopped.
func (s *CPUScheduler) Usage() time.Duration {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.total
	for m := range s.meters {
		u += m.Usage()
	}
	return u
}

// Contended reports whether the last period was oversubscribed (the
// guests wanted more than the capacity, which was then shared by
// requests), and how many periods have been so far.
func (s *CPUScheduler) Contended() (bool, int64) {
	if s == nil {
		return false, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.contended, s.nContentions
}

func (s *CPUScheduler) now() int64 { return int64(time.Since(s.base)) }

// epochAt is the period that holds t (ns since base).
func epochAt(t int64) int64 { return t / int64(CPUPeriod) }

// nextEpoch is the time until the period after the current one.
func (s *CPUScheduler) untilNext() time.Duration {
	t := s.now()
	return time.Duration((epochAt(t)+1)*int64(CPUPeriod) - t)
}

// advance recomputes the allowances when a new period has begun.
func (s *CPUScheduler) advance() {
	e := epochAt(s.now())
	if s.epoch.Load() >= e {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.epoch.Load()
	if prev >= e {
		return
	}
	s.epoch.Store(e)
	period := int64(CPUPeriod)
	type claim struct {
		m      *CPUMeter
		demand int64
	}
	claims := make([]claim, 0, len(s.meters))
	var demand, weights int64
	for m := range s.meters {
		used := m.epochUsed.Load()
		// What the period allowed is paid; an overshoot (a round trip
		// that came late) is carried to the next, as CFS does.
		m.epochUsed.Add(-min(used, m.allowance.Load()))
		d := min(used, period)
		blocked := m.epochBlocked.Swap(0)
		if m.throttled.Swap(false) || m.blockedSince.Load() == 0 && blocked < period/5 {
			// Throttled, or runnable for most of the period: it wanted
			// more than it got (what it got may be what the OS gave it).
			d = period
		}
		d = min(d, m.quota)
		if e-prev > 1 {
			d = 0 // no meter reached the last period: all were idle
		}
		claims = append(claims, claim{m, d})
		demand += d
		weights += m.weight
	}
	s.contended = s.capacity > 0 && demand > s.capacity
	if !s.contended {
		for _, c := range claims {
			c.m.allowance.Store(c.m.quota)
		}
		return
	}
	s.nContentions++
	// Weighted max-min fairness: the claims that want less than their
	// share get what they want; the rest share what is left by weight.
	sort.Slice(claims, func(i, j int) bool {
		return claims[i].demand*claims[j].m.weight < claims[j].demand*claims[i].m.weight
	})
	left, w := s.capacity, weights
	for _, c := range claims {
		share := left * c.m.weight / max(w, 1)
		a := min(c.demand, share)
		left -= a
		w -= c.m.weight
		guaranteed := s.capacity * c.m.weight / weights
		c.m.allowance.Store(min(c.m.quota, max(a, guaranteed)))
	}
}

func (s *CPUScheduler) add(m *CPUMeter) {
	s.mu.Lock()
	s.meters[m] = struct{}{}
	s.mu.Unlock()
}

func (s *CPUScheduler) remove(m *CPUMeter) {
	s.mu.Lock()
	if _, ok := s.meters[m]; ok {
		delete(s.meters, m)
		s.total += m.Usage()
	}
	s.mu.Unlock()
}

// CPUMeter is one container instance's CPU account (see the comment at
// the top of this file). Run, Yield, Pause, Resume and Stop are for the
// goroutine that runs the guest; the readers (Usage, Throttled...) for
// anyone.
type CPUMeter struct {
	sched  *CPUScheduler
	name   string
	weight int64
	quota  int64 // ns per period; MaxInt64: no limit

	usage        atomic.Int64 // ns
	epochUsed    atomic.Int64 // ns charged since the allowance was paid
	allowance    atomic.Int64 // ns the current period allows
	throttled    atomic.Bool  // hit its allowance in the current period
	nrThrottled  atomic.Int64
	throttledFor atomic.Int64 // ns slept by throttling
	epochBlocked atomic.Int64 // wall ns in host calls since the last period
	blockedSince atomic.Int64 // wallClock at Pause; 0 when not in a host call

	state   atomic.Int32 // meterNew, meterRunning, meterStopped
	created time.Time

	// The guest goroutine's own.
	running bool
	locked  bool
	start   int64 // thread clock at the start of the segment
}

// Name is the meter's name.
func (m *CPUMeter) Name() string { return m.name }

// Usage is the CPU time the instance's guest code has used.
func (m *CPUMeter) Usage() time.Duration {
	if m == nil {
		return 0
	}
	return time.Duration(m.usage.Load())
}

// Throttled is the number of periods the instance was throttled in and the
// time it slept for it (cpu.stat's nr_throttled and throttled_usec).
func (m *CPUMeter) Throttled() (periods int64, slept time.Duration) {
	if m == nil {
		return 0, 0
	}
	return m.nrThrottled.Load(), time.Duration(m.throttledFor.Load())
}

// LimitMilli is the meter's limit in millicores (0: none).
func (m *CPUMeter) LimitMilli() int64 {
	if m.quota == math.MaxInt64 {
		return 0
	}
	return m.quota * 1000 / int64(CPUPeriod)
}

// Run starts the account: the calling goroutine is about to run the guest.
func (m *CPUMeter) Run() {
	if m == nil || m.running {
		return
	}
	m.running = true
	m.state.Store(meterRunning)
	m.sched.add(m)
	m.startClock()
}

// Stop ends the account: the guest has ended. Idempotent.
func (m *CPUMeter) Stop() {
	if m == nil || !m.running {
		return
	}
	m.stopClock()
	m.blockedSince.Store(0)
	m.running = false
	m.sched.remove(m)
	m.state.Store(meterStopped)
}

const (
	meterNew int32 = iota
	meterRunning
	meterStopped
)

// Stopped reports whether the instance has ended (Stop was called).
func (m *CPUMeter) Stopped() bool { return m.state.Load() == meterStopped }

// Started reports whether the instance ran (Run was called), and when the
// meter was made.
func (m *CPUMeter) Started() (bool, time.Time) { return m.state.Load() != meterNew, m.created }

// Pause charges the guest's time so far and stops the clock: a host call
// begins, in which the guest may block.
func (m *CPUMeter) Pause() {
	if m == nil || !m.locked {
		return
	}
	m.stopClock()
	m.blockedSince.Store(wallClock())
}

// Resume restarts the clock: the host call has returned, the guest runs.
func (m *CPUMeter) Resume() {
	if m == nil || !m.running || m.locked {
		return
	}
	if since := m.blockedSince.Swap(0); since != 0 {
		m.epochBlocked.Add(wallClock() - since)
	}
	m.startClock()
}

func (m *CPUMeter) stopClock() {
	if !m.locked {
		return
	}
	m.charge(threadClock() - m.start)
	m.locked = false
	goruntime.UnlockOSThread()
}

func (m *CPUMeter) startClock() {
	if m.locked {
		return
	}
	goruntime.LockOSThread()
	m.locked = true
	m.start = threadClock()
}

// Yield is the periodic round trip of a running guest: it charges the time
// since the last point and, when the period's allowance is used up, sleeps
// until a period allows more or stop is closed.
func (m *CPUMeter) Yield(stop <-chan struct{}) { m.RoundTrip(stop) }

// RoundTrip is Yield, also returning the time it charged: the guest's
// CPU time since its last point (Run, Resume or the previous round trip);
// ok is false when the meter was not running the guest (nothing charged).
func (m *CPUMeter) RoundTrip(stop <-chan struct{}) (charged time.Duration, ok bool) {
	if m == nil || !m.locked {
		return 0, false
	}
	now := threadClock()
	charged = time.Duration(now - m.start)
	m.charge(now - m.start)
	m.start = now
	s := m.sched
	s.advance()
	if m.epochUsed.Load() < m.allowance.Load() {
		return charged, true
	}
	m.stopClock()
	defer m.startClock()
	m.nrThrottled.Add(1)
	began := time.Now()
	defer func() { m.throttledFor.Add(int64(time.Since(began))) }()
	for m.epochUsed.Load() >= m.allowance.Load() {
		m.throttled.Store(true)
		t := time.NewTimer(s.untilNext())
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
			return charged, true
		}
		s.advance()
	}
	return charged, true
}

func (m *CPUMeter) charge(d int64) {
	if d <= 0 {
		return
	}
	m.usage.Add(d)
	m.epochUsed.Add(d)
}
