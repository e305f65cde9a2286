package apiserver

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/wasmpod/wasmpod/store"
)

// collectEvents reads n events from w, or fails after 20 s.
func collectEvents(t testing.TB, w watch.Interface, n int) []watch.Event {
	t.Helper()
	var out []watch.Event
	timeout := time.After(20 * time.Second)
	for len(out) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed after %d of %d events", len(out), n)
			}
			out = append(out, ev)
		case <-timeout:
			t.Fatalf("%d of %d events after 20 s", len(out), n)
		}
	}
	return out
}

// TestWatchEventsDecodedOnce: each store event is decoded once however many
// watch it (JSON and protobuf client-go watchers, field-selected watchers
// that filter it out, Server.Watch callers), every watcher still gets every
// event with its own resourceVersion and content, and Server.Watch's
// callers own their objects: changing one does not change what another
// watcher receives.
func TestWatchEventsDecodedOnce(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	ctx := context.Background()
	cs := e.client(t, "in-process")
	pb := rest.CopyConfig(e.modes["in-process"])
	pb.ContentType = "application/vnd.kubernetes.protobuf"
	pbcs, err := kubernetes.NewForConfig(pb)
	if err != nil {
		t.Fatal(err)
	}
	pod, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x.wasm"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	from := metav1.ListOptions{ResourceVersion: pod.ResourceVersion}
	var clients []watch.Interface // every one sees every event
	for _, c := range []*kubernetes.Clientset{cs, cs, cs, pbcs, pbcs} {
		w, err := c.CoreV1().Pods("default").Watch(ctx, from)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		clients = append(clients, w)
	}
	others := metav1.ListOptions{ResourceVersion: pod.ResourceVersion, FieldSelector: "spec.nodeName=elsewhere"}
	for range 3 { // decode every event, match none
		w, err := cs.CoreV1().Pods("").Watch(ctx, others)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
	}
	r, _ := e.s.Resource("", "pods")
	var direct []watch.Interface
	for range 2 {
		w, err := e.s.Watch(ctx, r, "default", from)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		direct = append(direct, w)
	}
	time.Sleep(100 * time.Millisecond) // the HTTP watches are open before the writes
	before := e.s.watchDecodes.Load()
	const n = 20
	var rvs []string
	for i := range n {
		pod.Labels = map[string]string{"i": strconv.Itoa(i)}
		if pod, err = cs.CoreV1().Pods("default").Update(ctx, pod, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		rvs = append(rvs, pod.ResourceVersion)
	}
	check := func(who string, evs []watch.Event) {
		t.Helper()
		for i, ev := range evs {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || ev.Type != watch.Modified {
				t.Fatalf("%s: event %d is %s %T", who, i, ev.Type, ev.Object)
			}
			if p.ResourceVersion != rvs[i] || p.Labels["i"] != strconv.Itoa(i) || p.Name != "p" || p.Spec.Containers[0].Image != "x.wasm" {
				t.Fatalf("%s: event %d has rv %s labels %v, want rv %s label i=%d", who, i, p.ResourceVersion, p.Labels, rvs[i], i)
			}
		}
	}
	// The first Server.Watch caller scribbles over what it got.
	for _, ev := range collectEvents(t, direct[0], n) {
		p := ev.Object.(*corev1.Pod)
		p.Labels["i"] = "scribbled"
		p.ResourceVersion = "1"
		p.Spec.Containers[0].Image = "scribbled.wasm"
	}
	check("Server.Watch", collectEvents(t, direct[1], n))
	for i, w := range clients {
		check(fmt.Sprintf("client %d", i), collectEvents(t, w, n))
	}
	if got := e.s.watchDecodes.Load() - before; got != n {
		t.Errorf("%d decodes for %d events watched 10 times, want %d", got, n, n)
	}
}

// TestCachedCopy: a write path's read of an object at the revision the
// watch cache holds is a private copy of the cache's decoded object (no
// JSON decode); another key's value under the same revision is not taken
// for it.
func TestCachedCopy(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	ctx := context.Background()
	cs := e.client(t, "in-process")
	cm, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"},
		Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := e.s.Resource("", "configmaps")
	kv, err := e.s.store.Get(ctx, r.key("default", "c"))
	if err != nil || strconv.FormatInt(kv.ModRevision, 10) != cm.ResourceVersion {
		t.Fatalf("store: %v, revision %d, want %s", err, kv.ModRevision, cm.ResourceVersion)
	}
	c := e.s.cacherFor(r)
	var se *sharedEvent
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c.current(kv.Key, kv.ModRevision) == nil {
			c.mu.RLock()
			if o := c.objs[kv.Key]; o != nil {
				o.decode() // configmaps are decoded on first use
			}
			c.mu.RUnlock()
		}
		if se = c.current(kv.Key, kv.ModRevision); se != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watch cache has not decoded the configmap after 20 s")
		}
	}
	before := e.s.watchDecodes.Load()
	obj, err := e.s.decode(r, kv)
	if err != nil || obj == se.obj || !equality.Semantic.DeepEqual(obj, se.obj) || e.s.watchDecodes.Load() != before {
		t.Fatalf("decode of a cached revision: %v, same object %v", err, obj == se.obj)
	}
	obj.(*corev1.ConfigMap).Data["k"] = "changed"
	if se.obj.(*corev1.ConfigMap).Data["k"] != "v" {
		t.Fatal("decode returned the shared object")
	}
	other := store.KV{Key: r.key("default", "other"), ModRevision: kv.ModRevision,
		Value: []byte(`{"metadata":{"name":"other","namespace":"default"},"data":{"k":"other"}}`)}
	if obj, err := e.s.decode(r, other); err != nil || obj.(*corev1.ConfigMap).Data["k"] != "other" {
		t.Fatalf("decode of another key under the same revision: %v %v", obj, err)
	}
}

var _ runtime.Object = (*sharedEvent)(nil)
