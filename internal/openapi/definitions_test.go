package openapi

import (
	"encoding/json"
	"reflect"
	"sort"
	"testing"

	"github.com/wasmpod/wasmpod/internal/openapi/generated"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// TestDefinitionsMatchGenerated: the embedded definitions.json gives what
// openapi-gen's code gives, for every definition: the same dependencies
// and the same schema (compared as JSON, as the documents serve it), with
// references made by the caller's callback wherever the generated code
// made one. A stale definitions.json (go generate not run) fails here.
func TestDefinitionsMatchGenerated(t *testing.T) {
	for _, refOf := range []func(string) spec.Ref{
		func(n string) spec.Ref { return spec.MustCreateRef("#/definitions/" + n) },
		func(n string) spec.Ref { return spec.MustCreateRef("#/components/schemas/" + n) },
	} {
		want := generated.GetOpenAPIDefinitions(refOf)
		got := GetOpenAPIDefinitions(refOf)
		if len(got) != len(want) {
			t.Errorf("%d definitions; openapi-gen has %d", len(got), len(want))
		}
		for name, w := range want {
			g, ok := got[name]
			if !ok {
				t.Errorf("%s missing", name)
				continue
			}
			if !reflect.DeepEqual(g.Dependencies, w.Dependencies) {
				t.Errorf("%s dependencies %v; openapi-gen %v", name, g.Dependencies, w.Dependencies)
			}
			gj, err := json.Marshal(g.Schema)
			if err != nil {
				t.Fatal(err)
			}
			wj, err := json.Marshal(w.Schema)
			if err != nil {
				t.Fatal(err)
			}
			if string(gj) != string(wj) {
				t.Errorf("%s schema differs:\n got %s\nwant %s", name, gj, wj)
			}
		}
	}
	// Each call is its own copy.
	a := GetOpenAPIDefinitions(func(string) spec.Ref { return spec.Ref{} })
	a["io.k8s.api.core.v1.Pod"].Schema.Properties["spec"] = spec.Schema{}
	if b := GetOpenAPIDefinitions(func(string) spec.Ref { return spec.Ref{} }); len(b["io.k8s.api.core.v1.Pod"].Schema.Properties["spec"].Description) == 0 {
		t.Error("a change to one call's definitions is seen by the next")
	}
}

// TestNamesWithoutDecoding: Names, read from the lines of
// definitions.json, are the keys the full decode gives.
func TestNamesWithoutDecoding(t *testing.T) {
	defs := GetOpenAPIDefinitions(func(string) spec.Ref { return spec.Ref{} })
	var want []string
	for n := range defs {
		want = append(want, n)
	}
	sort.Strings(want)
	if got := definitionNames(); !reflect.DeepEqual(got, want) {
		t.Errorf("names from the lines (%d) differ from the decoded keys (%d):\n%v\n%v", len(got), len(want), got, want)
	}
}
