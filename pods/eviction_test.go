package pods

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// fakeStats is an injected usage source: no real pressure needed.
type fakeStats struct {
	mu               sync.Mutex
	memCap, memAvail int64
	fsCap, fsAvail   int64
	podMem           map[string]map[string]int64 // pod → container → bytes
	podDisk          map[string]int64
	// live, when set, makes memory.available the capacity minus what the
	// live pods of podMem hold (an evicted pod frees its memory).
	live func(pod string) bool
}

func (f *fakeStats) Memory() (int64, int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.live == nil {
		return f.memCap, f.memAvail
	}
	avail := f.memCap
	for pod, ctrs := range f.podMem {
		if f.live(pod) {
			for _, v := range ctrs {
				avail -= v
			}
		}
	}
	return f.memCap, avail
}

func (f *fakeStats) NodeFS() (int64, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fsCap, f.fsAvail, nil
}

func (f *fakeStats) PodMemory(w *Worker) map[string]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.podMem[w.Pod().Name]
}

func (f *fakeStats) PodDisk(w *Worker) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.podDisk[w.Pod().Name]
}

func (f *fakeStats) set(fn func(f *fakeStats)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func mi(n int64) int64 { return n << 20 }

// evictPod is a pod with one container "c" requesting memory and
// ephemeral-storage (empty: none) at a priority.
func evictPod(name, memReq, diskReq string, prio int32) *corev1.Pod {
	req := corev1.ResourceList{}
	if memReq != "" {
		req[corev1.ResourceMemory] = resource.MustParse(memReq)
	}
	if diskReq != "" {
		req[corev1.ResourceEphemeralStorage] = resource.MustParse(diskReq)
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{
			Priority:   &prio,
			Containers: []corev1.Container{{Name: "c", Image: "x", Resources: corev1.ResourceRequirements{Requests: req}}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

// hostileEvictPod is evictPod (memory request memReq) running the hostile
// guest with args, not yet started (no status).
func hostileEvictPod(t *testing.T, name, memReq string, args ...string) *corev1.Pod {
	p := evictPod(name, memReq, "", 0)
	p.Spec.Containers[0].Image = "go://" + testwasm.GuestDir(t, "hostile")
	p.Spec.Containers[0].Args = args
	p.Status = corev1.PodStatus{}
	return p
}

// runFakeStatsAgent runs h's agent with 1Gi of memory (24Mi reserved)
// and an eviction pass every 10 s observing the fakeStats it returns:
// memCap and memAvail of memory, 1 TiB of disk half free, no pod usage.
func (h *agentHarness) runFakeStatsAgent(memCap, memAvail int64) *fakeStats {
	stats := &fakeStats{memCap: memCap, memAvail: memAvail, fsCap: 1 << 40, fsAvail: 1 << 39, podMem: map[string]map[string]int64{}}
	h.runAgent(AgentConfig{
		Capacity:       corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
		SystemReserved: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("24Mi")},
		Eviction:       EvictionConfig{Stats: stats, Interval: 10 * time.Second},
	})
	return stats
}

// runAgent starts h's agent as node-1 with cfg (Client, NodeName and Pods
// from h; Clock, unless set, h's fake clock) and stops it when the test
// ends.
func (h *agentHarness) runAgent(cfg AgentConfig) {
	cfg.Client, cfg.NodeName, cfg.Pods = h.client, "node-1", h.pcfg
	if cfg.Clock == nil {
		cfg.Clock = h.clk
	}
	h.a = NewAgent(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	a := h.a
	go func() { stopped <- a.Run(ctx) }()
	h.t.Cleanup(func() { cancel(); <-stopped })
}

func TestParseEvictionHard(t *testing.T) {
	th, err := ParseEvictionHard(map[string]string{"memory.available": "100Mi", "nodefs.available": "10%"})
	if err != nil {
		t.Fatal(err)
	}
	if len(th) != 2 || th[0].Signal != SignalMemoryAvailable || th[0].value(0) != mi(100) || th[1].value(1000) != 100 {
		t.Errorf("parsed %+v", th)
	}
	for _, c := range []struct {
		m    map[string]string
		want string
	}{
		{map[string]string{"imagefs.available": "15%"}, `evictionHard["imagefs.available"]: unsupported signal`},
		{map[string]string{"memory.available": "lots"}, `evictionHard["memory.available"]: "lots"`},
		{map[string]string{"nodefs.available": "120%"}, `evictionHard["nodefs.available"]: "120%"`},
		{map[string]string{"memory.available": "-1Mi"}, `evictionHard["memory.available"]: "-1Mi"`},
	} {
		if _, err := ParseEvictionHard(c.m); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseEvictionHard(%v): err %v, want %q", c.m, err, c.want)
		}
	}
	if th, err := ParseEvictionHard(map[string]string{}); err != nil || th == nil || len(th) != 0 {
		t.Errorf("an empty evictionHard must disable eviction: %v %v", th, err)
	}
	// The default scales down on a small node.
	d := DefaultEvictionHard(mi(64))
	if d[0].value(mi(64)) != mi(64)/10 || DefaultEvictionHard(mi(4096))[0].value(0) != mi(100) {
		t.Errorf("defaults %+v", d)
	}
}

// TestEvictionRanking: upstream's order under memory pressure: pods over
// their requests first (BestEffort requests nothing), then lower
// priority, then usage above requests; under disk pressure the same over
// disk usage and ephemeral-storage requests.
func TestEvictionRanking(t *testing.T) {
	cfg := &Config{RootDir: t.TempDir()}
	mk := func(p *corev1.Pod) *Worker { return NewWorker(cfg, p) }
	guaranteed := mk(evictPod("guaranteed", "200Mi", "1Gi", 0)) // big, under its request
	burstable := mk(evictPod("burstable", "10Mi", "", 0))       // 30Mi over
	besteffort := mk(evictPod("besteffort", "", "", 0))         // 20Mi over
	important := mk(evictPod("important", "", "", 1000))        // 90Mi over, high priority
	all := []*Worker{guaranteed, important, burstable, besteffort}
	stats := &fakeStats{
		memCap: mi(512), memAvail: mi(20), fsCap: mi(1000), fsAvail: mi(500),
		podMem: map[string]map[string]int64{
			"guaranteed": {"c": mi(150)}, "burstable": {"c": mi(40)}, "besteffort": {"c": mi(20)}, "important": {"c": mi(90)},
		},
		podDisk: map[string]int64{"guaranteed": mi(900), "burstable": mi(10), "besteffort": mi(30), "important": mi(5)},
	}
	m := newEvictionManager(EvictionConfig{Hard: DefaultEvictionHard(mi(512)), Stats: stats})
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

	var order []string
	left := all
	for range all {
		m.evicting = nil
		v, _ := m.synchronize(now, left)
		if v == nil {
			t.Fatal("no pod evicted under memory pressure")
		}
		order = append(order, v.Pod().Name)
		left = slicesDelete(left, v)
	}
	if got, want := strings.Join(order, " "), "burstable besteffort important guaranteed"; got != want {
		t.Errorf("memory pressure: eviction order %q, want %q", got, want)
	}

	// Disk pressure only.
	stats.set(func(f *fakeStats) { f.memAvail, f.fsAvail = mi(400), mi(50) })
	order, left = nil, all
	for range all {
		m.evicting = nil
		v, msg := m.synchronize(now, left)
		if v == nil {
			t.Fatal("no pod evicted under disk pressure")
		}
		if !strings.HasPrefix(msg, "The node was low on resource: ephemeral-storage. Threshold quantity: 100Mi, available: 50Mi. ") {
			t.Errorf("disk eviction message %q", msg)
		}
		order = append(order, v.Pod().Name)
		left = slicesDelete(left, v)
	}
	if got, want := strings.Join(order, " "), "besteffort burstable important guaranteed"; got != want {
		t.Errorf("disk pressure: eviction order %q, want %q", got, want)
	}

	// No pressure: nobody.
	stats.set(func(f *fakeStats) { f.fsAvail = mi(500) })
	m.evicting = nil
	if v, _ := m.synchronize(now, all); v != nil {
		t.Errorf("evicted %s without pressure", v.Pod().Name)
	}
}

func slicesDelete(ws []*Worker, w *Worker) []*Worker {
	var out []*Worker
	for _, x := range ws {
		if x != w {
			out = append(out, x)
		}
	}
	return out
}

// TestEvictionMessageAndPressurePeriod: upstream's message, one eviction
// at a time, and the pressure condition's transition period.
func TestEvictionMessageAndPressurePeriod(t *testing.T) {
	cfg := &Config{RootDir: t.TempDir()}
	hog := NewWorker(cfg, evictPod("hog", "", "", 0))
	other := NewWorker(cfg, evictPod("other", "", "", 0))
	stats := &fakeStats{
		memCap: mi(1024), memAvail: mi(50), fsCap: 1 << 40, fsAvail: 1 << 39,
		podMem: map[string]map[string]int64{"hog": {"c": mi(900)}, "other": {"c": mi(10)}},
	}
	m := newEvictionManager(EvictionConfig{Hard: DefaultEvictionHard(mi(1024)), Stats: stats})
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	v, msg := m.synchronize(t0, []*Worker{other, hog})
	if v != hog {
		t.Fatalf("evicted %v, want hog", v)
	}
	want := "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. Container c was using 900Mi, request is 0, has larger consumption of memory. "
	if msg != want {
		t.Errorf("message\n %q, want\n %q", msg, want)
	}
	if mem, disk := m.pressure(t0); !mem || disk {
		t.Errorf("pressure at t0: memory %v disk %v, want true false", mem, disk)
	}
	// While hog is still stopping, nobody else is evicted.
	if v, _ := m.synchronize(t0.Add(10*time.Second), []*Worker{other, hog}); v != nil {
		t.Errorf("evicted %s while the last eviction was under way", v.Pod().Name)
	}
	// The pressure is gone, but the condition holds for 5 minutes after
	// it was last met (t0+10s).
	stats.set(func(f *fakeStats) { f.memAvail = mi(900) })
	m.synchronize(t0.Add(time.Minute), nil)
	if mem, _ := m.pressure(t0.Add(4*time.Minute + 59*time.Second)); !mem {
		t.Error("MemoryPressure cleared before the transition period")
	}
	if mem, _ := m.pressure(t0.Add(5*time.Minute + 11*time.Second)); mem {
		t.Error("MemoryPressure still set after the transition period")
	}
}

// TestAgentEvictsUnderPressure: the agent, driven by a fake clock and an
// injected usage source, sets MemoryPressure on its Node, evicts the
// BestEffort pod (Failed, Evicted, upstream's message, an Evicted event,
// DisruptionTarget) and leaves the pod within its requests running.
func TestAgentEvictsUnderPressure(t *testing.T) {
	t.Parallel()
	h := newAgentHarness(t)
	stats := h.runFakeStatsAgent(mi(1024), mi(900))

	for _, p := range []*corev1.Pod{hostileEvictPod(t, "besteffort", "", "hold"), hostileEvictPod(t, "guaranteed", "900Mi", "hold")} {
		p.Spec.RestartPolicy = corev1.RestartPolicyAlways
		h.createPod(p)
		h.waitPod(p.Name, "running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	}
	// 1000Mi - 100Mi - 840Mi = 60Mi available, under the 100Mi threshold.
	stats.set(func(f *fakeStats) {
		f.podMem["besteffort"] = map[string]int64{"c": mi(100)}
		f.podMem["guaranteed"] = map[string]int64{"c": mi(840)}
		f.memCap = mi(1000)
		f.live = func(pod string) bool {
			h.a.mu.Lock()
			defer h.a.mu.Unlock()
			for _, e := range h.a.pods {
				if e.name == pod && e.w != nil {
					return !e.w.evicted()
				}
			}
			return false
		}
	})
	// Tick until the manager has observed (the ticker may be created after
	// the first Step).
	h.eventually("MemoryPressure on the Node", func() (bool, string) {
		h.clk.Step(10 * time.Second)
		c := nodeCond(h.node(), corev1.NodeMemoryPressure)
		return c.Status == corev1.ConditionTrue && c.Reason == "KubeletHasInsufficientMemory", fmt.Sprintf("%+v", c)
	})
	p := h.waitPod("besteffort", "evicted", func(p *corev1.Pod) bool {
		h.clk.Step(time.Second) // the eviction's grace
		return p.Status.Phase == corev1.PodFailed && p.Status.Reason == "Evicted"
	})
	want := "The node was low on resource: memory. Threshold quantity: 100Mi, available: 60Mi. Container c was using 100Mi, request is 0, has larger consumption of memory. "
	if p.Status.Message != want {
		t.Errorf("message %q, want %q", p.Status.Message, want)
	}
	dt := false
	for _, c := range p.Status.Conditions {
		dt = dt || (c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && c.Reason == "TerminationByKubelet")
	}
	if !dt {
		t.Errorf("no DisruptionTarget condition: %+v", p.Status.Conditions)
	}
	h.waitPod("besteffort", "containers stopped", func(p *corev1.Pod) bool {
		h.clk.Step(time.Second)
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Terminated != nil
	})
	h.eventually("the Evicted event", func() (bool, string) {
		ev := h.events("besteffort")
		return slices.Contains(ev, "Evicted"), fmt.Sprint(ev)
	})
	// It stays down (restartPolicy Always notwithstanding) and the other
	// pod runs on.
	h.clk.Step(time.Minute)
	time.Sleep(100 * time.Millisecond)
	if p := h.getPod("besteffort"); p.Status.Phase != corev1.PodFailed || p.Status.ContainerStatuses[0].State.Running != nil {
		t.Errorf("evicted pod came back: %s", describe(p))
	}
	if p := h.getPod("guaranteed"); p.Status.Phase != corev1.PodRunning {
		t.Errorf("the pod within its request was touched: %s", describe(p))
	}
	// The allocatable memory excludes the system reservation and the
	// threshold: 1Gi - 24Mi - 100Mi.
	if q := h.node().Status.Allocatable[corev1.ResourceMemory]; q.String() != "900Mi" {
		t.Errorf("allocatable memory %s", q.String())
	}
}

// TestEvictionRealMemory: a real guest growing its memory on a node with a
// small memory budget (real wazero, real clock): the node's guests can
// never exceed the budget, and the pod that exceeds its request is evicted
// before the budget runs out, while the pod within its request runs on.
func TestEvictionRealMemory(t *testing.T) {
	h := newAgentHarness(t) // its engine is a real wazero one
	hard, err := ParseEvictionHard(map[string]string{"memory.available": "40Mi"})
	if err != nil {
		t.Fatal(err)
	}
	h.runAgent(AgentConfig{
		Clock:          clock.RealClock{},
		Capacity:       corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("160Mi")},
		SystemReserved: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("0")},
		Eviction:       EvictionConfig{Hard: hard, Interval: 50 * time.Millisecond},
	})

	grow := func(name, req string, mib int) {
		p := hostileEvictPod(t, name, req, "memgrow", fmt.Sprint(mib))
		p.Spec.RestartPolicy = corev1.RestartPolicyNever
		h.createPod(p)
	}
	grow("steady", "100Mi", 80)
	h.eventually("steady to grow", func() (bool, string) {
		used := h.a.memory.Used()
		return used >= mi(80), fmt.Sprintf("node memory in use %d MiB", used>>20)
	})
	grow("greedy", "", 40)
	p := h.waitPod("greedy", "evicted", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodFailed && p.Status.Reason == "Evicted"
	})
	if !strings.HasPrefix(p.Status.Message, "The node was low on resource: memory. Threshold quantity: 40Mi") ||
		!strings.Contains(p.Status.Message, "Container c was using") {
		t.Errorf("message %q", p.Status.Message)
	}
	h.eventually("MemoryPressure on the Node", func() (bool, string) {
		c := nodeCond(h.node(), corev1.NodeMemoryPressure)
		return c.Status == corev1.ConditionTrue, fmt.Sprintf("%+v", c)
	})
	if peak, limit := h.a.memory.Peak(), h.a.memory.Limit(); peak > limit {
		t.Errorf("guests' memory peaked at %d bytes, over the node budget of %d", peak, limit)
	}
	h.eventually("greedy's memory released", func() (bool, string) {
		used := h.a.memory.Used()
		return used < mi(100), fmt.Sprintf("node memory in use %d MiB", used>>20)
	})
	if s := h.getPod("steady"); s.Status.Phase != corev1.PodRunning {
		t.Errorf("steady: %s", describe(s))
	}
}

// TestAgentRejectsUnderPressure: the kubelet's eviction admission. Under
// MemoryPressure a new BestEffort pod is refused (Failed, Evicted, "The
// node had condition: [MemoryPressure]. ") and never runs, while a pod
// with requests and a BestEffort pod tolerating the memory-pressure taint
// run; under DiskPressure every new pod is refused.
func TestAgentRejectsUnderPressure(t *testing.T) {
	t.Parallel()
	h := newAgentHarness(t)
	stats := h.runFakeStatsAgent(mi(1000), mi(10))
	h.eventually("MemoryPressure on the Node", func() (bool, string) {
		h.clk.Step(10 * time.Second)
		c := nodeCond(h.node(), corev1.NodeMemoryPressure)
		return c.Status == corev1.ConditionTrue, fmt.Sprintf("%+v", c)
	})
	// The signal recovers; the condition stays for the transition period
	// (the clock does not pass it), so admission still refuses, while no
	// running pod is evicted.
	stats.set(func(f *fakeStats) { f.memAvail = mi(900) })
	mk := func(name, req string, tol []corev1.Toleration) {
		p := hostileEvictPod(t, name, req, "hold")
		p.Spec.Tolerations = tol
		h.createPod(p)
	}
	mk("besteffort", "", nil)
	mk("burstable", "10Mi", nil)
	mk("tolerant", "", []corev1.Toleration{{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}})
	p := h.waitPod("besteffort", "refused", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if p.Status.Reason != "Evicted" || p.Status.Message != "The node had condition: [MemoryPressure]. " || len(p.Status.ContainerStatuses) != 0 {
		t.Errorf("besteffort: reason %q message %q statuses %+v", p.Status.Reason, p.Status.Message, p.Status.ContainerStatuses)
	}
	for _, name := range []string{"burstable", "tolerant"} {
		h.waitPod(name, "running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	}
	// Disk pressure: every new pod is refused.
	stats.set(func(f *fakeStats) { f.fsAvail = 1 << 30 })
	h.eventually("DiskPressure on the Node", func() (bool, string) {
		h.clk.Step(10 * time.Second)
		c := nodeCond(h.node(), corev1.NodeDiskPressure)
		return c.Status == corev1.ConditionTrue, fmt.Sprintf("%+v", c)
	})
	stats.set(func(f *fakeStats) { f.fsAvail = 1 << 39 })
	mk("late", "10Mi", nil)
	p = h.waitPod("late", "refused", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	// MemoryPressure may have passed its transition period meanwhile.
	if p.Status.Reason != "Evicted" || (p.Status.Message != "The node had condition: [MemoryPressure DiskPressure]. " &&
		p.Status.Message != "The node had condition: [DiskPressure]. ") {
		t.Errorf("late: reason %q message %q", p.Status.Reason, p.Status.Message)
	}
}

// TestPodAmountsWithSidecars: a pod's memory request (eviction ranking)
// and limit (a memory emptyDir's bound, its socket buffers) aggregate as
// upstream's PodRequests and PodLimits: sidecars (restartable init
// containers) run beside the app containers, so they add to their sum; a
// regular init container counts with the sidecars started before it.
func TestPodAmountsWithSidecars(t *testing.T) {
	t.Parallel()
	always := corev1.ContainerRestartPolicyAlways
	mem := func(name, v string, sidecar bool) corev1.Container {
		q := resource.MustParse(v)
		c := corev1.Container{Name: name, Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceMemory: q},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: q},
		}}
		if sidecar {
			c.RestartPolicy = &always
		}
		return c
	}
	pod := func(inits ...corev1.Container) *corev1.Pod {
		p := hostilePod(t, "sidecars")
		p.Spec.InitContainers = inits
		p.Spec.Containers = []corev1.Container{mem("app", "50Mi", false)}
		return p
	}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want int64
	}{
		{"sidecar beside the app", pod(mem("init", "120Mi", false), mem("side", "100Mi", true)), mi(150)},
		{"init after a sidecar", pod(mem("side", "100Mi", true), mem("init", "80Mi", false)), mi(180)},
		{"init larger than all", pod(mem("init", "300Mi", false)), mi(300)},
	} {
		if got := podRequest(tc.pod, corev1.ResourceMemory); got != tc.want {
			t.Errorf("%s: podRequest = %d MiB, want %d MiB", tc.name, got>>20, tc.want>>20)
		}
		w := NewWorker(&Config{Allocatable: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}, tc.pod)
		if got := w.podMemoryLimit(); got != tc.want {
			t.Errorf("%s: podMemoryLimit = %d MiB, want %d MiB", tc.name, got>>20, tc.want>>20)
		}
	}
}

// TestEvictionWaitIsBounded: the manager waits for the last evicted pod to
// stop before it evicts another, but, as upstream's podCleanupTimeout, for
// at most 30 s: a pod that never stops does not disable eviction.
func TestEvictionWaitIsBounded(t *testing.T) {
	cfg := &Config{RootDir: t.TempDir()}
	stuck, other := NewWorker(cfg, evictPod("stuck", "", "", 0)), NewWorker(cfg, evictPod("other", "", "", 0))
	stats := &fakeStats{memCap: mi(512), memAvail: mi(20), fsCap: mi(1000), fsAvail: mi(500),
		podMem: map[string]map[string]int64{"stuck": {"c": mi(300)}, "other": {"c": mi(100)}}}
	m := newEvictionManager(EvictionConfig{Hard: DefaultEvictionHard(mi(512)), Stats: stats})
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	v, msg := m.synchronize(t0, []*Worker{stuck, other})
	if v != stuck {
		t.Fatalf("evicted %v, want stuck", v)
	}
	stuck.Evict(msg) // its worker never takes it
	if v, _ := m.synchronize(t0.Add(20*time.Second), []*Worker{stuck, other}); v != nil {
		t.Errorf("evicted %s 20 s after the last eviction, while it is still stopping", v.Pod().Name)
	}
	if v, _ := m.synchronize(t0.Add(30*time.Second), []*Worker{stuck, other}); v != other {
		got := "none"
		if v != nil {
			got = v.Pod().Name
		}
		t.Errorf("evicted %s 30 s after an eviction that never completed, want other", got)
	}
}
