package daemonset

// Tests against a real in-process API server through client-go, with a
// fake clock. No scheduler or node agents run here: the tests bind pods
// and set their phase and readiness themselves (as the scheduler and the
// kubelet would); the e2e with real pods and kubectl is
// ../../daemonset_e2e_test.go. Upstream behaviours
// (test/e2e/apps/daemon_set.go) are named per test.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/store/memory"
)

type env struct {
	t   *testing.T
	cs  kubernetes.Interface
	clk *clocktesting.FakeClock
	ctx context.Context
}

func setup(t *testing.T, nodes ...string) *env { t.Helper(); return setupKubelet(t, true, nodes...) }

// setupKubelet: kubelet false leaves pods being deleted as they are (no
// one finishes a graceful deletion).
func setupKubelet(t *testing.T, kubelet bool, nodes ...string) *env {
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
	e := &env{t: t, cs: cs, clk: clocktesting.NewFakeClock(time.Now()), ctx: context.Background()}
	for _, n := range nodes {
		e.addNode(n, nil, nil)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		New(cs, e.clk).Run(ctx)
	}()
	// The kubelet's part in a deletion: a pod being deleted goes at once.
	w, err := cs.CoreV1().Pods("").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for ev := range w.ResultChan() {
			if !kubelet {
				continue
			}
			if p, ok := ev.Object.(*corev1.Pod); ok && p.DeletionTimestamp != nil {
				cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
	})
	return e
}

func (e *env) addNode(name string, lbls map[string]string, taints []corev1.Taint) {
	e.t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}, Spec: corev1.NodeSpec{Taints: taints}}
	if _, err := e.cs.CoreV1().Nodes().Create(e.ctx, n, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) updateNode(name string, f func(*corev1.Node)) {
	e.t.Helper()
	n, err := e.cs.CoreV1().Nodes().Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	f(n)
	if _, err := e.cs.CoreV1().Nodes().Update(e.ctx, n, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func newDS(name string) *appsv1.DaemonSet {
	lbl := map[string]string{"daemonset-name": name}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: lbl},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbl},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox", Command: []string{"sh", "-c", "sleep 3600"}}}},
			},
		},
	}
}

func (e *env) create(ds *appsv1.DaemonSet) *appsv1.DaemonSet {
	e.t.Helper()
	out, err := e.cs.AppsV1().DaemonSets("default").Create(e.ctx, ds, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) getDS(name string) *appsv1.DaemonSet {
	e.t.Helper()
	ds, err := e.cs.AppsV1().DaemonSets("default").Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return ds
}

func (e *env) updateDS(name string, f func(*appsv1.DaemonSet)) {
	e.t.Helper()
	for {
		ds := e.getDS(name)
		f(ds)
		_, err := e.cs.AppsV1().DaemonSets("default").Update(e.ctx, ds, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			e.t.Fatal(err)
		}
		return
	}
}

// pods returns the DaemonSet's pods not being deleted, by target node.
func (e *env) pods(name string) map[string][]corev1.Pod {
	e.t.Helper()
	l, err := e.cs.CoreV1().Pods("default").List(e.ctx, metav1.ListOptions{LabelSelector: "daemonset-name=" + name})
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string][]corev1.Pod{}
	for _, p := range l.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		n, err := targetNodeName(&p)
		if err != nil {
			e.t.Fatalf("pod %s: %v", p.Name, err)
		}
		out[n] = append(out[n], p)
	}
	return out
}

func nodesOf(m map[string][]corev1.Pod) string {
	var ns []string
	for n, ps := range m {
		for range ps {
			ns = append(ns, n)
		}
	}
	sort.Strings(ns)
	return strings.Join(ns, ",")
}

