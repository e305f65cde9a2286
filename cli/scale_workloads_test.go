package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// seedScale creates, in namespace ns, the objects the scale tests act on:
// deployments web (2 replicas, tier=a) and canary (2, tier=b, canary),
// replica set front (2, tier=b) and a job.
func seedScale(t *testing.T, g *goldenEnv, ns string) {
	t.Helper()
	ctx := context.Background()
	cs := g.cs
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tmpl := func(app string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	}
	for _, d := range []struct {
		name string
		lbl  map[string]string
	}{{"web", map[string]string{"tier": "a"}}, {"canary", map[string]string{"tier": "b", "canary": ""}}} {
		dep, err := cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: d.name, Labels: d.lbl},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": d.name}}, Template: tmpl(d.name)}},
			metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		dep.Status = appsv1.DeploymentStatus{Replicas: 2, UpdatedReplicas: 2}
		if _, err := cs.AppsV1().Deployments(ns).UpdateStatus(ctx, dep, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "front", Labels: map[string]string{"tier": "b"}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "front"}}, Template: tmpl("front")}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	jt := tmpl("batch")
	jt.Spec.RestartPolicy = corev1.RestartPolicyNever
	if _, err := cs.BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "batch"},
		Spec: batchv1.JobSpec{Parallelism: ptr.To[int32](1), Template: jt}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// replicasIn is "web=N canary=N front=N" of namespace ns.
func replicasIn(t *testing.T, g *goldenEnv, ns string) string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for _, n := range []string{"web", "canary"} {
		d, err := g.cs.AppsV1().Deployments(ns).Get(ctx, n, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s=%d", n, *d.Spec.Replicas))
	}
	rs, err := g.cs.AppsV1().ReplicaSets(ns).Get(ctx, "front", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(append(out, fmt.Sprintf("front=%d", *rs.Spec.Replicas)), " ")
}

// TestGoldenScale runs each kubectl scale command and the same wasmpod
// scale command on two namespaces seeded alike, and compares what they
// print, their exit codes and the replicas they leave (upstream's
// kubectl scale behaviours: test/e2e/kubectl "should scale a replication
// controller" and test/e2e/apps/deployment.go "Deployment should have a
// working scale subresource").
func TestGoldenScale(t *testing.T) {
	g := newGoldenEnv(t)
	manifest := filepath.Join(g.dir, "web.yaml")
	if err := os.WriteFile(manifest, []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n---\napiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: front}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, args := range [][]string{
		{"scale", "--replicas=3", "deployment/web"},
		{"scale", "--replicas=3", "deployment", "web"},
		{"scale", "--replicas=0", "rs/front", "deploy/web"},
		{"scale", "--replicas=4", "deployments,replicasets", "--all"},
		{"scale", "--replicas=1", "deploy", "-l", "tier in (a,b),!canary"},
		{"scale", "--replicas=5", "deploy", "-l", "canary"},
		{"scale", "--replicas=1", "deploy", "-l", "tier notin (a)"},
		{"scale", "--replicas=1", "deploy", "-l", "tier=zzz"},
		{"scale", "--current-replicas=2", "--replicas=3", "deployment/web"},
		{"scale", "--current-replicas=5", "--replicas=3", "deployment/web"},
		{"scale", "--current-replicas=-2", "--replicas=3", "deployment/web"},
		{"scale", "--resource-version=1", "--replicas=3", "deployment/web"},
		{"scale", "--resource-version=1", "--replicas=3", "deployment", "--all"},
		{"scale", "--replicas=3", "job/batch"},
		{"scale", "deployment/web"},
		{"scale", "--replicas=-1", "deployment/web"},
		{"scale", "--replicas=3", "deployment/nope"},
		{"scale", "--replicas=3", "deployment/web", "deployment/nope", "rs/front"},
		{"scale", "--replicas=3", "deployment"},
		{"scale", "--replicas=3", "deployment", "web", "-l", "app=x"},
		{"scale", "--replicas=3", "deployment/web", "-o", "name"},
		{"scale", "--replicas=3", "deployment/web", "--dry-run=client"},
		{"scale", "--replicas=3", "deployment/web", "--dry-run=server"},
		{"scale", "--replicas=3", "deploy", "-l", "app in (web"},
		{"scale", "--replicas=3", "-f", manifest},
		{"scale", "--replicas=3", "statefulset/web"},
		{"scale", "--replicas=2", "deployment/web", "--timeout=3s"},
		{"scale", "--replicas=3", "deployment/web", "--timeout=2s"}, // no controller here: status.replicas stays 2
		{"scale", "--replicas=3"},
		{"scale", "--replicas=3", "widgets/x"},
	} {
		kns, wns := fmt.Sprintf("k%d", i), fmt.Sprintf("w%d", i)
		seedScale(t, g, kns)
		seedScale(t, g, wns)
		rv := func(ns string) string {
			d, err := g.cs.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return d.ResourceVersion
		}
		krv, wrv := rv(kns), rv(wns)
		kout, kerr, kcode := g.kubectlRun(append(args, "-n", kns)...)
		wout, werr, wcode := g.wasmpodRun(append(args, "-n", wns)...)
		kerr = strings.ReplaceAll(strings.ReplaceAll(kerr, "kubectl", "wasmpod"), kns, "NS")
		werr = strings.ReplaceAll(werr, wns, "NS")
		kerr = strings.ReplaceAll(kerr, "was "+krv, "was RV")
		werr = strings.ReplaceAll(werr, "was "+wrv, "was RV")
		kout, wout = strings.ReplaceAll(kout, kns, "NS"), strings.ReplaceAll(wout, wns, "NS")
		// kubectl's --timeout wait ends with whichever of its poll and its
		// client's rate limiter meets the deadline first (on a loaded
		// machine the latter): both are the same timeout.
		kerr = strings.Replace(kerr, "error: client rate limiter Wait returned an error: rate: Wait(n=1) would exceed context deadline",
			`error: timed out waiting for "web" to be synced`, 1)
		if kout != wout || kerr != werr || kcode != wcode {
			t.Errorf("%s:\nkubectl (exit %d):\n%s\nstderr: %s\nwasmpod (exit %d):\n%s\nstderr: %s", strings.Join(args, " "), kcode, kout, kerr, wcode, wout, werr)
			continue
		}
		if k, w := replicasIn(t, g, kns), replicasIn(t, g, wns); k != w {
			t.Errorf("%s: kubectl left %s, wasmpod %s", strings.Join(args, " "), k, w)
			continue
		}
		t.Logf("%s: exit %d, same output and replicas (%s):\n%s%s", strings.Join(args, " "), wcode, replicasIn(t, g, wns), wout, werr)
	}
}
