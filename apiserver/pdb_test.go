package apiserver

// policy/v1 PodDisruptionBudgets through the real kubectl and client-go:
// the resource, its table, its generation and its validation (pdb.go);
// upstream behaviours of test/e2e/apps/disruption.go named per test.

import (
	"context"
	"regexp"
	"strings"
	"testing"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const examplePDB = `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: zk-pdb
spec:
  minAvailable: 2
  selector:
    matchLabels:
      app: zookeeper
`

// TestPDBKubectl: kubectl create pdb / apply / get pdb with upstream's
// columns, short name pdb, generation on spec changes only, status kept
// out of the main resource (upstream: "should create a PodDisruptionBudget").
func TestPDBKubectl(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	k.run(t, "apply", "-f", writeManifest(t, "pdb.yaml", examplePDB))
	k.run(t, "create", "poddisruptionbudget", "web", "--selector=app=web", "--max-unavailable=25%")
	out := k.run(t, "get", "pdb")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !regexp.MustCompile(`^NAME\s+MIN AVAILABLE\s+MAX UNAVAILABLE\s+ALLOWED DISRUPTIONS\s+AGE$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^web\s+N/A\s+25%\s+0\s+\S+$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^zk-pdb\s+2\s+N/A\s+0\s+\S+$`).MatchString(lines[2]) {
		t.Fatalf("kubectl get pdb:\n%s", out)
	}
	cs := e.client(t, "http")
	ctx := context.Background()
	pdb, err := cs.PolicyV1().PodDisruptionBudgets("default").Get(ctx, "zk-pdb", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pdb.Generation != 1 {
		t.Fatalf("generation %d, want 1", pdb.Generation)
	}
	// A status in the main resource is ignored; a spec change bumps the generation.
	pdb.Status.DisruptionsAllowed = 5
	pdb.Spec.MinAvailable = ptrIntOrStr(intstr.FromInt32(3))
	pdb, err = cs.PolicyV1().PodDisruptionBudgets("default").Update(ctx, pdb, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pdb.Generation != 2 || pdb.Status.DisruptionsAllowed != 0 {
		t.Fatalf("generation %d disruptionsAllowed %d, want 2 and 0", pdb.Generation, pdb.Status.DisruptionsAllowed)
	}
	// kubectl label: no spec change, same generation.
	k.run(t, "label", "pdb", "zk-pdb", "team=a")
	if pdb, err = cs.PolicyV1().PodDisruptionBudgets("default").Get(ctx, "zk-pdb", metav1.GetOptions{}); err != nil || pdb.Generation != 2 {
		t.Fatalf("after label: generation %d, %v", pdb.Generation, err)
	}
	if out := k.run(t, "get", "poddisruptionbudgets.policy", "zk-pdb", "-o", "jsonpath={.spec.minAvailable}"); out != "3" {
		t.Fatalf("minAvailable %q", out)
	}
	// kubectl patch (strategic merge, the default) and server-side apply
	k.run(t, "patch", "pdb", "zk-pdb", "-p", `{"spec":{"minAvailable":"50%"}}`)
	if out := k.run(t, "get", "pdb", "zk-pdb", "-o", "jsonpath={.spec.minAvailable}/{.metadata.generation}"); out != "50%/3" {
		t.Fatalf("after patch: %q", out)
	}
	// (kubectl-patch still owns minAvailable: the merged spec has both)
	ssa := writeManifest(t, "pdb-ssa.yaml", strings.Replace(examplePDB, "minAvailable: 2", "maxUnavailable: 1", 1))
	if _, stderr, code := k.fail(t, "apply", "--server-side", "--force-conflicts", "-f", ssa); code != 1 ||
		!strings.Contains(stderr, "minAvailable and maxUnavailable cannot be both set") {
		t.Fatalf("server-side apply over kubectl-patch's minAvailable: exit %d %s", code, stderr)
	}
	k.run(t, "patch", "pdb", "zk-pdb", "--type=json", "-p", `[{"op":"remove","path":"/spec/minAvailable"}]`)
	k.run(t, "apply", "--server-side", "--force-conflicts", "-f", ssa)
	if out := k.run(t, "get", "pdb", "zk-pdb", "-o", "jsonpath={.spec.minAvailable}/{.spec.maxUnavailable}/{.metadata.generation}"); out != "/1/5" {
		t.Fatalf("after server-side apply: %q", out)
	}
}

func ptrIntOrStr(v intstr.IntOrString) *intstr.IntOrString { return &v }

// TestPDBValidationKubectl: upstream's ValidatePodDisruptionBudgetSpec
// messages through kubectl apply.
func TestPDBValidationKubectl(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	for _, c := range []struct{ name, body, want string }{
		{"both", strings.Replace(examplePDB, "  minAvailable: 2\n", "  minAvailable: 2\n  maxUnavailable: 1\n", 1),
			"minAvailable and maxUnavailable cannot be both set"},
		{"negative", strings.Replace(examplePDB, "minAvailable: 2", "minAvailable: -1", 1),
			`spec.minAvailable: Invalid value: -1: must be greater than or equal to 0`},
		{"bad-percent", strings.Replace(examplePDB, "minAvailable: 2", `maxUnavailable: "ten%"`, 1),
			`spec.maxUnavailable: Invalid value: "ten%": a valid percent string must be a numeric string followed by an ending '%'`},
		{"over-100", strings.Replace(examplePDB, "minAvailable: 2", `minAvailable: "150%"`, 1),
			`spec.minAvailable: Invalid value: "150%": must not be greater than 100%`},
		{"bad-selector", strings.Replace(examplePDB, "    matchLabels:\n      app: zookeeper\n",
			"    matchExpressions:\n    - key: app\n      operator: Near\n      values: [a]\n", 1),
			`spec.selector.matchExpressions[0].operator: Invalid value: "Near": not a valid selector operator`},
		{"policy", strings.Replace(examplePDB, "  selector:", "  unhealthyPodEvictionPolicy: Sometimes\n  selector:", 1),
			`spec.unhealthyPodEvictionPolicy: Unsupported value: "Sometimes": supported values: "AlwaysAllow", "IfHealthyBudget"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := k.fail(t, "apply", "-f", writeManifest(t, c.name+".yaml", c.body))
			if code != 1 || !strings.Contains(stderr, `The PodDisruptionBudget "zk-pdb" is invalid: `) || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and %q", code, stderr, c.want)
			}
		})
	}
}

// TestPDBCollectionAndStatusAPI: upstream's "should list and delete a
// collection of PodDisruptionBudgets" and "should update/patch
// PodDisruptionBudget status" (ConformanceIt), through client-go.
func TestPDBCollectionAndStatusAPI(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	cs := e.client(t, "http")
	ctx := context.Background()
	pdbs := cs.PolicyV1().PodDisruptionBudgets("default")
	for _, n := range []string{"pdb-1", "pdb-2", "pdb-3"} {
		if _, err := pdbs.Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: n, Labels: map[string]string{"e2e": "x"}},
			Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptrIntOrStr(intstr.FromString("1%")),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"foo": "bar"}}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// update status
	p, err := pdbs.Get(ctx, "pdb-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Conditions = []metav1.Condition{{Type: "StatusUpdate", Status: metav1.ConditionTrue, Reason: "E2E", Message: "Set from an e2e test",
		LastTransitionTime: metav1.Now()}}
	if p, err = pdbs.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil || len(p.Status.Conditions) != 1 {
		t.Fatalf("update status: %v %+v", err, p.Status)
	}
	// patch status (JSON merge patch, as the e2e test)
	p, err = pdbs.Patch(ctx, "pdb-1", types.MergePatchType, []byte(`{"status":{"disruptedPods":{"x":"2024-01-01T00:00:00Z"}},"spec":{"minAvailable":5}}`), metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Status.DisruptedPods["x"]; !ok || p.Spec.MinAvailable.String() != "1%" || len(p.Status.Conditions) != 1 {
		t.Fatalf("patch status: spec %v status %+v", p.Spec.MinAvailable, p.Status)
	}
	if err := pdbs.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "e2e=x"}); err != nil {
		t.Fatal(err)
	}
	if l, err := pdbs.List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Fatalf("after deletecollection: %v %d", err, len(l.Items))
	}
}
