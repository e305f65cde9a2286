package apiserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"
)

// fail runs kubectl expecting it to fail; it returns stdout, stderr and
// the exit code.
func (k *kubectlRunner) fail(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	c := k.cmd(args...)
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatalf("kubectl %s: want a failure, got %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String(), ee.ExitCode()
}

// managers lists an object's managedFields as "manager/operation[/subresource]".
// (Times may be absent: kubectl's client-side to server-side migration
// writes entries without, and upstream keeps them so.)
func managers(m metav1.Object) []string {
	out := []string{}
	for _, e := range m.GetManagedFields() {
		s := e.Manager + "/" + string(e.Operation)
		if e.Subresource != "" {
			s += "/" + e.Subresource
		}
		if e.FieldsType != "FieldsV1" || e.FieldsV1 == nil || e.APIVersion == "" {
			s += fmt.Sprintf("/INCOMPLETE(%q %v %q)", e.FieldsType, e.FieldsV1, e.APIVersion)
		}
		out = append(out, s)
	}
	sort.Strings(out) // the stored order is by time, then name
	return out
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestServerSideApplyRealKubectl: upstream kubectl apply --server-side
// creates and updates, reports a second manager's conflict with its
// advice and exit code 1, --force-conflicts takes the field, get
// --show-managed-fields shows the managers, --dry-run=server stores
// nothing.
func TestServerSideApplyRealKubectl(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	cs := e.client(t, "http")
	ctx := context.Background()
	dir := t.TempDir()
	cm := func(name, data string) string {
		return writeFile(t, dir, name+".yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n"+data)
	}
	v1, v2 := cm("v1", "  a: \"1\"\n  b: \"1\"\n"), cm("v2", "  a: \"2\"\n")
	other := cm("other", "  a: \"3\"\n  c: \"3\"\n")

	if out := k.run(t, "apply", "--server-side", "-f", v1); out != "configmap/cfg serverside-applied\n" {
		t.Fatalf("first apply: %q", out)
	}
	got, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "cfg", metav1.GetOptions{})
	if err != nil || got.Data["a"] != "1" || got.Data["b"] != "1" {
		t.Fatalf("created: %+v %v", got, err)
	}
	if m := managers(got); strings.Join(m, ",") != "kubectl/Apply" || got.ManagedFields[0].Time == nil {
		t.Fatalf("managers after the first apply: %v %+v", m, got.ManagedFields)
	}
	rv := got.ResourceVersion
	// The same configuration again changes nothing, not even the
	// resourceVersion.
	if out := k.run(t, "apply", "--server-side", "-f", v1); out != "configmap/cfg serverside-applied\n" {
		t.Fatalf("second apply: %q", out)
	}
	if got, _ := cs.CoreV1().ConfigMaps("default").Get(ctx, "cfg", metav1.GetOptions{}); got.ResourceVersion != rv {
		t.Fatalf("a no-op apply moved the resourceVersion %s -> %s", rv, got.ResourceVersion)
	}
	// A field the manager no longer applies goes.
	k.run(t, "apply", "--server-side", "-f", v2)
	got, _ = cs.CoreV1().ConfigMaps("default").Get(ctx, "cfg", metav1.GetOptions{})
	if _, has := got.Data["b"]; has || got.Data["a"] != "2" {
		t.Fatalf("after applying v2: %v", got.Data)
	}

	// Another manager setting a.
	_, stderr, code := k.fail(t, "apply", "--server-side", "--field-manager=other", "-f", other)
	if code != 1 || !strings.Contains(stderr, `Apply failed with 1 conflict: conflict with "kubectl": .data.a`) ||
		!strings.Contains(stderr, "Please review the fields above--they currently have other managers.") ||
		!strings.Contains(stderr, "--force-conflicts") {
		t.Fatalf("conflict: exit %d\n%s", code, stderr)
	}
	if got, _ := cs.CoreV1().ConfigMaps("default").Get(ctx, "cfg", metav1.GetOptions{}); got.Data["a"] != "2" || got.Data["c"] != "" {
		t.Fatalf("a refused apply changed the object: %v", got.Data)
	}
	if out := k.run(t, "apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", other); out != "configmap/cfg serverside-applied\n" {
		t.Fatalf("forced apply: %q", out)
	}
	got, _ = cs.CoreV1().ConfigMaps("default").Get(ctx, "cfg", metav1.GetOptions{})
	if got.Data["a"] != "3" || got.Data["c"] != "3" || strings.Join(managers(got), ",") != "other/Apply" {
		t.Fatalf("after the forced apply: %v %v", got.Data, managers(got))
	}
	// kubectl owned only .data.a, so it has no entry left, and applying v2
	// again conflicts with other.
	_, stderr, code = k.fail(t, "apply", "--server-side", "-f", v2)
	if code != 1 || !strings.Contains(stderr, `conflict with "other": .data.a`) {
		t.Fatalf("conflict the other way: exit %d\n%s", code, stderr)
	}

	k.run(t, "label", "configmap", "cfg", "x=y")
	out := k.run(t, "get", "configmap", "cfg", "-o", "yaml", "--show-managed-fields")
	for _, want := range []string{"managedFields:", "manager: other\n", "operation: Apply", "manager: kubectl-label\n", "operation: Update",
		"fieldsType: FieldsV1", "f:c: {}", "f:x: {}", "apiVersion: v1\n    fieldsType", "time: \""} {
		if !strings.Contains(out, want) {
			t.Fatalf("get --show-managed-fields lacks %q:\n%s", want, out)
		}
	}
	if out := k.run(t, "get", "configmap", "cfg", "-o", "yaml"); strings.Contains(out, "managedFields") {
		t.Fatalf("get -o yaml shows managedFields by default:\n%s", out)
	}

	// A pod and a namespace: applying the same file again is a no-op, a
	// new image is an update; kubectl diff --server-side shows it first.
	pod := func(image string) string {
		return writeFile(t, dir, "pod-"+image+".yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: ssa\nspec:\n  containers:\n  - name: main\n    image: "+image+"\n")
	}
	if out := k.run(t, "apply", "--server-side", "-f", pod("a.wasm")); out != "pod/ssa serverside-applied\n" {
		t.Fatalf("pod apply: %q", out)
	}
	p1, _ := cs.CoreV1().Pods("default").Get(ctx, "ssa", metav1.GetOptions{})
	k.run(t, "apply", "--server-side", "-f", pod("a.wasm"))
	if p2, _ := cs.CoreV1().Pods("default").Get(ctx, "ssa", metav1.GetOptions{}); p2.ResourceVersion != p1.ResourceVersion {
		t.Fatalf("re-applying a pod moved its resourceVersion")
	}
	if _, err := exec.LookPath("diff"); err == nil {
		c := k.cmd("diff", "--server-side", "-f", pod("b.wasm"))
		var stdout bytes.Buffer
		c.Stdout = &stdout
		err := c.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		out := stdout.String()
		if code != 1 || !strings.Contains(out, "-  - image: a.wasm") || !strings.Contains(out, "+  - image: b.wasm") {
			t.Fatalf("diff --server-side: exit %d\n%s", code, out)
		}
	}
	k.run(t, "apply", "--server-side", "-f", pod("b.wasm"))
	if p2, _ := cs.CoreV1().Pods("default").Get(ctx, "ssa", metav1.GetOptions{}); p2.Spec.Containers[0].Image != "b.wasm" {
		t.Fatalf("pod image after apply: %s", p2.Spec.Containers[0].Image)
	}
	ns := writeFile(t, dir, "ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n  labels:\n    owner: me\n")
	if out := k.run(t, "apply", "--server-side", "-f", ns); out != "namespace/team serverside-applied\n" {
		t.Fatalf("namespace apply: %q", out)
	}
	if n, err := cs.CoreV1().Namespaces().Get(ctx, "team", metav1.GetOptions{}); err != nil || n.Labels["owner"] != "me" || n.Status.Phase != "Active" {
		t.Fatalf("applied namespace: %+v %v", n, err)
	}

	// --dry-run=server stores nothing.
	dry := writeFile(t, dir, "dry.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dry\ndata:\n  x: z\n")
	if out := k.run(t, "apply", "--server-side", "--dry-run=server", "-f", dry); out != "configmap/dry serverside-applied (server dry run)\n" {
		t.Fatalf("apply --server-side --dry-run=server: %q", out)
	}
	if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a dry-run apply stored the object: %v", err)
	}
	k.run(t, "apply", "--server-side", "--dry-run=server", "--field-manager=other", "-f", cm("dry2", "  a: \"9\"\n"))
	if got, _ := cs.CoreV1().ConfigMaps("default").Get(ctx, "cfg", metav1.GetOptions{}); got.Data["a"] != "3" || got.ResourceVersion == "" {
		t.Fatalf("a dry-run apply changed the object: %v", got.Data)
	}
}

