package disruption

// Tests against a real in-process API server through client-go, with a
// fake clock shared by the server and the controller. Upstream behaviours
// (test/e2e/apps/disruption.go and pkg/controller/disruption's unit
// tests) named per test; the e2e with real pods and kubectl is
// ../../pdb_e2e_test.go.

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/store/memory"
)

type env struct {
	cs  kubernetes.Interface
	clk *clocktesting.FakeClock
}

func setup(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st := memory.New()
	clk := clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
	s, err := apiserver.New(ctx, st, apiserver.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.InProcessConfig(s.Handler(apiserver.HandlerOptions{}))
	// as wasmpod.New's control-plane client: protobuf first
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		New(cs, clk).Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
	})
	return &env{cs: cs, clk: clk}
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

// pod creates a Running pod, ready or not, with an optional controller.
func (e *env) pod(t *testing.T, name string, ready bool, lbl map[string]string, owner *metav1.OwnerReference) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: lbl},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	p, err := e.cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.setReady(t, p, ready)
	return p
}

func (e *env) setReady(t *testing.T, p *corev1.Pod, ready bool) {
	t.Helper()
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	cur, err := e.cs.CoreV1().Pods("default").Get(context.Background(), p.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Status.Phase = corev1.PodRunning
	cur.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
	if _, err := e.cs.CoreV1().Pods("default").UpdateStatus(context.Background(), cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) pdb(t *testing.T, name string, lbl map[string]string, minAvailable, maxUnavailable *intstr.IntOrString) {
	t.Helper()
	if _, err := e.cs.PolicyV1().PodDisruptionBudgets("default").Create(context.Background(), &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: minAvailable, MaxUnavailable: maxUnavailable,
			Selector: &metav1.LabelSelector{MatchLabels: lbl}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) get(t *testing.T, name string) *policyv1.PodDisruptionBudget {
	t.Helper()
	p, err := e.cs.PolicyV1().PodDisruptionBudgets("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitStatus waits for the PDB's status counts (expected, desired,
// healthy, allowed) and the condition reason, at the current generation.
func (e *env) waitStatus(t *testing.T, name string, expected, desired, healthy, allowed int32, reason string) *policyv1.PodDisruptionBudget {
	t.Helper()
	var p *policyv1.PodDisruptionBudget
	deadline := time.Now().Add(20 * time.Second)
	for {
		p = e.get(t, name)
		st := p.Status
		c := apimeta.FindStatusCondition(st.Conditions, policyv1.DisruptionAllowedCondition)
		if st.ExpectedPods == expected && st.DesiredHealthy == desired && st.CurrentHealthy == healthy && st.DisruptionsAllowed == allowed &&
			st.ObservedGeneration == p.Generation && c != nil && c.Reason == reason {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: status %+v, want expected %d desired %d healthy %d allowed %d reason %s", name, st, expected, desired, healthy, allowed, reason)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) events(t *testing.T, reason string) string {
	t.Helper()
	l, err := e.cs.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range l.Items {
		if ev.Reason == reason {
			out = append(out, ev.InvolvedObject.Name+": "+ev.Message)
		}
	}
	return strings.Join(out, "\n")
}

func ios(v intstr.IntOrString) *intstr.IntOrString { return &v }

// TestStatusMinAvailableInt: upstream's "should observe
// PodDisruptionBudget status updated": a minAvailable integer counts the
// pods; readiness moves currentHealthy and the DisruptionAllowed
// condition (SufficientPods / InsufficientPods); a spec change is
// observed (observedGeneration).
func TestStatusMinAvailableInt(t *testing.T) {
	e := setup(t)
	lbl := map[string]string{"app": "a"}
	e.pdb(t, "a", lbl, ios(intstr.FromInt32(2)), nil)
	e.waitStatus(t, "a", 0, 2, 0, 0, policyv1.InsufficientPodsReason)
	waitFor(t, "NoPods event", func() bool { return strings.Contains(e.events(t, "NoPods"), "a: No matching pods found") })
	var pods []*corev1.Pod
	for _, n := range []string{"a-1", "a-2", "a-3"} {
		pods = append(pods, e.pod(t, n, true, lbl, nil))
	}
	p := e.waitStatus(t, "a", 3, 2, 3, 1, policyv1.SufficientPodsReason)
	if c := apimeta.FindStatusCondition(p.Status.Conditions, policyv1.DisruptionAllowedCondition); c.Status != metav1.ConditionTrue {
		t.Fatalf("condition %+v", c)
	}
	e.setReady(t, pods[0], false)
	e.waitStatus(t, "a", 3, 2, 2, 0, policyv1.InsufficientPodsReason)
	// a spec change: generation 2 observed
	p = e.get(t, "a")
	p.Spec.MinAvailable = ios(intstr.FromInt32(1))
	if _, err := e.cs.PolicyV1().PodDisruptionBudgets("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if p = e.waitStatus(t, "a", 3, 1, 2, 1, policyv1.SufficientPodsReason); p.Status.ObservedGeneration != 2 {
		t.Fatalf("observedGeneration %d", p.Status.ObservedGeneration)
	}
	// a deleted pod no longer counts
	if err := e.cs.CoreV1().Pods("default").Delete(context.Background(), "a-2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, "a", 2, 1, 1, 0, policyv1.InsufficientPodsReason)
}

func (e *env) replicaSet(t *testing.T, name string, replicas int32, lbl map[string]string, owner *metav1.OwnerReference) *appsv1.ReplicaSet {
	t.Helper()
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(replicas), Selector: &metav1.LabelSelector{MatchLabels: lbl},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbl},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}
	if owner != nil {
		rs.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	rs, err := e.cs.AppsV1().ReplicaSets("default").Create(context.Background(), rs, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func ctrlRef(kind, apiVersion, name string, uid any) *metav1.OwnerReference {
	r := &metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, Controller: ptr.To(true)}
	switch u := uid.(type) {
	case metav1.Object:
		r.UID = u.GetUID()
	}
	return r
}

// TestStatusScaleOfControllers: upstream's "evictions: enough pods,
// replicaSet, percentage" and "maxUnavailable" status: percentages and
// maxUnavailable use the scale of the pods' controllers (a ReplicaSet's
// spec.replicas through its scale subresource, a Deployment's for the
// pods of its ReplicaSets), rounded up.
func TestStatusScaleOfControllers(t *testing.T) {
	e := setup(t)
	ctx := context.Background()

	// ReplicaSet of 4 with 3 ready pods; minAvailable 50% of 4 = 2.
	lbl := map[string]string{"app": "rs"}
	rs := e.replicaSet(t, "rs", 4, lbl, nil)
	for _, n := range []string{"rs-1", "rs-2", "rs-3"} {
		e.pod(t, n, true, lbl, ctrlRef("ReplicaSet", "apps/v1", "rs", rs))
	}
	e.pdb(t, "rs-pct", lbl, ios(intstr.FromString("50%")), nil)
	e.waitStatus(t, "rs-pct", 4, 2, 3, 1, policyv1.SufficientPodsReason)

	// maxUnavailable 1 of a Deployment of 3 (its ReplicaSet says 5: the
	// Deployment's scale counts).
	dlbl := map[string]string{"app": "dep"}
	dep, err := e.cs.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "dep"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3), Selector: &metav1.LabelSelector{MatchLabels: dlbl},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: dlbl},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	drs := e.replicaSet(t, "dep-abc", 5, dlbl, ctrlRef("Deployment", "apps/v1", "dep", dep))
	for _, n := range []string{"dep-1", "dep-2", "dep-3"} {
		e.pod(t, n, true, dlbl, ctrlRef("ReplicaSet", "apps/v1", "dep-abc", drs))
	}
	e.pdb(t, "dep-max", dlbl, nil, ios(intstr.FromInt32(1)))
	e.waitStatus(t, "dep-max", 3, 2, 3, 1, policyv1.SufficientPodsReason)
	// maxUnavailable 34% of 3 rounds up to 2: desired 1
	p := e.get(t, "dep-max")
	p.Spec.MaxUnavailable = ios(intstr.FromString("34%"))
	if _, err := e.cs.PolicyV1().PodDisruptionBudgets("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, "dep-max", 3, 1, 3, 2, policyv1.SufficientPodsReason)
	// Scaling the Deployment is seen at the next sync of the PDB (a pod event).
	if _, err := e.cs.AppsV1().Deployments("default").UpdateScale(ctx, "dep",
		mustScale(t, e, "dep", 6), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.pod(t, "dep-4", false, dlbl, ctrlRef("ReplicaSet", "apps/v1", "dep-abc", drs))
	e.waitStatus(t, "dep-max", 6, 3, 3, 0, policyv1.InsufficientPodsReason) // 34% of 6 = 2.04 -> 3 unavailable
}

func mustScale(t *testing.T, e *env, name string, n int32) *autoscalingv1.Scale {
	t.Helper()
	sc, err := e.cs.AppsV1().Deployments("default").GetScale(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc.Spec.Replicas = n
	return sc
}

// TestStatusFailSafe: a percentage over pods whose controller has no
// scale subresource (a Job) cannot be computed: failSafe sets
// disruptionsAllowed 0 and DisruptionAllowed False/SyncFailed with the
// error; pods without a controller are left out with UnmanagedPods.
func TestStatusFailSafe(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	lbl := map[string]string{"app": "job"}
	job, err := e.cs.BatchV1().Jobs("default").Create(ctx, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "job"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.pod(t, "job-1", true, lbl, ctrlRef("Job", "batch/v1", "job", job))
	e.pdb(t, "job", lbl, ios(intstr.FromString("50%")), nil)
	waitFor(t, "SyncFailed", func() bool {
		c := apimeta.FindStatusCondition(e.get(t, "job").Status.Conditions, policyv1.DisruptionAllowedCondition)
		return c != nil && c.Reason == policyv1.SyncFailedReason && c.Status == metav1.ConditionFalse &&
			c.Message == "jobs.batch does not implement the scale subresource"
	})
	if p := e.get(t, "job"); p.Status.DisruptionsAllowed != 0 {
		t.Fatalf("status %+v", p.Status)
	}
	waitFor(t, "CalculateExpectedPodCountFailed event", func() bool {
		return strings.Contains(e.events(t, "CalculateExpectedPodCountFailed"),
			"job: Failed to calculate the number of expected pods: jobs.batch does not implement the scale subresource")
	})

	// Unmanaged pods: left out of the expected count, with an event.
	ulbl := map[string]string{"app": "loose"}
	e.pod(t, "loose-1", true, ulbl, nil)
	e.pdb(t, "loose", ulbl, nil, ios(intstr.FromString("10%")))
	e.waitStatus(t, "loose", 0, 0, 1, 0, policyv1.InsufficientPodsReason)
	waitFor(t, "UnmanagedPods event", func() bool {
		return strings.Contains(e.events(t, "UnmanagedPods"), "loose: Pods selected by this PodDisruptionBudget (selector: ")
	})
}

// TestDisruptedPodsExpiry: an eviction's disruptedPods entry keeps its pod
// out of currentHealthy for DeletionTimeout (2 minutes on the fake clock);
// a pod still there after it counts again, gets NotDeleted, and the entry
// goes. Through the real eviction subresource.
func TestDisruptedPodsExpiry(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	lbl := map[string]string{"app": "d"}
	for _, n := range []string{"d-1", "d-2", "d-3"} {
		e.pod(t, n, true, lbl, nil)
	}
	e.pdb(t, "d", lbl, ios(intstr.FromInt32(1)), nil)
	e.waitStatus(t, "d", 3, 1, 3, 2, policyv1.SufficientPodsReason)
	// An eviction whose delete never happens: the PDB records it, the
	// pod stays (a finalizer holds the unbound pod).
	if _, err := e.cs.CoreV1().Pods("default").Patch(ctx, "d-1", "application/merge-patch+json",
		[]byte(`{"metadata":{"finalizers":["test/hold"]}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	pdb := e.get(t, "d")
	pdb.Status.DisruptedPods = map[string]metav1.Time{"d-1": metav1.NewTime(e.clk.Now())}
	pdb.Status.DisruptionsAllowed = 1
	if _, err := e.cs.PolicyV1().PodDisruptionBudgets("default").UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := e.waitStatus(t, "d", 3, 1, 2, 1, policyv1.SufficientPodsReason)
	if _, ok := p.Status.DisruptedPods["d-1"]; !ok {
		t.Fatalf("disruptedPods %v", p.Status.DisruptedPods)
	}
	e.clk.Step(DeletionTimeout - time.Second)
	time.Sleep(100 * time.Millisecond)
	if p := e.get(t, "d"); p.Status.CurrentHealthy != 2 {
		t.Fatalf("before the timeout: %+v", p.Status)
	}
	e.clk.Step(2 * time.Second)
	p = e.waitStatus(t, "d", 3, 1, 3, 2, policyv1.SufficientPodsReason)
	if len(p.Status.DisruptedPods) != 0 {
		t.Fatalf("disruptedPods after the timeout: %v", p.Status.DisruptedPods)
	}
	waitFor(t, "NotDeleted event", func() bool {
		return strings.Contains(e.events(t, "NotDeleted"), "d-1: Pod was expected by PDB default/d to be deleted but it wasn't")
	})
}

// TestStaleDisruptionTarget: a pod whose DisruptionTarget condition is
// still True 2 minutes after it was set, and which is not being deleted,
// gets it reset to False (upstream's syncStalePodDisruption).
func TestStaleDisruptionTarget(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	p := e.pod(t, "s-1", true, map[string]string{"app": "s"}, nil)
	p, _ = e.cs.CoreV1().Pods("default").Get(ctx, p.Name, metav1.GetOptions{})
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
		Reason: "EvictionByEvictionAPI", Message: "Eviction API: evicting", LastTransitionTime: metav1.NewTime(e.clk.Now())})
	if _, err := e.cs.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cond := func() *corev1.PodCondition {
		p, _ := e.cs.CoreV1().Pods("default").Get(ctx, "s-1", metav1.GetOptions{})
		for i := range p.Status.Conditions {
			if p.Status.Conditions[i].Type == corev1.DisruptionTarget {
				return &p.Status.Conditions[i]
			}
		}
		return nil
	}
	time.Sleep(200 * time.Millisecond)
	if c := cond(); c == nil || c.Status != corev1.ConditionTrue {
		t.Fatalf("reset before the timeout: %+v", c)
	}
	e.clk.Step(StalePodDisruptionTimeout + time.Second)
	waitFor(t, "DisruptionTarget reset to False", func() bool {
		c := cond()
		return c != nil && c.Status == corev1.ConditionFalse
	})
}
