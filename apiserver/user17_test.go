package apiserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestUser17PruneDefaultAllowlistRealKubectl: `kubectl apply --prune -l`
// without --prune-allowlist resolves every kind of kubectl's default
// allowlist through discovery (PVC, PV, ReplicationController,
// StatefulSet, Ingress among them) and fails the whole apply when one is
// missing. Those kinds are served list-only: discovery has them, a LIST
// finds none, the prune deletes what left the manifest, and a create of
// one is refused with 405 saying why (not stored to sit there).
func TestUser17PruneDefaultAllowlistRealKubectl(t *testing.T) {
	s := newBboltServer(t)
	srv := httptest.NewServer(s.Handler(HandlerOptions{}))
	t.Cleanup(srv.Close)
	k := newKubectl(t, srv.URL)
	dir := t.TempDir()
	cm := func(name string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  labels: {tier: demo}\ndata: {a: \"1\"}\n"
	}
	both := writeFile(t, dir, "both.yaml", cm("keep")+"---\n"+cm("gone"))
	one := writeFile(t, dir, "one.yaml", cm("keep"))
	k.run(t, "apply", "-f", both)
	out := k.run(t, "apply", "--prune", "-l", "tier=demo", "-f", one)
	if !strings.Contains(out, "configmap/gone pruned") || !strings.Contains(out, "configmap/keep unchanged") {
		t.Fatalf("apply --prune: %q", out)
	}
	if got := k.run(t, "get", "cm", "-l", "tier=demo", "-o", "name"); got != "configmap/keep\n" {
		t.Fatalf("after the prune: %q", got)
	}
	if got := k.run(t, "get", "pvc,pv,rc,sts,ingress", "-A", "-o", "name"); got != "" {
		t.Fatalf("list-only kinds: %q", got)
	}
	sts := writeFile(t, dir, "sts.yaml", "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  serviceName: db\n"+
		"  selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n    spec: {containers: [{name: db, image: wasmpod.local/db}]}\n")
	k.wantFail(t, `Error from server (MethodNotAllowed): error when creating "`+sts+`": create is not supported on resources of kind "statefulsets.apps": wasmpod runs no StatefulSets`, "apply", "-f", sts)
	k.wantFail(t, `patch is not supported on resources of kind "statefulsets.apps"`, "apply", "--server-side", "-f", sts)
	pvc := writeFile(t, dir, "pvc.yaml", "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n")
	k.wantFail(t, "wasmpod provisions no persistent volumes", "create", "-f", pvc)
	if got := k.run(t, "get", "sts,pvc", "-o", "name"); got != "" {
		t.Fatalf("refused objects were stored: %q", got)
	}
	if out := k.run(t, "api-resources", "--verbs=create", "-o", "name"); strings.Contains(out, "statefulsets") {
		t.Fatalf("discovery offers create on statefulsets:\n%s", out)
	}
}

// TestUser17WatchDefaultTimeoutRealKubectl: a watch without timeoutSeconds
// (kubectl get -w sends none) ends after 1 to 2 × MinRequestTimeout, as
// kube-apiserver's (--min-request-timeout, 1800 s by default), instead of
// never: kubectl get -w then exits 0 by itself, as against a real cluster.
// A watch with timeoutSeconds=0 is bounded the same way.
func TestUser17WatchDefaultTimeoutRealKubectl(t *testing.T) {
	s := newBboltServer(t)
	srv := httptest.NewServer(s.Handler(HandlerOptions{MinRequestTimeout: time.Second}))
	t.Cleanup(srv.Close)
	k := newKubectl(t, srv.URL)
	if _, err := s.Create(context.Background(), res(t, s, "", "configmaps"), "default",
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}); err != nil {
		t.Fatal(err)
	}
	// The guard only turns a hang (the defect) into a failure.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := k.cmd("get", "configmaps", "-w", "-o", "name")
	c = exec.CommandContext(ctx, c.Path, c.Args[1:]...)
	c.Env = k.cmd().Env
	out, err := c.CombinedOutput()
	if err != nil || string(out) != "configmap/a\n" {
		t.Fatalf("kubectl get -w: %v\n%s", err, out)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=0", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || !strings.Contains(string(b), `"type":"ADDED"`) {
		t.Fatalf("watch with timeoutSeconds=0: %v %s", err, b)
	}
}

// TestUser17ListExactResourceVersion: resourceVersionMatch=Exact lists the
// objects as they were at that resourceVersion, with it as the list's (it
// listed the current ones, under the current revision, before); one older
// than the watch cache keeps is 410 Gone, one not reached yet 504, as
// upstream's api-concepts say. Through real kubectl's get --raw.
func TestUser17ListExactResourceVersion(t *testing.T) {
	s := newBboltServer(t)
	srv := httptest.NewServer(s.Handler(HandlerOptions{}))
	t.Cleanup(srv.Close)
	k := newKubectl(t, srv.URL)
	ctx := context.Background()
	cms := res(t, s, "", "configmaps")
	cm := func(name, v string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"v": v}}
	}
	if _, err := s.Create(ctx, cms, "default", cm("a", "1")); err != nil {
		t.Fatal(err)
	}
	l, err := s.List(ctx, cms, "default", metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	then := l.(*corev1.ConfigMapList).ResourceVersion
	if _, err := s.Create(ctx, cms, "default", cm("b", "1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, cms, "default", cm("a", "2"), ""); err != nil {
		t.Fatal(err)
	}
	list := func(rv string) *corev1.ConfigMapList {
		t.Helper()
		var got corev1.ConfigMapList
		out := k.run(t, "get", "--raw", "/api/v1/namespaces/default/configmaps?resourceVersionMatch=Exact&resourceVersion="+rv)
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return &got
	}
	got := list(then)
	var names []string
	for _, c := range got.Items {
		if c.Name != "kube-root-ca.crt" {
			names = append(names, c.Name+"="+c.Data["v"])
		}
	}
	if got.ResourceVersion != then || strings.Join(names, ",") != "a=1" {
		t.Fatalf("Exact at %s: resourceVersion %s, items %v; want %s and [a=1]", then, got.ResourceVersion, names, then)
	}
	k.wantFail(t, "Error from server (Expired): The resourceVersion for the provided list is too old", "get", "--raw",
		"/api/v1/namespaces/default/configmaps?resourceVersionMatch=Exact&resourceVersion=1")
	k.wantFail(t, "Too large resource version", "get", "--raw",
		"/api/v1/namespaces/default/configmaps?resourceVersionMatch=Exact&resourceVersion=99999999")
}
