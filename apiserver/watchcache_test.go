package apiserver

import (
	"context"
	"fmt"
	"strconv"
	"strings"
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
	before := e.s.watchEvents.decodes.Load()
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
	if got := e.s.watchEvents.decodes.Load() - before; got != n {
		t.Errorf("%d decodes for %d events watched 10 times, want %d", got, n, n)
	}
}

// TestWatchCacheBounds: the shared events kept are bounded by count and by
// bytes; an event too large to keep is decoded for each watcher.
func TestWatchCacheBounds(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	r, _ := e.s.Resource("", "configmaps")
	c := &e.s.watchEvents
	kv := func(rev int64, size int) store.KV {
		return store.KV{Key: "/configmaps/default/c" + strconv.FormatInt(rev, 10), ModRevision: rev,
			Value: []byte(`{"metadata":{"name":"c"},"data":{"k":"` + strings.Repeat("x", size) + `"}}`)}
	}
	for i := range int64(2 * watchCacheEntries) {
		e.s.decoded(r, kv(1000+i, 10))
	}
	c.mu.Lock()
	n, m := c.n, len(c.byRev)
	c.mu.Unlock()
	if n != watchCacheEntries || m != watchCacheEntries {
		t.Fatalf("%d kept (%d by revision), want %d", n, m, watchCacheEntries)
	}
	for i := range int64(2 * watchCacheBytes / (200 << 10)) {
		e.s.decoded(r, kv(5000+i, 200<<10))
	}
	c.mu.Lock()
	b := c.bytes
	c.mu.Unlock()
	if b > watchCacheBytes || b < watchCacheBytes/2 {
		t.Fatalf("%d bytes kept, want at most %d (and most of it used)", b, watchCacheBytes)
	}
	before := c.decodes.Load()
	big := kv(9000, watchCacheBytes/8)
	a, a2 := e.s.decoded(r, big), e.s.decoded(r, big)
	if a == a2 || c.decodes.Load()-before != 2 {
		t.Fatalf("a %d-byte event was kept", len(big.Value))
	}
	if cm, ok := a.obj.(*corev1.ConfigMap); !ok || len(cm.Data["k"]) != watchCacheBytes/8 || cm.ResourceVersion != "9000" {
		t.Fatalf("decoded %T", a.obj)
	}
	small := kv(9001, 10)
	se := e.s.decoded(r, small)
	if se != e.s.decoded(r, small) {
		t.Fatal("a small event was decoded twice")
	}
	// The write paths' decode of a revision a watcher decoded is a copy.
	before = c.decodes.Load()
	obj, err := e.s.decode(r, small)
	if err != nil || obj == se.obj || !equality.Semantic.DeepEqual(obj, se.obj) || c.decodes.Load() != before {
		t.Fatalf("decode of a watched revision: %v, same object %v", err, obj == se.obj)
	}
	obj.(*corev1.ConfigMap).Data["k"] = "changed"
	if se.obj.(*corev1.ConfigMap).Data["k"] == "changed" {
		t.Fatal("decode returned the shared object")
	}
	// Another key's value under the same revision is not taken for it.
	other := kv(9001, 12)
	other.Key = "/configmaps/default/other"
	if obj, err := e.s.decode(r, other); err != nil || len(obj.(*corev1.ConfigMap).Data["k"]) != 12 {
		t.Fatalf("decode of another key: %v", err)
	}
}

var _ runtime.Object = (*sharedEvent)(nil)
