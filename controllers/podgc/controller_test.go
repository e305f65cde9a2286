package podgc

// Tests against a real in-process API server through client-go, with a
// fake clock driving the 20 s gc period and the 40 s quarantine. No
// scheduler or kubelet runs: the tests bind pods and set their phases
// themselves. Upstream references: pkg/controller/podgc/gc_controller_test.go
// (TestGCTerminated, TestGCOrphaned, TestGCUnscheduledTerminating,
// TestGCTerminating) and test/integration/podgc (TestPodGcOrphanedPodsWithFinalizer,
// TestTerminatingOnOutOfServiceNode).

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/store/memory"
)

type env struct {
	t      *testing.T
	cs     kubernetes.Interface
	clk    *clocktesting.FakeClock
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	passes int
}

func setup(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st := memory.New()
	s, err := apiserver.New(ctx, st, apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(s.InProcessConfig(s.Handler(apiserver.HandlerOptions{})))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, cs: cs, clk: clocktesting.NewFakeClock(time.Now()), ctx: ctx, cancel: cancel}
	t.Cleanup(func() {
		cancel()
		if e.done != nil {
			<-e.done
		}
		st.Close()
	})
	return e
}

// start runs the pod GC with threshold and waits for its first pass.
func (e *env) start(threshold int) {
	e.t.Helper()
	c := New(e.cs, e.clk, threshold)
	c.afterPass = func() { e.mu.Lock(); e.passes++; e.mu.Unlock() }
	e.done = make(chan struct{})
	go func() { defer close(e.done); c.Run(e.ctx) }()
	e.waitPasses(1)
}

