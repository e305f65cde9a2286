package apiserver

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/wasmpod/wasmpod/store"
	"github.com/wasmpod/wasmpod/store/bbolt"
	"github.com/wasmpod/wasmpod/store/memory"
)

func newServer(t *testing.T) (*Server, *clocktesting.FakeClock) {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	s, err := New(context.Background(), st, Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return s, clk
}

// newBboltServer is a Server with its default options over a bbolt file in
// t.TempDir().
func newBboltServer(t *testing.T) *Server {
	t.Helper()
	st, err := bbolt.Open(filepath.Join(t.TempDir(), "wasmpod.db"), bbolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := New(context.Background(), st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x.wasm"}}},
	}
}

func res(t *testing.T, s *Server, group, name string) *Resource {
	r, ok := s.Resource(group, name)
	if !ok {
		t.Fatalf("no resource %s/%s", group, name)
	}
	return r
}

func TestCreateDefaultsAndIdentity(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	pods := res(t, s, "", "pods")
	p := testPod("")
	p.GenerateName = "web-"
	obj, err := s.Create(ctx, pods, "default", p)
	if err != nil {
		t.Fatal(err)
	}
	got := obj.(*corev1.Pod)
	if len(got.Name) != len("web-")+5 || got.UID == "" || got.ResourceVersion == "" || got.CreationTimestamp.IsZero() {
		t.Fatalf("identity not set: %+v", got.ObjectMeta)
	}
	if got.Spec.RestartPolicy != corev1.RestartPolicyAlways || got.Status.Phase != corev1.PodPending || got.Namespace != "default" {
		t.Fatalf("defaults not applied: %v %v %q", got.Spec.RestartPolicy, got.Status.Phase, got.Namespace)
	}
	if _, err := s.Create(ctx, pods, "default", testPod(got.Name)); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: %v", err)
	}
	if _, err := s.Create(ctx, pods, "nope", testPod("x")); !apierrors.IsNotFound(err) {
		t.Fatalf("create in a missing namespace: %v", err)
	}
}

func TestInvalidPodMessage(t *testing.T) {
	s, _ := newServer(t)
	p := testPod("x")
	p.Spec.Containers[0].Image = ""
	_, err := s.Create(context.Background(), res(t, s, "", "pods"), "default", p)
	if !apierrors.IsInvalid(err) {
		t.Fatalf("want Invalid, got %v", err)
	}
	if want := `Pod "x" is invalid: spec.containers[0].image: Required value`; err.Error() != want {
		t.Fatalf("message %q, want %q", err.Error(), want)
	}
}

func TestUpdateConflictAndStatus(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	pods := res(t, s, "", "pods")
	obj, err := s.Create(ctx, pods, "default", testPod("a"))
	if err != nil {
		t.Fatal(err)
	}
	p := obj.(*corev1.Pod)
	stale := p.DeepCopy()

	// The main resource ignores status; /status ignores spec, and takes a
	// pod's labels and annotations as upstream's podStatusStrategy does
	// (conformance: "Pods should patch a pod status").
	p.Labels["tier"] = "front"
	p.Status.Phase = corev1.PodRunning
	obj, err = s.Update(ctx, pods, "default", p, "")
	if err != nil {
		t.Fatal(err)
	}
	up := obj.(*corev1.Pod)
	if up.Labels["tier"] != "front" || up.Status.Phase != corev1.PodPending {
		t.Fatalf("main update: labels %v phase %v", up.Labels, up.Status.Phase)
	}
	if _, err := s.Update(ctx, pods, "default", stale, ""); !apierrors.IsConflict(err) {
		t.Fatalf("stale update: %v", err)
	}
	up.Status.Phase = corev1.PodRunning
	up.Labels["tier"] = "back"
	obj, err = s.Update(ctx, pods, "default", up, "status")
	if err != nil {
		t.Fatal(err)
	}
	if st := obj.(*corev1.Pod); st.Status.Phase != corev1.PodRunning || st.Labels["tier"] != "back" {
		t.Fatalf("status update: phase %v labels %v", st.Status.Phase, st.Labels)
	}
	// Pod spec is immutable apart from images and a few fields.
	cur, _ := s.Get(ctx, pods, "default", "a")
	cp := cur.(*corev1.Pod)
	cp.Spec.Containers[0].WorkingDir = "/x"
	if _, err := s.Update(ctx, pods, "default", cp, ""); !apierrors.IsInvalid(err) {
		t.Fatalf("spec change: %v", err)
	}
	cp.Spec.Containers[0].WorkingDir = ""
	cp.Spec.Containers[0].Image = "y.wasm"
	if _, err := s.Update(ctx, pods, "default", cp, ""); err != nil {
		t.Fatalf("image change: %v", err)
	}
}

func TestGracefulPodDeletion(t *testing.T) {
	s, clk := newServer(t)
	ctx := context.Background()
	pods := res(t, s, "", "pods")
	// An unbound pod goes at once.
	s.Create(ctx, pods, "default", testPod("unbound"))
	if _, err := s.Delete(ctx, pods, "default", "unbound", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, pods, "default", "unbound"); !apierrors.IsNotFound(err) {
		t.Fatalf("unbound pod still there: %v", err)
	}
	// A bound pod is marked; the node agent finalises it.
	obj, _ := s.Create(ctx, pods, "default", testPod("bound"))
	if err := s.Bind(ctx, "default", &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "bound"}, Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(ctx, "default", &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "bound"}, Target: corev1.ObjectReference{Kind: "Node", Name: "n2"}}); !apierrors.IsConflict(err) {
		t.Fatalf("second bind: %v", err)
	}
	obj, err := s.Delete(ctx, pods, "default", "bound", metav1.DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := obj.(*corev1.Pod)
	if p.DeletionTimestamp == nil || *p.DeletionGracePeriodSeconds != 30 || !p.DeletionTimestamp.Time.Equal(clk.Now().Add(30*time.Second)) {
		t.Fatalf("graceful delete marks: %v %v", p.DeletionTimestamp, p.DeletionGracePeriodSeconds)
	}
	// A shorter grace period shortens it; a longer one does not.
	ten, sixty := int64(10), int64(60)
	obj, _ = s.Delete(ctx, pods, "default", "bound", metav1.DeleteOptions{GracePeriodSeconds: &ten})
	if g := *obj.(*corev1.Pod).DeletionGracePeriodSeconds; g != 10 {
		t.Fatalf("grace %d, want 10", g)
	}
	obj, _ = s.Delete(ctx, pods, "default", "bound", metav1.DeleteOptions{GracePeriodSeconds: &sixty})
	if g := *obj.(*corev1.Pod).DeletionGracePeriodSeconds; g != 10 {
		t.Fatalf("grace %d, want still 10", g)
	}
	// The node agent's final delete: grace 0 with the UID precondition.
	zero, wrong := int64(0), p.UID+"x"
	if _, err := s.Delete(ctx, pods, "default", "bound", metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &wrong}}); !apierrors.IsConflict(err) {
		t.Fatalf("wrong UID precondition: %v", err)
	}
	if _, err := s.Delete(ctx, pods, "default", "bound", metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &p.UID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, pods, "default", "bound"); !apierrors.IsNotFound(err) {
		t.Fatalf("pod still there: %v", err)
	}
}

