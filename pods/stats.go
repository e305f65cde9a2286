package pods

// stats.go: the kubelet's Summary API. Upstream, the kubelet serves
// GET /stats/summary (k8s.io/kubelet/pkg/apis/stats/v1alpha1), reached
// through the API server as /api/v1/nodes/NAME/proxy/stats/summary; it is
// what `kubectl get --raw` users and metrics-server's summary scraping read
// for node, pod and container usage. Here the figures are the node's own
// accounts: CPU from the containers' meters (cpu.go: the guests' thread CPU
// time, every instance and exec included), memory from the memory budgets
// (eviction.go: guest linear memory, plus what the node charges to a pod:
// its memory-backed emptyDirs and socket buffers), filesystem from the
// node's root directory and each pod's directory. Node-level figures are
// the node's guests, not the host's processes.
//
// usageCoreNanoSeconds is cumulative; usageNanoCores is a rate over the
// last sampling window, as cadvisor's housekeeping gives the kubelet: each
// series keeps its last two samples, a new one at most every statsWindow,
// and the rate is taken from the older end, so it spans between one and
// two windows (or, before the first window has passed, the time since the
// container's account began, when its usage was zero).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// statsWindow is the sampling window of usageNanoCores (cadvisor's
// housekeeping interval, which the kubelet's figures follow).
const statsWindow = 10 * time.Second

// cpuSample is a cumulative CPU usage at a time.
type cpuSample struct {
	t     time.Time
	usage time.Duration
}

// cpuSeries is the samples of one container (or the node) for its rate.
type cpuSeries struct {
	prev, last cpuSample
	n          int // samples taken (prev is set from 2)
	seen       bool
}

// rate records the usage at now (when a window has passed since the last
// sample) and returns the nanocores since the base sample: the last
// sample if a window has passed since it, else the one before, else
// origin (the series' zero). ok is false when no time has passed.
func (s *cpuSeries) rate(now time.Time, usage time.Duration, origin cpuSample, window time.Duration) (nanoCores uint64, ok bool) {
	base := origin
	switch {
	case s.n >= 1 && now.Sub(s.last.t) >= window:
		base = s.last
	case s.n >= 2:
		base = s.prev
	}
	if s.n == 0 || now.Sub(s.last.t) >= window {
		s.prev, s.last = s.last, cpuSample{t: now, usage: usage}
		s.n++
	}
	el := now.Sub(base.t)
	if el <= 0 {
		return 0, false
	}
	d := max(usage-base.usage, 0)
	return uint64(float64(d) / float64(el) * 1e9), true
}

// statsSampler is an agent's CPU series, by pod UID and container name
// ("" for the node).
type statsSampler struct {
	mu     sync.Mutex
	start  time.Time // the node's CPU account began (setupCPU)
	series map[statsKey]*cpuSeries
}

// statsKey names a series: the node (zero), a pod (container ""), or one
// of its containers.
type statsKey struct {
	uid       types.UID
	container string
}

// sample is the CPU stats of a series at now.
func (s *statsSampler) sample(k statsKey, now time.Time, usage time.Duration, since time.Time) *statsv1alpha1.CPUStats {
	if s.series == nil {
		s.series = map[statsKey]*cpuSeries{}
	}
	ser := s.series[k]
	if ser == nil {
		ser = &cpuSeries{}
		s.series[k] = ser
	}
	ser.seen = true
	ns := uint64(usage)
	st := &statsv1alpha1.CPUStats{Time: metav1.NewTime(now), UsageCoreNanoSeconds: &ns}
	if r, ok := ser.rate(now, usage, cpuSample{t: since}, statsWindow); ok {
		st.UsageNanoCores = &r
	}
	return st
}

// prune forgets the series not sampled since the last prune (pods gone).
func (s *statsSampler) prune() {
	for k, ser := range s.series {
		if !ser.seen {
			delete(s.series, k)
		}
		ser.seen = false
	}
}

// memStats is a memory figure: a working set under an optional limit.
func memStats(now time.Time, used, limit int64) *statsv1alpha1.MemoryStats {
	u := uint64(max(used, 0))
	m := &statsv1alpha1.MemoryStats{Time: metav1.NewTime(now), UsageBytes: &u, WorkingSetBytes: &u, RSSBytes: &u}
	if limit > 0 {
		avail := uint64(max(limit-used, 0))
		m.AvailableBytes = &avail
	}
	return m
}

// summaryDiskAge is how long a pod's directory usage, as the Summary
// reports it, is reused before its directory is walked again. cadvisor,
// behind the kubelet's Summary, refreshes filesystem usage on its own
// housekeeping rather than per request; walking every pod's directory per
// request made a summary of 1,000 pods cost ~0.75 s (92% of it the walk),
// and kubectl top, the HPA and /metrics/resource each ask for one. The
// eviction manager walks for itself (PodDisk), unaffected.
var summaryDiskAge = statsWindow

