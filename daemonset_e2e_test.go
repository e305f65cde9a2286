package wasmpod_test

// The DaemonSet controller with real pods (the toolbox as busybox) on a
// 5-node cluster, driven by the real kubectl with default flags.
// Upstream behaviours (test/e2e/apps/daemon_set.go, ConformanceIt names)
// are subtests named after them; "fleet" is issue 13's fleet test (nodes
// added, tainted and removed); "upstream example" is kubernetes.io's
// controllers/daemonset.yaml (fluentd-elasticsearch) with its image
// replaced by busybox sleep.

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

const dsNodes = 5

// newDSEnv is a cluster of dsNodes nodes (node-1..node-5) with the
// toolbox as busybox, hostPath allowed, and a kubeconfig for kubectl.
func newDSEnv(t *testing.T) *streamEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store := images.NewMemoryStore()
	digest, _, err := store.Put(ctx, "", bytes.NewReader(testwasm.Build(t, filepath.Join(testwasm.RepoRoot(t), "wasm-examples", "toolbox"))))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Tag("toolbox", "latest", digest); err != nil {
		t.Fatal(err)
	}
	var specs []wasmpod.NodeSpec
	for i := 1; i <= dsNodes; i++ {
		specs = append(specs, wasmpod.NodeSpec{Name: fmt.Sprintf("node-%d", i)})
	}
	c, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: filepath.Join(dir, "cache"), Modules: store, NodeSpecs: specs, AllowHostPath: true,
		EvictionHard: map[string]string{"nodefs.available": "1Mi"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: w\n  cluster:\n    server: "+srv.URL+
		"\ncontexts:\n- name: w\n  context:\n    cluster: w\n    user: me\n    namespace: default\ncurrent-context: w\nusers:\n- name: me\n  user: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &streamEnv{c: c, dir: dir, kc: kc}
}

func dsManifest(name, extraSpec string) string {
	return `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: ` + name + `
spec:
  selector:
    matchLabels: {daemonset-name: ` + name + `}
` + extraSpec + `  template:
    metadata:
      labels: {daemonset-name: ` + name + `}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: busybox
        command: ["sh", "-c", "sleep 3600"]
`
}

// dsPods are the DaemonSet's pods not being deleted, by node (the
// target node of unbound ones).
func dsPods(t *testing.T, e *streamEnv, ns, name string) map[string][]corev1.Pod {
	t.Helper()
	l, err := e.c.Client().CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]corev1.Pod{}
	for _, p := range l.Items {
		ref := metav1.GetControllerOf(&p)
		if p.DeletionTimestamp != nil || ref == nil || ref.Kind != "DaemonSet" || ref.Name != name {
			continue
		}
		n := p.Spec.NodeName
		if n == "" {
			n = p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields[0].Values[0]
		}
		out[n] = append(out[n], p)
	}
	return out
}

