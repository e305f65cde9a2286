package apiserver

// pods/eviction against PodDisruptionBudgets (pdb_eviction.go), through
// client-go and the real kubectl drain. The PDB status is written here as
// the disruption controller would (controllers/disruption has its own
// tests, and the e2e with real pods is ../pdb_e2e_test.go).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// runningPod creates a pod bound to node-1, Running, ready or not.
func runningPod(t *testing.T, cs kubernetes.Interface, name string, ready bool, lbl map[string]string) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	p := httpPod(name)
	p.Labels = lbl
	p.Spec.NodeName = "node-1"
	p, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}
	if p, err = cs.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return p
}

// budget creates a PDB over lbl and writes its status as the controller
// would: current (observedGeneration), with the given counts.
func budget(t *testing.T, cs kubernetes.Interface, name string, lbl map[string]string, allowed, healthy, desired int32, policy *policyv1.UnhealthyPodEvictionPolicyType) *policyv1.PodDisruptionBudget {
	t.Helper()
	ctx := context.Background()
	pdb, err := cs.PolicyV1().PodDisruptionBudgets("default").Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptrIntOrStr(intstr.FromInt32(desired)), UnhealthyPodEvictionPolicy: policy,
			Selector: &metav1.LabelSelector{MatchLabels: lbl}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, DisruptionsAllowed: allowed,
		CurrentHealthy: healthy, DesiredHealthy: desired, ExpectedPods: healthy}
	if pdb, err = cs.PolicyV1().PodDisruptionBudgets("default").UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return pdb
}

func evict(cs kubernetes.Interface, name string) error {
	return cs.PolicyV1().Evictions("default").Evict(context.Background(), &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}})
}

func terminating(t *testing.T, cs kubernetes.Interface, name string) bool {
	t.Helper()
	p, err := cs.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return p.DeletionTimestamp != nil
}

// wantBudget429 checks upstream's 429 and its DisruptionBudget cause.
func wantBudget429(t *testing.T, err error, cause string) {
	t.Helper()
	wantStatus(t, err, 429, metav1.StatusReasonTooManyRequests, "Cannot evict pod as it would violate the pod's disruption budget.")
	var se *apierrors.StatusError
	errors.As(err, &se)
	d := se.ErrStatus.Details
	if d == nil || len(d.Causes) != 1 || d.Causes[0].Type != policyv1.DisruptionBudgetCause || d.Causes[0].Message != cause {
		t.Fatalf("causes: %+v, want DisruptionBudget %q", d, cause)
	}
}

