package pods

import (
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wasmpod/wasmpod/runtime"
)

// CPU accounting and limits (runtime/cpu.go): the node has one
// runtime.CPUScheduler (Config.NodeCPU, made by the agent with the node's
// allocatable CPU as its capacity), and every container instance, an exec
// included, runs with a meter of it carrying the container's requests.cpu
// (its weight under contention) and limits.cpu (its quota per 100 ms
// period). A container's usage is the sum over its instances: the meters
// of ended instances are folded into a running total, as the cgroup of a
// container keeps counting across its processes.

// meterGrace is how long a meter that never ran is kept in its
// container's account (a start that failed makes one).
const meterGrace = time.Minute

// cpuAccount is one container's CPU time: its ended instances' and its
// live meters'.
type cpuAccount struct {
	since             time.Time // the account began (its first instance's meter)
	ended             time.Duration
	endedThrottles    int64
	endedThrottledFor time.Duration
	live              []*runtime.CPUMeter
}

// fold moves the meters of instances that ended (and those that never ran
// and are old) into the totals.
func (a *cpuAccount) fold(now time.Time) {
	live := a.live[:0]
	for _, m := range a.live {
		started, created := m.Started()
		if m.Stopped() || !started && now.Sub(created) > meterGrace {
			a.ended += m.Usage()
			n, d := m.Throttled()
			a.endedThrottles += n
			a.endedThrottledFor += d
			continue
		}
		live = append(live, m)
	}
	clear(a.live[len(live):])
	a.live = live
}

// containerCPU is a new meter for an instance of the container spec.
func (w *Worker) containerCPU(spec *corev1.Container) *runtime.CPUMeter {
	var req, lim int64
	if q, ok := spec.Resources.Requests[corev1.ResourceCPU]; ok {
		req = q.MilliValue()
	} else if q, ok := spec.Resources.Limits[corev1.ResourceCPU]; ok {
		req = q.MilliValue() // as the API server defaults requests to limits
	}
	if q, ok := spec.Resources.Limits[corev1.ResourceCPU]; ok {
		lim = q.MilliValue()
	}
	m := w.cfg.NodeCPU.NewMeter(w.state.pod.Namespace+"/"+w.state.pod.Name+"/"+spec.Name, req, lim)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cpu == nil {
		w.cpu = map[string]*cpuAccount{}
	}
	acct := w.cpu[spec.Name]
	if acct == nil {
		acct = &cpuAccount{since: time.Now()}
		w.cpu[spec.Name] = acct
	}
	acct.fold(time.Now())
	acct.live = append(acct.live, m)
	return m
}

// ContainerCPU is one container's CPU account, for the node's stats.
type ContainerCPU struct {
	Namespace, Pod, Container string
	UID                       types.UID
	// Usage is the CPU time of all the container's instances so far
	// (the cgroup's cpuacct.usage).
	Usage time.Duration
	// Since is when the account began (its usage was zero then).
	Since time.Time
	// ThrottledPeriods and Throttled are cpu.stat's nr_throttled and
	// throttled_usec: the periods an instance used up its quota (or its
	// share of a contended node) in, and the time it slept for it.
	ThrottledPeriods int64
	Throttled        time.Duration
}

// cpuStats is the pod's containers' accounts, by container name.
func (w *Worker) cpuStats() []ContainerCPU {
	w.mu.Lock()
	defer w.mu.Unlock()
	pod := w.pod
	if pod == nil {
		return nil
	}
	out := make([]ContainerCPU, 0, len(w.cpu))
	for name, acct := range w.cpu {
		acct.fold(time.Now())
		c := ContainerCPU{
			Namespace: pod.Namespace, Pod: pod.Name, UID: pod.UID, Container: name, Since: acct.since,
			Usage: acct.ended, ThrottledPeriods: acct.endedThrottles, Throttled: acct.endedThrottledFor,
		}
		for _, m := range acct.live {
			c.Usage += m.Usage()
			n, d := m.Throttled()
			c.ThrottledPeriods += n
			c.Throttled += d
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Container < out[j].Container })
	return out
}

// NodeCPU is a node's CPU account (Agent.NodeCPU).
type NodeCPU struct {
	Node string
	// CapacityMilli is the CPU its guests share (its allocatable cpu).
	CapacityMilli int64
	// Usage is the CPU time of all its guests so far, pods that are gone
	// included.
	Usage time.Duration
	// Contended: the node was oversubscribed in the last period, and its
	// capacity was shared by requests.cpu.
	Contended bool
	// Containers are the accounts of its current pods' containers, sorted
	// by namespace, pod and container.
	Containers []ContainerCPU
}

// NodeCPU is the node's CPU account, for the node's metrics.
func (a *Agent) NodeCPU() NodeCPU {
	usage, cs, contended := a.CPUStats()
	return NodeCPU{Node: a.cfg.NodeName, CapacityMilli: a.pcfg.NodeCPU.CapacityMilli(), Usage: usage, Contended: contended, Containers: cs}
}

// CPUStats is the node's CPU account: the time used by all its guests so
// far (pods that are gone included), the account of every container of
// its current pods (sorted by namespace, pod and container), and whether
// the node was oversubscribed in the last period (its capacity then shared
// by requests.cpu).
func (a *Agent) CPUStats() (node time.Duration, containers []ContainerCPU, contended bool) {
	a.mu.Lock()
	workers := make([]*Worker, 0, len(a.pods))
	for _, e := range a.pods {
		if e.w != nil {
			workers = append(workers, e.w)
		}
	}
	a.mu.Unlock()
	for _, w := range workers {
		containers = append(containers, w.cpuStats()...)
	}
	sort.Slice(containers, func(i, j int) bool {
		x, y := containers[i], containers[j]
		if x.Namespace != y.Namespace {
			return x.Namespace < y.Namespace
		}
		if x.Pod != y.Pod {
			return x.Pod < y.Pod
		}
		return x.Container < y.Container
	})
	contended, _ = a.pcfg.NodeCPU.Contended()
	return a.pcfg.NodeCPU.Usage(), containers, contended
}

// setupCPU makes the node's CPU scheduler, of the allocatable CPU.
func (a *Agent) setupCPU() {
	a.stats.start = time.Now() // stats.go: the node's usage counts from here
	if a.pcfg.NodeCPU != nil {
		return
	}
	q := a.allocatable[corev1.ResourceCPU]
	a.pcfg.NodeCPU = runtime.NewCPUScheduler("node "+a.cfg.NodeName+" cpu", q.MilliValue())
}
