package ui_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/ui"
)

// saToken: a ServiceAccount name in default bound to a Role of rules,
// and a token for it.
func saToken(t *testing.T, e *env, name string, rules []any) string {
	t.Helper()
	e.must(t, "POST", "/api/v1/namespaces/default/serviceaccounts", map[string]any{"metadata": map[string]any{"name": name}})
	e.must(t, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", map[string]any{
		"metadata": map[string]any{"name": name}, "rules": rules})
	e.must(t, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", map[string]any{
		"metadata": map[string]any{"name": name},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
		"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": name, "namespace": "default"}},
	})
	var tr struct {
		Status struct {
			Token string `json:"token"`
		} `json:"status"`
	}
	if err := json.Unmarshal(e.must(t, "POST", "/api/v1/namespaces/default/serviceaccounts/"+name+"/token",
		map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": map[string]any{}}), &tr); err != nil || tr.Status.Token == "" {
		t.Fatalf("token request: %v %q", err, tr.Status.Token)
	}
	return tr.Status.Token
}

type historyBody struct {
	Samples []ui.Sample `json:"samples"`
}

// TestUsageHistory: the dashboard's usage history (history.go) on a real
// control plane and node agent, with the samplers on a fake clock: after
// 61 minutes a running pod keeps exactly 60 one-minute samples (the
// first dropped), a deleted pod is dropped once its last sample is an hour
// old, a sampler bounded to one pod tracks one and counts the refused, and
// the endpoint is 401 without a token, 403 without get on
// pods.metrics.k8s.io in the namespace, 400 for a bad name.
func TestUsageHistory(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"a", "b"} {
		e.must(t, "POST", "/api/v1/namespaces/default/pods", podJSON(n, nil, nil))
	}
	waitRunning(t, e, "a")
	waitRunning(t, e, "b")
	src := e.c.Server()
	metricsOf := func() map[string]bool {
		l, err := src.PodMetrics(context.Background(), "default", metav1.ListOptions{}, "")
		got := map[string]bool{}
		if err == nil {
			for _, m := range l.Items {
				got[m.Name] = true
			}
		}
		return got
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if m := metricsOf(); m["a"] && m["b"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no PodMetrics for a and b after 60 s: %v", metricsOf())
		}
	}

	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fc := clocktesting.NewFakeClock(start)
	hist := ui.NewSampler(src, fc, ui.SamplerOptions{})
	bounded := ui.NewSampler(src, fc, ui.SamplerOptions{MaxPods: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go hist.Run(ctx)
	go bounded.Run(ctx)
	for deadline := time.Now().Add(10 * time.Second); !hist.Stats().Running || !bounded.Stats().Running; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("samplers' tickers not registered")
		}
	}
	ticks := 0
	step := func(n int) {
		for i := 0; i < n; i++ {
			fc.Step(time.Minute)
			ticks++
			for deadline := time.Now().Add(30 * time.Second); hist.Stats().Ticks < ticks || bounded.Stats().Ticks < ticks; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("tick %d not sampled", ticks)
				}
			}
		}
	}
	step(61)

	srv := httptest.NewServer(ui.MountWithHistory(src.Handler(apiserver.HandlerOptions{Token: adminToken}), hist))
	defer srv.Close()
	get := func(token, path string) (int, []byte) {
		return (&env{srv: srv, c: e.c}).do(t, token, "GET", path, "", nil)
	}
	path := func(ns, name string) string {
		return "/ui/api/v1/namespaces/" + ns + "/pods/" + name + "/metrics-history"
	}
	samples := func(name string) []ui.Sample {
		code, out := get(adminToken, path("default", name))
		if code != http.StatusOK {
			t.Fatalf("history of %s: %d %s", name, code, out)
		}
		var b historyBody
		if err := json.Unmarshal(out, &b); err != nil {
			t.Fatalf("history of %s: %v %s", name, err, out)
		}
		return b.Samples
	}
	ss := samples("a")
	if len(ss) != 60 {
		t.Fatalf("a: %d samples after 61 minutes, want 60", len(ss))
	}
	if !ss[0].Time.Equal(start.Add(2*time.Minute)) || !ss[59].Time.Equal(start.Add(61*time.Minute)) {
		t.Errorf("a: samples from %v to %v, want minute 2 to minute 61 (the first dropped)", ss[0].Time, ss[59].Time)
	}
	for i, s := range ss {
		if s.MemoryBytes <= 0 || s.CPUMillicores < 0 {
			t.Fatalf("a: sample %d: %+v", i, s)
		}
	}
	if st := hist.Stats(); st.Pods < 2 || st.NotTracked != 0 {
		t.Errorf("unbounded sampler: %+v", st)
	}
	if st := bounded.Stats(); st.Pods != 1 || st.NotTracked < 61 {
		t.Errorf("sampler bounded to 1 pod: %+v, want 1 pod and >= 61 samples not tracked", st)
	}
	if n := len(samples("nosuchpod")); n != 0 {
		t.Errorf("an unknown pod has %d samples", n)
	}

	// Access: as the rest of the API.
	if code, _ := get("", path("default", "a")); code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", code)
	}
	if code, _ := get("wrong-token", path("default", "a")); code != http.StatusUnauthorized {
		t.Errorf("a wrong token: %d, want 401", code)
	}
	podReader := saToken(t, e, "pod-reader", []any{map[string]any{"apiGroups": []string{""}, "resources": []string{"pods"}, "verbs": []string{"get", "list", "watch"}}})
	metricsReader := saToken(t, e, "metrics-reader", []any{map[string]any{"apiGroups": []string{"metrics.k8s.io"}, "resources": []string{"pods"}, "verbs": []string{"get"}}})
	if code, out := get(podReader, path("default", "a")); code != http.StatusForbidden || !strings.Contains(string(out), "forbidden") {
		t.Errorf("without get on pods.metrics.k8s.io: %d %s, want 403", code, out)
	}
	if code, out := get(metricsReader, path("default", "a")); code != http.StatusOK || !strings.Contains(string(out), "cpuMillicores") {
		t.Errorf("with get on pods.metrics.k8s.io: %d %s", code, out)
	}
	if code, _ := get(metricsReader, path("kube-system", "a")); code != http.StatusForbidden {
		t.Errorf("another namespace: %d, want 403", code)
	}
	for _, p := range []string{path("Bad_NS", "a"), path("default", "a%2Fb"), "/ui/api/v1/namespaces/default/pods/a", "/ui/api/v1/namespaces/../pods/a/metrics-history"} {
		if code, _ := get(adminToken, p); code/100 != 4 {
			t.Errorf("%s: %d, want 4xx", p, code)
		}
	}
	if code, _ := (&env{srv: srv, c: e.c}).do(t, adminToken, "POST", path("default", "a"), "", "{}"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", code)
	}

	// A deleted pod: kept until its last sample is an hour old.
	e.must(t, "DELETE", "/api/v1/namespaces/default/pods/b", nil)
	for deadline := time.Now().Add(60 * time.Second); metricsOf()["b"]; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("b still has PodMetrics 60 s after its deletion")
		}
	}
	step(1) // minute 62: b's last sample is minute 61 or earlier
	last := samples("b")
	if len(last) == 0 {
		t.Fatal("b dropped at once")
	}
	lastAt := last[len(last)-1].Time
	step(int(lastAt.Add(time.Hour).Sub(fc.Now())/time.Minute) - 1)
	if len(samples("b")) == 0 {
		t.Fatalf("b dropped before its last sample (%v) is an hour old (now %v)", lastAt, fc.Now())
	}
	step(1)
	if n := len(samples("b")); n != 0 {
		t.Fatalf("b still has %d samples an hour after its last (%v, now %v)", n, lastAt, fc.Now())
	}
	if n := len(samples("a")); n != 60 {
		t.Errorf("a: %d samples, want 60", n)
	}
}