func (e *env) waitFor(what string, f func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) waitNodes(name, want string) map[string][]corev1.Pod {
	e.t.Helper()
	var got map[string][]corev1.Pod
	deadline := time.Now().Add(20 * time.Second)
	for {
		got = e.pods(name)
		if nodesOf(got) == want {
			return got
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("pods of %s on nodes %q, want %q", name, nodesOf(got), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// run plays scheduler and kubelet for a pod: bound to its target node,
// Running and Ready since the fake clock's now.
func (e *env) run(p corev1.Pod) {
	e.t.Helper()
	n, _ := targetNodeName(&p)
	if p.Spec.NodeName == "" {
		if err := e.cs.CoreV1().Pods("default").Bind(e.ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: p.Name, UID: p.UID},
			Target: corev1.ObjectReference{Kind: "Node", Name: n}}, metav1.CreateOptions{}); err != nil {
			e.t.Fatal(err)
		}
	}
	e.setStatus(p.Name, corev1.PodRunning, true)
}

func (e *env) setStatus(name string, phase corev1.PodPhase, ready bool) {
	e.t.Helper()
	for {
		p, err := e.cs.CoreV1().Pods("default").Get(e.ctx, name, metav1.GetOptions{})
		if err != nil {
			e.t.Fatal(err)
		}
		st := corev1.ConditionFalse
		if ready {
			st = corev1.ConditionTrue
		}
		p.Status.Phase = phase
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st, LastTransitionTime: metav1.NewTime(e.clk.Now().Add(-time.Second))}}
		_, err = e.cs.CoreV1().Pods("default").UpdateStatus(e.ctx, p, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			e.t.Fatal(err)
		}
		return
	}
}

func (e *env) runAll(name string) {
	e.t.Helper()
	for _, ps := range e.pods(name) {
		for _, p := range ps {
			if p.Status.Phase != corev1.PodRunning {
				e.run(p)
			}
		}
	}
}

