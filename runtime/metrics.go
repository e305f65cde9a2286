package runtime

// metrics.go: the engines' module compilations, as Prometheus metrics of
// the process (an engine, and so its module cache, is shared by every
// agent of the process): each node agent's /metrics exposes them
// (pods/metrics.go).
//
//	wasmpod_module_cache_hits_total     Compiles answered from the engine's compiled modules
//	wasmpod_module_cache_misses_total   Compiles that compiled (or loaded from the on-disk cache)
//	wasmpod_module_compile_duration_seconds{result}  the time of those, result success or error

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
)

// ModuleMetrics are the module compilation metrics, for a registry.
func ModuleMetrics() []prometheus.Collector {
	return []prometheus.Collector{moduleCacheHits, moduleCacheMisses, moduleCompileDuration}
}

// observeCompile records one compilation that began at start.
func observeCompile(start time.Time, err error) {
	result := "success"
	if err != nil {
		result = "error"
	}
	moduleCompileDuration.WithLabelValues(result).Observe(time.Since(start).Seconds())
}
