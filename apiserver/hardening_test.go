package apiserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestNegativeGracePeriodIsOneSecond: upstream treats a negative
// gracePeriodSeconds as 1 s; it used to force-delete at once.
func TestNegativeGracePeriodIsOneSecond(t *testing.T) {
	s, clk := newServer(t)
	ctx := context.Background()
	pods := res(t, s, "", "pods")
	for _, name := range []string{"go-api", "http"} {
		if _, err := s.Create(ctx, pods, "default", testPod(name)); err != nil {
			t.Fatal(err)
		}
		if err := s.Bind(ctx, "default", &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: name}, Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}); err != nil {
			t.Fatal(err)
		}
	}
	neg := int64(-5)
	obj, err := s.Delete(ctx, pods, "default", "go-api", metav1.DeleteOptions{GracePeriodSeconds: &neg})
	if err != nil {
		t.Fatal(err)
	}
	p := obj.(*corev1.Pod)
	if p.DeletionGracePeriodSeconds == nil || *p.DeletionGracePeriodSeconds != 1 || !p.DeletionTimestamp.Time.Equal(clk.Now().Add(time.Second).Truncate(time.Second)) {
		t.Fatalf("negative grace: deletionGracePeriodSeconds %v, deletionTimestamp %v", p.DeletionGracePeriodSeconds, p.DeletionTimestamp)
	}
	if _, err := s.Get(ctx, pods, "default", "go-api"); err != nil {
		t.Fatalf("the pod was force-deleted: %v", err)
	}

	h := s.Handler(HandlerOptions{})
	r := serveOnce(t, h, "DELETE", "/api/v1/namespaces/default/pods/http?gracePeriodSeconds=-1", "")
	if r.code != 202 || !strings.Contains(r.body, `"deletionGracePeriodSeconds":1`) {
		t.Fatalf("HTTP delete with gracePeriodSeconds=-1: %d %s", r.code, r.body)
	}
}

// TestDeleteCollectionAnswersAList: DELETE on a collection answers with
// the list kind (PodList), as upstream, not the item kind.
func TestDeleteCollectionAnswersAList(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	for _, n := range []string{"a", "b"} {
		if r := do(t, e, "POST", "/api/v1/namespaces/default/pods", "application/json", strings.Replace(podJSON, "%s", n, 1)); r.code != 201 {
			t.Fatalf("create: %d %s", r.code, r.body)
		}
	}
	r := do(t, e, "DELETE", "/api/v1/namespaces/default/pods", "", "")
	var list corev1.PodList
	if err := json.Unmarshal([]byte(r.body), &list); err != nil || r.code != 200 {
		t.Fatalf("deletecollection: %d %s %v", r.code, r.body, err)
	}
	if list.Kind != "PodList" || list.APIVersion != "v1" || len(list.Items) != 2 {
		t.Fatalf("deletecollection answered kind %q apiVersion %q with %d items, want PodList v1 with 2", list.Kind, list.APIVersion, len(list.Items))
	}
	r = do(t, e, "DELETE", "/apis/apps/v1/namespaces/default/deployments", "", "")
	if !strings.Contains(r.body, `"kind":"DeploymentList"`) || !strings.Contains(r.body, `"apiVersion":"apps/v1"`) {
		t.Fatalf("empty deletecollection: %s", r.body)
	}
}

// serveOnce serves one request with h (no sockets).
func serveOnce(t *testing.T, h http.Handler, method, path, body string) rawResp {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return rawResp{code: w.Code, ctype: w.Header().Get("Content-Type"), body: w.Body.String()}
}
