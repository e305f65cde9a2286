package pods

// The eviction manager: the kubelet's node-pressure eviction, for the
// resources a wasmpod node owns.
//
// Contracts:
//   - Every EvictionConfig.Interval (default 10 s, the kubelet's housekeeping
//     period) the agent observes the signals memory.available (the node's
//     memory budget for guests minus what its guests hold, or the host's
//     MemAvailable when that is less) and
//     nodefs.available (statfs of the node's RootDir) through
//     EvictionConfig.Stats, and compares them with the hard thresholds.
//   - A threshold met sets the node condition MemoryPressure or DiskPressure
//     (True until PressureTransitionPeriod, default 5 m, after it was last
//     met, as upstream) and evicts at most one pod per pass, and none while
//     the last evicted pod is still stopping (for at most 30 s, upstream's
//     podCleanupTimeout).
//   - Ranking as upstream's rankMemoryPressure / rankDiskPressureFunc: pods
//     whose usage exceeds their requests first (so BestEffort pods, which
//     request nothing, come first), then lower priority, then usage above
//     requests, largest first.
//   - The evicted pod's containers are killed after a grace of 1 s (upstream's
//     immediate eviction for hard thresholds); the pod ends Failed with reason
//     Evicted and upstream's message, a DisruptionTarget condition (reason
//     TerminationByKubelet), and an Evicted warning event. It does not
//     restart, whatever its restartPolicy.
//   - Time comes from the agent's clock and usage from Stats, so tests drive
//     the manager without real pressure.

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/runtime"
)

// Eviction signals (the kubelet's names).
const (
	SignalMemoryAvailable = "memory.available"
	SignalNodeFSAvailable = "nodefs.available"
)

// Eviction constants, as upstream.
const (
	// EvictionReason is the pod status reason and event reason.
	EvictionReason = "Evicted"
	// evictionGrace is the grace period of a hard eviction (upstream's
	// immediateEvictionGracePeriodSeconds).
	evictionGrace = time.Second
	// DefaultPressureTransitionPeriod is how long a pressure condition stays
	// True after its threshold was last met.
	DefaultPressureTransitionPeriod = 5 * time.Minute
	// DefaultEvictionInterval is how often the signals are observed.
	DefaultEvictionInterval = 10 * time.Second
	// podCleanupTimeout bounds the wait for an evicted pod to stop
	// before the next eviction (upstream's).
	podCleanupTimeout = 30 * time.Second
)

// Threshold is a hard eviction threshold: the signal's available amount
// below Quantity, or below Percentage of the capacity.
type Threshold struct {
	Signal     string
	Quantity   *resource.Quantity
	Percentage float64 // 0 < p < 1, when Quantity is nil
}

// value is the threshold in bytes for a capacity.
func (t Threshold) value(capacity int64) int64 {
	if t.Quantity != nil {
		return t.Quantity.Value()
	}
	return int64(float64(capacity) * t.Percentage)
}

// ParseEvictionHard parses the kubelet's evictionHard setting, e.g.
// {"memory.available": "100Mi", "nodefs.available": "10%"}. Errors name
// the key.
func ParseEvictionHard(m map[string]string) ([]Threshold, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []Threshold{}
	for _, k := range keys {
		v := strings.TrimSpace(m[k])
		if k != SignalMemoryAvailable && k != SignalNodeFSAvailable {
			return nil, fmt.Errorf("evictionHard[%q]: unsupported signal (want %s or %s)", k, SignalMemoryAvailable, SignalNodeFSAvailable)
		}
		t := Threshold{Signal: k}
		if p, ok := strings.CutSuffix(v, "%"); ok {
			f, err := strconv.ParseFloat(p, 64)
			if err != nil || f < 0 || f >= 100 {
				return nil, fmt.Errorf("evictionHard[%q]: %q: want a percentage in [0%%, 100%%)", k, v)
			}
			t.Percentage = f / 100
		} else {
			q, err := resource.ParseQuantity(v)
			if err != nil || q.Sign() < 0 {
				return nil, fmt.Errorf("evictionHard[%q]: %q: want a non-negative quantity or a percentage", k, v)
			}
			t.Quantity = &q
		}
		out = append(out, t)
	}
	return out, nil
}

