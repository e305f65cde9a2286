package wasmpod_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/store/etcd/etcdtest"
)

// TestEtcdControlPlanePersists: a control plane on a real (embedded) etcd
// runs a pod to completion and closes; etcd stops and starts again on its
// data; a second control plane with another data dir, on the same etcd,
// sees the completed pod with its status, and does not run it again. Then
// etcd is compacted under a watcher's resourceVersion: the watch gets 410
// Gone, and a re-list and a watch from its resourceVersion see new changes.
// Last, etcd stops: API calls get 503, and once it is back they succeed
// again and the open watch goes on.
func TestEtcdControlPlanePersists(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := etcdtest.Start(t, t.TempDir(), etcdtest.Options{Fsync: true})
	cfg := func() wasmpod.Config {
		return wasmpod.Config{Etcd: wasmpod.EtcdConfig{Servers: srv.Endpoints(), RequestTimeout: 2 * time.Second}, DataDir: t.TempDir(), CacheDir: testwasm.CacheDir()}
	}

	dir := t.TempDir()
	wasm := filepath.Join(dir, "hello.wasm")
	if err := os.WriteFile(wasm, testwasm.Build(t, filepath.Join(testwasm.RepoRoot(t), "wasm-examples", "hello")), 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := wasmpod.LoadBytes([]byte(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: hello}
spec:
  restartPolicy: Never
  containers:
  - name: hello
    image: %s
`, wasm)), "hello.yaml", dir, wasmpod.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}

	c1, err := wasmpod.New(ctx, cfg())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Apply(ctx, objs[0]); err != nil {
		t.Fatal(err)
	}
	done, err := c1.WaitPod(ctx, "default", "hello", wasmpod.PodTerminal)
	if err != nil {
		t.Fatal(err)
	}
	if done.Status.Phase != corev1.PodSucceeded || len(done.Status.ContainerStatuses) != 1 ||
		done.Status.ContainerStatuses[0].State.Terminated == nil || done.Status.ContainerStatuses[0].State.Terminated.ExitCode != 0 {
		t.Fatalf("first control plane: pod ended %s, %+v", done.Status.Phase, done.Status.ContainerStatuses)
	}
	if err := c1.Close(); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	srv.Restart()

	c2, err := wasmpod.New(ctx, cfg())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c2.Close() })
	cs := c2.Client()
	got, err := cs.CoreV1().Pods("default").Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("second control plane: %v", err)
	}
	if got.UID != done.UID || got.Status.Phase != corev1.PodSucceeded || got.Spec.NodeName != done.Spec.NodeName ||
		got.Status.ContainerStatuses[0].State.Terminated == nil || got.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Fatalf("second control plane sees uid %s phase %s node %q statuses %+v; want uid %s Succeeded on %q, not restarted",
			got.UID, got.Status.Phase, got.Spec.NodeName, got.Status.ContainerStatuses, done.UID, done.Spec.NodeName)
	}

	// Compaction under a watcher's resourceVersion: 410 Gone, then relist.
	list, err := cs.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	old := list.ResourceVersion
	for i := range 3 {
		if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm%d", i)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ec, err := clientv3.New(clientv3.Config{Endpoints: srv.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	head, err := ec.Get(ctx, "/wasmpod/meta/origin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ec.Compact(ctx, head.Header.Revision); err != nil { // as `etcdctl compact` would
		t.Fatal(err)
	}
	// As upstream's watch cache: a watch from within the cache's window is
	// served from it though etcd compacted that history; one from before
	// the window (this control plane started long after revision 1) is
	// 410 Gone, and the client re-lists.
	w, err := cs.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: old})
	if err != nil {
		t.Fatalf("watch from resourceVersion %s, compacted in etcd but in the watch cache: %v", old, err)
	}
	for i := range 3 {
		select {
		case ev := <-w.ResultChan():
			cm, ok := ev.Object.(*corev1.ConfigMap)
			if ev.Type != watch.Added || !ok || cm.Name != fmt.Sprintf("cm%d", i) {
				t.Fatalf("watch from %s: event %d is %s %#v, want ADDED cm%d", old, i, ev.Type, ev.Object, i)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("watch from %s: no event %d", old, i)
		}
	}
	w.Stop()
	_, err = cs.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: "1"})
	if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("watch from resourceVersion 1, before the watch cache and compacted: %v, want 410 Gone", err)
	}
	if se, ok := err.(apierrors.APIStatus); !ok || se.Status().Code != 410 {
		t.Fatalf("watch from compacted resourceVersion: %v, want HTTP 410", err)
	}
	list, err = cs.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, cm := range list.Items {
		names = append(names, cm.Name)
	}
	if !strings.Contains(strings.Join(names, ","), "cm0,cm1,cm2") {
		t.Fatalf("relist: %v", names)
	}
	w, err = cs.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatalf("watch from the relist's resourceVersion: %v", err)
	}
	defer w.Stop()
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "after"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		cm, ok := ev.Object.(*corev1.ConfigMap)
		if ev.Type != watch.Added || !ok || cm.Name != "after" {
			t.Fatalf("after relist: %v %+v", ev.Type, ev.Object)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no event after relist")
	}

	// etcd unavailable: API calls fail with 503 within the request
	// timeout, and recover by themselves when it is back; the open watch
	// resumes where it was, across the restart.
	srv.Stop()
	_, err = cs.CoreV1().ConfigMaps("default").Get(ctx, "cm0", metav1.GetOptions{})
	if !apierrors.IsServiceUnavailable(err) {
		t.Fatalf("GET while etcd is down: %v, want 503", err)
	}
	srv.Restart()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "after-restart"}}, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("API writes did not recover after etcd came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case ev, ok := <-w.ResultChan():
		cm, isCM := ev.Object.(*corev1.ConfigMap)
		if !ok || ev.Type != watch.Added || !isCM || cm.Name != "after-restart" {
			t.Fatalf("watch across the etcd restart: %v %v %+v", ok, ev.Type, ev.Object)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the watch opened before the etcd restart saw nothing after it")
	}

	// The completed pod was not run again by the second control plane.
	got, err = cs.CoreV1().Pods("default").Get(ctx, "hello", metav1.GetOptions{})
	if err != nil || got.Status.Phase != corev1.PodSucceeded || got.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Fatalf("pod after the second control plane ran a while: %v %+v", err, got.Status)
	}
}

// TestEtcdStoreConfigErrors: a wrong etcd configuration fails New with an
// error naming what is wrong, and does not hang.
func TestEtcdStoreConfigErrors(t *testing.T) {
	ctx := context.Background()
	_, err := wasmpod.New(ctx, wasmpod.Config{Store: wasmpod.StoreEtcd, CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "Etcd.Servers") {
		t.Fatalf("etcd store without servers: %v", err)
	}
	_, err = wasmpod.New(ctx, wasmpod.Config{Store: wasmpod.StoreBbolt, Etcd: wasmpod.EtcdConfig{Servers: []string{"http://127.0.0.1:1"}}, CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "Etcd.Servers") {
		t.Fatalf("bbolt store with etcd servers: %v", err)
	}
	_, err = wasmpod.New(ctx, wasmpod.Config{Etcd: wasmpod.EtcdConfig{Servers: []string{"http://127.0.0.1:1"}, CAFile: filepath.Join(t.TempDir(), "nope.pem")}, CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "nope.pem") {
		t.Fatalf("missing etcd CA file: %v", err)
	}
}
