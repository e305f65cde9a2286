package serviceaccount

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/store/memory"
)

// setup serves an API server over HTTP (client-go on loopback) with a
// namespace made before the controller starts.
func setup(t *testing.T) (kubernetes.Interface, context.Context) {
	t.Helper()
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
	done := make(chan struct{})
	go func() {
		defer close(done)
		New(cs).Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
	})
	return cs, ctx
}

func waitSA(t *testing.T, cs kubernetes.Interface, ns string, notUID string) *corev1.ServiceAccount {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		sa, err := cs.CoreV1().ServiceAccounts(ns).Get(context.Background(), DefaultName, metav1.GetOptions{})
		if err == nil && string(sa.UID) != notUID {
			return sa
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s: no default ServiceAccount (uid not %q): %v", ns, notUID, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDefaultServiceAccount: namespaces that existed before the
// controller, the system ones and new ones get "default"; a deleted one
// comes back; a terminating namespace gets none.
func TestDefaultServiceAccount(t *testing.T) {
	cs, ctx := setup(t)
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease", "before"} {
		waitSA(t, cs, ns, "")
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "after"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sa := waitSA(t, cs, "after", "")
	if err := cs.CoreV1().ServiceAccounts("after").Delete(ctx, DefaultName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSA(t, cs, "after", string(sa.UID))

	// Terminating (no namespace controller here: it stays so): deleting
	// the account leaves it deleted.
	if err := cs.CoreV1().Namespaces().Delete(ctx, "before", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().ServiceAccounts("before").Delete(ctx, DefaultName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// A later event proves the controller has processed the deletion.
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "later"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSA(t, cs, "later", "")
	time.Sleep(100 * time.Millisecond)
	if l, err := cs.CoreV1().ServiceAccounts("before").List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Fatalf("terminating namespace: %v %v", l, err)
	}
}