// DefaultEvictionHard is upstream's default (memory.available<100Mi,
// nodefs.available<10%) scaled to a node whose guests have memory bytes:
// the memory threshold is at most a tenth of it, so a small node is not
// under pressure at rest.
func DefaultEvictionHard(memory int64) []Threshold {
	q := resource.MustParse("100Mi")
	if memory/10 < q.Value() {
		q = *resource.NewQuantity(memory/10, resource.BinarySI)
	}
	return []Threshold{
		{Signal: SignalMemoryAvailable, Quantity: &q},
		{Signal: SignalNodeFSAvailable, Percentage: 0.10},
	}
}

// EvictionStats is what the eviction manager observes.
type EvictionStats interface {
	// Memory is the node's memory for guests (its budget) and what is left.
	Memory() (capacity, available int64)
	// NodeFS is the size and free bytes of the node's filesystem.
	NodeFS() (capacity, available int64, err error)
	// PodMemory is the memory a pod holds now, by container; what the
	// pod holds beside its containers (memory-backed emptyDirs, socket
	// buffers) is under "". The pod's usage is the sum.
	PodMemory(w *Worker) map[string]int64
	// PodDisk is the bytes a pod holds on the node's filesystem (logs,
	// volumes).
	PodDisk(w *Worker) int64
}

// EvictionConfig configures a node's eviction manager.
type EvictionConfig struct {
	// Hard thresholds (default DefaultEvictionHard of the node's memory).
	// An empty non-nil slice disables eviction.
	Hard []Threshold
	// Interval between observations (default 10 s).
	Interval time.Duration
	// PressureTransitionPeriod (default 5 m).
	PressureTransitionPeriod time.Duration
	// Stats observes the node (default: the node's memory budget, statfs
	// of its RootDir, and the pods' budgets and directories).
	Stats EvictionStats
}

// evictionManager holds the manager's state between passes.
type evictionManager struct {
	cfg EvictionConfig
	// lastMet is when each signal's threshold was last met.
	lastMet map[string]time.Time
	// evicting is the pod evicted last, until its worker is done or
	// podCleanupTimeout after evictedAt.
	evicting  *Worker
	evictedAt time.Time
}

func newEvictionManager(cfg EvictionConfig) *evictionManager {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultEvictionInterval
	}
	if cfg.PressureTransitionPeriod <= 0 {
		cfg.PressureTransitionPeriod = DefaultPressureTransitionPeriod
	}
	return &evictionManager{cfg: cfg, lastMet: map[string]time.Time{}}
}

// pressure reports the node conditions at now.
func (m *evictionManager) pressure(now time.Time) (memory, disk bool) {
	within := func(sig string) bool {
		t, ok := m.lastMet[sig]
		return ok && now.Sub(t) < m.cfg.PressureTransitionPeriod
	}
	return within(SignalMemoryAvailable), within(SignalNodeFSAvailable)
}

// observation is one signal's value against its threshold.
type observation struct {
	t                      Threshold
	capacity, available, v int64
}

// synchronize observes the signals at now and picks at most one pod of
// workers to evict, with the message to give it.
func (m *evictionManager) synchronize(now time.Time, workers []*Worker) (*Worker, string) {
	st := m.cfg.Stats
	var met []observation
	for _, t := range m.cfg.Hard {
		var o observation
		o.t = t
		switch t.Signal {
		case SignalMemoryAvailable:
			o.capacity, o.available = st.Memory()
		case SignalNodeFSAvailable:
			var err error
			if o.capacity, o.available, err = st.NodeFS(); err != nil {
				continue // not observable here
			}
		default:
			continue
		}
		o.v = t.value(o.capacity)
		if o.available < o.v {
			m.lastMet[t.Signal] = now
			met = append(met, o)
		}
	}
	if m.evicting != nil {
		select {
		case <-m.evicting.Done():
			m.evicting = nil
		default:
			if now.Sub(m.evictedAt) < podCleanupTimeout {
				return nil, "" // wait for the last eviction to take effect
			}
			m.evicting = nil // it does not stop: go on without it
		}
	}
	if len(met) == 0 {
		return nil, ""
	}
	// Memory first, as upstream orders the signals it reclaims.
	sort.SliceStable(met, func(i, j int) bool {
		return met[i].t.Signal == SignalMemoryAvailable && met[j].t.Signal != SignalMemoryAvailable
	})
	o := met[0]
	var cands []candidate
	for _, w := range workers {
		pod := w.Pod()
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed || w.evicted() {
			continue
		}
		c := candidate{w: w, pod: pod}
		if o.t.Signal == SignalMemoryAvailable {
			c.byCtr = st.PodMemory(w)
			for _, v := range c.byCtr {
				c.usage += v
			}
			c.request = podRequest(pod, corev1.ResourceMemory)
		} else {
			c.usage = st.PodDisk(w)
			c.request = podRequest(pod, corev1.ResourceEphemeralStorage)
		}
		cands = append(cands, c)
	}
	if len(cands) == 0 {
		return nil, ""
	}
	rank(cands)
	victim := cands[0]
	m.evicting, m.evictedAt = victim.w, now
	return victim.w, evictionMessage(o, victim)
}

