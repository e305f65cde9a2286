package wasmpod_test

// Upstream's DisruptionController behaviours (test/e2e/apps/disruption.go,
// Kubernetes v1.37) that TestPodDisruptionBudgetE2E does not cover, with
// real pods (image busybox: the toolbox), the ReplicaSet and disruption
// controllers, the scheduler and the eviction subresource through
// client-go: one cluster shared by parallel subtests, each in a namespace
// of its own, each named after the upstream behaviour.
// docs/conformance-apps.md maps every behaviour.

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
)

// upstream's defaultName and defaultLabels: the budgets select foo=bar.
const confPDBName = "foo"

var confPDBLabels = map[string]string{"foo": "bar"}

// confPDB is upstream's createPDBMinAvailableOrDie /
// createPDBMaxUnavailableOrDie: a budget over foo=bar, then
// waitForPdbToBeProcessed (the controller observed its generation).
func confPDB(t *testing.T, cs kubernetes.Interface, ns string, minAvailable, maxUnavailable *intstr.IntOrString) {
	t.Helper()
	if _, err := cs.PolicyV1().PodDisruptionBudgets(ns).Create(context.Background(), &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: confPDBName},
		Spec: policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: confPDBLabels},
			MinAvailable: minAvailable, MaxUnavailable: maxUnavailable},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	confPDBWait(t, cs, ns, "processed", func(p *policyv1.PodDisruptionBudget) bool {
		return p.Status.ObservedGeneration >= p.Generation
	})
}

