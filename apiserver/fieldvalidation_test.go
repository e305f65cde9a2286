package apiserver

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func fvWriteFile(t *testing.T, name, content string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

type warningsSeen struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningsSeen) HandleWarningHeader(code int, agent, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

func (w *warningsSeen) take() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := strings.Join(w.msgs, "\n")
	w.msgs = nil
	return s
}

const podWithUnknown = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s"},"spec":{"foo":1,"containers":[{"name":"main","image":"app.wasm","bar":"x"}]}}`

// client-go with fieldValidation: Strict fails with upstream's message,
// Warn (and no parameter) warns and stores without the field, Ignore says
// nothing; any other value is upstream's 422; duplicate fields in JSON
// and YAML bodies, patches, and protobuf bodies.
func TestFieldValidationClientGo(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	seen := &warningsSeen{}
	cfg := rest.CopyConfig(e.modes["http"])
	cfg.WarningHandler = seen
	cfg.ContentType = "application/json"
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	post := func(name, fv, contentType, body string) error {
		r := cs.CoreV1().RESTClient().Post().Namespace("default").Resource("pods").SetHeader("Content-Type", contentType).Body([]byte(body))
		if fv != "" {
			r = r.Param("fieldValidation", fv)
		}
		return r.Do(ctx).Error()
	}
	body := func(name string) string { return strings.Replace(podWithUnknown, "%s", name, 1) }

	err = post("s", "Strict", "application/json", body("s"))
	wantStatus(t, err, 400, metav1.StatusReasonBadRequest,
		`Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.foo", unknown field "spec.containers[0].bar"`)
	if w := seen.take(); w != "" {
		t.Errorf("Strict warned %q", w)
	}

	for _, fv := range []string{"Warn", ""} {
		name := "w" + strings.ToLower(fv)
		if err := post(name, fv, "application/json", body(name)); err != nil {
			t.Fatalf("fieldValidation=%q: %v", fv, err)
		}
		if w := seen.take(); w != "unknown field \"spec.foo\"\nunknown field \"spec.containers[0].bar\"" {
			t.Errorf("fieldValidation=%q warnings %q", fv, w)
		}
		p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil || p.Spec.Containers[0].Image != "app.wasm" {
			t.Fatalf("stored %v %v", p, err)
		}
	}
	if err := post("i", "Ignore", "application/json", body("i")); err != nil {
		t.Fatal(err)
	}
	if w := seen.take(); w != "" {
		t.Errorf("Ignore warned %q", w)
	}

	err = post("x", "strict", "application/json", body("x"))
	wantStatus(t, err, 422, metav1.StatusReasonInvalid,
		`CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "strict": supported values: "", "Ignore", "Strict", "Warn"`)

	// Duplicate fields, JSON and YAML.
	err = post("d", "Strict", "application/json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"d","name":"d"},"spec":{"containers":[{"name":"main","image":"app.wasm"}]}}`)
	wantStatus(t, err, 400, metav1.StatusReasonBadRequest,
		`Pod in version "v1" cannot be handled as a Pod: strict decoding error: duplicate field "metadata.name"`)
	yamlDup := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: yd\n  name: yd\nspec:\n  containers:\n  - name: main\n    image: app.wasm\n"
	err = post("yd", "Strict", "application/yaml", yamlDup)
	wantStatus(t, err, 400, metav1.StatusReasonBadRequest, "")
	if !strings.Contains(err.Error(), `strict decoding error: yaml: unmarshal errors:`) || !strings.Contains(err.Error(), `line 5: key "name" already set in map`) {
		t.Errorf("yaml duplicate: %v", err)
	}
	if err := post("yd", "Warn", "application/yaml", yamlDup); err != nil {
		t.Fatal(err)
	}
	if w := seen.take(); w != `line 5: key "name" already set in map` {
		t.Errorf("yaml duplicate warning %q", w)
	}

	// Update: the same rules.
	put := func(fv, body string) error {
		return cs.CoreV1().RESTClient().Put().Namespace("default").Resource("pods").Name("i").Param("fieldValidation", fv).Body([]byte(body)).Do(ctx).Error()
	}
	err = put("Strict", body("i"))
	wantStatus(t, err, 400, metav1.StatusReasonBadRequest,
		`Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.foo", unknown field "spec.containers[0].bar"`)
	err = put("Bad", body("i"))
	wantStatus(t, err, 422, metav1.StatusReasonInvalid,
		`UpdateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Bad": supported values: "", "Ignore", "Strict", "Warn"`)

	// Patches: unknown fields of the patched object.
	patch := func(pt types.PatchType, fv, body string) error {
		r := cs.CoreV1().RESTClient().Patch(pt).Namespace("default").Resource("pods").Name("i").Body([]byte(body))
		if fv != "" {
			r = r.Param("fieldValidation", fv)
		}
		return r.Do(ctx).Error()
	}
	err = patch(types.MergePatchType, "Strict", `{"spec":{"foo":1}}`)
	wantStatus(t, err, 422, metav1.StatusReasonInvalid, "")
	if !strings.Contains(err.Error(), `is invalid: patch: Invalid value: `) || !strings.HasSuffix(err.Error(), `: strict decoding error: unknown field "spec.foo"`) {
		t.Errorf("merge patch: %v", err)
	}
	err = patch(types.StrategicMergePatchType, "Strict", `{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"main","baz":true}]}}`)
	wantStatus(t, err, 422, metav1.StatusReasonInvalid, "")
	if !strings.HasSuffix(err.Error(), `: strict decoding error: unknown field "spec.containers[0].baz"`) {
		t.Errorf("strategic merge patch: %v", err)
	}
	err = patch(types.JSONPatchType, "Strict", `[{"op":"add","path":"/spec/qux","value":1,"extra":2}]`)
	wantStatus(t, err, 422, metav1.StatusReasonInvalid, "")
	if !strings.HasSuffix(err.Error(), `: strict decoding error: json patch unknown field "[0].extra", unknown field "spec.qux"`) {
		t.Errorf("json patch: %v", err)
	}
	if err := patch(types.MergePatchType, "", `{"metadata":{"labels":{"a":"b"}},"spec":{"foo":1}}`); err != nil {
		t.Fatal(err)
	}
	if w := seen.take(); w != `unknown field "spec.foo"` {
		t.Errorf("patch warnings %q", w)
	}
	if p, _ := cs.CoreV1().Pods("default").Get(ctx, "i", metav1.GetOptions{}); p.Labels["a"] != "b" {
		t.Errorf("the warned patch was not applied: %v", p.Labels)
	}
	err = patch(types.MergePatchType, "Nope", `{}`)
	wantStatus(t, err, 422, metav1.StatusReasonInvalid,
		`PatchOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Nope": supported values: "", "Ignore", "Strict", "Warn"`)

	// Protobuf bodies (client-go's default) pass Strict.
	pcs := e.client(t, "http")
	if _, err := pcs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "pb"}},
		metav1.CreateOptions{FieldValidation: "Strict"}); err != nil {
		t.Fatalf("protobuf Strict create: %v", err)
	}
	// A typed client with Strict and a clean object.
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x.wasm"}}}}}},
		metav1.CreateOptions{FieldValidation: "Strict"}); err != nil {
		t.Fatalf("clean Strict create: %v", err)
	}
	if w := seen.take(); w != "" {
		t.Errorf("clean object warned %q", w)
	}
}

const fvDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: main
        image: web.wasm
`

// Real kubectl with its default flags (--validate=strict): apply (create,
// then a patch), create, replace and edit work; a manifest with an unknown field
// fails with upstream's message, --validate=warn prints the warning and
// stores, --validate=false stores without a word.
func TestFieldValidationRealKubectl(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	ctx := context.Background()
	cs := e.client(t, "http")

	f := fvWriteFile(t, "deploy.yaml", fvDeployment)
	if out := k.run(t, "apply", "-f", f); out != "deployment.apps/web created\n" {
		t.Errorf("apply: %q", out)
	}
	f2 := fvWriteFile(t, "deploy2.yaml", strings.Replace(fvDeployment, "replicas: 2", "replicas: 3", 1))
	if out := k.run(t, "apply", "-f", f2); out != "deployment.apps/web configured\n" {
		t.Errorf("apply again: %q", out)
	}
	if d, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{}); err != nil || *d.Spec.Replicas != 3 {
		t.Fatalf("after apply: %v %v", d, err)
	}
	cm := fvWriteFile(t, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: \"1\"\n")
	if out := k.run(t, "create", "-f", cm); out != "configmap/cfg created\n" {
		t.Errorf("create: %q", out)
	}
	cm2 := fvWriteFile(t, "cm2.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: \"2\"\n")
	if out := k.run(t, "replace", "-f", cm2); out != "configmap/cfg replaced\n" {
		t.Errorf("replace: %q", out)
	}
	if c, _ := cs.CoreV1().ConfigMaps("default").Get(ctx, "cfg", metav1.GetOptions{}); c.Data["a"] != "2" {
		t.Errorf("replaced data %v", c.Data)
	}

	// kubectl edit (a patch with fieldValidation=Strict), with an editor
	// that changes the data.
	editor := fvWriteFile(t, "editor.sh", "#!/bin/sh\nsed -i 's/^  a: \"2\"/  a: \"3\"/' \"$1\"\n")
	if err := os.Chmod(editor, 0o700); err != nil {
		t.Fatal(err)
	}
	ec := k.cmd("edit", "configmap", "cfg")
	ec.Env = append(ec.Env, "KUBE_EDITOR="+editor)
	if out, err := ec.CombinedOutput(); err != nil || string(out) != "configmap/cfg edited\n" {
		t.Errorf("edit: %v %q", err, out)
	}
	if c, _ := cs.CoreV1().ConfigMaps("default").Get(ctx, "cfg", metav1.GetOptions{}); c.Data["a"] != "3" {
		t.Errorf("edited data %v", c.Data)
	}

	bad := fvWriteFile(t, "bad.yaml", strings.Replace(strings.Replace(fvDeployment, "name: web\n", "name: bad\n", 1), "  replicas: 2\n", "  replicas: 2\n  foo: bar\n", 1))
	_, stderr, code := kubectlResult(t, k, "apply", "-f", bad)
	if want := `Error from server (BadRequest): error when creating "` + bad + `": Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.foo"`; code != 1 || strings.TrimSpace(stderr) != want {
		t.Errorf("apply of an unknown field: exit %d\n%s\nwant\n%s", code, stderr, want)
	}
	if _, err := cs.AppsV1().Deployments("default").Get(ctx, "bad", metav1.GetOptions{}); err == nil {
		t.Errorf("the strict failure stored the object")
	}
	// An existing object patched with an unknown field (apply's patch).
	badWeb := fvWriteFile(t, "badweb.yaml", strings.Replace(fvDeployment, "  replicas: 2\n", "  replicas: 2\n  foo: bar\n", 1))
	_, stderr, code = kubectlResult(t, k, "apply", "-f", badWeb)
	if code != 1 || !strings.HasPrefix(stderr, `The request is invalid: patch: Invalid value: "map[metadata:map[annotations:`) || !strings.Contains(stderr, `strict decoding error: unknown field "spec.foo"`) {
		t.Errorf("apply patch with an unknown field: exit %d\n%s", code, stderr)
	}

	stdout, stderr, code := kubectlResult(t, k, "apply", "--validate=warn", "-f", bad)
	if code != 0 || stdout != "deployment.apps/bad created\n" || strings.TrimSpace(stderr) != `Warning: unknown field "spec.foo"` {
		t.Errorf("--validate=warn: exit %d %q %q", code, stdout, stderr)
	}
	quiet := strings.Replace(bad, "bad.yaml", "quiet.yaml", 1)
	if err := os.WriteFile(quiet, []byte(strings.Replace(fvDeployment, "name: web\n", "name: quiet\n", 1)+"  foo: bar\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = kubectlResult(t, k, "apply", "--validate=false", "-f", quiet)
	if code != 0 || stdout != "deployment.apps/quiet created\n" || stderr != "" {
		t.Errorf("--validate=false: exit %d %q %q", code, stdout, stderr)
	}
	if _, err := cs.AppsV1().Deployments("default").Get(ctx, "quiet", metav1.GetOptions{}); err != nil {
		t.Errorf("--validate=false did not store: %v", err)
	}
	// kubectl asked with fieldValidation, as upstream's kubectl does.
	reqs := e.requests()
	for _, want := range []string{"fieldValidation=Strict", "fieldValidation=Warn", "fieldValidation=Ignore", "GET /openapi/v3"} {
		if !strings.Contains(reqs, want) {
			t.Errorf("kubectl never sent %s:\n%s", want, reqs)
		}
	}
}

// A body with thousands of unknown fields gets a bounded set of Warning
// headers (4 KiB of text, as kube-apiserver's recorder), not one each.
func TestFieldValidationWarningsBounded(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	var b strings.Builder
	b.WriteString(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"many"}`)
	for i := 0; i < 5000; i++ {
		b.WriteString(`,"unknownField` + strings.Repeat("x", 20) + string(rune('a'+i%26)) + strconv.Itoa(i) + `":1`)
	}
	b.WriteString(`}`)
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/namespaces/default/configmaps", strings.NewReader(b.String()))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ws := resp.Header.Values("Warning")
	total := 0
	for _, w := range ws {
		total += len(w)
	}
	if resp.StatusCode != http.StatusCreated || len(ws) == 0 || total > 6<<10 {
		t.Errorf("status %d, %d warnings, %d bytes", resp.StatusCode, len(ws), total)
	}
	if !strings.HasPrefix(ws[0], `299 - "unknown field \"unknownField`) {
		t.Errorf("first warning %q", ws[0])
	}
}

