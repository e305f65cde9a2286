// Package metrics is what wasmpod's components share for their Prometheus
// metrics (github.com/prometheus/client_golang): a registry per server
// (NewRegistry; not the library's global default, so that several control
// planes and agents in one process, as the tests run them, keep their own
// series), its HTTP handler, and the workqueue metrics of client-go's
// queues that the controllers use.
//
// The workqueue metrics are the one exception to a registry per server:
// client-go takes one process-wide provider (workqueue.SetProvider, first
// call wins), so the queues' series are the process's, as upstream's
// kube-controller-manager has them in its global legacy registry; every
// control plane's registry exposes the same collectors (two planes in one
// process add into the same workqueue_* series).
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/util/workqueue"
)

// NewRegistry is an empty registry for one server's metrics.
func NewRegistry() *prometheus.Registry {
	return prometheus.NewRegistry()
}

// Handler serves g's metrics in the Prometheus exposition formats (text,
// or what the scraper negotiates), gzip when asked. Errors of single
// collectors are reported in the exposition's place (HTTPErrorOnError),
// not hidden.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
}

// Workqueue metrics: the names and labels of upstream's
// component-base/metrics/prometheus/workqueue (subsystem workqueue, label
// name = the queue's name).
var (
	wqDepth = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Subsystem: "workqueue", Name: "depth", Help: "Current depth of workqueue",
	}, []string{"name"})
	wqAdds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Subsystem: "workqueue", Name: "adds_total", Help: "Total number of adds handled by workqueue",
	}, []string{"name"})
	wqLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Subsystem: "workqueue", Name: "queue_duration_seconds",
		Help:    "How long in seconds an item stays in workqueue before being requested.",
		Buckets: prometheus.ExponentialBuckets(10e-9, 10, 10),
	}, []string{"name"})
	wqWork = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Subsystem: "workqueue", Name: "work_duration_seconds",
		Help:    "How long in seconds processing an item from workqueue takes.",
		Buckets: prometheus.ExponentialBuckets(10e-9, 10, 10),
	}, []string{"name"})
	wqUnfinished = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Subsystem: "workqueue", Name: "unfinished_work_seconds",
		Help: "How many seconds of work has done that is in progress and hasn't been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.",
	}, []string{"name"})
	wqLongest = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Subsystem: "workqueue", Name: "longest_running_processor_seconds",
		Help: "How many seconds has the longest running processor for workqueue been running.",
	}, []string{"name"})
	wqRetries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Subsystem: "workqueue", Name: "retries_total", Help: "Total number of retries handled by workqueue",
	}, []string{"name"})
)

// workqueueProvider hands client-go's queues the series of their name.
type workqueueProvider struct{}

func (workqueueProvider) NewDepthMetric(name string) workqueue.GaugeMetric {
	return wqDepth.WithLabelValues(name)
}
func (workqueueProvider) NewAddsMetric(name string) workqueue.CounterMetric {
	return wqAdds.WithLabelValues(name)
}
func (workqueueProvider) NewLatencyMetric(name string) workqueue.HistogramMetric {
	return wqLatency.WithLabelValues(name)
}
func (workqueueProvider) NewWorkDurationMetric(name string) workqueue.HistogramMetric {
	return wqWork.WithLabelValues(name)
}
func (workqueueProvider) NewUnfinishedWorkSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return wqUnfinished.WithLabelValues(name)
}
func (workqueueProvider) NewLongestRunningProcessorSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return wqLongest.WithLabelValues(name)
}
func (workqueueProvider) NewRetriesMetric(name string) workqueue.CounterMetric {
	return wqRetries.WithLabelValues(name)
}

func init() {
	// Before any queue is made: a queue takes the provider when it is
	// created, and only the first SetProvider counts.
	workqueue.SetProvider(workqueueProvider{})
}

// RegisterWorkqueue adds the workqueue metrics to reg (a control plane's
// registry).
func RegisterWorkqueue(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{wqDepth, wqAdds, wqLatency, wqWork, wqUnfinished, wqLongest, wqRetries} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