// candidate is a pod considered for eviction.
type candidate struct {
	w              *Worker
	pod            *corev1.Pod
	usage, request int64
	byCtr          map[string]int64 // memory only
}

// rank orders candidates as upstream: usage over requests first, then
// lower priority, then usage above requests, largest first.
func rank(cs []candidate) {
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if ea, eb := a.usage > a.request, b.usage > b.request; ea != eb {
			return ea
		}
		if pa, pb := priority(a.pod), priority(b.pod); pa != pb {
			return pa < pb
		}
		return a.usage-a.request > b.usage-b.request
	})
}

func priority(pod *corev1.Pod) int32 {
	if pod.Spec.Priority != nil {
		return *pod.Spec.Priority
	}
	return 0
}

// podRequest is the pod's effective request of a resource, as upstream's
// PodRequests (podAmount; a container without one requests 0).
func podRequest(pod *corev1.Pod, name corev1.ResourceName) int64 {
	n, _ := podAmount(&pod.Spec, func(c *corev1.Container) (int64, bool) {
		q := c.Resources.Requests[name]
		return q.Value(), true
	})
	return n
}

// podAmount aggregates a per-container amount (a request or a limit) to
// the pod's as upstream's PodRequests and PodLimits do: the app
// containers' and sidecars' (restartable init containers') sum, or, when
// larger, a regular init container's plus the sidecars started before it.
// It reports false when of reports false for a container.
func podAmount(spec *corev1.PodSpec, of func(*corev1.Container) (int64, bool)) (int64, bool) {
	var apps, sidecars, inits int64
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		v, ok := of(c)
		if !ok {
			return 0, false
		}
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars += v
			inits = max(inits, sidecars)
		} else {
			inits = max(inits, v+sidecars)
		}
	}
	for i := range spec.Containers {
		v, ok := of(&spec.Containers[i])
		if !ok {
			return 0, false
		}
		apps += v
	}
	return max(apps+sidecars, inits), true
}

// evictionMessage is upstream's: "The node was low on resource: memory.
// Threshold quantity: 100Mi, available: 5Mi. Container hog was using 90Mi,
// request is 0, has larger consumption of memory. "
func evictionMessage(o observation, c candidate) string {
	res := "memory"
	if o.t.Signal == SignalNodeFSAvailable {
		res = string(corev1.ResourceEphemeralStorage)
	}
	q := func(v int64) string { return resource.NewQuantity(v, resource.BinarySI).String() }
	var b strings.Builder
	fmt.Fprintf(&b, "The node was low on resource: %s. ", res)
	fmt.Fprintf(&b, "Threshold quantity: %s, available: %s. ", q(o.v), q(max(o.available, 0)))
	if o.t.Signal == SignalMemoryAvailable {
		for _, ctr := range c.pod.Spec.Containers {
			used := c.byCtr[ctr.Name]
			req := ctr.Resources.Requests[corev1.ResourceMemory]
			if used > req.Value() {
				fmt.Fprintf(&b, "Container %s was using %s, request is %s, has larger consumption of %s. ", ctr.Name, q(used), req.String(), res)
			}
		}
	}
	return b.String()
}

// --- the agent's side ---------------------------------------------------------