// TestClientSideApplyRealKubectl: upstream kubectl's client-side apply
// keeps working with managedFields (its manager is
// kubectl-client-side-apply; the same file again is "unchanged"), and a
// later server-side apply of the same file takes the fields over without
// a conflict (the last-applied-configuration upgrade path).
func TestClientSideApplyRealKubectl(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	cs := e.client(t, "http")
	ctx := context.Background()
	dir := t.TempDir()
	f := writeFile(t, dir, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: csa\n  labels:\n    tier: front\ndata:\n  a: \"1\"\n")
	if out := k.run(t, "apply", "-f", f); out != "configmap/csa created\n" {
		t.Fatalf("client-side apply: %q", out)
	}
	if out := k.run(t, "apply", "-f", f); out != "configmap/csa unchanged\n" {
		t.Fatalf("client-side apply again: %q", out)
	}
	got, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "csa", metav1.GetOptions{})
	if err != nil || strings.Join(managers(got), ",") != "kubectl-client-side-apply/Update" {
		t.Fatalf("after client-side apply: %v %v", managers(got), err)
	}
	f2 := writeFile(t, dir, "cm2.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: csa\n  labels:\n    tier: back\ndata:\n  a: \"1\"\n")
	if out := k.run(t, "apply", "-f", f2); out != "configmap/csa configured\n" {
		t.Fatalf("client-side apply of a change: %q", out)
	}
	// The same configuration applied server-side: no conflict with
	// kubectl-client-side-apply, whose fields kubectl migrates to itself
	// (kubectl-last-applied is kubectl's own apply of the annotation).
	if out := k.run(t, "apply", "--server-side", "-f", f2); out != "configmap/csa serverside-applied\n" {
		t.Fatalf("server-side apply after client-side: %q", out)
	}
	got, _ = cs.CoreV1().ConfigMaps("default").Get(ctx, "csa", metav1.GetOptions{})
	if m := strings.Join(managers(got), ","); m != "kubectl-last-applied/Apply,kubectl/Apply" {
		t.Fatalf("managers after the upgrade: %s", m)
	}
	// And now the applier may drop and change fields as its own.
	f3 := writeFile(t, dir, "cm3.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: csa\ndata:\n  a: \"2\"\n")
	k.run(t, "apply", "--server-side", "-f", f3)
	got, _ = cs.CoreV1().ConfigMaps("default").Get(ctx, "csa", metav1.GetOptions{})
	if got.Data["a"] != "2" || got.Labels["tier"] != "" {
		t.Fatalf("after the server-side change: %v %v", got.Data, got.Labels)
	}

	// kubectl's other writers name themselves.
	k.run(t, "create", "configmap", "made", "--from-literal=k=v")
	k.run(t, "label", "configmap", "made", "x=y")
	editor := writeFile(t, dir, "editor.sh", "#!/bin/sh\nsed -i 's/^  k: v$/  k: w/' \"$1\"\n")
	if err := os.Chmod(editor, 0o755); err != nil {
		t.Fatal(err)
	}
	c := k.cmd("edit", "configmap", "made")
	c.Env = append(c.Env, "EDITOR="+editor, "KUBE_EDITOR="+editor)
	if out, err := c.CombinedOutput(); err != nil || string(out) != "configmap/made edited\n" {
		t.Fatalf("kubectl edit: %v %s", err, out)
	}
	got, _ = cs.CoreV1().ConfigMaps("default").Get(ctx, "made", metav1.GetOptions{})
	if m := strings.Join(managers(got), ","); m != "kubectl-create/Update,kubectl-edit/Update,kubectl-label/Update" || got.Data["k"] != "w" {
		t.Fatalf("managers of create, label and edit: %s %v", m, got.Data)
	}
}

