package wasmpod_test

// PodDisruptionBudgets with real pods (the toolbox as busybox, `sh -c
// 'sleep 3600'`), the disruption controller and the eviction subresource,
// through client-go and the real kubectl with default flags. Upstream
// behaviours: test/e2e/apps/disruption.go, each named by its subtest.

import (
	"context"
	"fmt"
	"regexp"
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

func pdbRSManifest(name string, replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: %[1]s
spec:
  replicas: %[2]d
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: sleeper
        image: busybox
        command: ["sh", "-c", "sleep 3600"]
`, name, replicas)
}

// readyPods lists the ready pods of app=name not being deleted.
func readyPods(t *testing.T, cs kubernetes.Interface, app string) []corev1.Pod {
	t.Helper()
	l, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
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

// barePods starts n pods app=name without a controller and waits for them
// to be ready.
func barePods(t *testing.T, cs kubernetes.Interface, app string, n int) {
	t.Helper()
	grace := int64(1)
	for i := range n {
		if _, err := cs.CoreV1().Pods("default").Create(context.Background(), &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", app, i), Labels: map[string]string{"app": app}},
			Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &grace, Containers: []corev1.Container{{Name: "sleeper", Image: "busybox",
				Command: []string{"sh", "-c", "sleep 3600"}}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, app+" pods ready", 90*time.Second, func() bool { return len(readyPods(t, cs, app)) == n })
}

func createPDB(t *testing.T, cs kubernetes.Interface, app string, minAvailable, maxUnavailable *intstr.IntOrString) {
	t.Helper()
	if _, err := cs.PolicyV1().PodDisruptionBudgets("default").Create(context.Background(), &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: app},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: minAvailable, MaxUnavailable: maxUnavailable,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitPDB waits until the controller has observed the PDB's generation
// with these counts (upstream's waitForPdbToObserveHealthyPods and
// waitForPdbToBeProcessed).
func waitPDB(t *testing.T, cs kubernetes.Interface, name string, expected, healthy, allowed int32) {
	t.Helper()
	var st policyv1.PodDisruptionBudgetStatus
	end := time.Now().Add(60 * time.Second)
	for {
		p, err := cs.PolicyV1().PodDisruptionBudgets("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st = p.Status
		if st.ObservedGeneration == p.Generation && st.ExpectedPods == expected && st.CurrentHealthy == healthy && st.DisruptionsAllowed == allowed {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("PDB %s status %+v, want expected %d healthy %d allowed %d", name, st, expected, healthy, allowed)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func evictPod(cs kubernetes.Interface, name string) error {
	return cs.CoreV1().Pods("default").EvictV1(context.Background(), &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}})
}

func want429(t *testing.T, err error) {
	t.Helper()
	if !apierrors.IsTooManyRequests(err) || !strings.Contains(err.Error(), "Cannot evict pod as it would violate the pod's disruption budget.") {
		t.Fatalf("want 429 Cannot evict pod..., got %v", err)
	}
}

func applyManifest(t *testing.T, e *streamEnv, manifest string) {
	t.Helper()
	if out, errOut, code := e.run(t, manifest, "apply", "-f", "-"); code != 0 {
		t.Fatalf("kubectl apply: exit %d\n%s%s", code, out, errOut)
	}
}

func iosp(v intstr.IntOrString) *intstr.IntOrString { return &v }

func TestPodDisruptionBudgetE2E(t *testing.T) {
	t.Parallel()
	e := newToolboxEnv(t)
	cs := e.c.Client()
	ctx := context.Background()

	t.Run("should create a PodDisruptionBudget; should observe PodDisruptionBudget status updated", func(t *testing.T) {
		barePods(t, cs, "observe", 2)
		if out := e.must(t, "create", "pdb", "observe", "--selector=app=observe", "--min-available=1"); !strings.Contains(out, "poddisruptionbudget.policy/observe created") {
			t.Fatalf("create pdb: %q", out)
		}
		waitPDB(t, cs, "observe", 2, 2, 1)
		out := e.must(t, "get", "pdb", "observe")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 || !regexp.MustCompile(`^NAME\s+MIN AVAILABLE\s+MAX UNAVAILABLE\s+ALLOWED DISRUPTIONS\s+AGE$`).MatchString(lines[0]) ||
			!regexp.MustCompile(`^observe\s+1\s+N/A\s+1\s+\d+s$`).MatchString(lines[1]) {
			t.Fatalf("kubectl get pdb:\n%s", out)
		}
		if out := e.must(t, "get", "pdb", "observe", "-o", "jsonpath={.status.conditions[0].type}/{.status.conditions[0].reason}"); out != "DisruptionAllowed/SufficientPods" {
			t.Fatalf("condition %q", out)
		}
	})

	t.Run("evictions: no PDB => should allow an eviction", func(t *testing.T) {
		barePods(t, cs, "nopdb", 1)
		if err := evictPod(cs, "nopdb-0"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the evicted pod gone", 60*time.Second, func() bool {
			_, err := cs.CoreV1().Pods("default").Get(ctx, "nopdb-0", metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
	})

	t.Run("evictions: too few pods, absolute => should not allow an eviction", func(t *testing.T) {
		barePods(t, cs, "few", 2)
		createPDB(t, cs, "few", iosp(intstr.FromInt32(2)), nil)
		waitPDB(t, cs, "few", 2, 2, 0)
		want429(t, evictPod(cs, "few-0"))
	})

	t.Run("evictions: enough pods, absolute => should allow an eviction", func(t *testing.T) {
		barePods(t, cs, "enough", 3)
		createPDB(t, cs, "enough", iosp(intstr.FromInt32(2)), nil)
		waitPDB(t, cs, "enough", 3, 3, 1)
		if err := evictPod(cs, "enough-0"); err != nil {
			t.Fatal(err)
		}
		// The budget is spent until the controller sees the pod go.
		want429(t, evictPod(cs, "enough-1"))
		waitPDB(t, cs, "enough", 2, 2, 0)
	})

	t.Run("evictions: enough pods, replicaSet, percentage => should allow an eviction", func(t *testing.T) {
		applyManifest(t, e, pdbRSManifest("pct", 3))
		waitFor(t, "pct pods ready", 90*time.Second, func() bool { return len(readyPods(t, cs, "pct")) == 3 })
		createPDB(t, cs, "pct", iosp(intstr.FromString("60%")), nil) // 60% of the ReplicaSet's 3, rounded up: 2
		waitPDB(t, cs, "pct", 3, 3, 1)
		if err := evictPod(cs, readyPods(t, cs, "pct")[0].Name); err != nil {
			t.Fatal(err)
		}
		// The ReplicaSet replaces the pod; the budget comes back.
		waitPDB(t, cs, "pct", 3, 3, 1)
	})

	t.Run("evictions: maxUnavailable deny evictions, integer => should not allow an eviction", func(t *testing.T) {
		applyManifest(t, e, pdbRSManifest("maxu", 3))
		waitFor(t, "maxu pods ready", 90*time.Second, func() bool { return len(readyPods(t, cs, "maxu")) == 3 })
		createPDB(t, cs, "maxu", nil, iosp(intstr.FromInt32(1)))
		waitPDB(t, cs, "maxu", 3, 3, 1)
		ps := readyPods(t, cs, "maxu")
		if err := evictPod(cs, ps[0].Name); err != nil {
			t.Fatal(err)
		}
		// One of the 3 is unavailable: maxUnavailable 1 denies the next.
		want429(t, evictPod(cs, ps[1].Name))
	})

	t.Run("should block an eviction until the PDB is updated to allow it", func(t *testing.T) {
		applyManifest(t, e, pdbRSManifest("block", 3))
		createPDB(t, cs, "block", iosp(intstr.FromInt32(3)), nil)
		waitFor(t, "block pods ready", 90*time.Second, func() bool { return len(readyPods(t, cs, "block")) == 3 })
		waitPDB(t, cs, "block", 3, 3, 0)
		victim := readyPods(t, cs, "block")[0].Name
		want429(t, evictPod(cs, victim))
		// updated to minAvailable 2: allowed
		e.must(t, "patch", "pdb", "block", "--type=merge", "-p", `{"spec":{"minAvailable":2}}`)
		waitPDB(t, cs, "block", 3, 3, 1)
		if err := evictPod(cs, victim); err != nil {
			t.Fatal(err)
		}
		// patched to maxUnavailable 0: denied
		e.must(t, "patch", "pdb", "block", "--type=merge", "-p", `{"spec":{"minAvailable":null,"maxUnavailable":0}}`)
		waitFor(t, "block pods ready again", 90*time.Second, func() bool { return len(readyPods(t, cs, "block")) == 3 })
		waitPDB(t, cs, "block", 3, 3, 0)
		victim = readyPods(t, cs, "block")[0].Name
		want429(t, evictPod(cs, victim))
		// deleted: allowed
		e.must(t, "delete", "pdb", "block")
		if err := evictPod(cs, victim); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("should list and delete a collection of PodDisruptionBudgets", func(t *testing.T) {
		for i := range 3 {
			createPDB(t, cs, fmt.Sprintf("coll-%d", i), iosp(intstr.FromString("1%")), nil)
		}
		pdbs := cs.PolicyV1().PodDisruptionBudgets("default")
		if l, err := pdbs.List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) < 3 {
			t.Fatalf("list: %v", err)
		}
		if err := pdbs.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{FieldSelector: "metadata.name=coll-1"}); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"coll-0", "coll-2"} {
			if err := pdbs.Delete(ctx, n, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		l, _ := pdbs.List(ctx, metav1.ListOptions{})
		for _, p := range l.Items {
			if strings.HasPrefix(p.Name, "coll-") {
				t.Fatalf("%s left", p.Name)
			}
		}
	})

	// Last: it cordons the only node.
	t.Run("kubectl drain retries until the budget allows", func(t *testing.T) {
		applyManifest(t, e, pdbRSManifest("drain", 2))
		waitFor(t, "drain pods ready", 90*time.Second, func() bool { return len(readyPods(t, cs, "drain")) == 2 })
		createPDB(t, cs, "drain", iosp(intstr.FromInt32(1)), nil)
		waitPDB(t, cs, "drain", 2, 2, 1)
		cmd := e.kubectl(t, "drain", "node-1", "--ignore-daemonsets", "--pod-selector=app=drain", "--timeout=120s")
		var out, errOut syncBuf
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		// One pod goes; the other is held (its replacement cannot be
		// scheduled on the cordoned node): drain retries every 5 s.
		retry := regexp.MustCompile(`error when evicting pods/"drain-[a-z0-9]{5}" -n "default" \(will retry after 5s\): Cannot evict pod as it would violate the pod's disruption budget\.`)
		waitFor(t, "drain's retry line", 60*time.Second, func() bool { return retry.MatchString(errOut.String()) })
		select {
		case err := <-done:
			t.Fatalf("drain ended while the budget held: %v\n%s%s", err, out.String(), errOut.String())
		default:
		}
		e.must(t, "patch", "pdb", "drain", "--type=merge", "-p", `{"spec":{"minAvailable":0}}`)
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("kubectl drain: %v\n%s%s", err, out.String(), errOut.String())
			}
		case <-time.After(90 * time.Second):
			t.Fatalf("drain did not finish:\n%s%s", out.String(), errOut.String())
		}
		for _, w := range []string{"node/node-1 cordoned", "node/node-1 drained"} {
			if !strings.Contains(out.String()+errOut.String(), w) {
				t.Errorf("drain output lacks %q:\n%s%s", w, out.String(), errOut.String())
			}
		}
		if n := regexp.MustCompile(`pod/drain-[a-z0-9]{5} evicted`).FindAllString(out.String()+errOut.String(), -1); len(n) != 2 {
			t.Errorf("evicted lines %q:\n%s%s", n, out.String(), errOut.String())
		}
		e.must(t, "uncordon", "node-1")
	})
}
