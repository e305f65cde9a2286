package garbagecollector

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/metadata"
	testclock "k8s.io/utils/clock/testing"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/discovery"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/store/memory"
)

// laterGroup fronts the API server and leaves one API group out of
// discovery until shown: a kind that starts being served after the
// collector started, as a CRD created then (this server has no CRDs). Its
// objects are served all along; only discovery hides them.
type laterGroup struct {
	h      http.Handler
	group  string
	hidden atomic.Bool
}

func (l *laterGroup) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !l.hidden.Load() {
		l.h.ServeHTTP(w, r)
		return
	}
	switch p := strings.TrimSuffix(r.URL.Path, "/"); {
	case p == "/api" || p == "/apis":
		// No aggregated discovery: the group list, without the group.
		r = r.Clone(r.Context())
		r.Header.Set("Accept", "application/json")
		rec := httptest.NewRecorder()
		l.h.ServeHTTP(rec, r)
		if p == "/apis" {
			var gl metav1.APIGroupList
			if err := json.Unmarshal(rec.Body.Bytes(), &gl); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			gl.Groups = slices.DeleteFunc(gl.Groups, func(g metav1.APIGroup) bool { return g.Name == l.group })
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(&gl)
			return
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	case p == "/apis/"+l.group || strings.HasPrefix(p, "/apis/"+l.group+"/") && strings.Count(p, "/") == 3:
		http.NotFound(w, r)
	default:
		l.h.ServeHTTP(w, r)
	}
}

// Upstream's GarbageCollector.Sync (test/e2e/apimachinery/garbage_collector.go
// "should delete dependents of a custom resource" and the CRD owner cases):
// a kind that discovery starts listing after the collector started is
// picked up at the next 30 s rediscovery (fake clock): a pod whose owner of
// that kind does not exist is then collected, and an owner of that kind
// deleted in the foreground is watched: its pods go, then the owner.
func TestRediscoveryWatchesNewKinds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	st := memory.New()
	s, err := apiserver.New(ctx, st, apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	front := &laterGroup{h: s.Handler(apiserver.HandlerOptions{}), group: "apps"}
	front.hidden.Store(true)
	srv := httptest.NewServer(front)
	cfg := apiserver.TCPConfig(srv.URL, "")
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if gl, err := discovery.New(cs.CoreV1().RESTClient()).ServerGroups(); err != nil || slices.ContainsFunc(gl.Groups, func(g metav1.APIGroup) bool { return g.Name == "apps" }) {
		t.Fatalf("apps is not hidden: %v", err)
	}

	zero := int32(0)
	sel := map[string]string{"app": "x"}
	rs, err := cs.AppsV1().ReplicaSets("default").Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "owner"},
		Spec: appsv1.ReplicaSetSpec{Replicas: &zero, Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sel},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x.wasm"}}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := func(name string, ref metav1.OwnerReference) {
		t.Helper()
		if _, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, OwnerReferences: []metav1.OwnerReference{ref}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x.wasm"}}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pod("dep", ownerRef("ReplicaSet", "apps/v1", "owner", rs.UID, true))
	pod("dangling", ownerRef("ReplicaSet", "apps/v1", "gone", "11111111-2222-3333-4444-555555555555", true))
	podGone := func(name string) func() bool {
		return func() bool {
			_, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		}
	}

	clk := testclock.NewFakeClock(time.Now())
	gc := New(cs, md, clk)
	done := make(chan struct{})
	go func() {
		defer close(done)
		gc.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.CloseClientConnections()
		srv.Close()
		st.Close()
	})
	waitFor(t, "the collector's resync ticker", clk.HasWaiters)
	gc.kmu.RLock()
	n := len(gc.monitors)
	gc.kmu.RUnlock()
	time.Sleep(300 * time.Millisecond)
	if podGone("dangling")() {
		t.Fatal("a pod whose owner's kind is not served yet was deleted")
	}

	front.hidden.Store(false)
	clk.Step(ResyncPeriod - time.Second)
	time.Sleep(300 * time.Millisecond)
	if podGone("dangling")() {
		t.Fatal("rediscovered before the resync period")
	}
	clk.Step(time.Second)
	waitFor(t, "the dangling pod deleted after rediscovery", podGone("dangling"))
	gc.kmu.RLock()
	added := len(gc.monitors) - n
	gc.kmu.RUnlock()
	if added < 1 {
		t.Fatalf("%d new monitors", added)
	}

	fg := metav1.DeletePropagationForeground
	if err := cs.AppsV1().ReplicaSets("default").Delete(ctx, "owner", metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the foreground owner's pod deleted", podGone("dep"))
	waitFor(t, "the foreground owner deleted", func() bool {
		_, err := cs.AppsV1().ReplicaSets("default").Get(ctx, "owner", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}