// applyReq sends a raw PATCH to path with the content type and returns
// the status code and the body.
func applyReq(t *testing.T, e *env, path, ctype, ua, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPatch, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	if ua != "" {
		req.Header.Set("User-Agent", ua)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// aliasBomb is a YAML "billion laughs": ten levels of ten aliases each.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\na0: &a0 [" + strings.Repeat(`"lol",`, 9) + `"lol"]` + "\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [%s*a%d]\n", i, i, strings.Repeat(fmt.Sprintf("*a%d,", i-1), 9), i-1)
	}
	return b.String()
}

// TestApplyRefusals: what upstream refuses, with its codes and messages,
// and hostile bodies refused early.
func TestApplyRefusals(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	const apply = "application/apply-patch+yaml"
	const cmPath = "/api/v1/namespaces/default/configmaps/c"
	cmYAML := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: v\n"
	for _, tc := range []struct {
		name, path, ctype, body string
		code                    int
		msg                     string
	}{
		{"no fieldManager", cmPath, apply, cmYAML, 422, `PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch`},
		{"long fieldManager", cmPath + "?fieldManager=" + strings.Repeat("m", 129), apply, cmYAML, 422, `fieldManager: Too long: may not be more than 128 bytes`},
		{"unprintable fieldManager", cmPath + "?fieldManager=a%07b", apply, cmYAML, 422, `fieldManager: Invalid value: \"a\\ab\": invalid character U+0007 (at position 1)`},
		{"force on a merge patch", cmPath + "?force=true", "application/merge-patch+json", `{"data":{"k":"w"}}`, 422, `force: Forbidden: may not be specified for non-apply patch`},
		{"bad force", cmPath + "?fieldManager=m&force=maybe", apply, cmYAML, 400, `invalid value for query parameter \"force\"`},
		{"cbor", cmPath + "?fieldManager=m", "application/apply-patch+cbor", "\xa0", 415, "accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"},
		{"not yaml", cmPath + "?fieldManager=m", apply, "a: [", 400, "error decoding patch"},
		{"a list", cmPath + "?fieldManager=m", apply, "- a\n", 400, "error decoding patch"},
		{"no apiVersion", cmPath + "?fieldManager=m", apply, "kind: ConfigMap\nmetadata:\n  name: c\n", 400, `invalid object type: /, Kind=ConfigMap`},
		{"another kind", cmPath + "?fieldManager=m", apply, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: c\n", 400, `invalid object type: /v1, Kind=Secret`},
		{"another name", cmPath + "?fieldManager=m", apply, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n", 400, `the name of the object (d) does not match the name on the URL (c)`},
		{"generateName", cmPath + "?fieldManager=m", apply, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: c-\n", 400, `the name of the object () does not match the name on the URL (c)`},
		{"another namespace", cmPath + "?fieldManager=m", apply, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: kube-system\n", 400, `the namespace of the provided object does not match the namespace sent on the request`},
		{"a duplicate field, Strict", cmPath + "?fieldManager=m&fieldValidation=Strict", apply, cmYAML + "  k: w\n", 400, `error strict decoding patch: error converting YAML to JSON: yaml: unmarshal errors:\n  line 7: key \"k\" already set in map`},
		{"a number for a string", cmPath + "?fieldManager=m", apply, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: 1\n", 400, `Kind=ConfigMap`},
		{"managedFields", cmPath + "?fieldManager=m", apply, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  managedFields: []\n", 400, `metadata.managedFields must be nil`},
		{"uid of nothing", cmPath + "?fieldManager=m", apply, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  uid: \"1234\"\n", 409, `uid mismatch: the provided object specified uid 1234, and no existing object was found`},
		{"status of nothing", "/api/v1/namespaces/default/pods/p/status?fieldManager=m", apply, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nstatus:\n  phase: Running\n", 404, `pods \"p\" not found`},
		{"no namespace", cmPath[:len("/api/v1/namespaces/")] + "nope/configmaps/c?fieldManager=m", apply, cmYAML, 404, `namespaces \"nope\" not found`},
		{"deep", cmPath + "?fieldManager=m", apply, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations: " + strings.Repeat("[", 200) + strings.Repeat("]", 200) + "\n", 400, "nest"},
		{"an alias bomb", cmPath + "?fieldManager=m", apply, aliasBomb(), 400, "error decoding patch: yaml: document contains excessive aliasing"},
		{"deep flow YAML", cmPath + "?fieldManager=m", apply, "x: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n", 400, "exceeded max depth of 10000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := applyReq(t, e, tc.path, tc.ctype, "", tc.body)
			if code != tc.code || !strings.Contains(body, tc.msg) || !strings.Contains(body, `"kind":"Status"`) {
				t.Fatalf("got %d %s\nwant %d with %s", code, body, tc.code, tc.msg)
			}
		})
	}
	if _, err := e.client(t, "http").CoreV1().ConfigMaps("default").Get(context.Background(), "c", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a refused apply stored the object: %v", err)
	}
	// Under Warn (the default) a duplicate field is a Warning header.
	req, _ := http.NewRequest(http.MethodPatch, e.srv.URL+cmPath+"?fieldManager=m", strings.NewReader(cmYAML+"  k: w\n"))
	req.Header.Set("Content-Type", apply)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if w := resp.Header.Get("Warning"); resp.StatusCode != 201 || !strings.Contains(w, `line 7: key \"k\" already set in map`) {
		t.Fatalf("a duplicate field under Warn: %d %q", resp.StatusCode, w)
	}
}

// fieldsOf is a manager's fieldsV1 (operation and subresource given as in
// managers()), or "" when it has no entry.
func fieldsOf(m metav1.Object, id string) string {
	for _, e := range m.GetManagedFields() {
		s := e.Manager + "/" + string(e.Operation)
		if e.Subresource != "" {
			s += "/" + e.Subresource
		}
		if s == id && e.FieldsV1 != nil {
			return string(e.FieldsV1.Raw)
		}
	}
	return ""
}

// TestManagedFieldsEveryWrite: create, update, patch and status updates
// each record their manager (fieldManager, else the User-Agent's
// prefix) as an Update with the fields it set; status is tracked only on
// /status; binding and no-op writes change nothing; client-sent
// managedFields reset or are ignored or refused as upstream.
func TestManagedFieldsEveryWrite(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	cs := e.client(t, "http")
	ctx := context.Background()
	pods := cs.CoreV1().Pods("default")
	p := httpPod("mf")
	p.Status.Phase = corev1.PodRunning // not the creator's: status is reset on create
	p, err := pods.Create(ctx, p, metav1.CreateOptions{FieldManager: "creator"})
	if err != nil {
		t.Fatal(err)
	}
	f := fieldsOf(p, "creator/Update")
	if !strings.Contains(f, `"f:containers":{`) || !strings.Contains(f, `"f:labels":{".":{},"f:app":{}}`) ||
		!strings.Contains(f, `"f:restartPolicy":{}`) || strings.Contains(f, "f:status") || len(p.ManagedFields) != 1 {
		t.Fatalf("create's managedFields: %+v", p.ManagedFields)
	}
	// Without fieldManager, the User-Agent names the manager.
	p.Labels["tier"] = "x"
	if p, err = pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := fieldsOf(p, "apiserver.test/Update"); got != `{"f:metadata":{"f:labels":{"f:tier":{}}}}` {
		t.Fatalf("update's entry: %s (%v)", got, managers(p))
	}
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1"}
	if p, err = pods.UpdateStatus(ctx, p, metav1.UpdateOptions{FieldManager: "kubelet"}); err != nil {
		t.Fatal(err)
	}
	if got := fieldsOf(p, "kubelet/Update/status"); got != `{"f:status":{"f:phase":{},"f:podIP":{}}}` {
		t.Fatalf("status update's entry: %s (%v)", got, managers(p))
	}
	if m := strings.Join(managers(p), ","); m != "apiserver.test/Update,creator/Update,kubelet/Update/status" {
		t.Fatalf("managers: %s", m)
	}
	// A patch by another manager.
	if p, err = pods.Patch(ctx, "mf", types.MergePatchType, []byte(`{"metadata":{"annotations":{"a":"b"}}}`), metav1.PatchOptions{FieldManager: "patcher"}); err != nil {
		t.Fatal(err)
	}
	if got := fieldsOf(p, "patcher/Update"); got != `{"f:metadata":{"f:annotations":{".":{},"f:a":{}}}}` {
		t.Fatalf("patch's entry: %s", got)
	}
	// Binding and a no-op update leave managedFields and the
	// resourceVersion alone.
	before := p.DeepCopy()
	if err := pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "mf"}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if p, err = pods.Get(ctx, "mf", metav1.GetOptions{}); err != nil || !equality.Semantic.DeepEqual(p.ManagedFields, before.ManagedFields) {
		t.Fatalf("binding changed managedFields: %v -> %v", managers(before), managers(p))
	}
	rv := p.ResourceVersion
	if p, err = pods.Update(ctx, p, metav1.UpdateOptions{FieldManager: "noop"}); err != nil || p.ResourceVersion != rv || fieldsOf(p, "noop/Update") != "" {
		t.Fatalf("a no-op update: rv %s -> %s, %v, %v", rv, p.ResourceVersion, managers(p), err)
	}
	// managedFields a client cannot decode are ignored; a manager name too
	// long is refused; one empty entry resets them.
	bad := p.DeepCopy()
	bad.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "x", Operation: "Foo", APIVersion: "v1", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{}}`)}}}
	bad.Annotations["a"] = "c"
	if p, err = pods.Update(ctx, bad, metav1.UpdateOptions{FieldManager: "m2"}); err != nil || strings.Join(managers(p), ",") != "apiserver.test/Update,creator/Update,kubelet/Update/status,m2/Update,patcher/Update" {
		t.Fatalf("undecodable managedFields: %v %v", managers(p), err)
	}
	long := p.DeepCopy()
	long.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: strings.Repeat("m", 129), Operation: "Update", APIVersion: "v1", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{}}}`)}}}
	_, err = pods.Update(ctx, long, metav1.UpdateOptions{})
	wantStatus(t, err, 422, metav1.StatusReasonInvalid, `Pod "mf" is invalid: metadata.managedFields[0].manager: Too long: may not be more than 128 bytes`)
	if p, err = pods.Patch(ctx, "mf", types.MergePatchType, []byte(`{"metadata":{"managedFields":[{}]}}`), metav1.PatchOptions{}); err != nil || len(p.ManagedFields) != 0 {
		t.Fatalf("reset: %v %v", managers(p), err)
	}
	// A fieldManager query parameter is checked on every write.
	_, err = cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, metav1.CreateOptions{FieldManager: strings.Repeat("m", 129)})
	wantStatus(t, err, 422, metav1.StatusReasonInvalid, `CreateOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more than 128 bytes`)
	// The Server's own writes: the system namespaces.
	ns, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
	if err != nil || strings.Join(managers(ns), ",") != "kube-apiserver/Update" {
		t.Fatalf("namespace default: %v %v", managers(ns), err)
	}
}