func TestFinalizers(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	cms := res(t, s, "", "configmaps")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Finalizers: []string{"example.com/hold"}}}
	if _, err := s.Create(ctx, cms, "default", cm); err != nil {
		t.Fatal(err)
	}
	obj, err := s.Delete(ctx, cms, "default", "c", metav1.DeleteOptions{})
	if err != nil || obj.(*corev1.ConfigMap).DeletionTimestamp == nil {
		t.Fatalf("delete with finalizer: %v", err)
	}
	obj, _ = s.Get(ctx, cms, "default", "c")
	held := obj.(*corev1.ConfigMap)
	held.Finalizers = nil
	if _, err := s.Update(ctx, cms, "default", held, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, cms, "default", "c"); !apierrors.IsNotFound(err) {
		t.Fatalf("object should be gone after its last finalizer: %v", err)
	}
}

func TestListSelectors(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	pods := res(t, s, "", "pods")
	for _, n := range []string{"a", "b", "c"} {
		p := testPod(n)
		if n == "c" {
			p.Labels["app"] = "db"
		}
		s.Create(ctx, pods, "default", p)
	}
	s.Bind(ctx, "default", &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Target: corev1.ObjectReference{Name: "n1"}})
	names := func(opts metav1.ListOptions) []string {
		obj, err := s.List(ctx, pods, "default", opts)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range obj.(*corev1.PodList).Items {
			out = append(out, p.Name)
		}
		return out
	}
	if got := names(metav1.ListOptions{LabelSelector: "app=web"}); len(got) != 2 {
		t.Fatalf("app=web: %v", got)
	}
	if got := names(metav1.ListOptions{LabelSelector: "app in (db)"}); len(got) != 1 || got[0] != "c" {
		t.Fatalf("app in (db): %v", got)
	}
	if got := names(metav1.ListOptions{FieldSelector: "spec.nodeName=n1"}); len(got) != 1 || got[0] != "b" {
		t.Fatalf("spec.nodeName=n1: %v", got)
	}
	if got := names(metav1.ListOptions{FieldSelector: "status.phase=Pending,metadata.name!=a"}); len(got) != 2 {
		t.Fatalf("phase+name: %v", got)
	}
	if _, err := s.List(ctx, pods, "default", metav1.ListOptions{FieldSelector: "spec.bogus=1"}); !apierrors.IsBadRequest(err) {
		t.Fatalf("unsupported field: %v", err)
	}
	if _, err := s.List(ctx, pods, "default", metav1.ListOptions{LabelSelector: "a in ("}); !apierrors.IsBadRequest(err) {
		t.Fatalf("bad label selector: %v", err)
	}
}