// runEviction runs the eviction manager until ctx ends.
func (a *Agent) runEviction(ctx context.Context) {
	if a.eviction == nil || len(a.eviction.cfg.Hard) == 0 {
		return
	}
	tick := a.clk.NewTicker(a.eviction.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C():
		}
		a.evictionPass(ctx)
	}
}

// evictionPass is one observation: it evicts at most one pod and writes
// the node's status when a pressure condition changed.
func (a *Agent) evictionPass(ctx context.Context) {
	now := a.clk.Now()
	a.mu.Lock()
	workers := make([]*Worker, 0, len(a.pods))
	for _, e := range a.pods {
		if e.w != nil {
			workers = append(workers, e.w)
		}
	}
	a.mu.Unlock()
	a.evictMu.Lock()
	memBefore, diskBefore := a.eviction.pressure(now)
	victim, msg := a.eviction.synchronize(now, workers)
	memAfter, diskAfter := a.eviction.pressure(now)
	a.evictMu.Unlock()
	if memBefore != memAfter || diskBefore != diskAfter {
		_ = a.updateNodeStatus(ctx)
	}
	if victim != nil {
		victim.Evict(msg)
	}
}

// pressureConditions reports MemoryPressure and DiskPressure now.
func (a *Agent) pressureConditions() (memory, disk bool) {
	if a.eviction == nil {
		return false, false
	}
	a.evictMu.Lock()
	defer a.evictMu.Unlock()
	return a.eviction.pressure(a.clk.Now())
}

// --- the worker's side ----------------------------------------------------------

// Evict ends the pod as the eviction manager does: its containers are
// killed after a grace of 1 s, and the pod ends Failed with reason Evicted
// and msg. Later calls do nothing.
func (w *Worker) Evict(msg string) {
	select {
	case w.evictCh <- msg:
	case <-w.done:
	default: // an eviction is already on its way
	}
}

// evicted reports whether the pod is evicted or an eviction is on its way
// to its worker.
func (w *Worker) evicted() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.evictMsg != "" || len(w.evictCh) > 0
}

// beginEviction runs on the worker's goroutine.
func (w *Worker) beginEviction(msg string) {
	w.mu.Lock()
	first := w.evictMsg == ""
	if first {
		w.evictMsg = msg
	}
	w.mu.Unlock()
	if !first {
		return
	}
	w.event(corev1.EventTypeWarning, EvictionReason, msg)
	w.state.beginTermination(w.clk.Now(), EvictionReason, evictionGrace)
}

// applyEviction sets an evicted pod's status as the kubelet does (w.mu
// held).
func (w *Worker) applyEviction(st *corev1.PodStatus, prev *corev1.PodStatus) {
	if w.evictMsg == "" {
		return
	}
	st.Phase = corev1.PodFailed
	st.Reason = EvictionReason
	st.Message = w.evictMsg
	cond := corev1.PodCondition{
		Type:               corev1.DisruptionTarget,
		Status:             corev1.ConditionTrue,
		Reason:             "TerminationByKubelet",
		Message:            w.evictMsg,
		LastTransitionTime: metav1.NewTime(w.clk.Now()),
	}
	for _, c := range prev.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
			cond.LastTransitionTime = c.LastTransitionTime
		}
	}
	st.Conditions = append(st.Conditions, cond)
}

// containerMemory is the memory budget of one container of the pod, within
// the pod's, within the node's (nil without a node budget). Its limit is
// the container's limits.memory: every instance in the container (the
// container's own and those of exec, exec probes and exec hooks, which
// upstream run in the container's cgroup) shares it, so together they
// never hold more than the limit.
func (w *Worker) containerMemory(name string) *runtime.Budget {
	if w.cfg.NodeMemory == nil {
		return nil
	}
	var limit int64
	for _, c := range w.state.ctrs {
		if c.spec.Name == name {
			if m, ok := c.spec.Resources.Limits[corev1.ResourceMemory]; ok {
				limit = m.Value()
			}
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.podMemoryLocked()
	b := w.ctrMem[name]
	if b == nil {
		b = runtime.NewChildBudget("container "+name+" memory", limit, w.mem)
		w.ctrMem[name] = b
	}
	return b
}

// podMemory is the pod's memory budget within the node's (nil without a
// node budget): its containers' budgets are its children, and its
// memory-backed emptyDirs are charged to it directly.
func (w *Worker) podMemory() *runtime.Budget {
	if w.cfg.NodeMemory == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.podMemoryLocked()
}

// podMemoryLocked is podMemory with w.mu held.
func (w *Worker) podMemoryLocked() *runtime.Budget {
	if w.mem == nil {
		w.mem = runtime.NewChildBudget("pod "+podRef(w.state.pod)+" memory", 0, w.cfg.NodeMemory)
		w.ctrMem = map[string]*runtime.Budget{}
	}
	return w.mem
}

// memoryByContainer is what each container holds now, and under "" what
// the pod holds beside its containers (its memory-backed emptyDirs and
// socket buffers, charged to the pod's budget directly).
func (w *Worker) memoryByContainer() map[string]int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]int64{}
	var ctrs int64
	for n, b := range w.ctrMem {
		out[n] = b.Used()
		ctrs += out[n]
	}
	if own := w.mem.Used() - ctrs; own > 0 {
		out[""] = own
	}
	return out
}