// TestApplyClientGo: client-go's typed Apply and ApplyStatus
// (applyconfigurations), and ownership handed over between appliers.
func TestApplyClientGo(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	for _, mode := range []string{"http", "in-process"} {
		cs := e.client(t, mode)
		ctx := context.Background()
		name := "ac-" + mode
		cms := cs.CoreV1().ConfigMaps("default")
		got, err := cms.Apply(ctx, applycorev1.ConfigMap(name, "default").WithData(map[string]string{"a": "1"}).WithLabels(map[string]string{"l": "1"}),
			metav1.ApplyOptions{FieldManager: "one"})
		if err != nil || got.Data["a"] != "1" || strings.Join(managers(got), ",") != "one/Apply" {
			t.Fatalf("%s: apply: %+v %v", mode, got, err)
		}
		// A second applier sharing a field with the same value: both own it.
		got, err = cms.Apply(ctx, applycorev1.ConfigMap(name, "default").WithData(map[string]string{"a": "1", "b": "2"}), metav1.ApplyOptions{FieldManager: "two"})
		if err != nil || fieldsOf(got, "two/Apply") != `{"f:data":{"f:a":{},"f:b":{}}}` {
			t.Fatalf("%s: shared apply: %v %s %v", mode, managers(got), fieldsOf(got, "two/Apply"), err)
		}
		// one drops a: two still owns it, so it stays.
		got, err = cms.Apply(ctx, applycorev1.ConfigMap(name, "default").WithLabels(map[string]string{"l": "1"}), metav1.ApplyOptions{FieldManager: "one"})
		if err != nil || got.Data["a"] != "1" {
			t.Fatalf("%s: a shared field was removed: %+v %v", mode, got.Data, err)
		}
		_, err = cms.Apply(ctx, applycorev1.ConfigMap(name, "default").WithData(map[string]string{"b": "3"}), metav1.ApplyOptions{FieldManager: "one"})
		wantStatus(t, err, 409, metav1.StatusReasonConflict, `Apply failed with 1 conflict: conflict with "two": .data.b`)
		if se, ok := err.(apierrors.APIStatus); !ok || len(se.Status().Details.Causes) != 1 || se.Status().Details.Causes[0].Type != metav1.CauseTypeFieldManagerConflict || se.Status().Details.Causes[0].Field != ".data.b" {
			t.Fatalf("%s: conflict causes: %+v", mode, err)
		}
		// A stale resourceVersion in the configuration is a precondition.
		_, err = cms.Apply(ctx, applycorev1.ConfigMap(name, "default").WithResourceVersion("1").WithData(map[string]string{"c": "1"}), metav1.ApplyOptions{FieldManager: "one"})
		wantStatus(t, err, 409, metav1.StatusReasonConflict, `Operation cannot be fulfilled on configmaps "`+name+`": the object has been modified; please apply your changes to the latest version and try again`)

		// A pod, and its status applied by another manager.
		pod := applycorev1.Pod(name, "default").WithSpec(applycorev1.PodSpec().WithContainers(applycorev1.Container().WithName("main").WithImage("app.wasm")))
		p, err := cs.CoreV1().Pods("default").Apply(ctx, pod, metav1.ApplyOptions{FieldManager: "one"})
		if err != nil || p.Spec.RestartPolicy != corev1.RestartPolicyAlways || p.Status.Phase != corev1.PodPending {
			t.Fatalf("%s: pod apply (defaults, status): %+v %v", mode, p, err)
		}
		st := applycorev1.Pod(name, "default").WithStatus(applycorev1.PodStatus().WithPhase(corev1.PodRunning))
		p, err = cs.CoreV1().Pods("default").ApplyStatus(ctx, st, metav1.ApplyOptions{FieldManager: "kubelet", Force: true})
		if err != nil || p.Status.Phase != corev1.PodRunning || !strings.Contains(fieldsOf(p, "kubelet/Apply/status"), `"f:phase":{}`) || strings.Contains(fieldsOf(p, "kubelet/Apply/status"), "f:spec") || fieldsOf(p, "one/Apply") == "" {
			t.Fatalf("%s: status apply: %v %s %s %v", mode, managers(p), p.Status.Phase, fieldsOf(p, "kubelet/Apply/status"), err)
		}
		// Status in a main-resource apply is not applied nor owned.
		p, err = cs.CoreV1().Pods("default").Apply(ctx, pod.WithStatus(applycorev1.PodStatus().WithPhase(corev1.PodFailed)), metav1.ApplyOptions{FieldManager: "one"})
		if err != nil || p.Status.Phase != corev1.PodRunning || strings.Contains(fieldsOf(p, "one/Apply"), "status") {
			t.Fatalf("%s: status through the main resource: %v %v", mode, p.Status.Phase, err)
		}
	}
}

