package rootcacertpublisher

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
	"github.com/wasmpod/wasmpod/store/memory"
)

func waitCM(t *testing.T, cs kubernetes.Interface, ns, ca, notUID string) *corev1.ConfigMap {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), ConfigMapName, metav1.GetOptions{})
		if err == nil && cm.Data[DataKey] == ca && string(cm.UID) != notUID && cm.Annotations[DescriptionAnnotation] == Description {
			return cm
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s: no kube-root-ca.crt with ca %q (uid not %q): %+v %v", ns, ca, notUID, cm, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPublisher: nothing is published until there is a CA; then every
// namespace (old, system and new) gets kube-root-ca.crt; a deleted one
// comes back, an edited ca.crt is set back (other keys kept), and a new CA
// reaches every namespace.
func TestPublisher(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	st := memory.New()
	s, err := apiserver.New(ctx, st, apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler(apiserver.HandlerOptions{}))
	t.Cleanup(srv.Close)
	cs, err := kubernetes.NewForConfig(apiserver.TCPConfig(srv.URL, ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "before"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c := New(cs)
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; st.Close() })

	time.Sleep(200 * time.Millisecond)
	if l, _ := cs.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{}); len(l.Items) != 0 {
		t.Fatalf("published without a CA: %d ConfigMaps", len(l.Items))
	}
	c.SetCA([]byte("CA1"))
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease", "before"} {
		waitCM(t, cs, ns, "CA1", "")
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "after"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cm := waitCM(t, cs, "after", "CA1", "")
	if err := cs.CoreV1().ConfigMaps("after").Delete(ctx, ConfigMapName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	cm = waitCM(t, cs, "after", "CA1", string(cm.UID))
	cm.Data[DataKey], cm.Data["extra"] = "tampered", "kept"
	if _, err := cs.CoreV1().ConfigMaps("after").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := waitCM(t, cs, "after", "CA1", ""); got.Data["extra"] != "kept" {
		t.Errorf("other keys: %v", got.Data)
	}
	c.SetCA([]byte("CA2"))
	for _, ns := range []string{"default", "before", "after"} {
		waitCM(t, cs, ns, "CA2", "")
	}
}

// TestSharedFactory: with the control plane's factory as Informers, the
// controller watches Namespaces through it (the informer is started and
// synced by Run, not by the test) and publishes as with its own.
func TestSharedFactory(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	st := memory.New()
	s, err := apiserver.New(ctx, st, apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler(apiserver.HandlerOptions{}))
	t.Cleanup(srv.Close)
	cs, err := kubernetes.NewForConfig(apiserver.TCPConfig(srv.URL, ""))
	if err != nil {
		t.Fatal(err)
	}
	f := kubeutil.NewSharedFactory(cs)
	c := New(cs)
	c.Informers = f
	c.SetCA([]byte("CA1"))
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; f.Shutdown(); st.Close() })
	waitCM(t, cs, "default", "CA1", "")
	if !f.Core().V1().Namespaces().Informer().HasSynced() {
		t.Fatal("the shared factory's Namespace informer is not synced: Run watched through a factory of its own")
	}
}