func collect(t *testing.T, w watch.Interface, n int) []watch.Event {
	t.Helper()
	var out []watch.Event
	timeout := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed after %d events", len(out))
			}
			out = append(out, ev)
		case <-timeout:
			t.Fatalf("got %d of %d events", len(out), n)
		}
	}
	return out
}

func TestWatch(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	pods := res(t, s, "", "pods")
	obj, _ := s.Create(ctx, pods, "default", testPod("a"))
	rv := obj.(*corev1.Pod).ResourceVersion

	// From a resourceVersion: only what came after.
	w, err := s.Watch(ctx, pods, "default", metav1.ListOptions{ResourceVersion: rv})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// With a field selector, a pod leaving the selection is a DELETED event.
	ws, err := s.Watch(ctx, pods, "", metav1.ListOptions{FieldSelector: "status.phase=Pending"})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Stop()

	s.Create(ctx, pods, "default", testPod("b"))
	cur, _ := s.Get(ctx, pods, "default", "a")
	p := cur.(*corev1.Pod)
	p.Status.Phase = corev1.PodRunning
	s.Update(ctx, pods, "default", p, "status")
	s.Delete(ctx, pods, "default", "b", metav1.DeleteOptions{})

	evs := collect(t, w, 3)
	want := []struct {
		typ  watch.EventType
		name string
	}{{watch.Added, "b"}, {watch.Modified, "a"}, {watch.Deleted, "b"}}
	for i, ev := range evs {
		if ev.Type != want[i].typ || ev.Object.(*corev1.Pod).Name != want[i].name {
			t.Errorf("event %d: %s %s, want %s %s", i, ev.Type, ev.Object.(*corev1.Pod).Name, want[i].typ, want[i].name)
		}
	}
	// The selector watch starts with the current state (a), then b added,
	// a leaving Pending, b deleted.
	sevs := collect(t, ws, 4)
	got := ""
	for _, ev := range sevs {
		got += string(ev.Type) + ":" + ev.Object.(*corev1.Pod).Name + " "
	}
	if got != "ADDED:a ADDED:b DELETED:a DELETED:b " {
		t.Fatalf("selector watch: %s", got)
	}
}

func TestWatchInitialEventsBookmark(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	pods := res(t, s, "", "pods")
	s.Create(ctx, pods, "default", testPod("a"))
	yes := true
	w, err := s.Watch(ctx, pods, "default", metav1.ListOptions{SendInitialEvents: &yes, AllowWatchBookmarks: true, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	evs := collect(t, w, 2)
	if evs[0].Type != watch.Added || evs[1].Type != watch.Bookmark {
		t.Fatalf("events %s %s", evs[0].Type, evs[1].Type)
	}
	m := evs[1].Object.(*corev1.Pod)
	if m.Annotations[metav1.InitialEventsAnnotationKey] != "true" || m.ResourceVersion == "" {
		t.Fatalf("bookmark %+v", m.ObjectMeta)
	}
}

func TestPersistsAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wasmpod.db")
	ctx := context.Background()
	open := func() (*Server, store.Store) {
		st, err := bbolt.Open(path, bbolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(ctx, st, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s, st
	}
	s, st := open()
	obj, err := s.Create(ctx, res(t, s, "", "pods"), "default", testPod("kept"))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	s, st = open()
	defer st.Close()
	got, err := s.Get(ctx, res(t, s, "", "pods"), "default", "kept")
	if err != nil {
		t.Fatal(err)
	}
	if got.(*corev1.Pod).UID != obj.(*corev1.Pod).UID {
		t.Fatal("UID changed across restart")
	}
}

var _ runtime.Object = (*corev1.Pod)(nil)

func TestNamespaceDeletion(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	nss := res(t, s, "", "namespaces")
	if _, err := s.Delete(ctx, nss, "", "default", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("deleting default: %v", err)
	}
	if _, err := s.Create(ctx, nss, "", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, res(t, s, "", "configmaps"), "team", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}); err != nil {
		t.Fatal(err)
	}
	obj, err := s.Delete(ctx, nss, "", "team", metav1.DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns := obj.(*corev1.Namespace); ns.Status.Phase != corev1.NamespaceTerminating || ns.DeletionTimestamp == nil {
		t.Fatalf("namespace after delete: %v %v", ns.Status.Phase, ns.DeletionTimestamp)
	}
	if _, err := s.Create(ctx, res(t, s, "", "configmaps"), "team", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "d"}}); !apierrors.IsForbidden(err) {
		t.Fatalf("create in a terminating namespace: %v", err)
	}
	if err := s.FinalizeNamespace(ctx, "team"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, nss, "", "team"); !apierrors.IsNotFound(err) {
		t.Fatalf("namespace still there after finalize: %v", err)
	}
}