func (e *env) waitStatus(name string, want string) *appsv1.DaemonSet {
	e.t.Helper()
	var ds *appsv1.DaemonSet
	var got string
	deadline := time.Now().Add(20 * time.Second)
	for {
		ds = e.getDS(name)
		s := ds.Status
		got = fmt.Sprintf("desired=%d current=%d misscheduled=%d ready=%d updated=%d available=%d unavailable=%d observed=%v",
			s.DesiredNumberScheduled, s.CurrentNumberScheduled, s.NumberMisscheduled, s.NumberReady, s.UpdatedNumberScheduled,
			s.NumberAvailable, s.NumberUnavailable, s.ObservedGeneration == ds.Generation)
		if got == want {
			return ds
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("status of %s:\n got %s\nwant %s", name, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Upstream: "should run and stop simple daemon" — one pod per node, made
// as upstream makes them; a deleted pod is revived.
func TestRunAndStopSimpleDaemon(t *testing.T) {
	e := setup(t, "n1", "n2", "n3")
	ds := e.create(newDS("simple"))
	pods := e.waitNodes("simple", "n1,n2,n3")
	cur, err := e.cs.AppsV1().ControllerRevisions("default").List(e.ctx, metav1.ListOptions{LabelSelector: "daemonset-name=simple"})
	if err != nil || len(cur.Items) != 1 {
		t.Fatalf("controller revisions: %v %v", cur, err)
	}
	hash := cur.Items[0].Labels[RevisionHashLabel]
	if cur.Items[0].Name != "simple-"+hash || cur.Items[0].Revision != 1 || !metav1.IsControlledBy(&cur.Items[0], ds) {
		t.Errorf("revision %s (hash %s) revision %d owners %v", cur.Items[0].Name, hash, cur.Items[0].Revision, cur.Items[0].OwnerReferences)
	}
	p := pods["n2"][0]
	if !strings.HasPrefix(p.Name, "simple-") || p.Labels[RevisionHashLabel] != hash || p.Labels[TemplateGenerationLabel] != "1" {
		t.Errorf("pod %s labels %v, want controller-revision-hash %s and pod-template-generation 1", p.Name, p.Labels, hash)
	}
	if ref := metav1.GetControllerOf(&p); ref == nil || ref.UID != ds.UID || ref.Kind != "DaemonSet" {
		t.Errorf("pod owner %v", p.OwnerReferences)
	}
	terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || len(terms[0].MatchFields) != 1 || terms[0].MatchFields[0].Key != "metadata.name" || terms[0].MatchFields[0].Values[0] != "n2" {
		t.Errorf("pod affinity %+v, want matchFields metadata.name In [n2]", terms)
	}
	var tols []string
	for _, tl := range p.Spec.Tolerations {
		tols = append(tols, fmt.Sprintf("%s:%s:%s", tl.Key, tl.Operator, tl.Effect))
	}
	wantTols := "node.kubernetes.io/not-ready:Exists:NoExecute node.kubernetes.io/unreachable:Exists:NoExecute " +
		"node.kubernetes.io/disk-pressure:Exists:NoSchedule node.kubernetes.io/memory-pressure:Exists:NoSchedule " +
		"node.kubernetes.io/pid-pressure:Exists:NoSchedule node.kubernetes.io/unschedulable:Exists:NoSchedule"
	if got := strings.Join(tols, " "); !strings.Contains(got, wantTols) {
		t.Errorf("tolerations %s\nwant the daemon defaults %s", got, wantTols)
	}
	e.waitStatus("simple", "desired=3 current=3 misscheduled=0 ready=0 updated=3 available=0 unavailable=3 observed=true")
	e.runAll("simple")
	e.waitStatus("simple", "desired=3 current=3 misscheduled=0 ready=3 updated=3 available=3 unavailable=0 observed=true")

	// A deleted daemon pod is revived.
	if err := e.cs.CoreV1().Pods("default").Delete(e.ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	pods = e.waitNodes("simple", "n1,n2,n3")
	if pods["n2"][0].Name == p.Name {
		t.Fatalf("pod %s not replaced", p.Name)
	}
}

// Upstream: "should run and stop complex daemon" — nodeSelector: a pod
// only on nodes with the label; relabelled nodes gain or lose theirs.
// Also required node affinity and taints against tolerations.
func TestRunAndStopComplexDaemon(t *testing.T) {
	e := setup(t, "n1", "n2")
	ds := newDS("complex")
	ds.Spec.Template.Spec.NodeSelector = map[string]string{"color": "blue"}
	e.create(ds)
	e.waitNodes("complex", "")
	e.updateNode("n1", func(n *corev1.Node) { n.Labels = map[string]string{"color": "blue"} })
	e.waitNodes("complex", "n1")
	e.waitStatus("complex", "desired=1 current=1 misscheduled=0 ready=0 updated=1 available=0 unavailable=1 observed=true")
	e.updateNode("n1", func(n *corev1.Node) { n.Labels = map[string]string{"color": "green"} })
	e.waitNodes("complex", "")
	// The nodeSelector changed to green: the pod comes back.
	e.updateDS("complex", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.NodeSelector = map[string]string{"color": "green"} })
	e.waitNodes("complex", "n1")

	// Required node affinity (matchExpressions) is honoured too.
	aff := newDS("affinity")
	aff.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "color", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"green"}}}}}}}}
	e.create(aff)
	e.waitNodes("affinity", "n2")

	// Taints: NoSchedule keeps a running pod but places no new one;
	// NoExecute evicts; a toleration lets it back.
	e.updateNode("n2", func(n *corev1.Node) {
		n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}}
	})
	e.addNode("n3", nil, []corev1.Taint{{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}})
	e.addNode("n4", nil, nil)
	e.waitNodes("affinity", "n2,n4")
	// n2's pod stays (NoSchedule) but is misscheduled; n3 gets none.
	e.waitStatus("affinity", "desired=1 current=1 misscheduled=1 ready=0 updated=1 available=0 unavailable=1 observed=true")
	e.updateNode("n2", func(n *corev1.Node) {
		n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoExecute}}
	})
	e.waitNodes("affinity", "n4")
	e.updateDS("affinity", func(ds *appsv1.DaemonSet) {
		ds.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
	})
	e.waitNodes("affinity", "n2,n3,n4")
	// The node-condition taints the daemon pods tolerate by default.
	e.addNode("n5", nil, []corev1.Taint{{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeMemoryPressure, Effect: corev1.TaintEffectNoSchedule}, {Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}})
	e.waitNodes("affinity", "n2,n3,n4,n5")

	// A node that leaves takes its pod with it.
	if err := e.cs.CoreV1().Nodes().Delete(e.ctx, "n4", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitNodes("affinity", "n2,n3,n5")
}