// diskReading is a pod directory's usage as the Summary last walked it.
type diskReading struct {
	mu sync.Mutex
	at time.Time
	n  int64
}

// get is the usage walked at most summaryDiskAge before now (walking
// again otherwise), and when it was walked.
func (d *diskReading) get(now time.Time, walk func() int64) (int64, time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.at.IsZero() || now.Sub(d.at) >= summaryDiskAge || now.Before(d.at) {
		d.n, d.at = walk(), now
	}
	return d.n, d.at
}

// StatsSummary is the node's Summary (the kubelet's /stats/summary): the
// node, then each of its current pods with its containers.
func (a *Agent) StatsSummary() *statsv1alpha1.Summary {
	now := time.Now()
	a.mu.Lock()
	workers := make([]*Worker, 0, len(a.pods))
	for _, e := range a.pods {
		if e.w != nil {
			workers = append(workers, e.w)
		}
	}
	a.mu.Unlock()
	type podCPU struct {
		cs     []ContainerCPU
		w      *Worker
		disk   int64
		diskAt time.Time
	}
	// Read before the sampler's lock: the disk usage walks each pod's
	// directory, at most once a summaryDiskAge.
	ns := nodeStats{a}
	pods := make([]podCPU, 0, len(workers))
	for _, w := range workers {
		disk, at := w.summaryDisk.get(now, func() int64 { return ns.PodDisk(w) })
		pods = append(pods, podCPU{cs: w.cpuStats(), w: w, disk: disk, diskAt: at})
	}
	s := &a.stats
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := &statsv1alpha1.Summary{Pods: []statsv1alpha1.PodStats{}}
	start := s.start
	if start.IsZero() {
		start = now
	}
	limit, avail := ns.Memory()
	used := a.memory.Used()
	sum.Node = statsv1alpha1.NodeStats{
		NodeName:  a.cfg.NodeName,
		StartTime: metav1.NewTime(start),
		CPU:       s.sample(statsKey{}, now, a.pcfg.NodeCPU.Usage(), start),
		Memory:    memStats(now, used, 0),
	}
	if limit > 0 {
		av := uint64(max(avail, 0))
		sum.Node.Memory.AvailableBytes = &av
	}
	if capacity, free, err := ns.NodeFS(); err == nil {
		c, f, u := uint64(capacity), uint64(free), uint64(max(capacity-free, 0))
		sum.Node.Fs = &statsv1alpha1.FsStats{Time: metav1.NewTime(now), CapacityBytes: &c, AvailableBytes: &f, UsedBytes: &u}
	}
	for _, p := range pods {
		pod := p.w.Pod()
		if pod == nil {
			continue
		}
		mem := p.w.memoryByContainer()
		limits := map[string]int64{}
		started := map[string]metav1.Time{}
		for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
			if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
				limits[c.Name] = q.Value()
			}
		}
		for _, st := range append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
			if st.State.Running != nil {
				started[st.Name] = st.State.Running.StartedAt
			} else if st.State.Terminated != nil {
				started[st.Name] = st.State.Terminated.StartedAt
			}
		}
		ps := statsv1alpha1.PodStats{
			PodRef:     statsv1alpha1.PodReference{Name: pod.Name, Namespace: pod.Namespace, UID: string(pod.UID)},
			Containers: []statsv1alpha1.ContainerStats{},
		}
		if pod.Status.StartTime != nil {
			ps.StartTime = *pod.Status.StartTime
		} else {
			ps.StartTime = pod.CreationTimestamp
		}
		var podUsage time.Duration
		podSince := now
		for _, c := range p.cs {
			podUsage += c.Usage
			if c.Since.Before(podSince) {
				podSince = c.Since
			}
			cs := statsv1alpha1.ContainerStats{
				Name:      c.Container,
				StartTime: started[c.Container],
				CPU:       s.sample(statsKey{pod.UID, c.Container}, now, c.Usage, c.Since),
				Memory:    memStats(now, mem[c.Container], limits[c.Container]),
			}
			if cs.StartTime.IsZero() {
				cs.StartTime = metav1.NewTime(c.Since)
			}
			ps.Containers = append(ps.Containers, cs)
		}
		sort.Slice(ps.Containers, func(i, j int) bool { return ps.Containers[i].Name < ps.Containers[j].Name })
		var podMem int64
		for _, m := range mem {
			podMem += m
		}
		ps.CPU = s.sample(statsKey{uid: pod.UID}, now, podUsage, podSince)
		ps.Memory = memStats(now, podMem, 0)
		disk := uint64(p.disk)
		ps.EphemeralStorage = &statsv1alpha1.FsStats{Time: metav1.NewTime(p.diskAt), UsedBytes: &disk}
		if _, st, ok := p.w.netCounters(); ok {
			// The pod's traffic past its loopback (network/stats.go), as
			// the kubelet reports the pod's eth0.
			rx, tx := st.RxBytes, st.TxBytes
			ps.Network = &statsv1alpha1.NetworkStats{Time: metav1.NewTime(now),
				InterfaceStats: statsv1alpha1.InterfaceStats{Name: "eth0", RxBytes: &rx, TxBytes: &tx}}
		}
		sum.Pods = append(sum.Pods, ps)
	}
	s.prune()
	sort.Slice(sum.Pods, func(i, j int) bool {
		x, y := sum.Pods[i].PodRef, sum.Pods[j].PodRef
		if x.Namespace != y.Namespace {
			return x.Namespace < y.Namespace
		}
		return x.Name < y.Name
	})
	return sum
}

