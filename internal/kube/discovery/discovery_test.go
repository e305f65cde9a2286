package discovery_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	cgdiscovery "k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/discovery"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	memstore "github.com/wasmpod/wasmpod/store/memory"
)

// TestAgainstClientGo: on a real API server, the discovery reads and the
// REST mapping answer what client-go's discovery client and kubectl's
// mapper (NewShortcutExpander over NewDeferredDiscoveryRESTMapper) answer.
func TestAgainstClientGo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	st := memstore.New()
	t.Cleanup(func() { cancel(); st.Close() })
	s, err := apiserver.New(ctx, st, apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.InProcessConfig(s.Handler(apiserver.HandlerOptions{}))
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ours := discovery.New(cs.CoreV1().RESTClient())
	theirs, err := cgdiscovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}

	og, err := ours.ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	tg, err := theirs.ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(og.Groups, tg.Groups) {
		t.Errorf("ServerGroups:\n ours   %+v\n theirs %+v", og.Groups, tg.Groups)
	}
	op, err := ours.ServerPreferredResources()
	if err != nil {
		t.Fatal(err)
	}
	tp, err := theirs.ServerPreferredResources()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sorted(names(op))) != fmt.Sprint(sorted(names(tp))) {
		t.Errorf("ServerPreferredResources:\n ours   %v\n theirs %v", names(op), names(tp))
	}
	if _, err := ours.ServerResourcesForGroupVersion("nothing.example.com/v1"); !apierrors.IsNotFound(err) {
		t.Errorf("an unknown group-version: %v, want NotFound", err)
	}

	m := discovery.NewMapper(ours)
	cached := memory.NewMemCacheClient(theirs)
	km := restmapper.NewShortcutExpander(restmapper.NewDeferredDiscoveryRESTMapper(cached), cached, func(string) {})
	for _, r := range []schema.GroupVersionResource{
		{Resource: "pods"}, {Resource: "pod"}, {Resource: "po"}, {Resource: "deploy"},
		{Resource: "deployments", Group: "apps"}, {Resource: "rs"}, {Resource: "cj"},
		{Resource: "pdb"}, {Resource: "jobs", Group: "batch", Version: "v1"}, {Resource: "ep"},
		{Resource: "endpointslices"}, {Resource: "no"}, {Resource: "ns"}, {Resource: "sa"},
		{Resource: "events"}, {Resource: "ev"}, {Resource: "runtimeclasses"}, {Resource: "nosuch"},
	} {
		ok, oerr := m.KindFor(r)
		tk, terr := km.KindFor(r)
		if ok != tk || (oerr == nil) != (terr == nil) {
			t.Errorf("KindFor(%v): ours %v %v, kubectl's %v %v", r, ok, oerr, tk, terr)
		}
		or, oerr := m.ResourceFor(r)
		tr, terr := km.ResourceFor(r)
		if or != tr || (oerr == nil) != (terr == nil) {
			t.Errorf("ResourceFor(%v): ours %v %v, kubectl's %v %v", r, or, oerr, tr, terr)
		}
	}
	for _, gk := range []schema.GroupKind{{Kind: "Pod"}, {Group: "apps", Kind: "Deployment"}, {Group: "batch", Kind: "CronJob"}, {Kind: "Node"}} {
		om, oerr := m.RESTMapping(gk)
		tm, terr := km.RESTMapping(gk)
		if oerr != nil || terr != nil || om.Resource != tm.Resource || om.Scope.Name() != tm.Scope.Name() || om.GroupVersionKind != tm.GroupVersionKind {
			t.Errorf("RESTMapping(%v): ours %+v %v, kubectl's %+v %v", gk, om, oerr, tm, terr)
		}
	}
	oc, err := m.Categories("all")
	if err != nil {
		t.Fatal(err)
	}
	tc, _ := restmapper.NewDiscoveryCategoryExpander(cached).Expand("all")
	// client-go's order follows its cache's group order; kubectl's
	// `get all` lists the core group's first, as discovery does. A
	// resource served in two versions (autoscaling/v1 and v2
	// horizontalpodautoscalers) is there once a version in client-go's
	// expansion; kubectl's builder then drops the repeats
	// (SplitResourceArgument), as Categories does.
	if fmt.Sprint(sorted(oc)) != fmt.Sprint(slices.Compact(sorted(tc))) {
		t.Errorf("category all:\n ours   %v\n theirs %v", oc, tc)
	}
	if len(oc) == 0 || oc[0].Group != "" {
		t.Errorf("category all: %v, want the core group's resources first", oc)
	}
}

func sorted[T any](s []T) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprint(v)
	}
	slices.Sort(out)
	return out
}

func names(lists []*metav1.APIResourceList) []string {
	var out []string
	for _, l := range lists {
		for _, r := range l.APIResources {
			out = append(out, l.GroupVersion+"/"+r.Name)
		}
	}
	return out
}