// Upstream: "should retry creating failed daemon pods" — a Failed pod is
// deleted (event FailedDaemonPod) and re-created; again within the
// back-off it waits for the clock.
func TestRetryCreatingFailedDaemonPods(t *testing.T) {
	e := setup(t, "n1")
	e.create(newDS("retry"))
	p := e.waitNodes("retry", "n1")["n1"][0]
	e.run(p)
	// The back-off key holds status.observedGeneration (upstream's
	// failedPodsBackoffKey): fail the pods once the status has caught up,
	// so that both failures share one key.
	e.waitFor("status.observedGeneration", func() bool {
		ds, err := e.cs.AppsV1().DaemonSets("default").Get(e.ctx, "retry", metav1.GetOptions{})
		return err == nil && ds.Status.ObservedGeneration == ds.Generation
	})
	e.setStatus(p.Name, corev1.PodFailed, false)
	var p2 corev1.Pod
	e.waitFor("a new pod in place of the failed one", func() bool {
		ps := e.pods("retry")["n1"]
		if len(ps) == 1 && ps[0].Name != p.Name && ps[0].Status.Phase != corev1.PodFailed {
			p2 = ps[0]
			return true
		}
		return false
	})
	e.waitFor("the FailedDaemonPod event", func() bool {
		l, _ := e.cs.CoreV1().Events("default").List(e.ctx, metav1.ListOptions{})
		for _, ev := range l.Items {
			if ev.Reason == FailedDaemonPodReason && ev.Type == corev1.EventTypeWarning &&
				ev.Message == fmt.Sprintf("Found failed daemon pod default/%s on node n1, will try to kill it", p.Name) {
				return true
			}
		}
		return false
	})
	// Fails again at once: within the 1 s back-off it stays until the
	// clock moves on.
	e.run(p2)
	e.setStatus(p2.Name, corev1.PodFailed, false)
	time.Sleep(300 * time.Millisecond)
	if ps := e.pods("retry")["n1"]; len(ps) != 1 || ps[0].Name != p2.Name {
		var got []string
		for _, q := range ps {
			got = append(got, q.Name+"/"+string(q.Status.Phase))
		}
		l, _ := e.cs.CoreV1().Events("default").List(e.ctx, metav1.ListOptions{})
		for _, ev := range l.Items {
			got = append(got, ev.Reason+": "+ev.Message)
		}
		t.Fatalf("within the back-off: pods on n1 %v, want the failed %s kept", got, p2.Name)
	}
	e.clk.Step(3 * time.Second)
	e.waitFor("the second failed pod replaced after the back-off", func() bool {
		ps := e.pods("retry")["n1"]
		return len(ps) == 1 && ps[0].Name != p2.Name
	})
}

func image(p corev1.Pod) string { return p.Spec.Containers[0].Image }

// Upstream: "should update pod when spec was updated and update strategy
// is RollingUpdate" — with maxUnavailable 1, one node at a time.
func TestRollingUpdate(t *testing.T) {
	e := setup(t, "n1", "n2", "n3")
	e.create(newDS("ru"))
	e.waitNodes("ru", "n1,n2,n3")
	e.runAll("ru")
	e.waitStatus("ru", "desired=3 current=3 misscheduled=0 ready=3 updated=3 available=3 unavailable=0 observed=true")
	e.updateDS("ru", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "busybox:v2" })
	if g := e.getDS("ru").Annotations[TemplateGenerationAnnotation]; g != "2" {
		t.Fatalf("template generation annotation %q, want 2", g)
	}
	for step := 0; step < 3; step++ {
		// At most one node without an available pod at a time.
		var ps map[string][]corev1.Pod
		e.waitFor("a node replaced", func() bool {
			ps = e.pods("ru")
			n := 0
			for _, l := range ps {
				for _, p := range l {
					if image(p) == "busybox:v2" {
						n++
					}
				}
			}
			return n == step+1 && len(ps) == 3
		})
		for _, l := range ps {
			for _, p := range l {
				if p.Status.Phase != corev1.PodRunning {
					if image(p) != "busybox:v2" || p.Labels[TemplateGenerationLabel] != "2" {
						t.Fatalf("new pod %s: image %s labels %v", p.Name, image(p), p.Labels)
					}
					e.run(p)
				}
			}
		}
	}
	e.waitStatus("ru", "desired=3 current=3 misscheduled=0 ready=3 updated=3 available=3 unavailable=0 observed=true")
	crs, _ := e.cs.AppsV1().ControllerRevisions("default").List(e.ctx, metav1.ListOptions{})
	revs := map[int64]bool{}
	for _, cr := range crs.Items {
		revs[cr.Revision] = true
	}
	if len(crs.Items) != 2 || !revs[1] || !revs[2] {
		t.Errorf("controller revisions %d (%v), want revisions 1 and 2", len(crs.Items), revs)
	}
}

