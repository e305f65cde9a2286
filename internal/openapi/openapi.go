package openapi

import (
	"sort"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/builder3"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// ExtensionGVK is the vendor extension naming the group, version and kind
// a top-level definition is served as.
const ExtensionGVK = "x-kubernetes-group-version-kind"

// Scheme returns a scheme holding every versioned kind of the generated
// API groups (the meta.k8s.io option kinds registered in each of them, as
// kube-apiserver's). It is shared: do not add to it.
var Scheme = sync.OnceValue(func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, coordinationv1.AddToScheme,
		discoveryv1.AddToScheme, policyv1.AddToScheme, rbacv1.AddToScheme, authenticationv1.AddToScheme,
		authorizationv1.AddToScheme, autoscalingv1.AddToScheme, autoscalingv2.AddToScheme, eventsv1.AddToScheme, nodev1.AddToScheme,
		certificatesv1.AddToScheme, networkingv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	return s
})

// groupVersionKinds maps a definition name to the kinds it is served as,
// sorted by group, version and kind, as kube-apiserver's DefinitionNamer
// (k8s.io/apiserver/pkg/endpoints/openapi) computes them.
var groupVersionKinds = sync.OnceValue(func() map[string][]metav1.GroupVersionKind {
	s := Scheme()
	out := map[string][]metav1.GroupVersionKind{}
	for gvk := range s.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal {
			continue
		}
		name, err := s.ToOpenAPIDefinitionName(gvk)
		if err != nil {
			continue // a type without a model name has no definition
		}
		g := metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind}
		dup := false
		for _, have := range out[name] {
			dup = dup || have == g
		}
		if !dup {
			out[name] = append(out[name], g)
		}
	}
	for _, l := range out {
		sort.Slice(l, func(i, j int) bool {
			if l[i].Group != l[j].Group {
				return l[i].Group < l[j].Group
			}
			if l[i].Version != l[j].Version {
				return l[i].Version < l[j].Version
			}
			return l[i].Kind < l[j].Kind
		})
	}
	return out
})

// DefinitionName is the GetDefinitionName of kube-openapi's configs: the
// name stays the model name ("io.k8s.api.core.v1.Pod") and a kind's
// definition carries x-kubernetes-group-version-kind.
func DefinitionName(name string) (string, spec.Extensions) {
	gvks, ok := groupVersionKinds()[name]
	if !ok {
		return name, nil
	}
	l := make([]interface{}, 0, len(gvks))
	for _, g := range gvks {
		l = append(l, map[string]interface{}{"group": g.Group, "version": g.Version, "kind": g.Kind})
	}
	return name, spec.Extensions{ExtensionGVK: l}
}

// GroupVersionKinds returns the kinds definition name is served as.
func GroupVersionKinds(name string) []metav1.GroupVersionKind {
	return groupVersionKinds()[name]
}

// Definitions returns the generated definitions, each built once per call
// with refs made by ref.
func Definitions(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
	return GetOpenAPIDefinitions(ref)
}

// Names returns every definition name, sorted: the keys of
// definitions.json, read from the start of its lines without decoding the
// schemas.
var Names = sync.OnceValue(definitionNames)

// V3Config returns a new kube-openapi v3 builder config over the
// generated definitions.
func V3Config() *common.OpenAPIV3Config {
	return &common.OpenAPIV3Config{
		Info:              &spec.Info{InfoProps: spec.InfoProps{Title: "Kubernetes", Version: "v1.37.2"}},
		GetDefinitions:    GetOpenAPIDefinitions,
		GetDefinitionName: DefinitionName,
	}
}

// V2Config returns a new kube-openapi v2 builder config over the
// generated definitions.
func V2Config() *common.Config {
	return &common.Config{
		Info:              &spec.Info{InfoProps: spec.InfoProps{Title: "Kubernetes", Version: "v1.37.2"}},
		GetDefinitions:    GetOpenAPIDefinitions,
		GetDefinitionName: DefinitionName,
	}
}

// Schemas returns the OpenAPI v3 schema of every generated definition,
// keyed by kube-apiserver's definition names ("io.k8s.api.core.v1.Pod"),
// with references as "#/components/schemas/NAME" and every kind carrying
// x-kubernetes-group-version-kind: what kube-apiserver hands to
// managedfields.NewTypeConverter. Each call builds them anew and this
// package keeps nothing of them: the API server's one caller (its type
// converter, built once) keeps only the converted form, so the ~2 MB of
// decoded schemas are not resident in an idle server
// (TestSchemasNotRetained).
func Schemas() map[string]*spec.Schema {
	m, err := builder3.BuildOpenAPIDefinitionsForResources(V3Config(), Names()...)
	if err != nil {
		panic("openapi: the generated definitions do not build: " + err.Error())
	}
	return m
}
