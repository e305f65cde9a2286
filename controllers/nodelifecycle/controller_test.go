package nodelifecycle

import (
	"context"
	"fmt"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/wasmpod/wasmpod/internal/apitest"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func readyNode(name string) *corev1.Node {
	now := metav1.NewTime(t0)
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "wasm", Effect: corev1.TaintEffectNoSchedule}}
	for _, c := range []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: c, Status: corev1.ConditionFalse, LastHeartbeatTime: now, LastTransitionTime: now})
	}
	n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now})
	return n
}

func lease(name string, renew time.Time) *coordinationv1.Lease {
	t := metav1.NewMicroTime(renew)
	secs := int32(40)
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: LeaseNamespace},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &name, LeaseDurationSeconds: &secs, RenewTime: &t},
	}
}

func pod(name, node string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		Status: corev1.PodStatus{Phase: phase, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue},
		}},
	}
}

func eventually(t *testing.T, clk *clocktesting.FakeClock, step time.Duration, what string, f func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, state := f()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; %s", what, state)
		}
		if step > 0 && clk.HasWaiters() {
			clk.Step(step)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// start serves a real API server (memory store, clk) holding objs, with
// their statuses as given, and returns a client of it.
func start(t *testing.T, clk *clocktesting.FakeClock, objs ...any) kubernetes.Interface {
	t.Helper()
	ctx := context.Background()
	cs := apitest.Client(t, clk)
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Node:
			got, err := cs.CoreV1().Nodes().Create(ctx, o, metav1.CreateOptions{})
			if err == nil {
				got.Status = o.Status
				_, err = cs.CoreV1().Nodes().UpdateStatus(ctx, got, metav1.UpdateOptions{})
			}
			if err != nil {
				t.Fatal(err)
			}
		case *corev1.Pod:
			got, err := cs.CoreV1().Pods(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
			if err == nil {
				got.Status = o.Status
				_, err = cs.CoreV1().Pods(o.Namespace).UpdateStatus(ctx, got, metav1.UpdateOptions{})
			}
			if err != nil {
				t.Fatal(err)
			}
		case *coordinationv1.Lease:
			if _, err := cs.CoordinationV1().Leases(o.Namespace).Create(ctx, o, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("start: %T", o)
		}
	}
	return cs
}

func TestNodeLifecycle(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	client := start(t, clk,
		readyNode("lost"), lease("lost", t0),
		readyNode("alive"), lease("alive", t0),
		pod("running", "lost", corev1.PodRunning),
		pod("done", "lost", corev1.PodSucceeded),
		pod("elsewhere", "alive", corev1.PodRunning),
	)
	c := New(client, clk, 40*time.Second)
	if c.period != 5*time.Second {
		t.Errorf("period %s, want 5s", c.period)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	get := func(name string) *corev1.Node {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	getPod := func(name string) *corev1.Pod {
		p, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ready := func(n *corev1.Node) corev1.NodeCondition {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c
			}
		}
		return corev1.NodeCondition{}
	}

	// 30 s in: within grace; "alive" keeps renewing, "lost" does not.
	renew := func(at time.Time) {
		if _, err := client.CoordinationV1().Leases(LeaseNamespace).Update(ctx, lease("alive", at), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, clk, 0, "the ticker", func() (bool, string) { return clk.HasWaiters(), "" })
	for clk.Since(t0) < 30*time.Second {
		clk.Step(5 * time.Second)
		renew(clk.Now())
		time.Sleep(10 * time.Millisecond)
	}
	if r := ready(get("lost")); r.Status != corev1.ConditionTrue {
		t.Fatalf("lost marked before grace: %+v", r)
	}
	eventually(t, clk, 5*time.Second, "lost Ready=Unknown", func() (bool, string) {
		renew(clk.Now())
		n := get("lost")
		return ready(n).Status == corev1.ConditionUnknown, fmt.Sprintf("%+v", n.Status.Conditions)
	})
	if elapsed := clk.Since(t0); elapsed <= 40*time.Second {
		t.Errorf("marked after %s, within the grace", elapsed)
	}
	n := get("lost")
	for _, cond := range n.Status.Conditions {
		if cond.Status != corev1.ConditionUnknown || cond.Reason != "NodeStatusUnknown" || cond.Message != "Kubelet stopped posting node status." {
			t.Errorf("condition %+v", cond)
		}
	}
	eventually(t, clk, 0, "taints", func() (bool, string) {
		n := get("lost")
		return len(n.Spec.Taints) == 3, fmt.Sprint(n.Spec.Taints)
	})
	n = get("lost")
	if n.Spec.Taints[0].Key != "dedicated" || n.Spec.Taints[1] != (corev1.Taint{Key: "node.kubernetes.io/unreachable", Effect: corev1.TaintEffectNoSchedule}) ||
		n.Spec.Taints[2].Key != "node.kubernetes.io/unreachable" || n.Spec.Taints[2].Effect != corev1.TaintEffectNoExecute || n.Spec.Taints[2].TimeAdded == nil {
		t.Errorf("taints %+v", n.Spec.Taints)
	}
	eventually(t, clk, 0, "pod Unknown", func() (bool, string) {
		p := getPod("running")
		return p.Status.Phase == corev1.PodUnknown && p.Status.Conditions[0].Status == corev1.ConditionFalse, fmt.Sprintf("%+v", p.Status)
	})
	if p := getPod("done"); p.Status.Phase != corev1.PodSucceeded || p.Status.Conditions[0].Status != corev1.ConditionTrue {
		t.Errorf("a finished pod was marked: %+v", p.Status)
	}
	if p := getPod("elsewhere"); p.Status.Phase != corev1.PodRunning {
		t.Errorf("a pod of a live node was marked: %+v", p.Status)
	}
	if r := ready(get("alive")); r.Status != corev1.ConditionTrue || len(get("alive").Spec.Taints) != 1 {
		t.Errorf("alive node marked: %+v", get("alive"))
	}

	// The lost node's agent comes back: the unreachable taints go.
	if _, err := client.CoordinationV1().Leases(LeaseNamespace).Update(ctx, lease("lost", clk.Now()), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, clk, 5*time.Second, "taints removed", func() (bool, string) {
		n := get("lost")
		return len(n.Spec.Taints) == 1 && n.Spec.Taints[0].Key == "dedicated", fmt.Sprint(n.Spec.Taints)
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestNodeControllerEvents: as upstream's node lifecycle controller, the
// controller records RegisteredNode for each node it first sees,
// NodeNotReady when it marks a Ready node Unknown, and RemovingNode when a
// node is deleted ("Node NAME event: ..." from node-controller).
func TestNodeControllerEvents(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	client := start(t, clk, readyNode("gone"), lease("gone", t0))
	c := New(client, clk, 40*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	count := map[string]int32{}
	events := func() (map[string]string, string) {
		l, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		clear(count)
		for _, e := range l.Items {
			if e.Source.Component == "node-controller" && e.InvolvedObject.Kind == "Node" && e.InvolvedObject.Name == "gone" {
				got[e.Reason] = e.Message
				count[e.Reason] += e.Count
			}
		}
		return got, fmt.Sprint(got)
	}
	eventually(t, clk, 0, "RegisteredNode", func() (bool, string) {
		got, s := events()
		return got["RegisteredNode"] == "Node gone event: Registered Node gone in Controller", s
	})
	eventually(t, clk, 5*time.Second, "NodeNotReady", func() (bool, string) {
		got, s := events()
		return got["NodeNotReady"] == "Node gone status is now: NodeNotReady", s
	})
	if err := client.CoreV1().Nodes().Delete(ctx, "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, clk, 5*time.Second, "RemovingNode", func() (bool, string) {
		got, s := events()
		return got["RemovingNode"] == "Node gone event: Removing Node gone from Controller", s
	})
	got, _ := events()
	if len(got) != 3 || count["RegisteredNode"] != 1 || count["NodeNotReady"] != 1 || count["RemovingNode"] != 1 {
		t.Errorf("events %v (counts %v), want RegisteredNode, NodeNotReady, RemovingNode once each", got, count)
	}
}