// Upstream: "should not update pod when spec was updated and update
// strategy is OnDelete".
func TestOnDelete(t *testing.T) {
	e := setup(t, "n1", "n2")
	ds := newDS("od")
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
	e.create(ds)
	e.waitNodes("od", "n1,n2")
	e.runAll("od")
	before := e.pods("od")
	e.updateDS("od", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "busybox:v2" })
	e.waitStatus("od", "desired=2 current=2 misscheduled=0 ready=2 updated=0 available=2 unavailable=0 observed=true")
	for n, ps := range e.pods("od") {
		if len(ps) != 1 || ps[0].Name != before[n][0].Name {
			t.Fatalf("node %s: pods changed under OnDelete", n)
		}
	}
	// A pod deleted by hand comes back new.
	if err := e.cs.CoreV1().Pods("default").Delete(e.ctx, before["n1"][0].Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the new pod on n1", func() bool {
		ps := e.pods("od")["n1"]
		return len(ps) == 1 && image(ps[0]) == "busybox:v2"
	})
	e.waitStatus("od", "desired=2 current=2 misscheduled=0 ready=1 updated=1 available=1 unavailable=1 observed=true")
}

// Upstream: "should rollback without unnecessary restarts" — an update to
// an image that never starts, then back: the pods never updated are not
// restarted; the template takes its first revision back, renumbered.
func TestRollbackWithoutUnnecessaryRestarts(t *testing.T) {
	e := setup(t, "n1", "n2", "n3")
	e.create(newDS("rb"))
	e.waitNodes("rb", "n1,n2,n3")
	e.runAll("rb")
	e.waitStatus("rb", "desired=3 current=3 misscheduled=0 ready=3 updated=3 available=3 unavailable=0 observed=true")
	orig := map[string]string{}
	for n, ps := range e.pods("rb") {
		orig[n] = ps[0].Name
	}
	e.updateDS("rb", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "foo:non-existent" })
	var bad string
	e.waitFor("one pod of the bad image", func() bool {
		for _, ps := range e.pods("rb") {
			for _, p := range ps {
				if image(p) == "foo:non-existent" {
					bad = p.Name
					return true
				}
			}
		}
		return false
	})
	time.Sleep(200 * time.Millisecond) // no more than maxUnavailable: the rollout is stuck
	e.updateDS("rb", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "busybox" })
	e.waitFor("the bad pod replaced", func() bool {
		ps := e.pods("rb")
		for _, l := range ps {
			for _, p := range l {
				if image(p) != "busybox" {
					return false
				}
			}
		}
		return len(ps) == 3
	})
	restarted := 0
	for n, ps := range e.pods("rb") {
		if ps[0].Name != orig[n] {
			restarted++
			if ps[0].Name == bad {
				t.Errorf("bad pod kept")
			}
		}
	}
	if restarted != 1 {
		t.Errorf("%d pods re-created by the rollback, want 1 (the one that had the bad image)", restarted)
	}
	crs, _ := e.cs.AppsV1().ControllerRevisions("default").List(e.ctx, metav1.ListOptions{})
	var revs []string
	for _, cr := range crs.Items {
		revs = append(revs, fmt.Sprint(cr.Revision))
	}
	sort.Strings(revs)
	if strings.Join(revs, ",") != "2,3" {
		t.Errorf("revisions %v, want 2,3 (the first template renumbered 3)", revs)
	}
}

// Upstream: "should surge pods onto nodes when spec was updated and
// update strategy is RollingUpdate" — maxSurge 1, maxUnavailable 0: a
// new pod starts beside the old one, which goes once the new one is
// available; never fewer available pods than nodes.
func TestSurge(t *testing.T) {
	e := setup(t, "n1", "n2")
	ds := newDS("surge")
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxSurge: ptrIntStr(1), MaxUnavailable: ptrIntStr(0)}}
	e.create(ds)
	e.waitNodes("surge", "n1,n2")
	e.runAll("surge")
	e.waitStatus("surge", "desired=2 current=2 misscheduled=0 ready=2 updated=2 available=2 unavailable=0 observed=true")
	e.updateDS("surge", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "busybox:v2" })
	for step := 0; step < 2; step++ {
		var ps map[string][]corev1.Pod
		e.waitFor("a surge pod", func() bool {
			ps = e.pods("surge")
			return len(strings.Split(nodesOf(ps), ",")) == 3
		})
		var surged string
		for n, l := range ps {
			if len(l) == 2 {
				surged = n
			}
		}
		time.Sleep(100 * time.Millisecond)
		if got := nodesOf(e.pods("surge")); len(strings.Split(got, ",")) != 3 {
			t.Fatalf("pods on %s while the surge pod is not ready: more than maxSurge, or an old pod gone", got)
		}
		for _, p := range ps[surged] {
			if image(p) == "busybox:v2" {
				e.run(p)
			}
		}
		e.waitFor("the old pod on "+surged+" gone", func() bool {
			l := e.pods("surge")[surged]
			return len(l) == 1 && image(l[0]) == "busybox:v2"
		})
	}
	e.waitStatus("surge", "desired=2 current=2 misscheduled=0 ready=2 updated=2 available=2 unavailable=0 observed=true")
}

