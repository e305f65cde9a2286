package apiserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"
	"k8s.io/utils/ptr"

	"github.com/wasmpod/wasmpod/store/memory"
)

// fakeNode is a NodeConnector: exec echoes stdin to stdout, writes the
// command to stderr and exits with the code named by "exit=N"; logs write
// "first" at once and, with follow, "second" once release is closed.
type fakeNode struct {
	release chan struct{}
}

func (f *fakeNode) Logs(ctx context.Context, pod *corev1.Pod, opts *corev1.PodLogOptions, w io.Writer) error {
	fmt.Fprintf(w, "first %s/%s\n", pod.Name, opts.Container)
	if !opts.Follow {
		return nil
	}
	select {
	case <-f.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	fmt.Fprintf(w, "second\n")
	return nil
}

func (f *fakeNode) Exec(ctx context.Context, pod *corev1.Pod, opts *corev1.PodExecOptions, st ExecStreams) (int, error) {
	if st.Stderr != nil {
		fmt.Fprintf(st.Stderr, "ran %s", strings.Join(opts.Command, " "))
	}
	if st.Stdin != nil && st.Stdout != nil {
		if _, err := io.Copy(st.Stdout, st.Stdin); err != nil {
			return 0, err
		}
	}
	code := 0
	for _, a := range opts.Command {
		fmt.Sscanf(a, "exit=%d", &code)
	}
	return code, nil
}

type env struct {
	s      *Server
	h      http.Handler
	srv    *httptest.Server
	modes  map[string]*rest.Config // "http" and "in-process"
	node   *fakeNode
	cancel context.CancelFunc

	mu   sync.Mutex
	reqs []string // request URIs seen, in order
}

func (e *env) requests() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.reqs, "\n")
}

func newEnv(t testing.TB, opts HandlerOptions) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, memory.New(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{s: s, node: &fakeNode{release: make(chan struct{})}, cancel: cancel}
	inner := s.Handler(opts)
	e.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.reqs = append(e.reqs, r.Method+" "+r.URL.RequestURI())
		e.mu.Unlock()
		inner.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(e.h)
	e.srv = srv
	e.modes = map[string]*rest.Config{
		"http":       TCPConfig(srv.URL, opts.Token),
		"in-process": s.InProcessConfig(e.h),
	}
	if opts.Token != "" {
		e.modes["in-process"].BearerToken = opts.Token
	}
	s.RegisterNode("node-1", e.node)
	t.Cleanup(func() { cancel(); srv.CloseClientConnections(); srv.Close() })
	return e
}

func (e *env) client(t testing.TB, mode string) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(e.modes[mode])
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func forModes(t *testing.T, f func(t *testing.T, e *env, cs *kubernetes.Clientset)) {
	for _, mode := range []string{"http", "in-process"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, HandlerOptions{})
			f(t, e, e.client(t, mode))
		})
	}
}

func httpPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "app.wasm"}}},
	}
}

func wantStatus(t *testing.T, err error, code int32, reason metav1.StatusReason, msg string) {
	t.Helper()
	var se apierrors.APIStatus
	if !errors.As(err, &se) {
		t.Fatalf("want a Status error %d %s, got %v", code, reason, err)
	}
	st := se.Status()
	if st.Code != code || st.Reason != reason {
		t.Fatalf("want %d %s, got %d %s: %s", code, reason, st.Code, st.Reason, st.Message)
	}
	if msg != "" && st.Message != msg {
		t.Fatalf("message:\n got %q\nwant %q", st.Message, msg)
	}
}