func (e *env) waitPasses(n int) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.mu.Lock()
		got := e.passes
		e.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("gc pass %d never came (%d so far)", n, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pass moves the fake clock one gc period and waits for that pass.
func (e *env) pass() {
	e.t.Helper()
	e.mu.Lock()
	n := e.passes
	e.mu.Unlock()
	e.clk.Step(CheckPeriod)
	e.waitPasses(n + 1)
}

func (e *env) node(name string, ready bool, taints ...corev1.Taint) {
	e.t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Taints: taints}}
	n, err := e.cs.CoreV1().Nodes().Create(e.ctx, n, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}
	if _, err := e.cs.CoreV1().Nodes().UpdateStatus(e.ctx, n, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// pod creates a pod bound to node ("" unbound) with the phase (and status
// reason) given ("" leaves Pending).
func (e *env) pod(name, node string, phase corev1.PodPhase, reason string, finalizers ...string) *corev1.Pod {
	e.t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Finalizers: finalizers},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	p, err := e.cs.CoreV1().Pods("default").Create(e.ctx, p, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	if phase != "" {
		p.Status.Phase, p.Status.Reason = phase, reason
		if p, err = e.cs.CoreV1().Pods("default").UpdateStatus(e.ctx, p, metav1.UpdateOptions{}); err != nil {
			e.t.Fatal(err)
		}
	}
	return p
}

func (e *env) get(name string) (*corev1.Pod, bool) {
	e.t.Helper()
	p, err := e.cs.CoreV1().Pods("default").Get(e.ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return p, true
}

// names lists the pods left, sorted.
func (e *env) names() string {
	e.t.Helper()
	l, err := e.cs.CoreV1().Pods("").List(e.ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, p := range l.Items {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// waitNames waits (a short real time) for the pods left to be want.
func (e *env) waitNames(want string) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for e.names() != want {
		if time.Now().After(deadline) {
			e.t.Fatalf("pods %q, want %q", e.names(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A pod bound to a node that does not exist is kept through the 40 s
// quarantine, then marked DisruptionTarget (DeletionByPodGC) and Failed
// and force-deleted; a pod whose node appears during the quarantine, and
// a pod on a live node, stay. Upstream: TestGCOrphaned, and the e2e
// "pods are deleted when their node is deleted" part of the node
// lifecycle (test/integration/podgc TestPodGcOrphanedPodsWithFinalizer).
func TestGCOrphaned(t *testing.T) {
	e := setup(t)
	e.node("live", true)
	e.pod("on-live", "live", corev1.PodRunning, "")
	orphan := e.pod("orphan", "gone", corev1.PodRunning, "", "example.com/hold")
	e.pod("late", "late-node", "", "")
	w, err := e.cs.CoreV1().Pods("default").Watch(e.ctx, metav1.ListOptions{FieldSelector: "metadata.name=orphan", ResourceVersion: orphan.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	start := e.clk.Now()
	e.start(DefaultTerminatedPodThreshold)
	e.pass() // 20 s: still in quarantine
	time.Sleep(100 * time.Millisecond)
	if p, ok := e.get("orphan"); !ok || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		t.Fatalf("orphan touched inside the quarantine: %+v", p)
	}
	e.node("late-node", false) // comes back before the live GET
	for i := 0; i < 5; i++ {
		e.pass()
		if p, _ := e.get("orphan"); p.DeletionTimestamp != nil {
			break
		}
	}
	if el := e.clk.Since(start); el < QuarantineTime {
		t.Errorf("orphan deleted after %v of fake time, before the quarantine", el)
	}
	p, _ := e.get("orphan") // the finalizer holds it for inspection
	if p.DeletionTimestamp == nil || p.DeletionGracePeriodSeconds == nil || *p.DeletionGracePeriodSeconds != 0 {
		t.Fatalf("orphan not force-deleted: deletionTimestamp %v grace %v", p.DeletionTimestamp, p.DeletionGracePeriodSeconds)
	}
	if p.Status.Phase != corev1.PodFailed {
		t.Errorf("orphan phase %s, want Failed", p.Status.Phase)
	}
	var cond *corev1.PodCondition
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.DisruptionTarget {
			cond = &p.Status.Conditions[i]
		}
	}
	if cond == nil || cond.Status != corev1.ConditionTrue || cond.Reason != "DeletionByPodGC" || cond.Message != "PodGC: node no longer exists" {
		t.Errorf("DisruptionTarget condition %+v", cond)
	}
	// The status was written before the delete, as upstream.
	sawFailed := false
	for ev := range w.ResultChan() {
		wp, ok := ev.Object.(*corev1.Pod)
		if !ok || ev.Type != watch.Modified {
			continue
		}
		if wp.DeletionTimestamp == nil && wp.Status.Phase == corev1.PodFailed {
			sawFailed = true
		}
		if wp.DeletionTimestamp != nil {
			break
		}
	}
	if !sawFailed {
		t.Error("no Failed status before the deletion")
	}
	p.Finalizers = nil
	if _, err := e.cs.CoreV1().Pods("default").Update(e.ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitNames("late,on-live")
	e.pass()
	e.pass()
	if p, _ := e.get("late"); p == nil || p.Status.Phase != corev1.PodPending || p.DeletionTimestamp != nil {
		t.Errorf("pod whose node came back was touched: %+v", p)
	}
}

// A node deleted while its pod runs: the pod goes after the quarantine.
// Without a pod GC it stays for ever (nothing else deletes it).
func TestGCOrphanedNodeDeleted(t *testing.T) {
	e := setup(t)
	e.node("n1", true)
	e.pod("p", "n1", corev1.PodRunning, "")
	e.start(DefaultTerminatedPodThreshold)
	if err := e.cs.CoreV1().Nodes().Delete(e.ctx, "n1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5 && e.names() != ""; i++ {
		e.pass()
	}
	e.waitNames("")
}

// Terminating pods on a NotReady node with the out-of-service taint are
// force-deleted; on a NotReady node without it, or a Ready one with it,
// they are left to the kubelet. Upstream: TestGCTerminating,
// test/integration/podgc TestTerminatingOnOutOfServiceNode.
func TestGCTerminating(t *testing.T) {
	e := setup(t)
	oos := corev1.Taint{Key: corev1.TaintNodeOutOfService, Value: "nodeshutdown", Effect: corev1.TaintEffectNoExecute}
	e.node("oos", false, oos)
	e.node("notready", false)
	e.node("ready-oos", true, oos)
	for _, n := range []string{"oos", "notready", "ready-oos"} {
		e.pod("t-"+n, n, corev1.PodRunning, "")
		e.pod("r-"+n, n, corev1.PodRunning, "") // not terminating
		if err := e.cs.CoreV1().Pods("default").Delete(e.ctx, "t-"+n, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if p, _ := e.get("t-" + n); p == nil || p.DeletionTimestamp == nil {
			t.Fatalf("t-%s not terminating: %+v", n, p)
		}
	}
	e.start(DefaultTerminatedPodThreshold)
	e.waitNames("r-notready,r-oos,r-ready-oos,t-notready,t-ready-oos")
	e.pass()
	if got, want := e.names(), "r-notready,r-oos,r-ready-oos,t-notready,t-ready-oos"; got != want {
		t.Errorf("pods %q, want %q", got, want)
	}
}

// A terminating pod that was never bound is marked Failed and deleted
// with grace 0; an unbound pod not being deleted stays. Upstream:
// TestGCUnscheduledTerminating.
func TestGCUnscheduledTerminating(t *testing.T) {
	e := setup(t)
	e.pod("held", "", "", "", "example.com/hold")
	e.pod("pending", "", "", "")
	if err := e.cs.CoreV1().Pods("default").Delete(e.ctx, "held", metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(30))}); err != nil {
		t.Fatal(err)
	}
	e.start(DefaultTerminatedPodThreshold)
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, _ := e.get("held")
		if p.Status.Phase == corev1.PodFailed && p.DeletionGracePeriodSeconds != nil && *p.DeletionGracePeriodSeconds == 0 {
			p.Finalizers = nil
			if _, err := e.cs.CoreV1().Pods("default").Update(e.ctx, p, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("held: phase %s grace %v", p.Status.Phase, p.DeletionGracePeriodSeconds)
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.waitNames("pending")
	e.pass()
	if p, _ := e.get("pending"); p == nil || p.Status.Phase != corev1.PodPending {
		t.Errorf("pending pod touched: %+v", p)
	}
}

// Above the threshold the excess terminated pods go, evicted first, then
// oldest by creation (not by name); running pods do not count. Upstream:
// TestGCTerminated.
func TestGCTerminated(t *testing.T) {
	e := setup(t)
	e.node("n", true)
	e.pod("z-old", "n", corev1.PodSucceeded, "")
	time.Sleep(1100 * time.Millisecond) // creationTimestamp has 1 s resolution
	e.pod("a-new", "n", corev1.PodFailed, "")
	e.pod("b-new", "n", corev1.PodSucceeded, "")
	e.pod("c-evicted", "n", corev1.PodFailed, "Evicted")
	e.pod("running", "n", corev1.PodRunning, "")
	e.pod("y-unbound", "", corev1.PodFailed, "")
	e.start(3)
	e.waitNames("a-new,b-new,running,y-unbound")
	e.pass()
	if got, want := e.names(), "a-new,b-new,running,y-unbound"; got != want {
		t.Errorf("after another pass: %q, want %q", got, want)
	}
}

// Threshold 0 turns gcTerminated off, as upstream.
func TestGCTerminatedOff(t *testing.T) {
	e := setup(t)
	e.node("n", true)
	e.pod("a", "n", corev1.PodSucceeded, "")
	e.start(0)
	e.pass()
	if got := e.names(); got != "a" {
		t.Errorf("pods %q", got)
	}
}

func TestSortForGC(t *testing.T) {
	t0 := metav1.NewTime(time.Unix(1000, 0))
	t1 := metav1.NewTime(time.Unix(2000, 0))
	mk := func(name string, ts metav1.Time, ev bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: ts}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}
		if ev {
			p.Status.Phase, p.Status.Reason = corev1.PodFailed, "Evicted"
		}
		return p
	}
	pods := []*corev1.Pod{mk("b", t0, false), mk("e-new", t1, true), mk("a", t1, false), mk("a0", t0, false), mk("e-old", t0, true)}
	sortForGC(pods)
	var got []string
	for _, p := range pods {
		got = append(got, p.Name)
	}
	if s := strings.Join(got, ","); s != "e-old,e-new,a0,b,a" {
		t.Errorf("order %s", s)
	}
}

func ptr[T any](v T) *T { return &v }

// The quarantine ends with a live GET, not the informer's word: a node
// the caller's node list lacks but the API server has keeps its pods;
// once the API server has lost it too, they go. Upstream:
// TestGCOrphaned "some nodes missing in cache, but exist in API".
func TestGCOrphanedLiveGet(t *testing.T) {
	e := setup(t)
	e.node("real", true)
	p := e.pod("p", "real", corev1.PodRunning, "")
	c := New(e.cs, e.clk, 0)
	defer c.nodeQueue.ShutDown()
	quarantine := func() {
		t.Helper()
		c.gcOrphaned(e.ctx, []*corev1.Pod{p}, nil) // the cache does not know "real"
		e.clk.Step(QuarantineTime)
		deadline := time.Now().Add(5 * time.Second)
		for c.nodeQueue.Len() == 0 {
			if time.Now().After(deadline) {
				t.Fatal("node never left the quarantine")
			}
			time.Sleep(5 * time.Millisecond)
		}
		c.gcOrphaned(e.ctx, []*corev1.Pod{p}, nil)
	}
	quarantine()
	if got, _ := e.get("p"); got == nil || got.Status.Phase != corev1.PodRunning || got.DeletionTimestamp != nil {
		t.Fatalf("pod of a node the API server has was touched: %+v", got)
	}
	if err := e.cs.CoreV1().Nodes().Delete(e.ctx, "real", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	quarantine()
	e.waitNames("")
}