// ServeNodeProxy answers what the API server proxies to the node
// (nodes/NAME/proxy/PATH), as the kubelet's server does: GET
// /stats/summary, /metrics, /metrics/resource and /healthz; any other path
// is the kubelet's plain 404.
func (a *Agent) ServeNodeProxy(w http.ResponseWriter, req *http.Request, path string) {
	switch path {
	case "/stats/summary", "/stats/summary/":
		if req.Method != http.MethodGet {
			http.Error(w, "405: Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		b, err := json.Marshal(a.StatsSummary())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	case "/metrics/resource":
		if req.Method != http.MethodGet {
			http.Error(w, "405: Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write(resourceMetrics(a.StatsSummary()))
	case "/metrics":
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			http.Error(w, "405: Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		a.metrics.handler.ServeHTTP(w, req) // metrics.go
	case "/healthz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok"))
	default:
		http.NotFound(w, req)
	}
}

// resourceMetrics is the kubelet's /metrics/resource (what metrics-server
// scrapes for `kubectl top` since its 0.6) from a Summary: the Prometheus
// text format, each sample with its own time in milliseconds.
func resourceMetrics(sum *statsv1alpha1.Summary) []byte {
	var b bytes.Buffer
	type sample struct {
		labels string
		value  float64
		t      metav1.Time
	}
	family := func(name, kind, help string, samples []sample) {
		fmt.Fprintf(&b, "# HELP %s [STABLE] %s\n# TYPE %s %s\n", name, help, name, kind)
		for _, s := range samples {
			fmt.Fprintf(&b, "%s%s %s %d\n", name, s.labels, strconv.FormatFloat(s.value, 'g', -1, 64), s.t.UnixMilli())
		}
	}
	cpu := func(st *statsv1alpha1.CPUStats, labels string, out *[]sample) {
		if st != nil && st.UsageCoreNanoSeconds != nil {
			*out = append(*out, sample{labels, float64(*st.UsageCoreNanoSeconds) / 1e9, st.Time})
		}
	}
	mem := func(st *statsv1alpha1.MemoryStats, labels string, out *[]sample) {
		if st != nil && st.WorkingSetBytes != nil {
			*out = append(*out, sample{labels, float64(*st.WorkingSetBytes), st.Time})
		}
	}
	var ctrCPU, ctrMem, ctrStart, podCPU, podMem, nodeCPU, nodeMem []sample
	cpu(sum.Node.CPU, "", &nodeCPU)
	mem(sum.Node.Memory, "", &nodeMem)
	for _, p := range sum.Pods {
		pl := fmt.Sprintf("{namespace=%q,pod=%q}", p.PodRef.Namespace, p.PodRef.Name)
		cpu(p.CPU, pl, &podCPU)
		mem(p.Memory, pl, &podMem)
		for _, c := range p.Containers {
			cl := fmt.Sprintf("{container=%q,namespace=%q,pod=%q}", c.Name, p.PodRef.Namespace, p.PodRef.Name)
			cpu(c.CPU, cl, &ctrCPU)
			mem(c.Memory, cl, &ctrMem)
			ctrStart = append(ctrStart, sample{cl, float64(c.StartTime.Unix()), c.StartTime})
		}
	}
	family("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed by the container in core-seconds", ctrCPU)
	family("container_memory_working_set_bytes", "gauge", "Current working set of the container in bytes", ctrMem)
	family("container_start_time_seconds", "gauge", "Start time of the container since unix epoch in seconds", ctrStart)
	family("node_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed by the node in core-seconds", nodeCPU)
	family("node_memory_working_set_bytes", "gauge", "Current working set of the node in bytes", nodeMem)
	family("pod_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed by the pod in core-seconds", podCPU)
	family("pod_memory_working_set_bytes", "gauge", "Current working set of the pod in bytes", podMem)
	b.WriteString("# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise\n# TYPE resource_scrape_error gauge\nresource_scrape_error 0\n")
	return b.Bytes()
}