func TestClientGoPods(t *testing.T) {
	forModes(t, func(t *testing.T, e *env, cs *kubernetes.Clientset) {
		ctx := context.Background()
		pods := cs.CoreV1().Pods("default")
		p, err := pods.Create(ctx, httpPod("a"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.UID == "" || p.ResourceVersion == "" || p.Status.Phase != corev1.PodPending {
			t.Fatalf("created pod lacks uid/rv/phase: %+v", p.ObjectMeta)
		}
		if _, err := pods.Create(ctx, httpPod("a"), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
			t.Fatalf("second create: %v", err)
		}
		// 422 with the upstream message.
		bad := httpPod("x")
		bad.Spec.Containers[0].Image = ""
		_, err = pods.Create(ctx, bad, metav1.CreateOptions{})
		wantStatus(t, err, 422, metav1.StatusReasonInvalid, `Pod "x" is invalid: spec.containers[0].image: Required value`)
		// 404.
		_, err = pods.Get(ctx, "nope", metav1.GetOptions{})
		wantStatus(t, err, 404, metav1.StatusReasonNotFound, `pods "nope" not found`)

		got, err := pods.Get(ctx, "a", metav1.GetOptions{})
		if err != nil || got.UID != p.UID {
			t.Fatalf("get: %v %v", got, err)
		}
		// Update, then a 409 with the stale copy.
		got.Labels["tier"] = "front"
		upd, err := pods.Update(ctx, got, metav1.UpdateOptions{})
		if err != nil || upd.Labels["tier"] != "front" || upd.ResourceVersion == p.ResourceVersion {
			t.Fatalf("update: %v %v", upd, err)
		}
		_, err = pods.Update(ctx, got, metav1.UpdateOptions{})
		wantStatus(t, err, 409, metav1.StatusReasonConflict, "")
		if !strings.Contains(err.Error(), "the object has been modified") {
			t.Fatalf("conflict message: %v", err)
		}
		// The three patch types.
		pp, err := pods.Patch(ctx, "a", types.MergePatchType, []byte(`{"metadata":{"labels":{"merge":"yes"}}}`), metav1.PatchOptions{})
		if err != nil || pp.Labels["merge"] != "yes" || pp.Labels["tier"] != "front" {
			t.Fatalf("merge patch: %v %v", pp, err)
		}
		pp, err = pods.Patch(ctx, "a", types.StrategicMergePatchType,
			[]byte(`{"spec":{"containers":[{"name":"main","image":"v2.wasm"}]}}`), metav1.PatchOptions{})
		if err != nil || len(pp.Spec.Containers) != 1 || pp.Spec.Containers[0].Image != "v2.wasm" {
			t.Fatalf("strategic patch: %+v %v", pp.Spec.Containers, err)
		}
		pp, err = pods.Patch(ctx, "a", types.JSONPatchType,
			[]byte(`[{"op":"test","path":"/metadata/labels/merge","value":"yes"},{"op":"remove","path":"/metadata/labels/merge"}]`), metav1.PatchOptions{})
		if _, has := pp.Labels["merge"]; err != nil || has {
			t.Fatalf("json patch: %v %v", pp.Labels, err)
		}
		_, err = pods.Patch(ctx, "a", types.JSONPatchType, []byte(`[{"op":"test","path":"/metadata/name","value":"other"}]`), metav1.PatchOptions{})
		wantStatus(t, err, 422, metav1.StatusReasonInvalid, "")
		// A patch pinning a stale resourceVersion conflicts.
		_, err = pods.Patch(ctx, "a", types.MergePatchType, []byte(`{"metadata":{"resourceVersion":"`+p.ResourceVersion+`","labels":{"x":"y"}}}`), metav1.PatchOptions{})
		wantStatus(t, err, 409, metav1.StatusReasonConflict, "")
		// An apply patch names its kind (apply.go; apply_test.go has the rest).
		_, err = pods.Patch(ctx, "a", types.ApplyPatchType, []byte(`{}`), metav1.PatchOptions{FieldManager: "t"})
		wantStatus(t, err, 400, metav1.StatusReasonBadRequest, "invalid object type: /, Kind=")

		// Status subresource: the main resource ignores status, /status takes it.
		cur, _ := pods.Get(ctx, "a", metav1.GetOptions{})
		cur.Status.Message = "via-status"
		st, err := pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if err != nil || st.Status.Message != "via-status" {
			t.Fatalf("update status: %v %v", st.Status, err)
		}
		st.Status.Message = "via-main"
		main, err := pods.Update(ctx, st, metav1.UpdateOptions{})
		if err != nil || main.Status.Message != "via-status" {
			t.Fatalf("main update changed status: %v %v", main.Status.Message, err)
		}
		sp, err := pods.Patch(ctx, "a", types.MergePatchType, []byte(`{"status":{"message":"patched"}}`), metav1.PatchOptions{}, "status")
		if err != nil || sp.Status.Message != "patched" {
			t.Fatalf("status patch: %v %v", sp, err)
		}

		// Binding.
		if err := pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		bound, _ := pods.Get(ctx, "a", metav1.GetOptions{})
		if bound.Spec.NodeName != "node-1" {
			t.Fatalf("not bound: %q", bound.Spec.NodeName)
		}
		err = pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-2"}}, metav1.CreateOptions{})
		wantStatus(t, err, 409, metav1.StatusReasonConflict, "")

		// Selectors.
		b := httpPod("b")
		b.Labels = map[string]string{"app": "db"}
		if _, err := pods.Create(ctx, b, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		names := func(opts metav1.ListOptions) string {
			l, err := cs.CoreV1().Pods("").List(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			var n []string
			for _, p := range l.Items {
				n = append(n, p.Name)
			}
			return strings.Join(n, ",")
		}
		if got := names(metav1.ListOptions{}); got != "a,b" {
			t.Fatalf("list all: %q", got)
		}
		if got := names(metav1.ListOptions{LabelSelector: "app=db"}); got != "b" {
			t.Fatalf("label selector: %q", got)
		}
		if got := names(metav1.ListOptions{FieldSelector: "spec.nodeName=node-1"}); got != "a" {
			t.Fatalf("field selector: %q", got)
		}
		_, err = pods.List(ctx, metav1.ListOptions{FieldSelector: "spec.bogus=1"})
		wantStatus(t, err, 400, metav1.StatusReasonBadRequest, "")

		// Delete: a bound pod terminates gracefully, an unbound one goes.
		if err := pods.Delete(ctx, "b", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := pods.Get(ctx, "b", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("b still there: %v", err)
		}
		if err := pods.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if a, err := pods.Get(ctx, "a", metav1.GetOptions{}); err != nil || a.DeletionTimestamp == nil {
			t.Fatalf("a not terminating: %v", err)
		}
		if err := pods.Delete(ctx, "a", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := pods.Get(ctx, "a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("a still there after grace 0: %v", err)
		}
		// Delete collection with a label selector.
		for _, n := range []string{"c1", "c2"} {
			if _, err := pods.Create(ctx, httpPod(n), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		keep := httpPod("keep")
		keep.Labels = map[string]string{"app": "other"}
		pods.Create(ctx, keep, metav1.CreateOptions{})
		if err := pods.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "app=web"}); err != nil {
			t.Fatal(err)
		}
		if got := names(metav1.ListOptions{}); got != "keep" {
			t.Fatalf("after deletecollection: %q", got)
		}
	})
}

func TestClientGoOtherResources(t *testing.T) {
	forModes(t, func(t *testing.T, e *env, cs *kubernetes.Clientset) {
		ctx := context.Background()
		// Namespaces.
		ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{})
		if err != nil || ns.Status.Phase != corev1.NamespaceActive {
			t.Fatalf("namespace: %v %v", ns, err)
		}
		if _, err := cs.CoreV1().Namespaces().Get(ctx, "team", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
		orphan := httpPod("p")
		orphan.Namespace = ""
		_, err = cs.CoreV1().Pods("missing").Create(ctx, orphan, metav1.CreateOptions{})
		wantStatus(t, err, 404, metav1.StatusReasonNotFound, `namespaces "missing" not found`)
		if err := cs.CoreV1().Namespaces().Delete(ctx, "team", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if ns, err := cs.CoreV1().Namespaces().Get(ctx, "team", metav1.GetOptions{}); err != nil || ns.Status.Phase != corev1.NamespaceTerminating {
			t.Fatalf("namespace not terminating: %v %v", ns, err)
		}

		// Nodes and their status.
		node, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		node.Status.Capacity = corev1.ResourceList{corev1.ResourcePods: mustQty("110")}
		node, err = cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
		if err != nil || node.Status.Capacity.Pods().Value() != 110 {
			t.Fatalf("node status: %v %v", node, err)
		}
		if _, err := cs.CoreV1().Nodes().Patch(ctx, "node-1", types.StrategicMergePatchType, []byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		nl, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{FieldSelector: "spec.unschedulable=true"})
		if err != nil || len(nl.Items) != 1 {
			t.Fatalf("node field selector: %v %v", nl, err)
		}

		// Events with an involvedObject field selector.
		_, err = cs.CoreV1().Events("default").Create(ctx, &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{GenerateName: "a."},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "a", Namespace: "default"},
			Reason:         "Scheduled", Type: corev1.EventTypeNormal, Message: "placed",
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=a,reason=Scheduled"})
		if err != nil || len(evs.Items) != 1 || !strings.HasPrefix(evs.Items[0].Name, "a.") {
			t.Fatalf("events: %v %v", evs, err)
		}

		// Leases.
		leases := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease)
		l, err := leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "node-1"},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("node-1"), LeaseDurationSeconds: ptr.To[int32](40)}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		l.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
		if l, err = leases.Update(ctx, l, metav1.UpdateOptions{}); err != nil || l.Spec.RenewTime == nil {
			t.Fatalf("lease update: %v %v", l, err)
		}
		if err := leases.Delete(ctx, "node-1", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestClientGoWatchAndInformer(t *testing.T) {
	forModes(t, func(t *testing.T, e *env, cs *kubernetes.Clientset) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		pods := cs.CoreV1().Pods("default")
		if _, err := pods.Create(ctx, httpPod("pre"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		l, err := pods.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w, err := pods.Watch(ctx, metav1.ListOptions{ResourceVersion: l.ResourceVersion, LabelSelector: "app=web"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		if _, err := pods.Create(ctx, httpPod("w1"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := pods.Patch(ctx, "w1", types.MergePatchType, []byte(`{"metadata":{"labels":{"app":"gone"}}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, want := range []watch.EventType{watch.Added, watch.Deleted} {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					t.Fatal("watch closed")
				}
				p, _ := ev.Object.(*corev1.Pod)
				if ev.Type != want || p == nil || p.Name != "w1" {
					t.Fatalf("event %s %T, want %s of w1", ev.Type, ev.Object, want)
				}
			case <-ctx.Done():
				t.Fatalf("no %s event", want)
			}
		}

		// An informer syncs (list+watch, or watch-list with initial
		// events and the bookmark) and sees later updates.
		factory := informers.NewSharedInformerFactory(cs, 0)
		inf := factory.Core().V1().Pods().Informer()
		var mu sync.Mutex
		seen := map[string]string{}
		updated := make(chan struct{}, 10)
		inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) {
				mu.Lock()
				seen[obj.(*corev1.Pod).Name] = "added"
				mu.Unlock()
			},
			UpdateFunc: func(_, obj any) {
				p := obj.(*corev1.Pod)
				if p.Labels["stage"] == "2" {
					updated <- struct{}{}
				}
			},
		})
		stop := make(chan struct{})
		factory.Start(stop)
		defer func() { close(stop); factory.Shutdown() }()
		for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
			if !ok {
				t.Fatalf("informer for %v did not sync", typ)
			}
		}
		// Handlers run after the sync, asynchronously.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			ok := seen["pre"] == "added" && seen["w1"] == "added"
			snapshot := fmt.Sprint(seen)
			mu.Unlock()
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("informer initial state: %s", snapshot)
			}
		}
		if _, err := pods.Patch(ctx, "pre", types.MergePatchType, []byte(`{"metadata":{"labels":{"stage":"2"}}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-updated:
		case <-ctx.Done():
			t.Fatal("informer did not see the update")
		}
		// client-go v0.37 informers use watch-list: a watch with initial
		// events ended by a bookmark, instead of LIST then WATCH.
		if r := e.requests(); !strings.Contains(r, "sendInitialEvents=true") || !strings.Contains(r, "allowWatchBookmarks=true") {
			t.Errorf("informer did not use watch-list; requests:\n%s", r)
		}
		if got, err := factory.Core().V1().Pods().Lister().Pods("default").Get("pre"); err != nil || got.Labels["stage"] != "2" {
			t.Fatalf("lister: %v %v", got, err)
		}
	})
}

func TestClientGoDiscovery(t *testing.T) {
	forModes(t, func(t *testing.T, e *env, cs *kubernetes.Clientset) {
		v, err := cs.Discovery().ServerVersion()
		if err != nil || v.GitVersion != GitVersion || v.Major != "1" {
			t.Fatalf("version: %v %v", v, err)
		}
		groups, lists, err := cs.Discovery().ServerGroupsAndResources()
		if err != nil {
			t.Fatal(err)
		}
		var gnames []string
		for _, g := range groups {
			gnames = append(gnames, g.Name)
		}
		if got := strings.Join(gnames, ","); !strings.Contains(got, "apps") || !strings.Contains(got, "coordination.k8s.io") {
			t.Fatalf("groups: %s", got)
		}
		found := map[string]metav1.APIResource{}
		for _, l := range lists {
			for _, r := range l.APIResources {
				found[l.GroupVersion+"/"+r.Name] = r
			}
		}
		for _, want := range []string{"v1/pods", "v1/pods/status", "v1/pods/log", "v1/pods/exec", "v1/pods/binding",
			"v1/nodes/status", "v1/namespaces/status", "apps/v1/deployments", "coordination.k8s.io/v1/leases", "batch/v1/jobs"} {
			if _, ok := found[want]; !ok {
				t.Errorf("discovery lacks %s", want)
			}
		}
		if p := found["v1/pods"]; p.Kind != "Pod" || !p.Namespaced || p.SingularName != "pod" || len(p.ShortNames) == 0 || p.ShortNames[0] != "po" {
			t.Errorf("pods resource: %+v", p)
		}
		if n := found["v1/nodes"]; n.Namespaced {
			t.Errorf("nodes namespaced")
		}
	})
}

func startBoundPod(t *testing.T, cs *kubernetes.Clientset) {
	t.Helper()
	ctx := context.Background()
	if _, err := cs.CoreV1().Pods("default").Create(ctx, httpPod("p"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Pods("default").Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Target: corev1.ObjectReference{Name: "node-1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestClientGoLogsFollow(t *testing.T) {
	forModes(t, func(t *testing.T, e *env, cs *kubernetes.Clientset) {
		startBoundPod(t, cs)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rc, err := cs.CoreV1().Pods("default").GetLogs("p", &corev1.PodLogOptions{Follow: true, TailLines: ptr.To[int64](10)}).Stream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		buf := make([]byte, 100)
		n, err := rc.Read(buf) // arrives before "second" is released: streamed, not buffered
		if err != nil || string(buf[:n]) != "first p/main\n" {
			t.Fatalf("first read: %q %v", buf[:n], err)
		}
		close(e.node.release)
		rest, err := io.ReadAll(rc)
		if err != nil || string(rest) != "second\n" {
			t.Fatalf("rest: %q %v", rest, err)
		}
		// Errors before any output are Status errors.
		_, err = cs.CoreV1().Pods("default").GetLogs("p", &corev1.PodLogOptions{Container: "nope"}).Stream(ctx)
		wantStatus(t, err, 400, metav1.StatusReasonBadRequest, "container nope is not valid for pod p")
		b, err := cs.CoreV1().Pods("default").GetLogs("p", &corev1.PodLogOptions{LimitBytes: ptr.To[int64](5)}).DoRaw(ctx)
		if err != nil || string(b) != "first" {
			t.Fatalf("limitBytes: %q %v", b, err)
		}
	})
}

func execIn(t *testing.T, cfg *rest.Config, cs *kubernetes.Clientset, opts *corev1.PodExecOptions, stdin string) (string, string, error) {
	t.Helper()
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("p").SubResource("exec").
		VersionedParams(opts, scheme.ParameterCodec)
	ex, err := remotecommand.NewWebSocketExecutor(cfg, "GET", req.URL().String())
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	so := remotecommand.StreamOptions{Stdout: &stdout}
	if opts.Stdin {
		so.Stdin = strings.NewReader(stdin)
	}
	if opts.Stderr {
		so.Stderr = &stderr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = ex.StreamWithContext(ctx, so)
	return stdout.String(), stderr.String(), err
}

func TestClientGoExecWebSocket(t *testing.T) {
	e := newEnv(t, HandlerOptions{Token: "secret"})
	cfg := e.modes["http"]
	cs := e.client(t, "http")
	startBoundPod(t, cs)
	out, errOut, err := execIn(t, cfg, cs, &corev1.PodExecOptions{Command: []string{"cat", "exit=0"}, Stdin: true, Stdout: true, Stderr: true}, "hello over websocket")
	if err != nil || out != "hello over websocket" || errOut != "ran cat exit=0" {
		t.Fatalf("exec: out=%q err=%q %v", out, errOut, err)
	}
	_, _, err = execIn(t, cfg, cs, &corev1.PodExecOptions{Command: []string{"cat", "exit=3"}, Stdin: true, Stdout: true}, "x")
	var ce exec.CodeExitError
	if !errors.As(err, &ce) || ce.Code != 3 {
		t.Fatalf("want CodeExitError 3, got %T %v", err, err)
	}
	// The v4 protocol (no close signal) carries the exit code the same way.
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("p").SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Command: []string{"exit=5"}, Stdout: true}, scheme.ParameterCodec)
	ex4, err := remotecommand.NewWebSocketExecutorForProtocols(cfg, "GET", req.URL().String(), "v4.channel.k8s.io")
	if err != nil {
		t.Fatal(err)
	}
	err = ex4.StreamWithContext(context.Background(), remotecommand.StreamOptions{Stdout: io.Discard})
	if !errors.As(err, &ce) || ce.Code != 5 {
		t.Fatalf("v4: want CodeExitError 5, got %T %v", err, err)
	}
	// A bad container is refused before the upgrade, as a Status.
	_, _, err = execIn(t, cfg, cs, &corev1.PodExecOptions{Command: []string{"x"}, Container: "nope", Stdout: true}, "")
	if err == nil || !strings.Contains(err.Error(), "container nope is not valid for pod p") {
		t.Fatalf("bad container: %v", err)
	}
}

func TestUnixSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "wp") // short path: sun_path is 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "api.sock")
	e := newEnv(t, HandlerOptions{})
	l, err := ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e.h}
	go srv.Serve(l)
	defer srv.Close()
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket mode: %v %v", fi.Mode(), err)
	}
	if _, err := ListenUnix(path); err == nil || !strings.Contains(err.Error(), "listening") {
		t.Fatalf("second listener on a live socket: %v", err)
	}
	cs, err := kubernetes.NewForConfig(UnixSocketConfig(path))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods("default").Create(context.Background(), httpPod("u"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if v, err := cs.Discovery().ServerVersion(); err != nil || v.GitVersion != GitVersion {
		t.Fatalf("version over unix: %v %v", v, err)
	}
	srv.Close()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("socket file left after close: %v", err)
	}

	// A stale socket (nobody listening) is replaced; a regular file is not.
	stale, err := net_ListenUnixNoUnlink(path)
	if err != nil {
		t.Fatal(err)
	}
	stale.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	l2, err := ListenUnix(path)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	l2.Close()
	os.WriteFile(path, []byte("x"), 0o600)
	if _, err := ListenUnix(path); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("regular file: %v", err)
	}
}
