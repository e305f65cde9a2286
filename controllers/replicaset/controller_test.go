package replicaset

// Tests against a real in-process API server through client-go, with a
// fake clock. Upstream behaviours (test/e2e/apps/replica_set.go) named per
// test; the e2e with real pods and kubectl is ../../replicaset_e2e_test.go.

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/store/memory"
)

type env struct {
	cs      kubernetes.Interface
	clk     *clocktesting.FakeClock
	forbid  atomic.Bool  // pod creations get 403
	creates atomic.Int64 // pod creations asked for
}

func setup(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st := memory.New()
	s, err := apiserver.New(ctx, st, apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{clk: clocktesting.NewFakeClock(time.Now())}
	h := s.Handler(apiserver.HandlerOptions{})
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/pods") {
			e.creates.Add(1)
			if e.forbid.Load() {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"rs-x\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=0, limited: pods=0","reason":"Forbidden","code":403}`)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
	cs, err := kubernetes.NewForConfig(s.InProcessConfig(wrapped))
	if err != nil {
		t.Fatal(err)
	}
	e.cs = cs
	done := make(chan struct{})
	go func() {
		defer close(done)
		New(cs, e.clk).Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
	})
	return e
}

func int32p(n int32) *int32 { return &n }

func newRS(name string, replicas int32, sel *metav1.LabelSelector, tmplLabels map[string]string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: int32p(replicas),
			Selector: sel,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: tmplLabels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
}

// scale sets spec.replicas, retrying on conflicts with the controller's
// status writes.
func (e *env) scale(t *testing.T, name string, n int32) {
	t.Helper()
	for {
		cur := e.rs(t, name)
		cur.Spec.Replicas = int32p(n)
		_, err := e.cs.AppsV1().ReplicaSets("default").Update(context.Background(), cur, metav1.UpdateOptions{})
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) {
			t.Fatal(err)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) pods(t *testing.T, sel string) []corev1.Pod {
	t.Helper()
	l, err := e.cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

func (e *env) rs(t *testing.T, name string) *appsv1.ReplicaSet {
	t.Helper()
	rs, err := e.cs.AppsV1().ReplicaSets("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// setPod gives a pod a node, a phase and a Ready condition since at.
func (e *env) setPod(t *testing.T, name, node string, phase corev1.PodPhase, ready bool, at time.Time) {
	t.Helper()
	ctx := context.Background()
	p, err := e.cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node != "" && p.Spec.NodeName == "" {
		if err := e.cs.CoreV1().Pods("default").Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: name},
			Target: corev1.ObjectReference{Kind: "Node", Name: node}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p, _ = e.cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status.Phase = phase
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st, LastTransitionTime: metav1.NewTime(at)}}
	if _, err := e.cs.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) events(t *testing.T, reason string) []string {
	t.Helper()
	l, err := e.cs.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range l.Items {
		if ev.Reason == reason {
			out = append(out, ev.Message)
		}
	}
	sort.Strings(out)
	return out
}

// TestReplicasAndStatus: "ReplicaSet should serve a basic image on each
// replica" and "should surface a failure condition"'s status side: pods
// <rs>-<5 chars> with a controller reference, a set-based selector
// (matchExpressions In/NotIn/Exists/DoesNotExist), the status numbers
// with minReadySeconds on the fake clock, observedGeneration, events.
func TestReplicasAndStatus(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}, MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"front", "edge"}},
		{Key: "env", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"prod"}},
		{Key: "team", Operator: metav1.LabelSelectorOpExists},
		{Key: "legacy", Operator: metav1.LabelSelectorOpDoesNotExist},
	}}
	rs := newRS("web", 3, sel, map[string]string{"app": "web", "tier": "front", "team": "a", "extra": "x"})
	rs.Spec.MinReadySeconds = 10
	rs, err := e.cs.AppsV1().ReplicaSets("default").Create(ctx, rs, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "3 pods", func() bool { return len(e.pods(t, "app=web")) == 3 })
	for _, p := range e.pods(t, "app=web") {
		if !strings.HasPrefix(p.Name, "web-") || len(p.Name) != len("web-")+5 || p.GenerateName != "web-" {
			t.Errorf("pod name %q (generateName %q), want web-<5 chars>", p.Name, p.GenerateName)
		}
		ref := metav1.GetControllerOf(&p)
		if ref == nil || ref.UID != rs.UID || ref.Kind != "ReplicaSet" || ref.APIVersion != "apps/v1" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
			t.Errorf("pod %s controller ref %+v", p.Name, ref)
		}
		if p.Labels["extra"] != "x" {
			t.Errorf("pod %s labels %v: not the template's", p.Name, p.Labels)
		}
	}
	waitFor(t, "status replicas 3", func() bool {
		s := e.rs(t, "web").Status
		return s.Replicas == 3 && s.FullyLabeledReplicas == 3 && s.ReadyReplicas == 0 && s.ObservedGeneration == 1
	})
	// Ready now on the fake clock: ready, not yet available.
	for _, p := range e.pods(t, "app=web") {
		e.setPod(t, p.Name, "node-1", corev1.PodRunning, true, e.clk.Now())
	}
	waitFor(t, "readyReplicas 3", func() bool { return e.rs(t, "web").Status.ReadyReplicas == 3 })
	time.Sleep(100 * time.Millisecond)
	if s := e.rs(t, "web").Status; s.AvailableReplicas != 0 {
		t.Fatalf("availableReplicas %d before minReadySeconds passed", s.AvailableReplicas)
	}
	e.clk.Step(11 * time.Second)
	waitFor(t, "availableReplicas 3 after minReadySeconds", func() bool { return e.rs(t, "web").Status.AvailableReplicas == 3 })

	// fullyLabeledReplicas counts pods with all the template's labels.
	p0 := e.pods(t, "app=web")[0]
	if _, err := e.cs.CoreV1().Pods("default").Patch(ctx, p0.Name, types.MergePatchType, []byte(`{"metadata":{"labels":{"extra":null}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "fullyLabeledReplicas 2", func() bool {
		s := e.rs(t, "web").Status
		return s.Replicas == 3 && s.FullyLabeledReplicas == 2
	})

	// Scale to 5: generation 2, observed.
	e.scale(t, "web", 5)
	waitFor(t, "5 pods, observedGeneration 2", func() bool {
		s := e.rs(t, "web").Status
		return len(e.pods(t, "app=web")) == 5 && s.Replicas == 5 && s.ObservedGeneration == 2
	})
	waitFor(t, "5 SuccessfulCreate events", func() bool { return len(e.events(t, "SuccessfulCreate")) == 5 })
	for _, m := range e.events(t, "SuccessfulCreate") {
		if !strings.HasPrefix(m, "Created pod: web-") {
			t.Errorf("SuccessfulCreate message %q", m)
		}
	}
}

// TestScaleDownVictims: scaling down deletes in upstream's order
// (unassigned, pending, not ready, ready for less time, more restarts,
// newer), with SuccessfulDelete "Deleted pod: X" events.
func TestScaleDownVictims(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "v"}}
	if _, err := e.cs.AppsV1().ReplicaSets("default").Create(ctx, newRS("v", 4, sel, map[string]string{"app": "v"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "4 pods", func() bool { return len(e.pods(t, "app=v")) == 4 })
	ps := e.pods(t, "app=v")
	now := e.clk.Now()
	unassigned, pending, notReady, ready := ps[0].Name, ps[1].Name, ps[2].Name, ps[3].Name
	e.setPod(t, pending, "node-1", corev1.PodPending, false, now)
	e.setPod(t, notReady, "node-2", corev1.PodRunning, false, now)
	e.setPod(t, ready, "node-3", corev1.PodRunning, true, now.Add(-time.Hour))
	waitFor(t, "readyReplicas 1", func() bool { return e.rs(t, "v").Status.ReadyReplicas == 1 })
	for i, want := range []string{unassigned, pending, notReady} {
		e.scale(t, "v", int32(3-i))
		waitFor(t, fmt.Sprintf("%d pods", 3-i), func() bool { return len(e.pods(t, "app=v")) == 3-i })
		for _, p := range e.pods(t, "app=v") {
			if p.Name == want {
				t.Fatalf("step %d: %s kept, another deleted first", i, want)
			}
		}
	}
	if ps := e.pods(t, "app=v"); ps[0].Name != ready {
		t.Errorf("left %s, want the ready pod %s", ps[0].Name, ready)
	}
	// The two bound victims wait for their (absent) kubelet: terminating.
	waitFor(t, "terminatingReplicas 2", func() bool {
		s := e.rs(t, "v").Status
		return s.TerminatingReplicas != nil && *s.TerminatingReplicas == 2 && s.Replicas == 1
	})
	waitFor(t, "3 SuccessfulDelete events", func() bool { return len(e.events(t, "SuccessfulDelete")) == 3 })
	want := []string{"Deleted pod: " + notReady, "Deleted pod: " + pending, "Deleted pod: " + unassigned}
	sort.Strings(want)
	if got := e.events(t, "SuccessfulDelete"); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("SuccessfulDelete events %q, want %q", got, want)
	}
}

// TestAdoptAndRelease: "should adopt matching pods on creation and release
// no longer matching pods" (ConformanceIt, replica_set.go): an orphan that
// matches is adopted (and counted, so no extra pod), a pod relabelled out
// of the selector is released (its reference removed) and replaced; a pod
// controlled by another owner is never taken.
func TestAdoptAndRelease(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	orphan := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pod-adoption-release", Namespace: "default", Labels: map[string]string{"name": "pod-adoption-release"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if _, err := e.cs.CoreV1().Pods("default").Create(ctx, orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	other := orphan.DeepCopy()
	other.Name = "owned-elsewhere"
	isCtl := true
	other.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ReplicationController", Name: "rc", UID: "other-uid", Controller: &isCtl}}
	if _, err := e.cs.CoreV1().Pods("default").Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"name": "pod-adoption-release"}}
	rs, err := e.cs.AppsV1().ReplicaSets("default").Create(ctx, newRS("pod-adoption-release", 1, sel, map[string]string{"name": "pod-adoption-release"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the orphan adopted", func() bool {
		p, err := e.cs.CoreV1().Pods("default").Get(ctx, orphan.Name, metav1.GetOptions{})
		ref := metav1.GetControllerOf(p)
		return err == nil && ref != nil && ref.UID == rs.UID && *ref.Controller && *ref.BlockOwnerDeletion
	})
	waitFor(t, "status replicas 1", func() bool { return e.rs(t, rs.Name).Status.Replicas == 1 })
	time.Sleep(200 * time.Millisecond)
	if ps := e.pods(t, "name=pod-adoption-release"); len(ps) != 2 {
		t.Fatalf("%d pods, want the adopted one and the other owner's: an extra pod was created", len(ps))
	}
	if p, _ := e.cs.CoreV1().Pods("default").Get(ctx, other.Name, metav1.GetOptions{}); metav1.GetControllerOf(p).UID != "other-uid" {
		t.Fatalf("another controller's pod taken: %+v", p.OwnerReferences)
	}
	// Release: relabel it.
	if _, err := e.cs.CoreV1().Pods("default").Patch(ctx, orphan.Name, types.MergePatchType, []byte(`{"metadata":{"labels":{"name":"not-matching"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the relabelled pod released", func() bool {
		p, err := e.cs.CoreV1().Pods("default").Get(ctx, orphan.Name, metav1.GetOptions{})
		return err == nil && len(p.OwnerReferences) == 0
	})
	waitFor(t, "a replacement", func() bool {
		for _, p := range e.pods(t, "name=pod-adoption-release") {
			if ref := metav1.GetControllerOf(&p); ref != nil && ref.UID == rs.UID && strings.HasPrefix(p.Name, "pod-adoption-release-") {
				return true
			}
		}
		return false
	})
}

// TestReplicaFailure: "should surface a failure condition on a common
// issue like exceeded quota" (ConformanceIt, replica_set.go
// testReplicaSetConditionCheck): creations refused by the API give the
// ReplicaFailure condition (FailedCreate, the error as message) and
// FailedCreate events "Error creating: ..."; slow start keeps the refused
// requests to one per sync, and the condition goes once creations work.
func TestReplicaFailure(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.forbid.Store(true)
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "q"}}
	if _, err := e.cs.AppsV1().ReplicaSets("default").Create(ctx, newRS("condition-test", 20, sel, map[string]string{"app": "q"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var cond *appsv1.ReplicaSetCondition
	waitFor(t, "ReplicaFailure", func() bool {
		cond = condition(e.rs(t, "condition-test").Status, appsv1.ReplicaSetReplicaFailure)
		return cond != nil
	})
	if cond.Status != corev1.ConditionTrue || cond.Reason != "FailedCreate" || !strings.Contains(cond.Message, "exceeded quota") {
		t.Errorf("condition %+v", cond)
	}
	waitFor(t, "FailedCreate event", func() bool { return len(e.events(t, "FailedCreate")) > 0 })
	if m := e.events(t, "FailedCreate")[0]; !strings.HasPrefix(m, `Error creating: pods "rs-x" is forbidden: exceeded quota`) {
		t.Errorf("FailedCreate message %q", m)
	}
	time.Sleep(300 * time.Millisecond)
	if n := e.creates.Load(); n >= 20 {
		t.Errorf("%d creations tried while each was refused: no slow start", n)
	}
	e.forbid.Store(false)
	waitFor(t, "20 pods, condition removed", func() bool {
		ok := len(e.pods(t, "app=q")) == 20 && condition(e.rs(t, "condition-test").Status, appsv1.ReplicaSetReplicaFailure) == nil
		if !ok {
			t.Logf("%d pods, status %+v", len(e.pods(t, "app=q")), e.rs(t, "condition-test").Status)
		}
		return ok
	})
}

// TestExpectationsNoExtraPods: many quick syncs never create more than
// spec.replicas (expectations hold while the informer catches up).
func TestExpectationsNoExtraPods(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
	if _, err := e.cs.AppsV1().ReplicaSets("default").Create(ctx, newRS("x", 30, sel, map[string]string{"app": "x"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Poke the ReplicaSet while it creates.
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs, err := e.cs.AppsV1().ReplicaSets("default").Get(ctx, "x", metav1.GetOptions{})
			if err != nil {
				return
			}
			if rs.Annotations == nil {
				rs.Annotations = map[string]string{}
			}
			rs.Annotations["poke"] = fmt.Sprint(i)
			e.cs.AppsV1().ReplicaSets("default").Update(ctx, rs, metav1.UpdateOptions{})
		}()
	}
	wg.Wait()
	waitFor(t, "30 pods", func() bool { return len(e.pods(t, "app=x")) >= 30 })
	time.Sleep(300 * time.Millisecond)
	if n := len(e.pods(t, "app=x")); n != 30 {
		t.Fatalf("%d pods, want 30", n)
	}
	if n := e.creates.Load(); n != 30 {
		t.Fatalf("%d creations, want 30", n)
	}
}

// TestFailedPodReplaced: a pod that Failed (or Succeeded) is no replica
// any more (FilterActivePods): the ReplicaSet creates a replacement and
// counts only the active pods.
func TestFailedPodReplaced(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "f"}}
	if _, err := e.cs.AppsV1().ReplicaSets("default").Create(ctx, newRS("f", 2, sel, map[string]string{"app": "f"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "2 pods", func() bool { return len(e.pods(t, "app=f")) == 2 })
	failed := e.pods(t, "app=f")[0].Name
	e.setPod(t, failed, "node-1", corev1.PodFailed, false, e.clk.Now())
	waitFor(t, "a replacement", func() bool {
		n := 0
		for _, p := range e.pods(t, "app=f") {
			if p.Status.Phase != corev1.PodFailed {
				n++
			}
		}
		return n == 2 && e.rs(t, "f").Status.Replicas == 2
	})
	if p, err := e.cs.CoreV1().Pods("default").Get(ctx, failed, metav1.GetOptions{}); err != nil || p.DeletionTimestamp != nil {
		t.Errorf("the failed pod was deleted (%v): upstream leaves it to the pod GC", err)
	}
}

// TestScaleDownRanksSiblings: victims are ranked by the pods on their
// node of every ReplicaSet with the same controller
// (getIndirectlyRelatedPods), before how long they have been ready: the
// pod sharing its node with a sibling's pods goes first even though it
// has been ready longer.
func TestScaleDownRanksSiblings(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	isCtl := true
	owner := []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "d", UID: "deploy-uid", Controller: &isCtl}}
	mk := func(name string, n int32) []corev1.Pod {
		rs := newRS(name, n, &metav1.LabelSelector{MatchLabels: map[string]string{"rs": name}}, map[string]string{"rs": name})
		rs.OwnerReferences = owner
		if _, err := e.cs.AppsV1().ReplicaSets("default").Create(ctx, rs, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, name+" pods", func() bool { return len(e.pods(t, "rs="+name)) == int(n) })
		return e.pods(t, "rs="+name)
	}
	now := e.clk.Now()
	sib := mk("sibling", 2)
	for _, p := range sib {
		e.setPod(t, p.Name, "node-1", corev1.PodRunning, true, now.Add(-time.Hour))
	}
	ps := mk("a", 2)
	crowded, alone := ps[0].Name, ps[1].Name
	e.setPod(t, crowded, "node-1", corev1.PodRunning, true, now.Add(-time.Hour))
	e.setPod(t, alone, "node-2", corev1.PodRunning, true, now.Add(-time.Second))
	waitFor(t, "a ready", func() bool { return e.rs(t, "a").Status.ReadyReplicas == 2 })
	e.scale(t, "a", 1)
	waitFor(t, "a at 1 pod", func() bool { return len(e.pods(t, "rs=a")) == 1 })
	if left := e.pods(t, "rs=a")[0].Name; left != alone {
		t.Fatalf("kept %s (on the crowded node), want %s", left, alone)
	}
}