func confPDBWait(t *testing.T, cs kubernetes.Interface, ns, what string, cond func(*policyv1.PodDisruptionBudget) bool) *policyv1.PodDisruptionBudget {
	t.Helper()
	end := time.Now().Add(90 * time.Second)
	for {
		p, err := cs.PolicyV1().PodDisruptionBudgets(ns).Get(context.Background(), confPDBName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cond(p) {
			return p
		}
		if time.Now().After(end) {
			t.Fatalf("PDB %s/%s: timed out waiting for %s; status %+v", ns, confPDBName, what, p.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func pdbStatusIs(expected, healthy, desired, allowed int32) func(*policyv1.PodDisruptionBudget) bool {
	return func(p *policyv1.PodDisruptionBudget) bool {
		s := p.Status
		return s.ObservedGeneration >= p.Generation && s.ExpectedPods == expected && s.CurrentHealthy == healthy &&
			s.DesiredHealthy == desired && s.DisruptionsAllowed == allowed
	}
}

// confPDBPods is upstream's createPodsOrDie + waitForPodsOrDie: n bare pods
// pod-0..pod-n-1 labelled foo=bar, all running and ready.
func confPDBPods(t *testing.T, cs kubernetes.Interface, ns string, n int) {
	t.Helper()
	grace := int64(1)
	for i := range n {
		if _, err := cs.CoreV1().Pods(ns).Create(context.Background(), &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%d", i), Labels: confPDBLabels},
			Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &grace,
				Containers: []corev1.Container{{Name: "donothing", Image: "busybox", Command: []string{"sh", "-c", "sleep 3600"}}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	confRunningPods(t, cs, ns, n)
}

// confRunningPods waits for n running, ready pods in ns (upstream's
// waitForPodsOrDie) and returns them.
func confRunningPods(t *testing.T, cs kubernetes.Interface, ns string, n int) []corev1.Pod {
	t.Helper()
	var ready []corev1.Pod
	waitFor(t, fmt.Sprintf("%d ready pods in %s", n, ns), 90*time.Second, func() bool {
		ready = runningPods(t, cs, ns)
		return len(ready) >= n
	})
	return ready
}

// runningPods: the running, ready pods of ns not being deleted (upstream's
// locateRunningPod picks one of them).
func runningPods(t *testing.T, cs kubernetes.Interface, ns string) []corev1.Pod {
	t.Helper()
	l, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && podReady(&p) == corev1.ConditionTrue {
			out = append(out, p)
		}
	}
	return out
}

func confEvict(cs kubernetes.Interface, ns, pod string) error {
	return cs.CoreV1().Pods(ns).EvictV1(context.Background(), &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: ns}})
}

// wantDisruptionBudgetCause is upstream's check of a denied eviction:
// the error's Status carries the DisruptionBudget cause.
func wantDisruptionBudgetCause(t *testing.T, err error) {
	t.Helper()
	if err == nil || !apierrors.HasStatusCause(err, policyv1.DisruptionBudgetCause) || !apierrors.IsTooManyRequests(err) {
		t.Fatalf("eviction: want 429 with the %s cause, got %v", policyv1.DisruptionBudgetCause, err)
	}
}

func TestConformanceDisruption(t *testing.T) {
	cc := newConformanceCluster(t)
	cs := cc.cs
	ctx := context.Background()

	// evictionCases "too few pods, replicaSet, percentage" (f.It, Serial
	// upstream): minAvailable 90% of a ReplicaSet of 10 whose pods all
	// ask for the same host port, so only one fits on the (single) node; 1
	// healthy of the 9 wanted: the eviction is denied.
	t.Run("evictions: too few pods, replicaSet, percentage => should not allow an eviction", func(t *testing.T) {
		t.Parallel()
		ns := confNamespace(t, cs, "pdb-too-few-rs-pct")
		rs := confRS("rs", 10, confPDBLabels)
		// Upstream's port is 5555; the node agent really listens on a host
		// port, so the test takes one free on this machine.
		l, err := net.Listen("tcp", ":0")
		if err != nil {
			t.Fatal(err)
		}
		port := int32(l.Addr().(*net.TCPAddr).Port)
		l.Close()
		rs.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{HostPort: port, ContainerPort: 5555}}
		if _, err := cs.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		confPDB(t, cs, ns, ptrIOS(intstr.FromString("90%")), nil)
		pods := confRunningPods(t, cs, ns, 1)
		// The budget's view: 10 expected (the ReplicaSet's scale), 1
		// healthy, 9 desired, none allowed.
		confPDBWait(t, cs, ns, "expected 10, healthy 1, desired 9, allowed 0", pdbStatusIs(10, 1, 9, 0))
		wantDisruptionBudgetCause(t, confEvict(cs, ns, pods[0].Name))
		// The other nine are Pending (the host port), not running.
		if n := len(runningPods(t, cs, ns)); n != 1 {
			t.Fatalf("%d running pods with one host port on one node, want 1", n)
		}
		if p, err := cs.CoreV1().Pods(ns).Get(ctx, pods[0].Name, metav1.GetOptions{}); err != nil || p.DeletionTimestamp != nil {
			t.Fatalf("the pod the eviction was denied for: %v, deletionTimestamp %v", err, p.DeletionTimestamp)
		}
	})

	// evictionCases "maxUnavailable allow single eviction, percentage":
	// maxUnavailable 10% of a ReplicaSet of 10 allows one eviction.
	t.Run("evictions: maxUnavailable allow single eviction, percentage => should allow an eviction", func(t *testing.T) {
		t.Parallel()
		ns := confNamespace(t, cs, "pdb-maxu-pct")
		if _, err := cs.AppsV1().ReplicaSets(ns).Create(ctx, confRS("rs", 10, confPDBLabels), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		confPDB(t, cs, ns, nil, ptrIOS(intstr.FromString("10%")))
		pods := confRunningPods(t, cs, ns, 10)
		// Upstream polls the eviction until it is allowed: the budget
		// starts with disruptionsAllowed 0.
		var err error
		waitFor(t, "the eviction to be allowed", 60*time.Second, func() bool {
			err = confEvict(cs, ns, pods[0].Name)
			return err == nil
		})
		p, err := cs.CoreV1().Pods(ns).Get(ctx, pods[0].Name, metav1.GetOptions{})
		if err == nil && p.DeletionTimestamp == nil {
			t.Fatalf("evicted pod %s is not being deleted", p.Name)
		} else if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
	})

	// ginkgo.It("should observe that the PodDisruptionBudget status is not
	// updated for unmanaged pods"): minAvailable 1 over three pods no
	// controller owns; the controller must not report a sync failure
	// (upstream watches a minute; WASMPOD_CONFORMANCE_FULL=1 does too).
	t.Run("should observe that the PodDisruptionBudget status is not updated for unmanaged pods", func(t *testing.T) {
		t.Parallel()
		ns := confNamespace(t, cs, "pdb-unmanaged")
		confPDB(t, cs, ns, ptrIOS(intstr.FromInt32(1)), nil)
		confPDBPods(t, cs, ns, 3)
		// An integer minAvailable needs no controller: the budget counts
		// the three pods.
		confPDBWait(t, cs, ns, "expected 3, healthy 3, desired 1, allowed 2", pdbStatusIs(3, 3, 1, 2))
		end := time.Now().Add(conformanceScale(time.Minute, 3*time.Second))
		for time.Now().Before(end) {
			p, err := cs.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, confPDBName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// upstream's isPDBErroring
			for _, c := range p.Status.Conditions {
				if strings.Contains(c.Reason, policyv1.SyncFailedReason) || strings.Contains(c.Message, "found no controller ref for pod") {
					t.Fatalf("PDB is erroring for unmanaged pods: %+v", c)
				}
			}
			time.Sleep(time.Second)
		}
	})
}

func ptrIOS(v intstr.IntOrString) *intstr.IntOrString { return &v }
