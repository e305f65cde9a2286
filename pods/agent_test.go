package pods

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/controllers/nodelifecycle"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes/fake"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
	"github.com/wasmpod/wasmpod/runtime/wazero"
)

// Agent tests: client-go's fake clientset stands in for the API server,
// with real wazero, modules built from wasm-examples and a fake clock.

type agentHarness struct {
	t       *testing.T
	client  *fake.Clientset
	clk     *clocktesting.FakeClock
	pcfg    *Config
	a       *Agent
	cancel  context.CancelFunc
	stopped chan error
}

func newAgentHarness(t *testing.T) *agentHarness {
	t.Helper()
	eng, err := wazero.New(context.Background(), wazero.Config{CacheDir: testwasm.CompileCacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	h := &agentHarness{
		t:      t,
		client: fake.NewSimpleClientset(),
		clk:    clocktesting.NewFakeClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)),
	}
	h.pcfg = &Config{Engine: eng, Images: testImages, RootDir: t.TempDir()}
	return h
}

func (h *agentHarness) start() {
	h.t.Helper()
	h.a = NewAgent(AgentConfig{
		Client:   h.client,
		NodeName: "node-1",
		Capacity: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("20"),
		},
		Labels:  map[string]string{"zone": "edge-a"},
		Taints:  []corev1.Taint{{Key: "dedicated", Value: "wasm", Effect: corev1.TaintEffectNoSchedule}},
		PodCIDR: "10.244.1.0/24",
		Pods:    h.pcfg,
		Clock:   h.clk,
	})
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	stopped := make(chan error, 1)
	h.stopped = stopped
	a := h.a
	go func() { stopped <- a.Run(ctx) }()
	h.t.Cleanup(func() { cancel(); <-stopped })
}

// stop stops the agent (a node reboot) and waits for Run to return.
func (h *agentHarness) stop() {
	h.t.Helper()
	h.cancel()
	select {
	case err := <-h.stopped:
		if err != nil {
			h.t.Fatalf("Run: %v", err)
		}
		h.stopped <- nil // for the cleanup
	case <-time.After(waitLimit):
		h.t.Fatal("agent did not stop")
	}
}

func (h *agentHarness) eventually(what string, f func() (bool, string)) {
	h.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		ok, state := f()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; %s", what, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *agentHarness) getPod(name string) *corev1.Pod {
	p, err := h.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return p
}

func (h *agentHarness) waitPod(name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	h.t.Helper()
	var p *corev1.Pod
	h.eventually(fmt.Sprintf("pod %s: %s", name, what), func() (bool, string) {
		p = h.getPod(name)
		if p == nil {
			return false, "no pod"
		}
		return cond(p), describe(p)
	})
	return p
}

func (h *agentHarness) createPod(pod *corev1.Pod) {
	h.t.Helper()
	pod.Spec.NodeName = "node-1"
	if _, err := h.client.CoreV1().Pods(pod.Namespace).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *agentHarness) node() *corev1.Node {
	n, _ := h.client.CoreV1().Nodes().Get(context.Background(), "node-1", metav1.GetOptions{})
	return n
}

func (h *agentHarness) events(podName string) []string {
	list, err := h.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.InvolvedObject.Name == podName && e.Source.Component == "kubelet" && e.Source.Host == "node-1" {
			out = append(out, e.Reason)
		}
	}
	return out
}

func nodeCond(n *corev1.Node, t corev1.NodeConditionType) corev1.NodeCondition {
	for _, c := range n.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return corev1.NodeCondition{}
}

