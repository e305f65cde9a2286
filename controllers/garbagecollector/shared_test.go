package garbagecollector

import (
	"context"
	"net/http/httptest"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
	"github.com/wasmpod/wasmpod/store/memory"
)

// TestSharedInformers: with the control plane's factory as Shared, the
// kinds of sharedKinds are monitored through its typed informers (no
// metadata informer of the collector's own), the others through metadata
// informers, and collection works across both: a ServiceAccount owner's
// ServiceAccount and ConfigMap dependents go when it is deleted.
func TestSharedInformers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	st := memory.New()
	s, err := apiserver.New(ctx, st, apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler(apiserver.HandlerOptions{}))
	cfg := apiserver.TCPConfig(srv.URL, "")
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := kubeutil.NewSharedFactory(cs)
	c := New(cs, md, nil)
	c.Shared = f
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
		f.Shutdown()
		srv.CloseClientConnections()
		srv.Close()
		st.Close()
	}()

	e := &env{cs: cs, url: srv.URL}
	sas := cs.CoreV1().ServiceAccounts("default")
	owner, err := sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref := ownerRef("ServiceAccount", "v1", "owner", owner.UID, false)
	if _, err := sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "dep", OwnerReferences: []metav1.OwnerReference{ref}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.cm(t, "default", "cm-dep", nil, ref)

	monitor := func(gvr schema.GroupVersionResource) *monitor {
		c.kmu.RLock()
		defer c.kmu.RUnlock()
		return c.monitors[gvr]
	}
	waitFor(t, "monitors", func() bool {
		return monitor(schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}) != nil &&
			monitor(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}) != nil
	})
	for gvr := range sharedKinds {
		if m := monitor(gvr); m == nil || m.remove == nil {
			t.Errorf("%s: not monitored through the shared factory (monitor %v)", gvr, m)
		}
	}
	if m := monitor(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}); m.remove != nil {
		t.Error("configmaps: monitored through the shared factory, want a metadata informer")
	}

	bg := metav1.DeletePropagationBackground
	if err := sas.Delete(ctx, "owner", metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the ServiceAccount dependent deleted", func() bool {
		_, err := sas.Get(ctx, "dep", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	waitFor(t, "the ConfigMap dependent deleted", e.gone("default", "cm-dep"))
}
