package apiserver

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/wasmpod/wasmpod/store"
	"github.com/wasmpod/wasmpod/store/bbolt"
	"github.com/wasmpod/wasmpod/store/etcd"
	"github.com/wasmpod/wasmpod/store/etcd/etcdtest"
	"github.com/wasmpod/wasmpod/store/memory"
)

// listCounting is a real store whose Lists are counted, to tell a LIST
// the cache served from one the store did.
type listCounting struct {
	store.Store
	lists atomic.Int64
}

func (l *listCounting) List(ctx context.Context, prefix string) ([]store.KV, int64, error) {
	l.lists.Add(1)
	return l.Store.List(ctx, prefix)
}

// cacherStores opens each backend with a short history (100 revisions),
// so that a store watch held back is compacted.
func cacherStores(t *testing.T) map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"memory": func(t *testing.T) store.Store {
			st := memory.NewWithOptions(memory.Options{History: 100})
			t.Cleanup(func() { st.Close() })
			return st
		},
		"bbolt": func(t *testing.T) store.Store {
			st, err := bbolt.Open(filepath.Join(t.TempDir(), "db"), bbolt.Options{History: 100})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
		"etcd": func(t *testing.T) store.Store {
			srv := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
			st, err := etcd.Open(context.Background(), etcd.Options{Endpoints: srv.Endpoints(), History: 100, RequestTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
	}
}

// nextEvent is the watch's next event, or fails after 10 s.
func nextEvent(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event in 10 s")
	}
	return watch.Event{}
}

func evString(ev watch.Event) string {
	if st, ok := ev.Object.(*metav1.Status); ok {
		return fmt.Sprintf("%s %d %s", ev.Type, st.Code, st.Message)
	}
	m, _ := meta.Accessor(ev.Object)
	return fmt.Sprintf("%s %s app=%s", ev.Type, m.GetName(), m.GetLabels()["app"])
}

// noEvent checks that the watch has nothing for 200 ms.
func noEvent(t *testing.T, w watch.Interface) {
	t.Helper()
	select {
	case ev := <-w.ResultChan():
		t.Fatalf("unexpected event %s", evString(ev))
	case <-time.After(200 * time.Millisecond):
	}
}

func listNames(t *testing.T, obj runtime.Object) (names []string, rv string) {
	t.Helper()
	items, err := meta.ExtractList(obj)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		m, _ := meta.Accessor(it)
		names = append(names, m.GetName())
	}
	lm, _ := meta.ListAccessor(obj)
	return names, lm.GetResourceVersion()
}

// TestWatchCache runs the watch cache on memory, bbolt and a real etcd:
// LISTs at resourceVersion 0 and "" (consistent) come from the cache and
// see the last write, a node's watch is handed only its pods' events (with
// ADDED and DELETED as pods enter and leave its selector), a watch from a
// revision older than the ring is 410 Gone, a store watch that ends is
// resumed, and one whose history is gone is re-listed: its watchers end
// with 410 and the cache serves the new state.
func TestWatchCache(t *testing.T) {
	for name, open := range cacherStores(t) {
		t.Run(name, func(t *testing.T) {
			testWatchCache(t, open(t))
		})
	}
}

