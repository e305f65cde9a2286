package garbagecollector

// Tests against a real in-process API server (HTTP on loopback, client-go
// and the real kubectl v1.37.2). Upstream behaviours from
// test/e2e/apimachinery/garbage_collector.go named per test.

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/testkubectl"
	"github.com/wasmpod/wasmpod/store/memory"
)

type env struct {
	cs  kubernetes.Interface
	url string
}

func setup(t *testing.T) *env {
	t.Helper()
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
	done := make(chan struct{})
	go func() {
		defer close(done)
		New(cs, md, nil).Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.CloseClientConnections()
		srv.Close()
		st.Close()
	})
	return &env{cs: cs, url: srv.URL}
}

func ownerRef(kind, apiVersion, name string, uid types.UID, block bool) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, BlockOwnerDeletion: &block}
}

func (e *env) cm(t *testing.T, ns, name string, fins []string, owners ...metav1.OwnerReference) *corev1.ConfigMap {
	t.Helper()
	cm, err := e.cs.CoreV1().ConfigMaps(ns).Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: name, Finalizers: fins, OwnerReferences: owners}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) gone(ns, name string) func() bool {
	return func() bool {
		_, err := e.cs.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}
}

func (e *env) kubectl(t *testing.T, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	cfg := "apiVersion: v1\nkind: Config\nclusters:\n- name: w\n  cluster:\n    server: " + e.url +
		"\ncontexts:\n- name: w\n  context:\n    cluster: w\n    user: me\n    namespace: default\ncurrent-context: w\nusers:\n- name: me\n  user: {}\n"
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c := exec.Command(testkubectl.Path(t), append([]string{"--kubeconfig", kc, "--cache-dir", filepath.Join(dir, "cache")}, args...)...)
	c.Env = append(os.Environ(), "HOME="+dir, "KUBECONFIG="+kc)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// "should delete pods created by rc when not orphaning" (background):
// dependents of a deleted owner go; a dependent with another, live owner
// stays and only loses the reference (dangling references are cleaned).
func TestBackgroundAndDangling(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	owner := e.cm(t, "default", "owner", nil)
	other := e.cm(t, "default", "other", nil)
	e.cm(t, "default", "dep", nil, ownerRef("ConfigMap", "v1", "owner", owner.UID, false))
	e.cm(t, "default", "two", nil, ownerRef("ConfigMap", "v1", "owner", owner.UID, false), ownerRef("ConfigMap", "v1", "other", other.UID, false))
	// Dangling from the start: no such uid; the name exists with another uid.
	e.cm(t, "default", "absent", nil, ownerRef("ConfigMap", "v1", "nobody", "11111111-2222-3333-4444-555555555555", false))
	e.cm(t, "default", "wronguid", nil, ownerRef("ConfigMap", "v1", "other", "99999999-2222-3333-4444-555555555555", false))
	waitFor(t, "absent deleted", e.gone("default", "absent"))
	waitFor(t, "wronguid deleted", e.gone("default", "wronguid"))
	if out := e.kubectl(t, "delete", "configmap", "owner"); out != "configmap \"owner\" deleted from default namespace\n" {
		t.Fatalf("kubectl delete: %q", out)
	}
	waitFor(t, "dep deleted", e.gone("default", "dep"))
	waitFor(t, "two loses its dangling reference", func() bool {
		cm, err := e.cs.CoreV1().ConfigMaps("default").Get(ctx, "two", metav1.GetOptions{})
		return err == nil && len(cm.OwnerReferences) == 1 && cm.OwnerReferences[0].UID == other.UID
	})
	if _, err := e.cs.CoreV1().ConfigMaps("default").Get(ctx, "other", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
}

// "should keep the rc around until all its pods are deleted if the
// deleteOptions says so" (foreground), with kubectl --cascade=foreground
// on a ReplicaSet object (no ReplicaSet controller runs here) owning pods.
func TestForegroundKubectl(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	app := map[string]string{"app": "fg"}
	two := int32(2)
	rs, err := e.cs.AppsV1().ReplicaSets("default").Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "rs"},
		Spec: appsv1.ReplicaSetSpec{Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: app},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: app},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	for _, name := range []string{"p1", "p2"} {
		ref := ownerRef("ReplicaSet", "apps/v1", "rs", rs.UID, true)
		ref.Controller = &yes
		fins := []string{"example.com/hold"}
		if name == "p2" {
			fins = nil
		}
		if _, err := e.cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: app,
			Finalizers: fins, OwnerReferences: []metav1.OwnerReference{ref}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if out := e.kubectl(t, "delete", "rs", "rs", "--cascade=foreground", "--wait=false"); out != "replicaset.apps \"rs\" deleted from default namespace\n" {
		t.Fatalf("kubectl delete: %q", out)
	}
	waitFor(t, "p2 deleted", func() bool {
		_, err := e.cs.CoreV1().Pods("default").Get(ctx, "p2", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	waitFor(t, "p1 terminating", func() bool {
		p, err := e.cs.CoreV1().Pods("default").Get(ctx, "p1", metav1.GetOptions{})
		return err == nil && p.DeletionTimestamp != nil
	})
	// The owner waits for its blocking dependent.
	time.Sleep(300 * time.Millisecond)
	got, err := e.cs.AppsV1().ReplicaSets("default").Get(ctx, "rs", metav1.GetOptions{})
	if err != nil || got.DeletionTimestamp == nil || !slices.Contains(got.Finalizers, metav1.FinalizerDeleteDependents) {
		t.Fatalf("owner while a blocking dependent remains: %v %+v", err, got)
	}
	if out := e.kubectl(t, "get", "rs", "rs", "-o", "jsonpath={.metadata.finalizers}"); out != `["foregroundDeletion"]` {
		t.Fatalf("kubectl get rs finalizers: %q", out)
	}
	e.kubectl(t, "patch", "pod", "p1", "--type=merge", "-p", `{"metadata":{"finalizers":null}}`)
	waitFor(t, "owner deleted", func() bool {
		_, err := e.cs.AppsV1().ReplicaSets("default").Get(ctx, "rs", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}

// "should orphan pods created by rc if delete options say so": with
// kubectl --cascade=orphan the owner goes and its dependents stay,
// without the reference.
func TestOrphanKubectl(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	owner := e.cm(t, "default", "owner", nil)
	other := e.cm(t, "default", "other", nil)
	e.cm(t, "default", "a", nil, ownerRef("ConfigMap", "v1", "owner", owner.UID, true))
	e.cm(t, "default", "b", nil, ownerRef("ConfigMap", "v1", "owner", owner.UID, false), ownerRef("ConfigMap", "v1", "other", other.UID, false))
	time.Sleep(200 * time.Millisecond) // the collector has seen the dependents
	e.kubectl(t, "delete", "configmap", "owner", "--cascade=orphan")
	waitFor(t, "owner deleted", e.gone("default", "owner"))
	a, err := e.cs.CoreV1().ConfigMaps("default").Get(ctx, "a", metav1.GetOptions{})
	if err != nil || len(a.OwnerReferences) != 0 {
		t.Fatalf("a: %v %+v", err, a)
	}
	b, err := e.cs.CoreV1().ConfigMaps("default").Get(ctx, "b", metav1.GetOptions{})
	if err != nil || len(b.OwnerReferences) != 1 || b.OwnerReferences[0].UID != other.UID {
		t.Fatalf("b: %v %+v", err, b)
	}
	if out := e.kubectl(t, "get", "configmap", "a", "-o", "jsonpath={.metadata.ownerReferences}"); out != "" {
		t.Fatalf("kubectl get ownerReferences: %q", out)
	}
}

// Invalid namespace references (upstream "OwnerRefInvalidNamespace"): a
// dependent in another namespace than its owner's uid is collected; a
// cluster-scoped dependent of a namespaced owner is left alone; both get
// the Warning event.
func TestInvalidNamespaceOwner(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	if _, err := e.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	owner := e.cm(t, "default", "owner", nil)
	time.Sleep(200 * time.Millisecond)
	e.cm(t, "b", "child", nil, ownerRef("ConfigMap", "v1", "owner", owner.UID, false))
	cr, err := e.cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "gc-test",
		OwnerReferences: []metav1.OwnerReference{ownerRef("ConfigMap", "v1", "owner", owner.UID, false)}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "child in the wrong namespace deleted", e.gone("b", "child"))
	want := map[string]string{
		"b":       `ownerRef [v1/ConfigMap, namespace: b, name: owner, uid: ` + string(owner.UID) + `] does not exist in namespace "b"`,
		"default": `ownerRef [v1/ConfigMap, namespace: , name: owner, uid: ` + string(owner.UID) + `] does not exist in namespace ""`,
	}
	for ns, msg := range want {
		waitFor(t, "event in "+ns, func() bool {
			evs, err := e.cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false
			}
			for _, ev := range evs.Items {
				if ev.Reason == "OwnerRefInvalidNamespace" && ev.Type == corev1.EventTypeWarning && ev.Message == msg && ev.Source.Component == Component {
					return true
				}
			}
			return false
		})
	}
	time.Sleep(300 * time.Millisecond)
	if got, err := e.cs.RbacV1().ClusterRoles().Get(ctx, "gc-test", metav1.GetOptions{}); err != nil || got.UID != cr.UID {
		t.Fatalf("cluster-scoped dependent of a namespaced owner: %v", err)
	}
}
