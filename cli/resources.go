package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// mappingFor resolves a resource argument ("po", "pods", "deploy",
// "deployments.apps", "Pod", "horizontalpodautoscalers.v1.autoscaling")
// through discovery. As kubectl's builder, RESOURCE.VERSION.GROUP names
// that version when the server serves it.
func (k *conn) mappingFor(typ string) (*meta.RESTMapping, error) {
	m := k.restMapper()
	full, gr := schema.ParseResourceArg(strings.ToLower(typ))
	if full != nil {
		if gvk, err := m.KindFor(*full); err == nil && !gvk.Empty() {
			return m.RESTMapping(gvk.GroupKind(), gvk.Version)
		}
	}
	gvr, err := m.ResourceFor(gr.WithVersion(""))
	if err != nil {
		if derr := k.reachable(); derr != nil {
			return nil, derr
		}
		if gr.Group != "" {
			return nil, errorf("the server doesn't have a resource type %q in group %q", gr.Resource, gr.Group)
		}
		return nil, errorf("the server doesn't have a resource type %q", typ)
	}
	gvk, err := m.KindFor(gvr)
	if err != nil {
		return nil, errorf("the server doesn't have a resource type %q", typ)
	}
	return m.RESTMapping(gvk.GroupKind(), gvk.Version)
}

// reachable tells a discovery failure (refused, unauthorized) from an
// unknown resource: it is the error of GET /api, nil if that works.
func (k *conn) reachable() error {
	return k.cs.CoreV1().RESTClient().Get().AbsPath("/api").Do(context.Background()).Error()
}

// mappingForGVK resolves a kind (from a manifest).
func (k *conn) mappingForGVK(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	mp, err := k.restMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		if derr := k.reachable(); derr != nil {
			return nil, derr
		}
		return nil, fmt.Errorf("resource mapping not found for name: %q: no matches for kind %q in version %q", "", gvk.Kind, gvk.GroupVersion().String())
	}
	return mp, nil
}

// resourceClient is the dynamic client of a mapping in namespace ns
// ("" for all namespaces; ignored for cluster-scoped resources).
func (k *conn) resourceClient(m *meta.RESTMapping, ns string) dynamic.ResourceInterface {
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return k.dyn.Resource(m.Resource).Namespace(ns)
	}
	return k.dyn.Resource(m.Resource)
}

func namespaced(m *meta.RESTMapping) bool { return m.Scope.Name() == meta.RESTScopeNameNamespace }

// kindName is kubectl's resource/name form: pod/x, deployment.apps/y.
func kindName(gk schema.GroupKind, name string) string {
	k := strings.ToLower(gk.Kind)
	if gk.Group != "" {
		k += "." + gk.Group
	}
	return k + "/" + name
}

// listAll lists a mapping's objects following continue tokens.
func listAll(ctx context.Context, rc dynamic.ResourceInterface, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	var out *unstructured.UnstructuredList
	for {
		l, err := rc.List(ctx, opts)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = l
		} else {
			out.Items = append(out.Items, l.Items...)
		}
		if l.GetContinue() == "" {
			out.SetContinue("")
			return out, nil
		}
		opts.Continue = l.GetContinue()
	}
}

// sortItems orders a list by namespace and name, events by the time they
// were last seen (describe and delete; get prints the server's order, as
// kubectl does).
func sortItems(m *meta.RESTMapping, items []unstructured.Unstructured) {
	if m.GroupVersionKind.Group == "" && m.GroupVersionKind.Kind == "Event" {
		last := func(u *unstructured.Unstructured) time.Time {
			var e corev1.Event
			_ = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &e)
			return eventLast(&e)
		}
		sort.SliceStable(items, func(i, j int) bool { return last(&items[i]).Before(last(&items[j])) })
		return
	}
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].GetNamespace() != items[j].GetNamespace() {
			return items[i].GetNamespace() < items[j].GetNamespace()
		}
		return items[i].GetName() < items[j].GetName()
	})
}