// podNodes lists "node:ready" for every pod, sorted.
func podNodes(m map[string][]corev1.Pod) string {
	var out []string
	for n, ps := range m {
		for _, p := range ps {
			r := "notready"
			if podReady(&p) == corev1.ConditionTrue {
				r = "ready"
			}
			out = append(out, n+":"+r)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func allReady(nodes ...string) string {
	var out []string
	for _, n := range nodes {
		out = append(out, n+":ready")
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

var fiveNodes = []string{"node-1", "node-2", "node-3", "node-4", "node-5"}

func waitDSPods(t *testing.T, e *streamEnv, ns, name, want string) map[string][]corev1.Pod {
	t.Helper()
	var got map[string][]corev1.Pod
	deadline := time.Now().Add(90 * time.Second)
	for {
		got = dsPods(t, e, ns, name)
		if podNodes(got) == want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("pods of ds/%s: %s\nwant %s", name, podNodes(got), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// getDSRow checks kubectl get ds NAME: upstream's columns, and the row's
// numbers against want (DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE-SELECTOR).
func getDSRow(t *testing.T, e *streamEnv, name, want string) {
	t.Helper()
	var out string
	waitFor(t, "kubectl get ds "+name+" showing "+want, 60*time.Second, func() bool {
		out = e.must(t, "get", "ds", name)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		return len(lines) == 2 && regexp.MustCompile(`^NAME\s+DESIRED\s+CURRENT\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+NODE SELECTOR\s+AGE$`).MatchString(lines[0]) &&
			regexp.MustCompile(`^`+name+`\s+`+want+`\s+\d+s$`).MatchString(lines[1])
	})
}

func TestDaemonSetKubectl(t *testing.T) {
	t.Parallel()
	e := newDSEnv(t)
	cs := e.c.Client()
	ctx := context.Background()
	apply := func(t *testing.T, manifest string) {
		t.Helper()
		if out, errOut, code := e.run(t, manifest, "apply", "-f", "-"); code != 0 {
			t.Fatalf("apply: %d %s%s", code, out, errOut)
		}
	}
	rolloutStatus := func(t *testing.T, name string) {
		t.Helper()
		out, errOut, code := e.run(t, "", "rollout", "status", "ds/"+name, "--timeout=90s")
		if code != 0 || !strings.Contains(out, `daemon set "`+name+`" successfully rolled out`) {
			t.Fatalf("rollout status ds/%s: exit %d\n%s%s", name, code, out, errOut)
		}
	}
	names := func(m map[string][]corev1.Pod) map[string]string {
		out := map[string]string{}
		for n, ps := range m {
			out[n] = ps[0].Name
		}
		return out
	}

	t.Run("should run and stop simple daemon", func(t *testing.T) {
		start := time.Now()
		apply(t, dsManifest("simple", ""))
		rolloutStatus(t, "simple")
		t.Logf("simple: rolled out in %v", time.Since(start))
		pods := waitDSPods(t, e, "default", "simple", allReady(fiveNodes...))
		getDSRow(t, e, "simple", `5\s+5\s+5\s+5\s+5\s+<none>`)
		// A daemon pod deleted is revived on its node.
		victim := pods["node-3"][0].Name
		e.must(t, "delete", "pod", victim, "--wait=false")
		waitFor(t, "node-3's pod revived", 90*time.Second, func() bool {
			ps := dsPods(t, e, "default", "simple")
			return podNodes(ps) == allReady(fiveNodes...) && ps["node-3"][0].Name != victim
		})
		ev := e.must(t, "get", "events", "--field-selector", "involvedObject.name=simple")
		if !regexp.MustCompile(`Normal\s+SuccessfulCreate\s+daemonset/simple\s+Created pod: simple-[a-z0-9]{5}`).MatchString(ev) {
			t.Errorf("events lack SuccessfulCreate:\n%s", ev)
		}
		// Stop: deleting the DaemonSet takes its pods.
		e.must(t, "delete", "ds", "simple")
		waitDSPods(t, e, "default", "simple", "")
		waitFor(t, "simple's pods gone", 60*time.Second, func() bool {
			l, _ := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "daemonset-name=simple"})
			return len(l.Items) == 0
		})
	})

	t.Run("should run and stop complex daemon", func(t *testing.T) {
		apply(t, dsManifest("complex", "")+"      nodeSelector: {color: blue}\n")
		getDSRow(t, e, "complex", `0\s+0\s+0\s+0\s+0\s+color=blue`)
		if ps := dsPods(t, e, "default", "complex"); len(ps) != 0 {
			t.Fatalf("pods on %s with no blue node", podNodes(ps))
		}
		e.must(t, "label", "node", "node-2", "color=blue")
		waitDSPods(t, e, "default", "complex", allReady("node-2"))
		rolloutStatus(t, "complex")
		getDSRow(t, e, "complex", `1\s+1\s+1\s+1\s+1\s+color=blue`)
		// The node relabelled green: unscheduled.
		e.must(t, "label", "node", "node-2", "color=green", "--overwrite")
		waitDSPods(t, e, "default", "complex", "")
		// The DaemonSet's nodeSelector changed to green: back on node-2.
		e.must(t, "patch", "ds", "complex", "-p", `{"spec":{"template":{"spec":{"nodeSelector":{"color":"green"}}}}}`)
		waitDSPods(t, e, "default", "complex", allReady("node-2"))
		getDSRow(t, e, "complex", `1\s+1\s+1\s+1\s+1\s+color=green`)
		e.must(t, "label", "node", "node-2", "color-")
		e.must(t, "delete", "ds", "complex")
	})

	t.Run("should retry creating failed daemon pods", func(t *testing.T) {
		apply(t, dsManifest("retry", ""))
		pods := waitDSPods(t, e, "default", "retry", allReady(fiveNodes...))
		victim := pods["node-4"][0]
		p, err := cs.CoreV1().Pods("default").Get(ctx, victim.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Status.Phase = corev1.PodFailed
		if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(90 * time.Second)
		for i := 0; ; i++ {
			ps := dsPods(t, e, "default", "retry")
			if podNodes(ps) == allReady(fiveNodes...) && ps["node-4"][0].Name != victim.Name {
				break
			}
			// The node agent may publish the running pod's status over
			// ours before the controller saw it: fail it again.
			if p, err := cs.CoreV1().Pods("default").Get(ctx, victim.Name, metav1.GetOptions{}); i%20 == 19 && err == nil &&
				p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
				p.Status.Phase = corev1.PodFailed
				cs.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{})
			}
			if time.Now().After(deadline) {
				l, _ := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "daemonset-name=retry"})
				var st []string
				for _, p := range l.Items {
					st = append(st, fmt.Sprintf("%s on %s: %s deleting=%v", p.Name, p.Spec.NodeName, p.Status.Phase, p.DeletionTimestamp))
				}
				t.Fatalf("the failed pod %s not replaced: %s\n%s", victim.Name, podNodes(ps), strings.Join(st, "\n"))
			}
			time.Sleep(50 * time.Millisecond)
		}
		ev := e.must(t, "get", "events", "--field-selector", "involvedObject.name=retry,reason=FailedDaemonPod")
		if !strings.Contains(ev, "Found failed daemon pod default/"+victim.Name+" on node node-4, will try to kill it") {
			t.Errorf("no FailedDaemonPod event:\n%s", ev)
		}
		e.must(t, "delete", "ds", "retry")
	})

	t.Run("should update pod when spec was updated and update strategy is RollingUpdate", func(t *testing.T) {
		apply(t, dsManifest("ru", ""))
		rolloutStatus(t, "ru")
		e.must(t, "patch", "ds", "ru", "--type=json", "-p", `[{"op":"replace","path":"/spec/template/spec/containers/0/command","value":["sh","-c","sleep 3601"]}]`)
		rolloutStatus(t, "ru")
		pods := waitDSPods(t, e, "default", "ru", allReady(fiveNodes...))
		ds, err := cs.AppsV1().DaemonSets("default").Get(ctx, "ru", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ds.Annotations["deprecated.daemonset.template.generation"] != "2" {
			t.Errorf("annotations %v: template generation not 2", ds.Annotations)
		}
		for n, ps := range pods {
			if got := strings.Join(ps[0].Spec.Containers[0].Command, " "); got != "sh -c sleep 3601" || ps[0].Labels["pod-template-generation"] != "2" {
				t.Errorf("%s: pod %s command %q labels %v", n, ps[0].Name, got, ps[0].Labels)
			}
		}
		getDSRow(t, e, "ru", `5\s+5\s+5\s+5\s+5\s+<none>`)
		// kubectl reads the ControllerRevisions.
		hist := e.must(t, "rollout", "history", "ds/ru")
		if !regexp.MustCompile(`(?s)REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>`).MatchString(hist) {
			t.Errorf("rollout history:\n%s", hist)
		}
		crs := e.must(t, "get", "controllerrevisions")
		if !regexp.MustCompile(`(?m)^NAME\s+CONTROLLER\s+REVISION\s+AGE$`).MatchString(crs) ||
			!regexp.MustCompile(`(?m)^ru-[a-z0-9]+\s+daemonset.apps/ru\s+2\s+\d+s$`).MatchString(crs) {
			t.Errorf("kubectl get controllerrevisions:\n%s", crs)
		}
		// kubectl rollout restart: a new revision, every pod replaced.
		before := names(pods)
		if out := e.must(t, "rollout", "restart", "ds/ru"); !strings.Contains(out, "daemonset.apps/ru restarted") {
			t.Fatalf("rollout restart: %q", out)
		}
		rolloutStatus(t, "ru")
		for n, name := range names(waitDSPods(t, e, "default", "ru", allReady(fiveNodes...))) {
			if before[n] == name {
				t.Errorf("%s: pod %s not restarted", n, name)
			}
		}
		if hist := e.must(t, "rollout", "history", "ds/ru"); !regexp.MustCompile(`(?s)REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>\n3\s+<none>`).MatchString(hist) {
			t.Errorf("rollout history after restart:\n%s", hist)
		}
		e.must(t, "delete", "ds", "ru")
	})

	t.Run("should rollback without unnecessary restarts", func(t *testing.T) {
		apply(t, dsManifest("rb", ""))
		rolloutStatus(t, "rb")
		before := names(waitDSPods(t, e, "default", "rb", allReady(fiveNodes...)))
		e.must(t, "set", "image", "ds/rb", "app=foo:non-existent")
		var bad string
		waitFor(t, "a pod of the image that does not exist", 60*time.Second, func() bool {
			for _, ps := range dsPods(t, e, "default", "rb") {
				for _, p := range ps {
					if p.Spec.Containers[0].Image == "foo:non-existent" {
						bad = p.Name
						return true
					}
				}
			}
			return false
		})
		if out := e.must(t, "rollout", "undo", "ds/rb"); !strings.Contains(out, "daemonset.apps/rb rolled back") {
			t.Fatalf("rollout undo: %q", out)
		}
		rolloutStatus(t, "rb")
		after := names(waitDSPods(t, e, "default", "rb", allReady(fiveNodes...)))
		restarted := 0
		for n, name := range after {
			if name == bad {
				t.Errorf("the bad pod %s is still there", bad)
			}
			if before[n] != name {
				restarted++
			}
		}
		if restarted != 1 {
			t.Errorf("%d pods re-created by the rollback (before %v, after %v), want 1: the one with the bad image", restarted, before, after)
		}
		hist := e.must(t, "rollout", "history", "ds/rb")
		if !regexp.MustCompile(`(?s)REVISION\s+CHANGE-CAUSE\n2\s+<none>\n3\s+<none>`).MatchString(hist) {
			t.Errorf("rollout history after undo (the first template comes back as 3):\n%s", hist)
		}
		e.must(t, "delete", "ds", "rb")
	})

	t.Run("should surge pods onto nodes when spec was updated and update strategy is RollingUpdate", func(t *testing.T) {
		apply(t, dsManifest("surge", "  updateStrategy:\n    type: RollingUpdate\n    rollingUpdate: {maxSurge: 2, maxUnavailable: 0}\n"))
		rolloutStatus(t, "surge")
		before := names(waitDSPods(t, e, "default", "surge", allReady(fiveNodes...)))
		e.must(t, "patch", "ds", "surge", "--type=json", "-p", `[{"op":"replace","path":"/spec/template/spec/containers/0/command","value":["sh","-c","sleep 3602"]}]`)
		// Throughout: every node keeps a ready pod; never more than 2
		// nodes with two pods.
		maxDouble := 0
		waitFor(t, "the surge rollout", 90*time.Second, func() bool {
			ps := dsPods(t, e, "default", "surge")
			double, updated := 0, 0
			for _, n := range fiveNodes {
				ready := false
				for _, p := range ps[n] {
					ready = ready || podReady(&p) == corev1.ConditionTrue
					if strings.Join(p.Spec.Containers[0].Command, " ") == "sh -c sleep 3602" && podReady(&p) == corev1.ConditionTrue {
						updated++
					}
				}
				if !ready {
					t.Fatalf("node %s has no ready pod during a maxUnavailable 0 rollout: %s", n, podNodes(ps))
				}
				if len(ps[n]) > 1 {
					double++
				}
			}
			maxDouble = max(maxDouble, double)
			if double > 2 {
				t.Fatalf("%d nodes with two pods, maxSurge 2: %s", double, podNodes(ps))
			}
			return updated == dsNodes && double == 0
		})
		if maxDouble == 0 {
			t.Errorf("never saw a node with its old and new pod together")
		}
		rolloutStatus(t, "surge")
		for n, name := range names(dsPods(t, e, "default", "surge")) {
			if before[n] == name {
				t.Errorf("%s: pod %s not replaced", n, name)
			}
		}
		e.must(t, "delete", "ds", "surge")
	})

	t.Run("should not update pod when spec was updated and update strategy is OnDelete", func(t *testing.T) {
		apply(t, dsManifest("ondelete", "  updateStrategy: {type: OnDelete}\n"))
		before := names(waitDSPods(t, e, "default", "ondelete", allReady(fiveNodes...)))
		e.must(t, "patch", "ds", "ondelete", "--type=json", "-p", `[{"op":"replace","path":"/spec/template/spec/containers/0/command","value":["sh","-c","sleep 3603"]}]`)
		getDSRow(t, e, "ondelete", `5\s+5\s+5\s+0\s+5\s+<none>`)
		time.Sleep(500 * time.Millisecond)
		if after := names(dsPods(t, e, "default", "ondelete")); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("pods changed under OnDelete: %v -> %v", before, after)
		}
		e.must(t, "delete", "pod", before["node-1"], "--wait=false")
		waitFor(t, "node-1's pod re-created from the new template", 90*time.Second, func() bool {
			ps := dsPods(t, e, "default", "ondelete")["node-1"]
			return len(ps) == 1 && strings.Join(ps[0].Spec.Containers[0].Command, " ") == "sh -c sleep 3603" && podReady(&ps[0]) == corev1.ConditionTrue
		})
		getDSRow(t, e, "ondelete", `5\s+5\s+5\s+1\s+5\s+<none>`)
		e.must(t, "delete", "ds", "ondelete")
	})

	t.Run("should list and delete a collection of DaemonSets", func(t *testing.T) {
		for _, n := range []string{"coll-a", "coll-b"} {
			apply(t, strings.Replace(dsManifest(n, ""), "metadata:\n  name: "+n, "metadata:\n  name: "+n+"\n  labels: {e2e: collection}", 1))
		}
		l, err := cs.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{LabelSelector: "e2e=collection"})
		if err != nil || len(l.Items) != 2 {
			t.Fatalf("list across namespaces by label: %v %v", l, err)
		}
		if err := cs.AppsV1().DaemonSets("default").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "e2e=collection"}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the collection gone", 30*time.Second, func() bool {
			l, err := cs.AppsV1().DaemonSets("default").List(ctx, metav1.ListOptions{LabelSelector: "e2e=collection"})
			return err == nil && len(l.Items) == 0
		})
		for _, n := range []string{"coll-a", "coll-b"} {
			waitDSPods(t, e, "default", n, "")
		}
	})

	t.Run("should verify changes to a daemon set status", func(t *testing.T) {
		apply(t, dsManifest("status", ""))
		rolloutStatus(t, "status")
		ds, err := cs.AppsV1().DaemonSets("default").Get(ctx, "status", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ds.Status.Conditions = append(ds.Status.Conditions, appsv1.DaemonSetCondition{Type: "StatusUpdate", Status: "True", Reason: "E2E", Message: "Set from e2e test"})
		if _, err := cs.AppsV1().DaemonSets("default").UpdateStatus(ctx, ds, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.AppsV1().DaemonSets("default").Patch(ctx, "status", types.MergePatchType,
			[]byte(`{"status":{"conditions":[{"type":"StatusPatched","status":"True"}]}}`), metav1.PatchOptions{}, "status"); err != nil {
			t.Fatal(err)
		}
		// The controller's next status write keeps the condition.
		e.must(t, "delete", "pod", names(dsPods(t, e, "default", "status"))["node-5"], "--wait=false")
		rolloutStatus(t, "status")
		waitFor(t, "the status numbers back", 60*time.Second, func() bool {
			out := e.must(t, "get", "ds", "status", "-o", "jsonpath={.status.conditions[*].type} {.status.numberReady} {.status.observedGeneration}")
			return out == "StatusPatched 5 1"
		})
		e.must(t, "delete", "ds", "status")
	})

	t.Run("fleet", func(t *testing.T) {
		apply(t, dsManifest("fleet", ""))
		rolloutStatus(t, "fleet")
		waitDSPods(t, e, "default", "fleet", allReady(fiveNodes...))
		getDSRow(t, e, "fleet", `5\s+5\s+5\s+5\s+5\s+<none>`)

		// A node with an untolerated NoExecute taint loses its pod.
		e.must(t, "taint", "node", "node-3", "dedicated=infra:NoExecute")
		waitDSPods(t, e, "default", "fleet", allReady("node-1", "node-2", "node-4", "node-5"))
		getDSRow(t, e, "fleet", `4\s+4\s+4\s+4\s+4\s+<none>`)
		// NoSchedule: the running pod stays (misscheduled), none is placed.
		e.must(t, "taint", "node", "node-4", "dedicated=infra:NoSchedule")
		e.must(t, "taint", "node", "node-3", "dedicated=infra:NoExecute-")
		waitDSPods(t, e, "default", "fleet", allReady("node-1", "node-2", "node-3", "node-4", "node-5"))
		waitFor(t, "node-4 misscheduled", 30*time.Second, func() bool {
			ds, err := cs.AppsV1().DaemonSets("default").Get(ctx, "fleet", metav1.GetOptions{})
			return err == nil && ds.Status.NumberMisscheduled == 1 && ds.Status.DesiredNumberScheduled == 4
		})
		e.must(t, "delete", "pod", names(dsPods(t, e, "default", "fleet"))["node-4"], "--wait=false")
		waitDSPods(t, e, "default", "fleet", allReady("node-1", "node-2", "node-3", "node-5"))
		// A toleration lets it back.
		e.must(t, "patch", "ds", "fleet", "-p", `{"spec":{"template":{"spec":{"tolerations":[{"key":"dedicated","operator":"Equal","value":"infra"}]}}}}`)
		rolloutStatus(t, "fleet")
		waitDSPods(t, e, "default", "fleet", allReady(fiveNodes...))
		getDSRow(t, e, "fleet", `5\s+5\s+5\s+5\s+5\s+<none>`)

		// A node joins (registered through the API, as a kubelet does; no
		// agent runs its pods) and gets a pod; it leaves and the pod goes.
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-6", Labels: map[string]string{"kubernetes.io/hostname": "node-6"}}}
		if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		node.Status.Capacity = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110"), corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("1Gi")}
		node.Status.Allocatable = node.Status.Capacity
		if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		var ps map[string][]corev1.Pod
		waitFor(t, "a pod bound to node-6", 60*time.Second, func() bool {
			ps = dsPods(t, e, "default", "fleet")
			return len(ps["node-6"]) == 1 && ps["node-6"][0].Spec.NodeName == "node-6"
		})
		getDSRow(t, e, "fleet", `6\s+6\s+5\s+6\s+5\s+<none>`)
		e.must(t, "delete", "node", "node-6")
		waitDSPods(t, e, "default", "fleet", allReady(fiveNodes...))
		waitFor(t, "node-6's pod gone from the API (no kubelet finishes its deletion)", 30*time.Second, func() bool {
			_, err := cs.CoreV1().Pods("default").Get(ctx, ps["node-6"][0].Name, metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
		getDSRow(t, e, "fleet", `5\s+5\s+5\s+5\s+5\s+<none>`)
		rolloutStatus(t, "fleet")
		e.must(t, "taint", "node", "node-4", "dedicated-")
		e.must(t, "delete", "ds", "fleet")
	})

	t.Run("upstream example", func(t *testing.T) {
		// kubernetes.io/examples/controllers/daemonset.yaml, its image
		// replaced by busybox sleep and the hostPath by a test directory.
		manifest := `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: fluentd-elasticsearch
  namespace: kube-system
  labels:
    k8s-app: fluentd-logging
spec:
  selector:
    matchLabels:
      name: fluentd-elasticsearch
  template:
    metadata:
      labels:
        name: fluentd-elasticsearch
    spec:
      tolerations:
      # these tolerations are to have the daemonset runnable on control plane nodes
      # remove them if your control plane nodes should not run pods
      - key: node-role.kubernetes.io/control-plane
        operator: Exists
        effect: NoSchedule
      - key: node-role.kubernetes.io/master
        operator: Exists
        effect: NoSchedule
      containers:
      - name: fluentd-elasticsearch
        image: busybox
        command: ["sh", "-c", "sleep 3600"]
        resources:
          limits:
            memory: 200Mi
          requests:
            cpu: 100m
            memory: 200Mi
        volumeMounts:
        - name: varlog
          mountPath: /var/log
      # it may be desirable to set a high priority class to ensure that a DaemonSet Pod
      # preempts running Pods
      # priorityClassName: important
      terminationGracePeriodSeconds: 30
      volumes:
      - name: varlog
        hostPath:
          path: ` + t.TempDir() + `
`
		if out, errOut, code := e.run(t, manifest, "apply", "-f", "-"); code != 0 || !strings.Contains(out, "daemonset.apps/fluentd-elasticsearch created") {
			t.Fatalf("apply: %d %s%s", code, out, errOut)
		}
		out, errOut, code := e.run(t, "", "-n", "kube-system", "rollout", "status", "ds/fluentd-elasticsearch", "--timeout=90s")
		if code != 0 || !strings.Contains(out, `daemon set "fluentd-elasticsearch" successfully rolled out`) {
			t.Fatalf("rollout status: %d %s%s", code, out, errOut)
		}
		waitDSPods(t, e, "kube-system", "fluentd-elasticsearch", allReady(fiveNodes...))
		get := e.must(t, "-n", "kube-system", "get", "ds", "fluentd-elasticsearch")
		if !regexp.MustCompile(`fluentd-elasticsearch\s+5\s+5\s+5\s+5\s+5\s+<none>\s+\d+s`).MatchString(get) {
			t.Errorf("kubectl get ds:\n%s", get)
		}
	})
}
