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
//	kubelet_image_pull_duration_seconds{image_size_in_bytes}
//	                                              successful pulls, by upstream's size ranges ("0-10MB", ...)
//
// Its own: the process's module compilations (runtime/metrics.go),
// wasmpod_module_cache_hits_total, wasmpod_module_cache_misses_total,
// wasmpod_module_compile_duration_seconds{result}, and wazero's interrupt
// round trips, wasmpod_interrupt_round_trip_interval_seconds (the guest
// CPU time between two, charged to the container there); the agent's image pulls
// (not images already present), wasmpod_image_pulls_total{result} (success,
// failure) and wasmpod_image_pull_bytes_total (the modules' bytes); and each
// pod's network, read from its netstack counters at the scrape
// (network/stats.go: traffic past the pod's loopback):
//
//	wasmpod_pod_network_receive_bytes_total{namespace,pod}
//	wasmpod_pod_network_transmit_bytes_total{namespace,pod}
//	wasmpod_pod_network_connections_total{namespace,pod,direction}  inbound (accepted), outbound (opened)
//	wasmpod_pod_network_open_connections{namespace,pod}
//
// The containers' CPU and memory are /metrics/resource's (stats.go).

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/wasmpod/wasmpod/internal/metrics"
	"github.com/wasmpod/wasmpod/network"
	wruntime "github.com/wasmpod/wasmpod/runtime"
)

// agentMetrics are an agent's metrics.
type agentMetrics struct {
	reg        *prometheus.Registry
	handler    http.Handler
	startDur   prometheus.Histogram
	workerDur  *prometheus.HistogramVec
	started    prometheus.Counter
	pullDur    *prometheus.HistogramVec
	pulls      *prometheus.CounterVec
	pullBytes  prometheus.Counter
	netRx      *prometheus.Desc
	netTx      *prometheus.Desc
	netConns   *prometheus.Desc
	netOpen    *prometheus.Desc
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
		pullDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Subsystem: "kubelet", Name: "image_pull_duration_seconds",
			Help:    "Duration in seconds to pull an image.",
			Buckets: []float64{1, 5, 10, 20, 30, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600},
		}, []string{"image_size_in_bytes"}),
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wasmpod_image_pulls_total", Help: "Image pulls by the node agent (not images already present), by result (success, failure).",
		}, []string{"result"}),
		pullBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wasmpod_image_pull_bytes_total", Help: "Bytes of the modules the node agent pulled.",
		}),
		netRx:      prometheus.NewDesc("wasmpod_pod_network_receive_bytes_total", "Bytes a pod received past its loopback.", []string{"namespace", "pod"}, nil),
		netTx:      prometheus.NewDesc("wasmpod_pod_network_transmit_bytes_total", "Bytes a pod sent past its loopback.", []string{"namespace", "pod"}, nil),
		netConns:   prometheus.NewDesc("wasmpod_pod_network_connections_total", "Stream connections a pod accepted (inbound) and opened (outbound) past its loopback.", []string{"namespace", "pod", "direction"}, nil),
		netOpen:    prometheus.NewDesc("wasmpod_pod_network_open_connections", "A pod's stream connections past its loopback open now.", []string{"namespace", "pod"}, nil),
		runningPod: prometheus.NewDesc("kubelet_running_pods", "Number of pods that have a running pod sandbox", nil, nil),
		runningCtr: prometheus.NewDesc("kubelet_running_containers", "Number of containers currently running", []string{"container_state"}, nil),
		seen:       map[types.UID]time.Time{},
	}
	m.pulls.WithLabelValues("success")
	m.pulls.WithLabelValues("failure")
	m.reg.MustRegister(m.startDur, m.workerDur, m.started, m.pullDur, m.pulls, m.pullBytes, (*runningCollector)(m))
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

