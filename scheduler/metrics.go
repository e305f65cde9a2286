package scheduler

// metrics.go: the scheduler's Prometheus metrics, upstream's names:
//
//	scheduler_schedule_attempts_total{result,profile}              result: scheduled, unschedulable, error
//	scheduler_scheduling_attempt_duration_seconds{result,profile}  from the pod's pop to its binding's end
//	scheduler_pending_pods{queue}                                  queue: active, backoff, unschedulable
//
// profile is always default-scheduler (wasmpod's one profile).

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const profileName = "default-scheduler"

// Metrics are a scheduler's metrics (SetMetrics).
type Metrics struct {
	attempts *prometheus.CounterVec
	duration *prometheus.HistogramVec
	pending  *prometheus.Desc
	s        *Scheduler
}

// NewMetrics registers s's metrics in reg and has s count into them.
func NewMetrics(reg prometheus.Registerer, s *Scheduler) (*Metrics, error) {
	m := &Metrics{
		s: s,
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Subsystem: "scheduler", Name: "schedule_attempts_total",
			Help: "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler problem.",
		}, []string{"result", "profile"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Subsystem: "scheduler", Name: "scheduling_attempt_duration_seconds",
			Help:    "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"result", "profile"}),
		pending: prometheus.NewDesc("scheduler_pending_pods",
			"Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods.",
			[]string{"queue"}, nil),
	}
	for _, c := range []prometheus.Collector{m.attempts, m.duration, (*pendingCollector)(m)} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	s.metrics = m
	return m, nil
}

// attempt counts a scheduling attempt that began at start.
func (m *Metrics) attempt(result string, start time.Time) {
	if m == nil {
		return
	}
	m.attempts.WithLabelValues(result, profileName).Inc()
	m.duration.WithLabelValues(result, profileName).Observe(time.Since(start).Seconds())
}

// pendingCollector reads the queue's lengths at each scrape.
type pendingCollector Metrics

func (c *pendingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.pending }

func (c *pendingCollector) Collect(ch chan<- prometheus.Metric) {
	active, backoff, unsched := c.s.queue.Len()
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(active), "active")
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(backoff), "backoff")
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(unsched), "unschedulable")
}