// TestApplyMergesListsByKey: with the generated OpenAPI schemas, a
// Deployment's containers merge by name (a second manager's image of one
// container keeps the other), and an undeclared field is refused.
func TestApplyMergesListsByKey(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	cs := e.client(t, "http")
	ctx := context.Background()
	dir := t.TempDir()
	full := writeFile(t, dir, "d.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: a
        image: a1.wasm
        ports:
        - containerPort: 80
      - name: b
        image: b1.wasm
`)
	if out := k.run(t, "apply", "--server-side", "-f", full); out != "deployment.apps/web serverside-applied\n" {
		t.Fatalf("apply: %q", out)
	}
	imager := writeFile(t, dir, "img.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: b
        image: b2.wasm
`)
	_, stderr, code := k.fail(t, "apply", "--server-side", "--field-manager=imager", "-f", imager)
	if code != 1 || !strings.Contains(stderr, `conflict with "kubectl": .spec.template.spec.containers[name="b"].image`) {
		t.Fatalf("imager's conflict: exit %d\n%s", code, stderr)
	}
	k.run(t, "apply", "--server-side", "--field-manager=imager", "--force-conflicts", "-f", imager)
	d, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := d.Spec.Template.Spec.Containers
	if len(c) != 2 || c[0].Name != "a" || c[0].Image != "a1.wasm" || len(c[0].Ports) != 1 || c[1].Name != "b" || c[1].Image != "b2.wasm" {
		t.Fatalf("containers after the imager's apply: %+v", c)
	}
	if f := fieldsOf(d, "imager/Apply"); !strings.Contains(f, `"k:{\"name\":\"b\"}":{`) || !strings.Contains(f, `"f:image":{}`) || strings.Contains(f, `\"a\"`) {
		t.Fatalf("imager's fields: %s", f)
	}
	// kubectl applies its file again: b's image is now imager's.
	_, stderr, code = k.fail(t, "apply", "--server-side", "-f", full)
	if code != 1 || !strings.Contains(stderr, `conflict with "imager": .spec.template.spec.containers[name="b"].image`) {
		t.Fatalf("kubectl's conflict: exit %d\n%s", code, stderr)
	}
	// kubectl drops container a from its configuration: nobody else owns
	// it, so it goes.
	only := writeFile(t, dir, "only-b.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: b
        image: b2.wasm
`)
	k.run(t, "apply", "--server-side", "-f", only)
	d, _ = cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	if c := d.Spec.Template.Spec.Containers; len(c) != 1 || c[0].Name != "b" {
		t.Fatalf("containers after dropping a: %+v", c)
	}

	unknown := writeFile(t, dir, "unknown.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: unknown\ndatta:\n  a: \"1\"\n")
	_, stderr, code = k.fail(t, "apply", "--server-side", "--validate=false", "-f", unknown)
	if code != 1 || !strings.Contains(stderr, `.datta: field not declared in schema`) {
		t.Fatalf("an undeclared field: exit %d\n%s", code, stderr)
	}
}

// FuzzApplyBody: any apply body to a ConfigMap or a Pod, existing or not,
// is answered with an object or a 4xx Status, never a 5xx or a panic.
func FuzzApplyBody(f *testing.F) {
	for _, seed := range []string{
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: v\n",
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"a.wasm"},{"name":"a"}]}}`,
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"a":null}},"status":{"phase":1}}`,
		"a: &a [*a, *a]\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, annotations: {x: [1]}}\n",
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	e := newEnv(f, HandlerOptions{})
	cs := e.client(f, "http")
	if _, err := cs.CoreV1().Pods("default").Create(context.Background(), httpPod("p"), metav1.CreateOptions{}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string, pod bool) {
		path := "/api/v1/namespaces/default/configmaps/c?fieldManager=fuzz&force=true"
		if pod {
			path = "/api/v1/namespaces/default/pods/p?fieldManager=fuzz"
		}
		code, resp := applyReq(t, e, path, "application/apply-patch+yaml", "", body)
		if code >= 500 || (code >= 300 && !strings.Contains(resp, `"kind":"Status"`)) {
			t.Fatalf("%q: %d %s", body, code, resp)
		}
	})
}

// TestApplyCreateNeedsCreateRealKubectl: a user who may patch but not
// create configmaps gets upstream's 403 when an apply would create one,
// and applies to an existing one.
func TestApplyCreateNeedsCreateRealKubectl(t *testing.T) {
	_, admin, alice, _ := newRBACEnv(t)
	role := writeTemp(t, "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: cm-patcher\nrules:\n- apiGroups: [\"\"]\n  resources: [configmaps]\n  verbs: [get, patch]\n")
	admin.run(t, "apply", "-f", role)
	admin.run(t, "create", "rolebinding", "alice-cm", "--role=cm-patcher", "--user=alice")
	cm := writeTemp(t, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\ndata:\n  a: \"1\"\n")
	alice.wantFail(t, `configmaps "shared" is forbidden: User "alice" cannot create resource "configmaps" in API group "" in the namespace "default"`, "apply", "--server-side", "-f", cm)
	admin.run(t, "create", "configmap", "shared", "--from-literal=b=2")
	if out := alice.run(t, "apply", "--server-side", "-f", cm); out != "configmap/shared serverside-applied\n" {
		t.Fatalf("alice's apply to an existing configmap: %q", out)
	}
	if out := admin.run(t, "get", "configmap", "shared", "-o", "jsonpath={.data}"); out != `{"a":"1","b":"2"}` {
		t.Fatalf("data after alice's apply: %s", out)
	}
}