func TestAgentRegistersAndHeartbeats(t *testing.T) {
	t.Parallel()
	h := newAgentHarness(t)
	h.start()
	var lease0 time.Time
	h.eventually("the Lease", func() (bool, string) {
		l, err := h.client.CoordinationV1().Leases(NodeLeaseNamespace).Get(context.Background(), "node-1", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		lease0 = l.Spec.RenewTime.Time
		return *l.Spec.HolderIdentity == "node-1" && *l.Spec.LeaseDurationSeconds == 40, fmt.Sprintf("%+v", l.Spec)
	})
	n := h.node()
	if n == nil {
		t.Fatal("no Node")
	}
	for k, v := range map[string]string{"kubernetes.io/hostname": "node-1", "zone": "edge-a"} {
		if n.Labels[k] != v {
			t.Errorf("label %s=%q, want %q", k, n.Labels[k], v)
		}
	}
	if n.Labels["kubernetes.io/os"] == "" || n.Labels["kubernetes.io/arch"] == "" {
		t.Errorf("labels %v", n.Labels)
	}
	if len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Key != "dedicated" || n.Spec.PodCIDR != "10.244.1.0/24" {
		t.Errorf("spec %+v", n.Spec)
	}
	// Allocatable: capacity minus the system reservation (a tenth) minus
	// the memory.available eviction threshold (100Mi), as upstream.
	if q := n.Status.Allocatable[corev1.ResourceMemory]; q.Value() != 8<<30-(8<<30)/10-100<<20 {
		t.Errorf("allocatable memory %s", q.String())
	}
	if q := n.Status.Capacity[corev1.ResourcePods]; q.Value() != 20 {
		t.Errorf("capacity pods %s", q.String())
	}
	ready := nodeCond(n, corev1.NodeReady)
	if ready.Status != corev1.ConditionTrue || ready.Reason != "KubeletReady" || ready.Message != "kubelet is posting ready status" {
		t.Errorf("Ready %+v", ready)
	}
	for _, c := range []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		if nodeCond(n, c).Status != corev1.ConditionFalse {
			t.Errorf("%s %+v", c, nodeCond(n, c))
		}
	}
	if ni := n.Status.NodeInfo; ni.KubeletVersion != "v1.37.2-wasmpod" || ni.ContainerRuntimeVersion != "wazero://v1.12.0" {
		t.Errorf("nodeInfo %+v", ni)
	}
	if len(n.Status.Addresses) != 2 || n.Status.Addresses[0].Address != "127.0.0.1" {
		t.Errorf("addresses %+v", n.Status.Addresses)
	}
	hb0 := ready.LastHeartbeatTime.Time

	// Every heartbeat renews the Lease; every 5th refreshes the Node.
	for i := 1; i <= 5; i++ {
		h.eventually("the heartbeat ticker", func() (bool, string) { return h.clk.HasWaiters(), "" })
		h.clk.Step(10 * time.Second)
		want := lease0.Add(time.Duration(i) * 10 * time.Second)
		h.eventually(fmt.Sprintf("renewal %d", i), func() (bool, string) {
			l, _ := h.client.CoordinationV1().Leases(NodeLeaseNamespace).Get(context.Background(), "node-1", metav1.GetOptions{})
			return l.Spec.RenewTime.Time.Equal(want), l.Spec.RenewTime.String()
		})
		if i < 5 {
			if hb := nodeCond(h.node(), corev1.NodeReady).LastHeartbeatTime.Time; !hb.Equal(hb0) {
				t.Errorf("node status refreshed after %d heartbeats", i)
			}
		}
	}
	h.eventually("the node status refresh", func() (bool, string) {
		c := nodeCond(h.node(), corev1.NodeReady)
		return c.LastHeartbeatTime.Time.Equal(hb0.Add(50*time.Second)) && c.LastTransitionTime.Time.Equal(ready.LastTransitionTime.Time), fmt.Sprintf("%+v", c)
	})
}

