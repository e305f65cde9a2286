package apiserver

import (
	"net/http/httptest"
	"strings"
	"testing"
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