// Field names are case-sensitive, as upstream's decoder: "Data" is an
// unknown field, dropped (with a warning under Warn), never taken as data.
func TestFieldValidationCaseSensitive(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	cs := e.client(t, "http")
	for _, fv := range []string{"Ignore", "Warn"} {
		name := "cm-" + strings.ToLower(fv)
		req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/namespaces/default/configmaps?fieldValidation="+fv,
			strings.NewReader(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"`+name+`"},"Data":{"a":"1"}}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := map[string]string{"Ignore": "", "Warn": `299 - "unknown field \"Data\""`}[fv]; resp.StatusCode != 201 || resp.Header.Get("Warning") != want {
			t.Errorf("%s: %d %q", fv, resp.StatusCode, resp.Header.Get("Warning"))
		}
		c, err := cs.CoreV1().ConfigMaps("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil || len(c.Data) != 0 {
			t.Errorf("%s: stored %v %v", fv, c.Data, err)
		}
		// A merge patch's "Data" too.
		c, err = cs.CoreV1().ConfigMaps("default").Patch(context.Background(), name, types.MergePatchType, []byte(`{"Data":{"b":"2"}}`),
			metav1.PatchOptions{FieldValidation: fv})
		if err != nil || len(c.Data) != 0 {
			t.Errorf("%s: patched %v %v", fv, c.Data, err)
		}
	}
}