func testWatchCache(t *testing.T, backend store.Store) {
	ctx := context.Background()
	st := &listCounting{Store: backend}
	s, err := New(ctx, st, Options{WatchCacheEvents: 100})
	if err != nil {
		t.Fatal(err)
	}
	pods := res(t, s, "", "pods")
	pod := func(name, node, app string) *corev1.Pod {
		p := testPod(name)
		p.Spec.NodeName = node
		p.Labels["app"] = app
		return p
	}
	mustCreate := func(p *corev1.Pod) *corev1.Pod {
		t.Helper()
		obj, err := s.Create(ctx, pods, "default", p)
		if err != nil {
			t.Fatal(err)
		}
		return obj.(*corev1.Pod)
	}
	first := mustCreate(pod("a1", "n1", "web"))
	mustCreate(pod("b1", "n2", "web"))
	mustCreate(pod("u1", "", "web"))

	// LIST at 0 and consistent LIST, from memory.
	lists := st.lists.Load()
	for _, rv := range []string{"", "0"} { // "0" may be stale: after ""
		obj, err := s.List(ctx, pods, "default", metav1.ListOptions{ResourceVersion: rv})
		if err != nil {
			t.Fatal(err)
		}
		names, _ := listNames(t, obj)
		if !slices.Equal(names, []string{"a1", "b1", "u1"}) {
			t.Fatalf("LIST rv=%q: %v", rv, names)
		}
	}
	last := mustCreate(pod("a2", "n1", "web"))
	obj, err := s.List(ctx, pods, "", metav1.ListOptions{FieldSelector: "spec.nodeName=n1"})
	if err != nil {
		t.Fatal(err)
	}
	names, listRV := listNames(t, obj)
	if !slices.Equal(names, []string{"a1", "a2"}) {
		t.Fatalf("consistent LIST right after a write, node n1: %v", names)
	}
	if rv, _ := strconv.ParseInt(listRV, 10, 64); strconv.FormatInt(rv, 10) != listRV || rv < mustRV(t, last) {
		t.Fatalf("LIST resourceVersion %s older than the last write %s", listRV, last.ResourceVersion)
	}
	if n := st.lists.Load() - lists; n != 0 {
		t.Fatalf("%d store Lists for LISTs the cache serves", n)
	}

	// A node's watch: only its pods, transitions as ADDED/DELETED.
	w, err := s.Watch(ctx, pods, "default", metav1.ListOptions{ResourceVersion: listRV, FieldSelector: "spec.nodeName=n1", LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	c := s.cacherFor(pods)
	c.mu.RLock()
	var nw *cacheWatcher
	for cw := range c.byValue["n1"] {
		nw = cw
	}
	unindexed := len(c.unindexed)
	c.mu.RUnlock()
	if nw == nil || unindexed != 0 {
		t.Fatalf("the n1 watch is not under the index (unindexed %d)", unindexed)
	}
	mustCreate(pod("b2", "n2", "web")) // another node's: not handed
	u2 := mustCreate(pod("u2", "", "web"))
	if err := s.Bind(ctx, "default", &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "u2"}, Target: corev1.ObjectReference{Name: "n1"}}); err != nil {
		t.Fatal(err)
	}
	_ = u2
	if got := evString(nextEvent(t, w)); got != "ADDED u2 app=web" {
		t.Fatalf("a pod bound to n1: %s, want ADDED u2", got)
	}
	// a1 leaves the label selector: DELETED with its previous content at
	// the event's resourceVersion; then it comes back: ADDED.
	cur, _ := s.Get(ctx, pods, "default", "a1")
	a1 := cur.(*corev1.Pod)
	a1.Labels["app"] = "db"
	upd, err := s.Update(ctx, pods, "default", a1, "")
	if err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, w)
	if got := evString(ev); got != "DELETED a1 app=web" {
		t.Fatalf("a1 leaving the selector: %s, want DELETED a1 app=web", got)
	}
	if m, _ := meta.Accessor(ev.Object); m.GetResourceVersion() != upd.(*corev1.Pod).ResourceVersion {
		t.Fatalf("DELETED at rv %s, want the update's %s", m.GetResourceVersion(), upd.(*corev1.Pod).ResourceVersion)
	}
	a1 = upd.(*corev1.Pod)
	a1.Labels["app"] = "web"
	if _, err := s.Update(ctx, pods, "default", a1, ""); err != nil {
		t.Fatal(err)
	}
	if got := evString(nextEvent(t, w)); got != "ADDED a1 app=web" {
		t.Fatalf("a1 back in the selector: %s", got)
	}
	zero := int64(0)
	if _, err := s.Delete(ctx, pods, "default", "a2", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	if got := evString(nextEvent(t, w)); got != "DELETED a2 app=web" {
		t.Fatalf("a2 deleted: %s", got)
	}
	noEvent(t, w)
	// Handed: u2's creation is not (unbound: the "" watchers'); its
	// binding, a1's two updates and a2's deletion are: 4. b2 is not.
	if n := nw.handed.Load(); n != 4 {
		t.Fatalf("the n1 watcher was handed %d events, want 4", n)
	}

	// A watch from before the ring: 410 Gone.
	var lastX *corev1.Pod
	for i := range 120 { // past the ring (100; grown from 64)
		lastX = mustCreate(pod("x"+strconv.Itoa(i), "n3", "x"))
	}
	// Once the cache has applied them (a create does not wait for it).
	if rev, _ := strconv.ParseInt(lastX.ResourceVersion, 10, 64); !s.cache.waitFor(ctx, rev) {
		t.Fatalf("the cache has not reached revision %d", rev)
	}
	_, err = s.Watch(ctx, pods, "default", metav1.ListOptions{ResourceVersion: first.ResourceVersion})
	if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("watch from %s, older than the ring: %v, want 410", first.ResourceVersion, err)
	}
	if se, ok := err.(*apierrors.StatusError); !ok || se.ErrStatus.Code != 410 || !strings.Contains(se.ErrStatus.Message, "too old resource version") {
		t.Fatalf("watch from an old revision: %v", err)
	}

	// The store watch ends: it is resumed, the watcher sees no break.
	s.cache.cancelWatch()
	mustCreate(pod("a3", "n1", "web"))
	if got := evString(nextEvent(t, w)); got != "ADDED a3 app=web" {
		t.Fatalf("after the store watch was resumed: %s", got)
	}
	if n := s.cache.relists.Load(); n != 0 {
		t.Fatalf("%d re-lists for a resumable store watch", n)
	}

	// It ends and its history is compacted meanwhile: a re-list. The
	// watchers end with 410; the cache then has the writes made meanwhile.
	hold := make(chan struct{})
	s.cache.cancelMu.Lock()
	s.cache.hold = hold
	s.cache.cancelMu.Unlock()
	s.cache.cancelWatch()
	time.Sleep(50 * time.Millisecond)
	for i := range 150 {
		mustCreate(pod("y"+strconv.Itoa(i), "n4", "y"))
	}
	mustCreate(pod("a4", "n1", "web"))
	s.cache.cancelMu.Lock()
	s.cache.hold = nil
	s.cache.cancelMu.Unlock()
	close(hold)
	ev = nextEvent(t, w)
	if st, ok := ev.Object.(*metav1.Status); ev.Type != watch.Error || !ok || st.Code != 410 {
		t.Fatalf("a watcher of a re-listed cache: %s, want ERROR 410", evString(ev))
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.cache.relists.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.cache.relists.Load(); n != 1 {
		t.Fatalf("%d re-lists", n)
	}
	// Once the whole re-list is done: it lists every resource in turn, and
	// those store LISTs must not be counted as this LIST's.
	for (!c.isReady() || !s.cache.live.Load()) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	lists = st.lists.Load()
	obj, err = s.List(ctx, pods, "default", metav1.ListOptions{ResourceVersion: "0", FieldSelector: "spec.nodeName=n1"})
	if err != nil {
		t.Fatal(err)
	}
	names, listRV = listNames(t, obj)
	if !slices.Equal(names, []string{"a1", "a3", "a4", "u2"}) || st.lists.Load() != lists {
		t.Fatalf("LIST of the re-listed cache: %v (store lists %d)", names, st.lists.Load()-lists)
	}
	// And it keeps following the store.
	w2, err := s.Watch(ctx, pods, "default", metav1.ListOptions{ResourceVersion: listRV, FieldSelector: "spec.nodeName=n1"})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	mustCreate(pod("a5", "n1", "web"))
	if got := evString(nextEvent(t, w2)); got != "ADDED a5 app=web" {
		t.Fatalf("after the re-list: %s", got)
	}
}

