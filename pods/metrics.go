package pods

// metrics.go: the node agent's Prometheus metrics, served as the
// kubelet's GET /metrics on the kubelet API (kubeletapi.go; the
// subresource nodes/metrics authorizes it) and through the API server's
// node proxy (nodes/NAME/proxy/metrics). Each agent has its own registry.
// Upstream's names:
//
//	kubelet_running_pods                          pods in phase Running
//	kubelet_running_containers{container_state}   containers by state (running, exited, created)
//	kubelet_pod_start_duration_seconds            from the agent first seeing a pod to its first Running status
//	kubelet_pod_worker_duration_seconds{operation} one status write of the pod's loop (operation "sync"),
//	                                              the agent's counterpart of the kubelet's pod worker sync
//	kubelet_started_pods_total                    pods the agent started
//
// Its own: the process's module compilations (runtime/metrics.go),
// wasmpod_module_cache_hits_total, wasmpod_module_cache_misses_total,
// wasmpod_module_compile_duration_seconds{result}. The containers' CPU and
// memory are /metrics/resource's (stats.go).

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wasmpod/wasmpod/internal/metrics"
	wruntime "github.com/wasmpod/wasmpod/runtime"
)

// agentMetrics are an agent's metrics.
type agentMetrics struct {
	reg        *prometheus.Registry
	handler    http.Handler
	startDur   prometheus.Histogram
	workerDur  *prometheus.HistogramVec
	started    prometheus.Counter
	runningPod *prometheus.Desc
	runningCtr *prometheus.Desc
	a          *Agent

	mu   sync.Mutex
	seen map[types.UID]time.Time // pods not yet observed Running
}

func newAgentMetrics(a *Agent) *agentMetrics {
	m := &agentMetrics{
		reg: metrics.NewRegistry(),
		a:   a,
		startDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Subsystem: "kubelet", Name: "pod_start_duration_seconds",
			Help:    "Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run",
			Buckets: []float64{0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600},
		}),
		workerDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Subsystem: "kubelet", Name: "pod_worker_duration_seconds",
			Help:    "Duration in seconds to sync a single pod. Broken down by operation type: create, update, or sync",
			Buckets: prometheus.DefBuckets,
		}, []string{"operation"}),
		started: prometheus.NewCounter(prometheus.CounterOpts{
			Subsystem: "kubelet", Name: "started_pods_total", Help: "Cumulative number of pods started",
		}),
		runningPod: prometheus.NewDesc("kubelet_running_pods", "Number of pods that have a running pod sandbox", nil, nil),
		runningCtr: prometheus.NewDesc("kubelet_running_containers", "Number of containers currently running", []string{"container_state"}, nil),
		seen:       map[types.UID]time.Time{},
	}
	m.reg.MustRegister(m.startDur, m.workerDur, m.started, (*runningCollector)(m))
	m.reg.MustRegister(wruntime.ModuleMetrics()...) // the process's engines
	m.handler = metrics.Handler(m.reg)
	return m
}

// Registry is the agent's metrics registry (its /metrics); others may add
// their collectors to it.
func (a *Agent) Registry() *prometheus.Registry { return a.metrics.reg }

// podSeen records the agent's first sight of a pod that is not yet
// terminal (startPod).
func (m *agentMetrics) podSeen(pod *corev1.Pod, now time.Time) {
	m.started.Inc()
	if pod.Status.Phase == corev1.PodRunning || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return // started before this agent's time (a restart of the agent)
	}
	m.mu.Lock()
	m.seen[pod.UID] = now
	m.mu.Unlock()
}

// podStatus observes the start duration at a pod's first Running status.
func (m *agentMetrics) podStatus(pod *corev1.Pod, now time.Time) {
	if pod.Status.Phase != corev1.PodRunning && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
		return
	}
	m.mu.Lock()
	t, ok := m.seen[pod.UID]
	delete(m.seen, pod.UID)
	m.mu.Unlock()
	if ok && pod.Status.Phase == corev1.PodRunning {
		m.startDur.Observe(now.Sub(t).Seconds())
	}
}

// podGone forgets a pod (forget).
func (m *agentMetrics) podGone(uid types.UID) {
	m.mu.Lock()
	delete(m.seen, uid)
	m.mu.Unlock()
}

// observeSync records one pass of a pod's status loop that began at start.
func (m *agentMetrics) observeSync(start time.Time) {
	m.workerDur.WithLabelValues("sync").Observe(time.Since(start).Seconds())
}

// runningCollector counts the running pods and containers at each scrape.
type runningCollector agentMetrics

func (c *runningCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.runningPod
	ch <- c.runningCtr
}

func (c *runningCollector) Collect(ch chan<- prometheus.Metric) {
	a := c.a
	a.mu.Lock()
	workers := make([]*Worker, 0, len(a.pods))
	for _, e := range a.pods {
		if e.w != nil {
			workers = append(workers, e.w)
		}
	}
	a.mu.Unlock()
	var pods, running, exited, created int
	for _, w := range workers {
		r, ex, cr, ok := w.containerCounts()
		if ok {
			pods++
		}
		running += r
		exited += ex
		created += cr
	}
	ch <- prometheus.MustNewConstMetric(c.runningPod, prometheus.GaugeValue, float64(pods))
	ch <- prometheus.MustNewConstMetric(c.runningCtr, prometheus.GaugeValue, float64(running), "running")
	ch <- prometheus.MustNewConstMetric(c.runningCtr, prometheus.GaugeValue, float64(exited), "exited")
	ch <- prometheus.MustNewConstMetric(c.runningCtr, prometheus.GaugeValue, float64(created), "created")
}

// containerCounts reads the pod's status without copying it: whether the
// pod is Running, and its containers by state (init containers too).
func (w *Worker) containerCounts() (running, exited, created int, podRunning bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pod == nil {
		return 0, 0, 0, false
	}
	st := &w.pod.Status
	for _, list := range [][]corev1.ContainerStatus{st.InitContainerStatuses, st.ContainerStatuses} {
		for i := range list {
			switch s := &list[i].State; {
			case s.Running != nil:
				running++
			case s.Terminated != nil:
				exited++
			default:
				created++
			}
		}
	}
	return running, exited, created, st.Phase == corev1.PodRunning
}