// TestEvictionHonoursPDB: upstream's eviction behaviours (test/e2e/apps/
// disruption.go "evictions: no PDB => should allow an eviction", "too few
// pods, absolute => should not allow an eviction", "enough pods, absolute
// => should allow an eviction") and EvictionREST's rules: the decrement
// and disruptedPods entry, a stale status, two budgets, unready pods per
// unhealthyPodEvictionPolicy, terminal pods, dry runs, negative counts.
func TestEvictionHonoursPDB(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	cs := e.client(t, "http")
	ctx := context.Background()
	pdbs := cs.PolicyV1().PodDisruptionBudgets("default")

	t.Run("no PDB => should allow an eviction", func(t *testing.T) {
		runningPod(t, cs, "free", true, map[string]string{"app": "free"})
		if err := evict(cs, "free"); err != nil || !terminating(t, cs, "free") {
			t.Fatalf("evict: %v", err)
		}
	})

	t.Run("too few pods, absolute => should not allow an eviction", func(t *testing.T) {
		lbl := map[string]string{"app": "few"}
		runningPod(t, cs, "few-1", true, lbl)
		budget(t, cs, "few", lbl, 0, 1, 1, nil)
		wantBudget429(t, evict(cs, "few-1"), "The disruption budget few needs 1 healthy pods and has 1 currently")
		p, _ := cs.CoreV1().Pods("default").Get(ctx, "few-1", metav1.GetOptions{})
		if p.DeletionTimestamp != nil || len(p.Status.Conditions) != 1 {
			t.Fatalf("refused eviction touched the pod: %+v", p)
		}
	})

	t.Run("enough pods, absolute => should allow an eviction", func(t *testing.T) {
		lbl := map[string]string{"app": "enough"}
		for _, n := range []string{"enough-1", "enough-2", "enough-3"} {
			runningPod(t, cs, n, true, lbl)
		}
		budget(t, cs, "enough", lbl, 1, 3, 2, nil)
		before := time.Now().Add(-time.Second)
		if err := evict(cs, "enough-1"); err != nil || !terminating(t, cs, "enough-1") {
			t.Fatalf("evict: %v", err)
		}
		pdb, _ := pdbs.Get(ctx, "enough", metav1.GetOptions{})
		at, ok := pdb.Status.DisruptedPods["enough-1"]
		if pdb.Status.DisruptionsAllowed != 0 || !ok || at.Time.Before(before) || len(pdb.Status.Conditions) != 1 ||
			pdb.Status.Conditions[0].Reason != policyv1.InsufficientPodsReason || pdb.Status.Conditions[0].Status != metav1.ConditionFalse {
			t.Fatalf("PDB status after eviction: %+v", pdb.Status)
		}
		// The budget is spent: the next one is refused.
		wantBudget429(t, evict(cs, "enough-2"), "The disruption budget enough needs 2 healthy pods and has 3 currently")
	})

	t.Run("status not yet observed", func(t *testing.T) {
		lbl := map[string]string{"app": "gen"}
		runningPod(t, cs, "gen-1", true, lbl)
		pdb := budget(t, cs, "gen", lbl, 5, 6, 1, nil)
		pdb.Spec.MinAvailable = ptrIntOrStr(intstr.FromInt32(2))
		if _, err := pdbs.Update(ctx, pdb, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		wantBudget429(t, evict(cs, "gen-1"), "The disruption budget gen is still being processed by the server.")
	})

	t.Run("two budgets", func(t *testing.T) {
		lbl := map[string]string{"app": "two"}
		runningPod(t, cs, "two-1", true, lbl)
		budget(t, cs, "two-a", lbl, 5, 6, 1, nil)
		budget(t, cs, "two-b", lbl, 5, 6, 1, nil)
		wantStatus(t, evict(cs, "two-1"), 500, "", "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
	})

	t.Run("unready pods", func(t *testing.T) {
		lbl := map[string]string{"app": "unready"}
		runningPod(t, cs, "unready-1", false, lbl)
		runningPod(t, cs, "unready-2", false, lbl)
		// IfHealthyBudget (default): not while the application is below its budget
		budget(t, cs, "unready", lbl, 0, 1, 2, nil)
		wantBudget429(t, evict(cs, "unready-1"), "The disruption budget unready needs 2 healthy pods and has 1 currently")
		// ... but yes once it is healthy, without using the budget
		pdb, _ := pdbs.Get(ctx, "unready", metav1.GetOptions{})
		pdb.Status.CurrentHealthy, pdb.Status.DisruptionsAllowed = 2, 0
		if _, err := pdbs.UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := evict(cs, "unready-1"); err != nil || !terminating(t, cs, "unready-1") {
			t.Fatalf("evict unready with a healthy budget: %v", err)
		}
		// AlwaysAllow: even below the budget
		pdb, _ = pdbs.Get(ctx, "unready", metav1.GetOptions{})
		always := policyv1.AlwaysAllow
		pdb.Spec.UnhealthyPodEvictionPolicy = &always
		pdb, err := pdbs.Update(ctx, pdb, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pdb.Status.CurrentHealthy, pdb.Status.ObservedGeneration = 0, pdb.Generation
		if _, err := pdbs.UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := evict(cs, "unready-2"); err != nil || !terminating(t, cs, "unready-2") {
			t.Fatalf("evict unready with AlwaysAllow: %v", err)
		}
		if pdb, _ = pdbs.Get(ctx, "unready", metav1.GetOptions{}); len(pdb.Status.DisruptedPods) != 0 {
			t.Fatalf("unready evictions used the budget: %+v", pdb.Status)
		}
	})

	t.Run("terminal pods are always evictable", func(t *testing.T) {
		lbl := map[string]string{"app": "done"}
		p := runningPod(t, cs, "done-1", false, lbl)
		p.Status.Phase = corev1.PodSucceeded
		if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		budget(t, cs, "done", lbl, 0, 0, 1, nil)
		if err := evict(cs, "done-1"); err != nil || !terminating(t, cs, "done-1") {
			t.Fatalf("evict a Succeeded pod under a spent budget: %v", err)
		}
	})

	t.Run("dry run", func(t *testing.T) {
		lbl := map[string]string{"app": "dry"}
		runningPod(t, cs, "dry-1", true, lbl)
		budget(t, cs, "dry", lbl, 1, 2, 1, nil)
		err := cs.PolicyV1().Evictions("default").Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "dry-1", Namespace: "default"},
			DeleteOptions: &metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}})
		if err != nil || terminating(t, cs, "dry-1") {
			t.Fatalf("dry-run eviction: %v", err)
		}
		if pdb, _ := pdbs.Get(ctx, "dry", metav1.GetOptions{}); pdb.Status.DisruptionsAllowed != 1 || len(pdb.Status.DisruptedPods) != 0 {
			t.Fatalf("dry run wrote the budget: %+v", pdb.Status)
		}
	})

	t.Run("negative disruptionsAllowed", func(t *testing.T) {
		// The status validation refuses a negative count (upstream's
		// ValidatePodDisruptionBudgetStatusUpdate), so the eviction's own
		// 403 for one ("pdb disruptions allowed is negative") is a guard
		// no client can reach through the API.
		lbl := map[string]string{"app": "neg"}
		runningPod(t, cs, "neg-1", true, lbl)
		pdb := budget(t, cs, "neg", lbl, 0, 2, 1, nil)
		pdb.Status.DisruptionsAllowed = -1
		_, err := pdbs.UpdateStatus(ctx, pdb, metav1.UpdateOptions{})
		wantStatus(t, err, 422, metav1.StatusReasonInvalid,
			`PodDisruptionBudget.policy "neg" is invalid: status.disruptionsAllowed: Invalid value: -1: must be greater than or equal to 0`)
	})

	t.Run("too many unconfirmed evictions", func(t *testing.T) {
		lbl := map[string]string{"app": "big"}
		runningPod(t, cs, "big-1", true, lbl)
		pdb := budget(t, cs, "big", lbl, 5, 6, 1, nil)
		pdb.Status.DisruptedPods = map[string]metav1.Time{}
		for i := range maxDisruptedPodSize + 1 {
			pdb.Status.DisruptedPods[fmt.Sprintf("gone-%d", i)] = metav1.Now()
		}
		if _, err := pdbs.UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, evict(cs, "big-1"), 403, metav1.StatusReasonForbidden,
			`poddisruptionbudget.policy "big" is forbidden: DisruptedPods map too big - too many evictions not confirmed by PDB controller`)
	})
}

