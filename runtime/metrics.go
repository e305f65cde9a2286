package runtime

// metrics.go: the engines' module compilations, as Prometheus metrics of
// the process (an engine, and so its module cache, is shared by every
// agent of the process): each node agent's /metrics exposes them
// (pods/metrics.go).
//
//	wasmpod_module_cache_hits_total     Compiles answered from the engine's compiled modules
//	wasmpod_module_cache_misses_total   Compiles that compiled (or loaded from the on-disk cache)
//	wasmpod_module_compile_duration_seconds{result}  the time of those, result success or error
//	wasmpod_interrupt_round_trip_interval_seconds    wazero: the guest CPU time between two round
//	                                                 trips of a running guest through the interrupt
//	                                                 budget's slow path (its _count: the round trips)

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	moduleCacheHits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wasmpod_module_cache_hits_total",
		Help: "Module compilations answered from the engine's compiled modules in memory.",
	})
	moduleCacheMisses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wasmpod_module_cache_misses_total",
		Help: "Module compilations not in the engine's memory: compiled, or loaded from the engine's on-disk compilation cache.",
	})
	moduleCompileDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "wasmpod_module_compile_duration_seconds",
		Help:    "Time to compile a module (or load it from the on-disk compilation cache), including the interruptible rewrite, by result (success, error).",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
	}, []string{"result"})
	// roundTrips: every periodic round trip of a busy guest on wazero
	// (the interrupt budget's slow path, runtime/wazero/instrumented.go):
	// the CPU accounting charges and throttles there, and a kill takes
	// effect there, so the interval is how late either can be.
	roundTrips = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "wasmpod_interrupt_round_trip_interval_seconds",
		Help: "Guest CPU time between two round trips of a running guest to the host through the interrupt budget's slow path (wazero), where its CPU time is charged, limits.cpu throttles it and a kill takes effect. The count is the number of round trips.",
		// 1 µs to about 4 s.
		Buckets: prometheus.ExponentialBuckets(1e-6, 4, 12),
	})
)

// ModuleMetrics are the engines' metrics (module compilations, interrupt
// round trips), for a registry.
func ModuleMetrics() []prometheus.Collector {
	return []prometheus.Collector{moduleCacheHits, moduleCacheMisses, moduleCompileDuration, roundTrips}
}

// ObserveRoundTrip records one round trip of a running guest through the
// interrupt budget's slow path that charged it d of CPU time
// (CPUMeter.RoundTrip).
func ObserveRoundTrip(d time.Duration) { roundTrips.Observe(d.Seconds()) }

// observeCompile records one compilation that began at start.
func observeCompile(start time.Time, err error) {
	result := "success"
	if err != nil {
		result = "error"
	}
	moduleCompileDuration.WithLabelValues(result).Observe(time.Since(start).Seconds())
}
