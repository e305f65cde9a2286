package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// sortedLines is s with its lines sorted (kubectl logs -l prints its pods
// in its map's order).
func sortedLines(s string) string {
	l := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	sort.Strings(l)
	return strings.Join(l, "\n")
}

// TestGoldenSetBasedSelectors: set-based -l selectors ('tier in (x,y),
// !canary', 'tier notin (x)', 'canary', '!canary') reach the server
// unchanged and select the same pods for logs and delete as for real
// kubectl, and a bad selector is refused in kubectl's words. (get,
// describe and scale: TestGoldenGetWorkloads, TestGoldenDescribeWorkloads,
// TestGoldenScale.)
func TestGoldenSetBasedSelectors(t *testing.T) {
	g := newGoldenEnv(t)
	ctx := context.Background()
	g.s.RegisterNode("node-1", &fakeNode{})
	mk := func(ns string) {
		if ns != "default" {
			if _, err := g.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range []struct {
			name string
			lbl  map[string]string
		}{{"lw-a", map[string]string{"tier": "x"}}, {"lw-b", map[string]string{"tier": "y"}}, {"lw-c", map[string]string{"tier": "y", "canary": "1"}}, {"lw-d", nil}} {
			if _, err := g.cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.name, Labels: p.lbl},
				Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "main", Image: "a.wasm"}, {Name: "side", Image: "b.wasm"}}}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk("default")
	for _, args := range [][]string{
		{"logs", "-l", "tier in (x,y),!canary", "--prefix"},
		{"logs", "-l", "tier notin (x),tier", "-c", "side"},
		{"logs", "-l", "canary", "--tail=3"},
		{"logs", "-l", "!tier", "--prefix", "-c", "side"},
		{"logs", "-l", "tier=none"},
		{"logs", "-l", "tier in (x"},
		{"logs", "lw-a", "-l", "tier=x"},
		{"logs", "-l", "tier", "-f", "--max-log-requests=2"},
	} {
		var kout, kerr, wout, werr string
		var kcode, wcode int
		kout, kerr, kcode = g.kubectlRun(args...)
		wout, werr, wcode = g.wasmpodRun(args...)
		kerr = strings.ReplaceAll(kerr, "kubectl", "wasmpod")
		if sortedLines(kout) != sortedLines(wout) || sortedLines(kerr) != sortedLines(werr) || kcode != wcode {
			t.Errorf("%s:\nkubectl (exit %d):\n%s\nstderr: %s\nwasmpod (exit %d):\n%s\nstderr: %s", strings.Join(args, " "), kcode, kout, kerr, wcode, wout, werr)
			continue
		}
		t.Logf("%s: exit %d, same lines:\n%s%s", strings.Join(args, " "), wcode, wout, werr)
	}
	// logs TYPE/NAME of a workload: one of its pods, the most available
	// (lw-b, Running and Ready, before lw-c, Pending).
	b, err := g.cs.CoreV1().Pods("default").Get(ctx, "lw-b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	if _, err := g.cs.CoreV1().Pods("default").UpdateStatus(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	tmpl := func(tier string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"tier": tier}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "a.wasm"}}}}
	}
	if _, err := g.cs.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "dy"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "y"}}, Template: tmpl("y")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.cs.AppsV1().DaemonSets("default").Create(ctx, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "dx"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"x"}}}},
			Template: tmpl("x")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"logs", "deploy/dy"},
		{"logs", "deployment/dy", "side"},
		{"logs", "ds/dx", "-c", "side", "--tail=1"},
		{"logs", "rs/nope"},
		{"logs", "deploy/dy", "main", "-c", "side"},
	} {
		kout, kerr, kcode := g.kubectlRun(args...)
		wout, werr, wcode := g.wasmpodRun(args...)
		kerr = strings.ReplaceAll(kerr, "kubectl", "wasmpod")
		if kout != wout || kerr != werr || kcode != wcode {
			t.Errorf("%s:\nkubectl (exit %d):\n%s\nstderr: %s\nwasmpod (exit %d):\n%s\nstderr: %s", strings.Join(args, " "), kcode, kout, kerr, wcode, wout, werr)
			continue
		}
		t.Logf("%s: exit %d, same output:\n%s%s", strings.Join(args, " "), wcode, wout, werr)
	}

	// delete: twin namespaces, the same pods deleted and left. (The
	// messages differ: kubectl v1.37 says `pod "x" deleted from NS
	// namespace`, wasmpod's delete.go `pod "x" deleted`.)
	for i, args := range [][]string{
		{"delete", "pods", "-l", "tier in (x,y),!canary", "--wait=false"},
		{"delete", "pods", "-l", "canary,tier notin (x)", "--wait=false"},
		{"delete", "pods", "-l", "!tier", "--wait=false"},
	} {
		kns, wns := fmt.Sprintf("dk%d", i), fmt.Sprintf("dw%d", i)
		mk(kns)
		mk(wns)
		kout, _, kcode := g.kubectlRun(append(args, "-n", kns)...)
		wout, _, wcode := g.wasmpodRun(append(args, "-n", wns)...)
		left := func(ns string) string {
			l, err := g.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range l.Items {
				if p.DeletionTimestamp == nil {
					names = append(names, p.Name)
				}
			}
			return strings.Join(names, ",")
		}
		kout = strings.ReplaceAll(kout, " from "+kns+" namespace", "")
		if kout != wout || kcode != wcode || left(kns) != left(wns) {
			t.Errorf("%s: kubectl exit %d %q left %s; wasmpod exit %d %q left %s", strings.Join(args, " "), kcode, kout, left(kns), wcode, wout, left(wns))
		}
	}
}