// TestEvictionPDBConcurrent: concurrent evictions spend a budget of 3
// exactly once each (the check and decrement is one compare-and-swap):
// 3 pods go, 7 get 429, disruptedPods names the 3.
func TestEvictionPDBConcurrent(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	cs := e.client(t, "http")
	lbl := map[string]string{"app": "race"}
	var names []string
	for i := range 10 {
		n := "race-" + string(rune('a'+i))
		runningPod(t, cs, n, true, lbl)
		names = append(names, n)
	}
	budget(t, cs, "race", lbl, 3, 10, 7, nil)
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch err := evict(cs, n); {
			case err == nil:
				ok.Add(1)
			case apierrors.IsTooManyRequests(err):
				refused.Add(1)
			default:
				t.Errorf("evict %s: %v", n, err)
			}
		}()
	}
	wg.Wait()
	pdb, _ := cs.PolicyV1().PodDisruptionBudgets("default").Get(context.Background(), "race", metav1.GetOptions{})
	if ok.Load() != 3 || refused.Load() != 7 || pdb.Status.DisruptionsAllowed != 0 || len(pdb.Status.DisruptedPods) != 3 {
		t.Fatalf("%d evicted, %d refused; status %+v", ok.Load(), refused.Load(), pdb.Status)
	}
}

// TestEvictionPDBKubectlDrain: the real kubectl drain retries a pod its
// budget protects ("error when evicting pods/... (will retry after 5s):
// Cannot evict pod as it would violate the pod's disruption budget.") and
// completes once the budget allows it (upstream: "should block an
// eviction until the PDB is updated to allow it").
func TestEvictionPDBKubectlDrain(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	cs := e.client(t, "http")
	ctx := context.Background()
	if _, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	lbl := map[string]string{"app": "guarded"}
	p := runningPod(t, cs, "guarded-1", true, lbl)
	p.Spec.TerminationGracePeriodSeconds = nil
	budget(t, cs, "guard", lbl, 0, 1, 1, nil)
	k := newKubectl(t, e.srv.URL)
	var out, errb syncBuffer
	c := k.cmd("drain", "node-1", "--force", "--grace-period=0", "--timeout=60s")
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	const retryLine = `error when evicting pods/"guarded-1" -n "default" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget.`
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(errb.String(), retryLine) {
		if time.Now().After(deadline) {
			t.Fatalf("no retry line; stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if terminating(t, cs, "guarded-1") {
		t.Fatal("the guarded pod went while its budget was spent")
	}
	// The budget allows one disruption now: drain's next try succeeds.
	pdbs := cs.PolicyV1().PodDisruptionBudgets("default")
	pdb, _ := pdbs.Get(ctx, "guard", metav1.GetOptions{})
	pdb.Status.DisruptionsAllowed, pdb.Status.CurrentHealthy, pdb.Status.DesiredHealthy = 1, 1, 0
	if _, err := pdbs.UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("kubectl drain: %v\n%s%s", err, out.String(), errb.String())
	}
	for _, want := range []string{"evicting pod default/guarded-1", "pod/guarded-1 evicted", "node/node-1 drained"} {
		if !strings.Contains(out.String()+errb.String(), want) {
			t.Errorf("kubectl drain output lacks %q:\n%s%s", want, out.String(), errb.String())
		}
	}
}