func mustRV(t *testing.T, p *corev1.Pod) int64 {
	t.Helper()
	rv, err := strconv.ParseInt(p.ResourceVersion, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return rv
}

// TestWatchCacheBookmarks: with allowWatchBookmarks a cache watcher gets a
// BOOKMARK of the cache's revision (not older than the last event it got)
// every bookmark interval, and none without it; sendInitialEvents ends the
// initial objects with the annotated bookmark.
func TestWatchCacheBookmarks(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	pods := res(t, s, "", "pods")
	s.cache.bookmarkEvery = 100 * time.Millisecond
	yes := true
	w, err := s.Watch(ctx, pods, "default", metav1.ListOptions{SendInitialEvents: &yes, AllowWatchBookmarks: true, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	plain, err := s.Watch(ctx, pods, "default", metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Stop()
	ev := nextEvent(t, w)
	if m, _ := meta.Accessor(ev.Object); ev.Type != watch.Bookmark || m.GetAnnotations()[metav1.InitialEventsAnnotationKey] != "true" {
		t.Fatalf("first event %s, want the initial-events-end bookmark", ev.Type)
	}
	obj, err := s.Create(ctx, pods, "default", testPod("p"))
	if err != nil {
		t.Fatal(err)
	}
	created := mustRV(t, obj.(*corev1.Pod))
	if ev := nextEvent(t, w); ev.Type != watch.Added {
		t.Fatalf("got %s, want ADDED p", ev.Type)
	}
	ev = nextEvent(t, w)
	m, _ := meta.Accessor(ev.Object)
	rv, _ := strconv.ParseInt(m.GetResourceVersion(), 10, 64)
	if ev.Type != watch.Bookmark || rv < created {
		t.Fatalf("got %s at %s, want a BOOKMARK at >= %d", ev.Type, m.GetResourceVersion(), created)
	}
	if ev := nextEvent(t, plain); ev.Type != watch.Added {
		t.Fatalf("watch without bookmarks: %s, want ADDED p", ev.Type)
	}
	noEvent(t, plain)
}
