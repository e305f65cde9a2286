package apiserver

import (
	"context"
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/wasmpod/wasmpod/internal/metrics"
	"github.com/wasmpod/wasmpod/internal/metrics/promtest"
)

// TestMetricsEndpoint: /metrics is behind authentication and RBAC (401
// without a token, 403 for a user without the non-resource URL, 200 for
// the admin and the system:monitoring group), its exposition is clean, and
// its counters follow known work: K lists of pods add K to
// apiserver_request_total{verb=LIST,resource=pods,code=200} and to the
// duration histogram's count, a watch shows in the watchers gauge while it
// runs, and a made-up path is counted without its resource.
func TestMetricsEndpoint(t *testing.T) {
	const admin = "admin-token-0123456789"
	reg := metrics.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	users := staticUsers(map[string]*user.DefaultInfo{
		"bob-token-0123456789": {Name: "bob"},
		"mon-token-0123456789": {Name: "prom", Groups: []string{"system:monitoring"}},
	})
	e := newEnv(t, HandlerOptions{Token: admin, Users: users, Metrics: m})
	url := e.srv.URL + "/metrics"
	hc := e.srv.Client()
	for _, c := range []struct {
		token string
		code  int
	}{{"", 401}, {"bob-token-0123456789", 403}, {"mon-token-0123456789", 200}, {admin, 200}} {
		if code, body := promtest.Scrape(t, hc, url, c.token); code != c.code {
			t.Errorf("GET /metrics with token %q: %d, want %d\n%s", c.token, code, c.code, body)
		}
	}
	scrape := func() promtest.Families {
		t.Helper()
		code, body := promtest.Scrape(t, hc, url, admin)
		if code != 200 {
			t.Fatalf("GET /metrics: %d %s", code, body)
		}
		return promtest.Parse(t, body)
	}
	listPods := map[string]string{"verb": "LIST", "group": "", "version": "v1", "resource": "pods", "scope": "namespace", "component": "apiserver"}
	listPods200 := map[string]string{"code": "200"}
	for k, v := range listPods {
		listPods200[k] = v
	}
	before := scrape()
	n0, _ := before.Value("apiserver_request_total", listPods200)
	d0, _ := before.Value("apiserver_request_duration_seconds", listPods)

	cs := e.client(t, "http")
	ctx := context.Background()
	const K = 7
	for range K {
		if _, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	promtest.Scrape(t, hc, e.srv.URL+"/apis/made.up.example/v1/things", admin) // 404
	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The watch is registered once its response has begun.
	var after promtest.Families
	deadline := time.Now().Add(10 * time.Second)
	for {
		after = scrape()
		if v, _ := after.Value("apiserver_registered_watchers", map[string]string{"kind": "Pod", "version": "v1"}); v == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if v, _ := after.Value("apiserver_registered_watchers", map[string]string{"kind": "Pod", "group": "", "version": "v1"}); v != 1 {
		t.Errorf("apiserver_registered_watchers{kind=Pod} = %v during one watch, want 1", v)
	}
	if v, _ := after.Value("apiserver_longrunning_requests", map[string]string{"verb": "WATCH", "resource": "pods"}); v != 1 {
		t.Errorf("apiserver_longrunning_requests{verb=WATCH,resource=pods} = %v during one watch, want 1", v)
	}
	if n1, _ := after.Value("apiserver_request_total", listPods200); n1-n0 != K {
		t.Errorf("apiserver_request_total{LIST pods 200} rose by %v after %d lists, want %d", n1-n0, K, K)
	}
	if d1, _ := after.Value("apiserver_request_duration_seconds", listPods); d1-d0 != K {
		t.Errorf("apiserver_request_duration_seconds{LIST pods} count rose by %v after %d lists, want %d", d1-d0, K, K)
	}
	if v, ok := after.Value("apiserver_request_total", map[string]string{"resource": "things"}); ok {
		t.Errorf("a made-up resource got its own series (%v)", v)
	}
	if v, _ := after.Value("apiserver_request_total", map[string]string{"verb": "LIST", "code": "404", "resource": "", "group": ""}); v < 1 {
		t.Errorf("the 404 was not counted: %v", v)
	}
	// Authorization failures are counted with their code.
	if v, _ := after.Value("apiserver_request_total", map[string]string{"code": "403"}); v < 1 {
		t.Errorf("bob's 403 was not counted: %v", v)
	}
	w.Stop()
	deadline = time.Now().Add(10 * time.Second)
	for {
		fs := scrape()
		v, _ := fs.Value("apiserver_registered_watchers", map[string]string{"kind": "Pod"})
		if v == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("apiserver_registered_watchers{kind=Pod} = %v after the watch stopped", v)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetricsEndpointWithoutMetrics: a handler without Metrics has no
// /metrics (404 to the admin).
func TestMetricsEndpointWithoutMetrics(t *testing.T) {
	const admin = "admin-token-0123456789"
	e := newEnv(t, HandlerOptions{Token: admin})
	if code, body := promtest.Scrape(t, http.DefaultClient, e.srv.URL+"/metrics", admin); code != 404 {
		t.Errorf("GET /metrics without Metrics: %d %s", code, body)
	}
}