func TestAgentRunsPodToSucceeded(t *testing.T) {
	t.Parallel()
	h := newAgentHarness(t)
	h.start()
	h.createPod(loadPod(t, "hello"))
	p := h.waitPod("hello", "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	wantTerminated(t, p, "hello", 0, "Completed")
	ip, err := netip.ParseAddr(p.Status.PodIP)
	if err != nil || !netip.MustParsePrefix("10.244.1.0/24").Contains(ip) || len(p.Status.PodIPs) != 1 {
		t.Errorf("podIP %q podIPs %v", p.Status.PodIP, p.Status.PodIPs)
	}
	if p.Status.HostIP != "127.0.0.1" {
		t.Errorf("hostIP %q", p.Status.HostIP)
	}
	// The pod IP was there from the first status write on.
	for _, a := range h.client.Actions() {
		if u, ok := a.(k8stesting.UpdateAction); ok && a.GetSubresource() == "status" && a.GetResource().Resource == "pods" {
			if u.GetObject().(*corev1.Pod).Status.PodIP == "" {
				t.Errorf("a status write without podIP")
			}
		}
	}
	h.eventually("events", func() (bool, string) {
		got := h.events("hello")
		return slices.Equal(got, []string{"Pulling", "Pulled", "Created", "Started"}), fmt.Sprint(got)
	})
}

func TestAgentIPsAreDistinctAndFreed(t *testing.T) {
	t.Parallel()
	m, err := newIPAM("10.244.1.0/30")
	if err != nil {
		t.Fatal(err)
	}
	// A /30 has one address for pods: .0 is the network, .1 the node, .3 broadcast.
	ip, err := m.allocate("a", "")
	if err != nil || ip != "10.244.1.2" {
		t.Fatalf("first: %q %v", ip, err)
	}
	if _, err := m.allocate("b", ""); err == nil || !strings.Contains(err.Error(), "no IP addresses available in range set: 10.244.1.1-10.244.1.2") {
		t.Errorf("second: %v", err)
	}
	m.release("a")
	if ip, err := m.allocate("b", "10.244.1.2"); err != nil || ip != "10.244.1.2" {
		t.Errorf("after release: %q %v", ip, err)
	}
	if _, err := newIPAM("10.244.1.0/33"); err == nil {
		t.Errorf("bad CIDR accepted")
	}
}

func TestAgentGracefulDeleteFinalizes(t *testing.T) {
	t.Parallel()
	h := newAgentHarness(t)
	h.start()
	h.createPod(loadPod(t, "graceful"))
	p := h.waitPod("graceful", "Running", func(p *corev1.Pod) bool {
		return ctrStatus(p, "graceful").State.Running != nil
	})
	uid := p.UID
	// The API server's side of a graceful delete: deletionTimestamp = now + grace.
	grace := int64(5)
	ts := metav1.NewTime(h.clk.Now().Add(5 * time.Second))
	p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &ts, &grace
	if _, err := h.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the pod's final delete", func() (bool, string) { return h.getPod("graceful") == nil, "" })
	var del *k8stesting.DeleteActionImpl
	var last *corev1.Pod
	for _, a := range h.client.Actions() {
		switch a := a.(type) {
		case k8stesting.DeleteActionImpl:
			if a.GetResource().Resource == "pods" {
				del = &a
			}
		case k8stesting.UpdateActionImpl:
			if a.GetSubresource() == "status" && a.GetResource().Resource == "pods" && del == nil {
				last = a.GetObject().(*corev1.Pod)
			}
		}
	}
	if del == nil {
		t.Fatal("no delete")
	}
	o := del.DeleteOptions
	if o.GracePeriodSeconds == nil || *o.GracePeriodSeconds != 0 || o.Preconditions == nil || o.Preconditions.UID == nil || *o.Preconditions.UID != uid {
		t.Errorf("delete options %+v", o)
	}
	// Before the delete, the final status was written: TERM, clean exit.
	if last == nil || last.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("last status before delete: %v", last)
	}
	wantTerminated(t, last, "graceful", 0, "Completed")
	h.eventually("Killing event", func() (bool, string) {
		return slices.Contains(h.events("graceful"), "Killing"), fmt.Sprint(h.events("graceful"))
	})
}