func ptrIntStr(n int) *intstr.IntOrString { v := intstr.FromInt32(int32(n)); return &v }

// Upstream: "should verify changes to a daemon set status" — /status
// read, updated and patched; the controller keeps the conditions set.
func TestDaemonSetStatus(t *testing.T) {
	e := setup(t, "n1")
	e.create(newDS("st"))
	e.waitStatus("st", "desired=1 current=1 misscheduled=0 ready=0 updated=1 available=0 unavailable=1 observed=true")
	for {
		ds := e.getDS("st")
		ds.Status.Conditions = append(ds.Status.Conditions, appsv1.DaemonSetCondition{Type: "StatusUpdate", Status: "True", Reason: "E2E", Message: "Set from e2e test"})
		_, err := e.cs.AppsV1().DaemonSets("default").UpdateStatus(e.ctx, ds, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	patch := `{"status":{"conditions":[{"type":"StatusPatched","status":"True"}]}}`
	if _, err := e.cs.AppsV1().DaemonSets("default").Patch(e.ctx, "st", types.MergePatchType, []byte(patch), metav1.PatchOptions{}, "status"); err != nil {
		t.Fatal(err)
	}
	e.runAll("st")
	ds := e.waitStatus("st", "desired=1 current=1 misscheduled=0 ready=1 updated=1 available=1 unavailable=0 observed=true")
	if len(ds.Status.Conditions) != 1 || ds.Status.Conditions[0].Type != "StatusPatched" {
		t.Errorf("conditions %+v, want the patched one kept", ds.Status.Conditions)
	}
}

// Bad input: apps/v1 ControllerRevisions get upstream's validation
// (ValidateControllerRevision): data required, revision not negative,
// data immutable; each error names its field.
func TestControllerRevisionValidation(t *testing.T) {
	e := setup(t)
	crs := e.cs.AppsV1().ControllerRevisions("default")
	cases := []struct {
		cr   *appsv1.ControllerRevision
		want string
	}{
		{&appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "nodata"}, Revision: 1}, "data: Required value"},
		{&appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "negative"}, Revision: -1, Data: runtime.RawExtension{Raw: []byte(`{}`)}},
			"revision: Invalid value: -1: must be greater than or equal to 0"},
	}
	for _, c := range cases {
		_, err := crs.Create(e.ctx, c.cr, metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want Invalid %q", c.cr.Name, err, c.want)
		}
	}
	cr, err := crs.Create(e.ctx, &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "ok"}, Revision: 1, Data: runtime.RawExtension{Raw: []byte(`{"a":1}`)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cr.Data.Raw = []byte(`{"a":2}`)
	if _, err := crs.Update(e.ctx, cr, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "data: Invalid value") || !strings.Contains(err.Error(), "field is immutable") {
		t.Errorf("update of data: %v, want Invalid data field is immutable", err)
	}
	cr.Data.Raw = []byte(`{"a":1}`)
	cr.Revision = 7 // the controller renumbers revisions: allowed
	if _, err := crs.Update(e.ctx, cr, metav1.UpdateOptions{}); err != nil {
		t.Errorf("revision update: %v", err)
	}
}

// A node that leaves with a pod bound to it and no kubelet to finish a
// graceful deletion: the pod is deleted at once (the pod GC's part).
func TestNodeGoneForceDeletesBoundPod(t *testing.T) {
	e := setupKubelet(t, false, "n1", "n2")
	e.create(newDS("gone"))
	pods := e.waitNodes("gone", "n1,n2")
	e.run(pods["n1"][0])
	if err := e.cs.CoreV1().Nodes().Delete(e.ctx, "n1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("n1's pod gone from the API", func() bool {
		_, err := e.cs.CoreV1().Pods("default").Get(e.ctx, pods["n1"][0].Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	e.waitStatus("gone", "desired=1 current=1 misscheduled=0 ready=0 updated=1 available=0 unavailable=1 observed=true")
}
