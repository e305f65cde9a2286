package wasmpod_test

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// heapWatch measures how far the process's heap grows while a hostile test
// attacks the server in it. HeapAlloc peaks at up to the GC target, twice
// the live heap of the whole test binary at GOGC=100 (other tests run
// beside this one): the watch runs the collector at GOGC=10 until the test
// ends, so a peak follows what is live rather than the pacing.
type heapWatch struct{ before, peak uint64 }

func watchHeap(t testing.TB) *heapWatch {
	old := debug.SetGCPercent(10)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return &heapWatch{before: m.HeapAlloc, peak: m.HeapAlloc}
}

// sample records the heap now.
func (h *heapWatch) sample() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h.peak = max(h.peak, m.HeapAlloc)
}

// grew is the largest growth sampled since the watch began.
func (h *heapWatch) grew() int64 { return int64(h.peak) - int64(h.before) }