func TestAgentDeletedPodIsKilled(t *testing.T) {
	t.Parallel()
	h := newAgentHarness(t)
	h.start()
	h.createPod(loadPod(t, "spin"))
	h.waitPod("spin", "Running", func(p *corev1.Pod) bool { return ctrStatus(p, "spin").State.Running != nil })
	h.a.mu.Lock()
	var w *Worker
	for _, e := range h.a.pods {
		w = e.w
	}
	h.a.mu.Unlock()
	if err := h.client.CoreV1().Pods("default").Delete(context.Background(), "spin", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.Done():
	case <-time.After(waitLimit):
		t.Fatal("the worker of a deleted pod still runs")
	}
	if cs := ctrStatus(w.Pod(), "spin"); cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 137 {
		t.Errorf("spin after delete: %s", describe(w.Pod()))
	}
}

func TestAgentRestartResumesPods(t *testing.T) {
	t.Parallel()
	h := newAgentHarness(t)
	h.start()
	always := loadPod(t, "graceful")
	never := loadPod(t, "graceful")
	never.Name, never.UID = "graceful-never", types.UID("uid-graceful-never")
	never.Spec.RestartPolicy = corev1.RestartPolicyNever
	h.createPod(always)
	h.createPod(never)
	isRunning := func(p *corev1.Pod) bool { return ctrStatus(p, "graceful").State.Running != nil }
	before := h.waitPod("graceful", "Running", isRunning)
	h.waitPod("graceful-never", "Running", isRunning)
	for _, n := range []string{"graceful", "graceful-never"} {
		p := h.getPod(n)
		h.eventually(n+" printing ready", func() (bool, string) {
			var b bytes.Buffer
			err := h.a.Logs(context.Background(), p, &corev1.PodLogOptions{}, &b)
			return err == nil && strings.HasPrefix(b.String(), "ready\n"), b.String()
		})
	}

	h.stop()
	// Stopping is a reboot: the API still shows the pods running.
	for _, n := range []string{"graceful", "graceful-never"} {
		if p := h.getPod(n); p == nil || !isRunning(p) {
			t.Fatalf("%s after the agent stopped: %v", n, p)
		}
	}

	h.start()
	p := h.waitPod("graceful", "restarted", func(p *corev1.Pod) bool {
		return isRunning(p) && ctrStatus(p, "graceful").RestartCount == 1
	})
	if last := ctrStatus(p, "graceful").LastTerminationState.Terminated; last == nil || last.Reason != "ContainerStatusUnknown" || last.ExitCode != 137 {
		t.Errorf("lastState %+v", last)
	}
	if p.Status.PodIP != before.Status.PodIP {
		t.Errorf("pod IP changed across the restart: %s -> %s", before.Status.PodIP, p.Status.PodIP)
	}
	p = h.waitPod("graceful-never", "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	wantTerminated(t, p, "graceful", 137, "ContainerStatusUnknown")

	// Logs and exec through the NodeConnector, across the restart.
	var b bytes.Buffer
	var nc apiserver.NodeConnector = h.a
	if err := nc.Logs(context.Background(), p, &corev1.PodLogOptions{Container: "graceful"}, &b); err != nil || !strings.HasPrefix(b.String(), "ready\n") {
		t.Errorf("logs of the failed pod: %q %v", b.String(), err)
	}
	b.Reset()
	cur := h.getPod("graceful")
	h.eventually("the new instance's output", func() (bool, string) {
		b.Reset()
		err := nc.Logs(context.Background(), cur, &corev1.PodLogOptions{}, &b)
		return err == nil && strings.HasPrefix(b.String(), "ready\n"), b.String()
	})
	b.Reset()
	if err := nc.Logs(context.Background(), cur, &corev1.PodLogOptions{Previous: true}, &b); err != nil || !strings.HasPrefix(b.String(), "ready\n") {
		t.Errorf("previous logs: %q %v", b.String(), err)
	}
	if _, err := nc.Exec(context.Background(), p, &corev1.PodExecOptions{Container: "graceful", Command: []string{"graceful"}}, apiserver.ExecStreams{}); err == nil {
		t.Errorf("exec into a failed pod succeeded")
	}
}

func TestAgentExecAndLogsThroughNodeConnector(t *testing.T) {
	t.Parallel()
	h := newAgentHarness(t)
	h.start()
	h.createPod(toolsPod(t, "tools"))
	p := h.waitPod("tools", "Running", podRunning("graceful", "tools"))
	var nc apiserver.NodeConnector = h.a
	var out bytes.Buffer
	code, err := nc.Exec(context.Background(), p, &corev1.PodExecOptions{Container: "tools", Command: []string{"probe", "readstdin"}, Stdin: true, Stdout: true},
		apiserver.ExecStreams{Stdin: strings.NewReader("via the agent\n"), Stdout: &out})
	if err != nil || code != 0 || out.String() != "via the agent\n" {
		t.Errorf("exec: %d %q %v", code, out.String(), err)
	}
	code, err = nc.Exec(context.Background(), p, &corev1.PodExecOptions{Container: "tools", Command: []string{"probe", "exit", "7"}}, apiserver.ExecStreams{})
	if err != nil || code != 7 {
		t.Errorf("exec exit 7: %d %v", code, err)
	}
	if _, err := nc.Exec(context.Background(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x", UID: "nope"}}, &corev1.PodExecOptions{Command: []string{"a"}}, apiserver.ExecStreams{}); err == nil {
		t.Errorf("exec into an unknown pod succeeded")
	}
	// Follow the graceful container until a delete makes it exit.
	logs := enginetest.NewBuffer()
	errc := make(chan error, 1)
	go func() {
		errc <- nc.Logs(context.Background(), p, &corev1.PodLogOptions{Container: "graceful", Follow: true, Timestamps: true}, logs)
	}()
	waitOutput(t, logs, " ready\n")
	grace := int64(5)
	ts := metav1.NewTime(h.clk.Now().Add(5 * time.Second))
	p = h.getPod("tools")
	p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &ts, &grace
	if _, err := h.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err != nil || !strings.HasSuffix(logs.String(), " clean exit\n") || !strings.HasPrefix(logs.String(), "2025-03-01T12:00:00Z ready\n") {
			t.Errorf("followed logs %q, %v", logs.String(), err)
		}
	case <-time.After(waitLimit):
		t.Fatalf("logs -f did not end; %q", logs.String())
	}
}

func TestAgentNodeLifecycle(t *testing.T) {
	t.Parallel()
	h := newAgentHarness(t)
	h.start()
	h.createPod(loadPod(t, "graceful"))
	h.waitPod("graceful", "Running", func(p *corev1.Pod) bool { return ctrStatus(p, "graceful").State.Running != nil })
	ctrl := nodelifecycle.New(h.client, h.clk, 40*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ctrl.Run(ctx)

	// The agent dies (its pods with it, unseen by the API); time passes.
	h.stop()
	step := func() { h.clk.Step(5 * time.Second) }
	h.eventually("node Ready=Unknown", func() (bool, string) {
		step()
		n := h.node()
		return nodeCond(n, corev1.NodeReady).Status == corev1.ConditionUnknown && len(n.Spec.Taints) == 3, fmt.Sprintf("%+v %v", nodeCond(n, corev1.NodeReady), n.Spec.Taints)
	})
	p := h.waitPod("graceful", "Unknown", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodUnknown })
	if c := condOf(p.Status, corev1.PodReady); c.Status != corev1.ConditionFalse {
		t.Errorf("Ready %+v", c)
	}

	// A new agent: the Lease is renewed, the taints go, the node is Ready
	// again after its status refresh, and the pod runs again.
	h.start()
	h.waitPod("graceful", "Running again", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && ctrStatus(p, "graceful").RestartCount == 1
	})
	h.eventually("taints removed and Ready", func() (bool, string) {
		step()
		n := h.node()
		return len(n.Spec.Taints) == 1 && nodeCond(n, corev1.NodeReady).Status == corev1.ConditionTrue, fmt.Sprintf("%+v %v", nodeCond(n, corev1.NodeReady), n.Spec.Taints)
	})
}