// imagePull records one pull (Config.OnImagePull).
func (m *agentMetrics) imagePull(d time.Duration, size int, err error) {
	if err != nil {
		m.pulls.WithLabelValues("failure").Inc()
		return
	}
	m.pulls.WithLabelValues("success").Inc()
	m.pullBytes.Add(float64(size))
	m.pullDur.WithLabelValues(imageSizeRange(int64(size))).Observe(d.Seconds())
}

// imageSizeRanges are upstream's image_size_in_bytes label values, by
// their lower bounds.
var imageSizeRanges = []struct {
	from  int64
	label string
}{
	{100 << 30, "GT100GB"}, {60 << 30, "60GB-100GB"}, {40 << 30, "40GB-60GB"}, {30 << 30, "30GB-40GB"},
	{20 << 30, "20GB-30GB"}, {10 << 30, "10GB-20GB"}, {5 << 30, "5GB-10GB"}, {1 << 30, "1GB-5GB"},
	{500 << 20, "500MB-1GB"}, {100 << 20, "100MB-500MB"}, {10 << 20, "10MB-100MB"}, {0, "0-10MB"},
}

func imageSizeRange(size int64) string {
	for _, r := range imageSizeRanges {
		if size >= r.from {
			return r.label
		}
	}
	return "0-10MB"
}

// runningCollector counts the running pods and containers at each scrape.
type runningCollector agentMetrics

func (c *runningCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.runningPod
	ch <- c.runningCtr
	ch <- c.netRx
	ch <- c.netTx
	ch <- c.netConns
	ch <- c.netOpen
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
		// A pod whose network has carried nothing has no series yet, as a
		// CounterVec's child appears at its first use: idle pods cost a
		// scrape nothing.
		if labels, st, ok := w.netCounters(); ok && st != (network.Stats{}) {
			ls, in, out := labels[:], []*dto.LabelPair{inboundLabel, labels[0], labels[1]}, []*dto.LabelPair{outboundLabel, labels[0], labels[1]}
			ch <- &podNetMetric{c.netRx, ls, true, float64(st.RxBytes)}
			ch <- &podNetMetric{c.netTx, ls, true, float64(st.TxBytes)}
			ch <- &podNetMetric{c.netConns, in, true, float64(st.ConnectionsIn)}
			ch <- &podNetMetric{c.netConns, out, true, float64(st.ConnectionsOut)}
			ch <- &podNetMetric{c.netOpen, ls, false, float64(st.OpenConnections)}
		}
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

// netCounters are the pod network's counters, with the pod's namespace and
// pod labels (made once a worker); ok is false for a pod without a
// network.
func (w *Worker) netCounters() (labels *[2]*dto.LabelPair, st network.Stats, ok bool) {
	w.mu.Lock()
	sr, pod := w.netStats, w.pod
	if sr != nil && pod != nil && w.netLabels == nil {
		w.netLabels = &[2]*dto.LabelPair{{Name: ptr.To("namespace"), Value: ptr.To(pod.Namespace)}, {Name: ptr.To("pod"), Value: ptr.To(pod.Name)}}
	}
	labels = w.netLabels
	w.mu.Unlock()
	if sr == nil || labels == nil {
		return nil, st, false
	}
	return labels, sr.NetStats(), true
}

var (
	inboundLabel  = &dto.LabelPair{Name: ptr.To("direction"), Value: ptr.To("inbound")}
	outboundLabel = &dto.LabelPair{Name: ptr.To("direction"), Value: ptr.To("outbound")}
)

// podNetMetric is one pod network series: its label pairs are the
// worker's, made once, rather than a const metric's, made and checked at
// every scrape. Labels are sorted by name, as the registry wants them.
type podNetMetric struct {
	desc    *prometheus.Desc
	labels  []*dto.LabelPair
	counter bool
	v       float64
}

func (m *podNetMetric) Desc() *prometheus.Desc { return m.desc }

func (m *podNetMetric) Write(out *dto.Metric) error {
	out.Label = m.labels
	if m.counter {
		out.Counter = &dto.Counter{Value: &m.v}
	} else {
		out.Gauge = &dto.Gauge{Value: &m.v}
	}
	return nil
}
