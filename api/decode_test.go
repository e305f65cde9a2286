package api

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// summary renders decoded documents as "index/item line Kind/name" lines.
func summary(docs []Document) []string {
	var out []string
	for _, d := range docs {
		out = append(out, strings.Join([]string{itoa(d.Index) + "/" + itoa(d.Item), "line " + itoa(d.Line), d.Kind() + "/" + d.Name()}, " "))
	}
	return out
}

func itoa(i int) string {
	if i < 0 {
		return "-"
	}
	return strconv.Itoa(i)
}

const pod1 = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - {name: c, image: a.wasm}\n"

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // summary
		err  string   // exact error, "" for none
	}{
		{name: "single yaml", in: pod1, want: []string{"0/- line 1 Pod/a"}},
		{
			name: "multi-document with empty and comment-only documents",
			in:   "---\n# only a comment\n---\n" + pod1 + "---\n\n---\n" + strings.Replace(pod1, "name: a}", "name: b}", 1) + "...\n",
			want: []string{"0/- line 4 Pod/a", "1/- line 13 Pod/b"},
		},
		{
			name: "separator with trailing comment and CRLF",
			in:   strings.ReplaceAll(pod1+"--- # next\n"+strings.Replace(pod1, "name: a}", "name: b}", 1), "\n", "\r\n"),
			want: []string{"0/- line 1 Pod/a", "1/- line 8 Pod/b"},
		},
		{
			name: "flow style",
			in:   "{apiVersion: v1, kind: Pod, metadata: {name: x}, spec: {containers: [{name: a, image: b.wasm}]}}",
			want: []string{"0/- line 1 Pod/x"},
		},
		{
			name: "JSON stream",
			in: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"j1"}}
{"apiVersion": "apps/v1", "kind": "Deployment",
 "metadata": {"name": "d"}}`,
			want: []string{"0/- line 1 Pod/j1", "1/- line 2 Deployment/d"},
		},
		{
			name: "List expanded",
			in:   "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: p}}\n- {apiVersion: batch/v1, kind: Job, metadata: {name: j}}\n---\n" + pod1,
			want: []string{"0/0 line 1 Pod/p", "0/1 line 1 Job/j", "1/- line 7 Pod/a"},
		},
		{
			name: "typed list expanded",
			in:   "apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: p}\n- metadata: {name: q}\n",
			want: []string{"0/0 line 1 Pod/p", "0/1 line 1 Pod/q"},
		},
		{name: "empty stream", in: "", want: nil},
		{name: "only comments and separators", in: "# a\n---\n---\n# b\n", want: nil},
		{name: "explicit null document", in: "null\n---\n~\n", want: nil},
		{
			name: "strict unknown field",
			in:   "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n  - name: a\n    imagee: b.wasm\n",
			err:  "pod.yaml: document 1 (Pod/x): spec.containers[0].imagee: unknown field",
		},
		{
			name: "several unknown fields all reported",
			in:   "apiVersion: v1\nkind: Pod\nmetadata: {name: x, labelz: {}}\nspek: {}\n",
			err:  "pod.yaml: document 1 (Pod/x): metadata.labelz: unknown field\npod.yaml: document 1 (Pod/x): spek: unknown field",
		},
		{
			name: "duplicate YAML key with its lines",
			in:   pod1 + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n  - name: a\n    image: b.wasm\n    image: c.wasm\n",
			want: []string{"0/- line 1 Pod/a"},
			err:  "pod.yaml: document 2 (Pod/x): spec.containers[0].image: duplicate field (lines 14 and 15)",
		},
		{
			name: "duplicate JSON key",
			in:   `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","name":"y"}}`,
			err:  "pod.yaml: document 1 (Pod/y): metadata.name: duplicate field",
		},
		{
			name: "bad YAML gives the line in the whole stream",
			in:   pod1 + "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n labels: 1\n",
			want: []string{"0/- line 1 Pod/a"},
			err:  "pod.yaml: document 2: invalid YAML: line 11: did not find expected key",
		},
		{
			name: "tab indentation",
			in:   "apiVersion: v1\nkind: Pod\nmetadata:\n\tname: x\n",
			err:  "pod.yaml: document 1: invalid YAML: line 4: found character that cannot start any token",
		},
		{
			name: "missing apiVersion and kind",
			in:   "metadata: {name: x}\n",
			err:  "pod.yaml: document 1: apiVersion: Required value\npod.yaml: document 1: kind: Required value",
		},
		{
			name: "kind not a string",
			in:   "apiVersion: v1\nkind: [Pod]\n",
			err:  "pod.yaml: document 1: kind: Invalid value: [\"Pod\"]: must be a string",
		},
		{
			name: "unknown kind with a hint",
			in:   "apiVersion: v1\nkind: Deployment\nmetadata: {name: d}\n",
			err:  `pod.yaml: document 1 (Deployment/d): kind: unknown kind "Deployment" in apiVersion "v1" (Deployment is in apiVersion apps/v1)`,
		},
		{
			name: "unknown kind",
			in:   "apiVersion: v1\nkind: Gizmo\n",
			err:  `pod.yaml: document 1 (Gizmo): kind: unknown kind "Gizmo" in apiVersion "v1"`,
		},
		{
			name: "unknown apiVersion",
			in:   "apiVersion: networking.k8s.io/v1\nkind: Ingress\n",
			err:  `pod.yaml: document 1 (Ingress): apiVersion: Unsupported value: "networking.k8s.io/v1": supported values: "apps/v1", "batch/v1", "v1"`,
		},
		{
			name: "malformed apiVersion",
			in:   "apiVersion: a/b/c\nkind: Pod\n",
			err:  `pod.yaml: document 1 (Pod): apiVersion: Invalid value: "a/b/c": must be group/version or version`,
		},
		{
			name: "not an object",
			in:   "- a\n- b\n---\njust a string\n",
			err:  "pod.yaml: document 1: expected an object with apiVersion and kind, got a list\npod.yaml: document 2: expected an object with apiVersion and kind, got a string",
		},
		{
			name: "wrong type gets an exact path",
			in:   "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n  - name: a\n    image: b.wasm\n  - name: b\n    ports: [{containerPort: http}]\n",
			err:  "pod.yaml: document 1 (Pod/x): spec.containers[1].ports[0].containerPort: Invalid value: string: expected an integer",
		},
		{
			name: "wrong type for a list",
			in:   "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers: {name: a}\n",
			err:  "pod.yaml: document 1 (Pod/x): spec.containers: Invalid value: object: expected a list",
		},
		{
			name: "YAML 1.1 boolean where a string belongs",
			in:   "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n  - name: a\n    env: [{name: A, value: yes}]\n",
			err:  "pod.yaml: document 1 (Pod/x): spec.containers[0].env[0].value: Invalid value: bool: expected a string",
		},
		{
			name: "bad quantity",
			in:   "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n  - name: a\n    resources: {limits: {cpu: lots}}\n",
			err:  `pod.yaml: document 1 (Pod/x): spec.containers[0].resources.limits.cpu: Invalid value: "lots": must be a quantity such as 100m, 64Mi or 2`,
		},
		{
			name: "bad List item names the item",
			in:   "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: p}}\n- {apiVersion: v1, kind: Service, metadata: {name: s}, spec: {portz: 1}}\n",
			want: []string{"0/0 line 1 Pod/p"},
			err:  "pod.yaml: document 1, item 2 (Service/s): spec.portz: unknown field",
		},
		{
			name: "List with unknown field",
			in:   "apiVersion: v1\nkind: List\nitemz: []\n",
			err:  "pod.yaml: document 1 (List): itemz: unknown field",
		},
		{
			name: "nested List",
			in:   "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: List, items: []}\n",
			err:  "pod.yaml: document 1, item 1 (List): kind: a List inside a List is not supported",
		},
		{
			name: "a bad document does not hide the good ones",
			in:   "apiVersion: v1\nkind: Gizmo\n---\n" + pod1,
			want: []string{"1/- line 4 Pod/a"},
			err:  `pod.yaml: document 1 (Gizmo): kind: unknown kind "Gizmo" in apiVersion "v1"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := Decode([]byte(tt.in), "pod.yaml")
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.err {
				t.Errorf("error:\n got: %s\nwant: %s", got, tt.err)
			}
			if s, w := strings.Join(summary(docs), "\n"), strings.Join(tt.want, "\n"); s != w {
				t.Errorf("documents:\n got: %s\nwant: %s", s, w)
			}
			for _, d := range docs {
				if d.Source != "pod.yaml" {
					t.Errorf("source = %q", d.Source)
				}
				if gvk := d.Object.GetObjectKind().GroupVersionKind(); gvk.Kind == "" || gvk.Version == "" {
					t.Errorf("document %d has no apiVersion/kind: %v", d.Index, gvk)
				}
			}
		})
	}
}

func TestDecodeTypedObjects(t *testing.T) {
	docs, err := DecodeFile("testdata/two-pods.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 {
		t.Fatalf("got %d documents, want 2", len(docs))
	}
	p, ok := docs[1].Object.(*corev1.Pod)
	if !ok {
		t.Fatalf("document 2 is %T, want *v1.Pod", docs[1].Object)
	}
	if p.Labels["app"] != "world" || p.Spec.Containers[0].Env[0].ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("pod decoded wrongly: %+v", p)
	}
	if docs[1].Index != 1 || docs[1].Line != 14 || docs[1].Source != "testdata/two-pods.yaml" {
		t.Errorf("document 2 located at index %d line %d source %q", docs[1].Index, docs[1].Line, docs[1].Source)
	}

	docs, err = Decode([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 3}\n"), "d.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := docs[0].Object.(*appsv1.Deployment); !ok || *d.Spec.Replicas != 3 {
		t.Errorf("got %#v", docs[0].Object)
	}
}

func TestDecodeErrorsAreInspectable(t *testing.T) {
	_, err := DecodeReader(strings.NewReader("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containerz: []}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: yy}\nspec: {nodeNam: n}\n"), "<stdin>")
	errs := Errors(err)
	if len(errs) != 2 {
		t.Fatalf("got %d errors, want 2: %v", len(errs), err)
	}
	e := errs[1]
	want := Error{Source: "<stdin>", Index: 1, Item: -1, Line: 6, Kind: "Pod", Name: "yy", Field: "spec.nodeNam", Detail: "unknown field"}
	if *e != want {
		t.Errorf("got %+v, want %+v", *e, want)
	}
	var one *Error
	if !errors.As(err, &one) || one.Field != "spec.containerz" {
		t.Errorf("errors.As gave %+v", one)
	}
}

func TestDecodeFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := DecodeFile(path)
	if err == nil || err.Error() != path+": cannot read manifest: no such file or directory" {
		t.Errorf("got %v", err)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("errors.Is(%v, os.ErrNotExist) = false", err)
	}
}

// FuzzDecode checks that no input panics and that every error names the
// source. Its seeds run with every "go test".
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"", "{", "[", "}", "---", "--- {a: 1}", "\x00", "\xEF\xBB\xBF" + pod1, "*a", "&a [*a, *a]",
		"apiVersion: v1\nkind: Pod\nmetadata: &m {name: x, labels: *m}\n",
		"apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: [{resources: {limits: {cpu: {}}}}]}\n",
		"apiVersion: v1\nkind: List\nitems: [1, null, {kind: Pod}]\n",
		`{"apiVersion":"v1","kind":"Pod"} {"a":`, `{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"ports":[{"containerPort":1.5}]}]}}`,
		"apiVersion: v1\nkind: Pod\n<<: {a: 1}\n", "? [a]\n: b\n",
	} {
		f.Add(s)
	}
	// Real manifests: every example's, and this package's test data.
	for _, glob := range []string{"../wasm-examples/*/*.yaml", "testdata/*.yaml"} {
		paths, _ := filepath.Glob(glob)
		for _, p := range paths {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(string(b))
			}
		}
	}
	f.Fuzz(func(t *testing.T, in string) {
		// Bounded time: a runaway input panics with itself in the report.
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				panic(fmt.Sprintf("Decode and LoadPods of %q took more than 10s", in))
			}
		}()
		docs, err := Decode([]byte(in), "pod.yaml")
		checkFuzzErrors(t, "Decode", err)
		for _, d := range docs {
			if d.Object == nil {
				t.Errorf("document %d has no object", d.Index)
			}
			SetDefaults(d.Object)
		}
		_, err = LoadPods(docs, Options{}, "")
		checkFuzzErrors(t, "LoadPods", err)
	})
}

// checkFuzzErrors: every error is an api.Error naming the source and a
// document.
func checkFuzzErrors(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil && len(Errors(err)) == 0 {
		t.Errorf("%s: error of type %T: %v", what, err, err)
	}
	for _, e := range Errors(err) {
		if e.Source != "pod.yaml" || e.Index < 0 || !strings.HasPrefix(e.Error(), "pod.yaml: document ") {
			t.Errorf("%s: error without its source and document: %v", what, e)
		}
	}
}