// nodeStats is the default EvictionStats of an agent.
type nodeStats struct{ a *Agent }

// Memory is the node's budget and what is left of it, or what the host
// has left (MemAvailable) when that is less: pressure on the machine from
// outside the node's guests counts too, as upstream's signal does.
func (s nodeStats) Memory() (int64, int64) {
	m := s.a.memory
	avail := m.Available()
	if host := hostMemAvailable(); host >= 0 {
		avail = min(avail, host)
	}
	return m.Limit(), avail
}

func (s nodeStats) NodeFS() (int64, int64, error) {
	dir := s.a.pcfg.RootDir
	if dir == "" {
		return 0, 0, fmt.Errorf("no RootDir")
	}
	for { // the nearest directory that exists
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	return fsStats(dir)
}

func (s nodeStats) PodMemory(w *Worker) map[string]int64 { return w.memoryByContainer() }

func (s nodeStats) PodDisk(w *Worker) int64 { return dirUsage(w.Dir()) }

// dirUsage is the bytes the files under dir take (symlinks are not
// followed).
func dirUsage(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.Mode().IsRegular() {
			n += allocatedSize(fi)
		}
		return nil
	})
	return n
}

// rejectUnderPressure is the kubelet's eviction admission for a pod that
// never ran on this node: under MemoryPressure alone, BestEffort pods that
// do not tolerate the node.kubernetes.io/memory-pressure taint are
// refused; under DiskPressure every pod is. A refused pod is set Failed
// with reason Evicted and "The node had condition: [...]. " (and the
// event); it reports true.
func (a *Agent) rejectUnderPressure(pod *corev1.Pod) bool {
	if len(pod.Status.ContainerStatuses) > 0 || len(pod.Status.InitContainerStatuses) > 0 {
		return false // it ran here before (a node reboot): not an admission
	}
	mem, disk := a.pressureConditions()
	if !mem && !disk {
		return false
	}
	if !disk {
		if qosClass(&pod.Spec) != corev1.PodQOSBestEffort {
			return false
		}
		for _, t := range pod.Spec.Tolerations {
			if toleratesMemoryPressure(t) {
				return false
			}
		}
	}
	var conds []corev1.NodeConditionType
	if mem {
		conds = append(conds, corev1.NodeMemoryPressure)
	}
	if disk {
		conds = append(conds, corev1.NodeDiskPressure)
	}
	msg := fmt.Sprintf("The node had condition: %v. ", conds)
	pod.Status.Phase = corev1.PodFailed
	pod.Status.Reason = EvictionReason
	pod.Status.Message = msg
	if a.recorder != nil {
		a.recorder.Event(pod, corev1.EventTypeWarning, EvictionReason, msg)
	}
	return true
}

// memoryPressureTaint is the taint a node under MemoryPressure has.
var memoryPressureTaint = corev1.Taint{Key: corev1.TaintNodeMemoryPressure, Effect: corev1.TaintEffectNoSchedule}

// toleratesMemoryPressure: t tolerates the taint
// node.kubernetes.io/memory-pressure:NoSchedule, by the Toleration
// matching rules.
func toleratesMemoryPressure(t corev1.Toleration) bool {
	return t.ToleratesTaint(logr.Discard(), &memoryPressureTaint, false)
}
