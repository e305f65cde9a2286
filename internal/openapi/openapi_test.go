package openapi

import (
	"reflect"
	goruntime "runtime"
	"testing"
	"weak"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	apiopenapi "k8s.io/apiserver/pkg/endpoints/openapi"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// The type converter server-side apply uses accepts the schemas, and a
// Pod's containers are an associative list keyed by name: two appliers
// of different containers merge instead of replacing each other.
func TestSchemasTypeConverter(t *testing.T) {
	tc, err := managedfields.NewTypeConverter(Schemas(), false)
	if err != nil {
		t.Fatalf("NewTypeConverter: %v", err)
	}
	pod := func(containers ...string) *corev1.Pod {
		p := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "p"}}
		for _, c := range containers {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: c + ".wasm"})
		}
		return p
	}
	a, err := tc.ObjectToTyped(pod("a"))
	if err != nil {
		t.Fatalf("ObjectToTyped: %v", err)
	}
	b, err := tc.ObjectToTyped(pod("b"))
	if err != nil {
		t.Fatalf("ObjectToTyped: %v", err)
	}
	merged, err := a.Merge(b)
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	obj, err := tc.TypedToObject(merged)
	if err != nil {
		t.Fatalf("TypedToObject: %v", err)
	}
	var got corev1.Pod
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.(runtime.Unstructured).UnstructuredContent(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Spec.Containers) != 2 {
		t.Fatalf("merged containers %+v: want a and b (containers must be a map keyed by name)", got.Spec.Containers)
	}
	set, err := merged.ToFieldSet()
	if err != nil {
		t.Fatal(err)
	}
	key := fieldpath.MakePathOrDie("spec", "containers", fieldpath.KeyByFields("name", "b"), "image")
	if !set.Has(key) {
		t.Errorf("field set %v lacks %v", set, key)
	}
}

// The definition names and the kinds' x-kubernetes-group-version-kind are
// those kube-apiserver's DefinitionNamer gives for the same scheme.
func TestDefinitionNamesAsUpstream(t *testing.T) {
	namer := apiopenapi.NewDefinitionNamer(Scheme())
	s := Schemas()
	for _, name := range []string{"io.k8s.api.core.v1.Pod", "io.k8s.api.apps.v1.Deployment", "io.k8s.api.coordination.v1.Lease",
		"io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", "io.k8s.api.autoscaling.v1.Scale", "io.k8s.api.policy.v1.Eviction"} {
		sch, ok := s[name]
		if !ok {
			t.Errorf("no schema %s", name)
			continue
		}
		wantName, wantExt := namer.GetDefinitionName(name)
		gotName, gotExt := DefinitionName(name)
		if gotName != wantName || !reflect.DeepEqual(toJSONish(gotExt[ExtensionGVK]), toJSONish(wantExt[ExtensionGVK])) {
			t.Errorf("%s: got %s %v, upstream's namer %s %v", name, gotName, gotExt, wantName, wantExt)
		}
		if _, ok := sch.Extensions[ExtensionGVK]; !ok {
			t.Errorf("%s has no %s", name, ExtensionGVK)
		}
	}
	if _, ok := s["io.k8s.api.core.v1.PodSpec"].Extensions[ExtensionGVK]; ok {
		t.Errorf("PodSpec is not a kind but has %s", ExtensionGVK)
	}
	containers := s["io.k8s.api.core.v1.PodSpec"].Properties["containers"]
	if containers.Extensions["x-kubernetes-list-type"] != "map" || containers.Extensions["x-kubernetes-patch-merge-key"] != "name" {
		t.Errorf("PodSpec.containers extensions %v: want list-type map, patch-merge-key name", containers.Extensions)
	}
	for name, sch := range s {
		for p, prop := range sch.Properties {
			r := prop.Ref.String()
			if len(prop.AllOf) == 1 {
				r = prop.AllOf[0].Ref.String()
			}
			if r != "" {
				if _, ok := s[r[len("#/components/schemas/"):]]; !ok {
					t.Errorf("%s.%s refers to %s, which is not there", name, p, r)
				}
			}
		}
	}
}

func toJSONish(v interface{}) interface{} {
	l, _ := v.([]interface{})
	out := []map[string]interface{}{}
	for _, e := range l {
		out = append(out, e.(map[string]interface{}))
	}
	return out
}

// TestSchemasNotRetained: the decoded schemas are garbage once the caller
// drops them (the package memoizes none of them), so that an idle server,
// whose type converter has been built, does not keep them resident.
func TestSchemasNotRetained(t *testing.T) {
	s := Schemas()
	pod, ok := s["io.k8s.api.core.v1.Pod"]
	if !ok {
		t.Fatal("no schema io.k8s.api.core.v1.Pod")
	}
	wp := weak.Make(pod)
	s, pod = nil, nil
	_ = s
	for range 5 {
		goruntime.GC()
		if wp.Value() == nil {
			return
		}
	}
	t.Error("the Pod schema is still reachable after the caller dropped the map: Schemas' results are retained")
}
