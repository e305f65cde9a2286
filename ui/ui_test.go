package ui_test

// The dashboard's serving and authentication without a browser: the shell
// loads without a token, every data path behind it is 401, CSRF-shaped
// requests are refused, and the WebSocket bearer subprotocol
// (apiserver/authn_ws.go) authenticates an exec. Shared by the browser
// tests (ui_browser_test.go): a real in-process control plane and node
// agent on loopback, with the toolbox module.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/ui"
)

func TestMain(m *testing.M) { os.Exit(testwasm.MainWithTestCache(m)) }

const adminToken = "ui-admin-token-0123456789abcdef"

type env struct {
	srv *httptest.Server
	c   *wasmpod.Cluster
	// hist is the dashboard's usage history, sampling only when fc is
	// stepped (sampleHistory).
	hist *ui.Sampler
	fc   *clocktesting.FakeClock
}

// newEnv: a cluster whose module store has the toolbox as
// wasmpod.local/toolbox:latest, served with the dashboard mounted as
// `wasmpod serve` mounts it, with an admin token.
func newEnv(tb testing.TB) *env {
	tb.Helper()
	store := images.NewMemoryStore()
	digest, _, err := store.Put(context.Background(), "", bytes.NewReader(testwasm.Build(tb, filepath.Join(testwasm.RepoRoot(tb), "wasm-examples", "toolbox"))))
	if err != nil {
		tb.Fatal(err)
	}
	if err := store.Tag("toolbox", "latest", digest); err != nil {
		tb.Fatal(err)
	}
	c, err := wasmpod.New(context.Background(), wasmpod.Config{CacheDir: testwasm.CacheDir(), Modules: store,
		// A shared test machine's disk may be under the default 10%: no
		// node-pressure eviction of the test's pods.
		EvictionHard: map[string]string{"nodefs.available": "1Mi"}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	// The history's clock starts an hour back, so that stepped samples
	// sit before the page's live ones.
	fc := clocktesting.NewFakeClock(time.Now().Add(-time.Hour))
	hist := ui.NewSampler(c.Server(), fc, ui.SamplerOptions{})
	hctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	go hist.Run(hctx)
	srv := httptest.NewServer(ui.MountWithHistory(c.Server().Handler(apiserver.HandlerOptions{Token: adminToken}), hist))
	tb.Cleanup(srv.Close)
	return &env{srv: srv, c: c, hist: hist, fc: fc}
}

// sampleHistory steps the history's clock a minute at a time until pod
// default/name has n samples.
func (e *env) sampleHistory(tb testing.TB, name string, n int) {
	tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !e.hist.Stats().Running {
		if time.Now().After(deadline) {
			tb.Fatal("the history sampler is not running")
		}
		time.Sleep(time.Millisecond)
	}
	for len(e.hist.History("default", name)) < n {
		ticks := e.hist.Stats().Ticks
		e.fc.Step(time.Minute)
		for e.hist.Stats().Ticks == ticks {
			if time.Now().After(deadline) {
				tb.Fatalf("pod %s: %d history samples after 60 s, want %d", name, len(e.hist.History("default", name)), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// do sends a request with the admin token (token "" sends none).
func (e *env) do(tb testing.TB, token, method, path, ctype string, body any) (int, []byte) {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	} else if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (e *env) must(tb testing.TB, method, path string, body any) []byte {
	tb.Helper()
	code, out := e.do(tb, adminToken, method, path, "", body)
	if code/100 != 2 {
		tb.Fatalf("%s %s: %d %s", method, path, code, out)
	}
	return out
}

func podJSON(name string, labels map[string]string, command []string) map[string]any {
	ctr := map[string]any{"name": "main", "image": "wasmpod.local/toolbox:latest"}
	if command != nil {
		ctr["command"] = command
	}
	return map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "labels": labels},
		"spec":     map[string]any{"terminationGracePeriodSeconds": 1, "containers": []any{ctr}}}
}

// TestDashboardAuth: the shell loads without a token (as upstream's
// dashboards: it shows the login); every data path answers 401; mutating
// requests without the Authorization header — a cross-site form, a cookie
// — are refused; the WebSocket bearer subprotocol authenticates exec only
// with a valid token.
func TestDashboardAuth(t *testing.T) {
	e := newEnv(t)
	e.must(t, "POST", "/api/v1/namespaces/default/pods", podJSON("p", nil, nil))
	resp, err := http.Get(e.srv.URL + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `<script src="app.js"`) {
		t.Errorf("/ui/ without a token: %d", resp.StatusCode)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	for _, p := range []string{"/ui", "/ui/app.js", "/ui/vt.js", "/ui/app.css", "/ui/pods/whatever"} {
		code, _ := e.do(t, "", "GET", p, "", nil)
		if code != 200 && code != http.StatusMovedPermanently {
			t.Errorf("GET %s: %d", p, code)
		}
	}
	// vt.js is the terminal emulator's file, not index.html's fallback.
	if code, out := e.do(t, "", "GET", "/ui/vt.js", "", nil); code != 200 || !strings.Contains(string(out), "window.WasmpodVT = ") {
		t.Errorf("GET /ui/vt.js: %d %.80q", code, out)
	}
	if code, _ := e.do(t, "", "POST", "/ui/", "", "x"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /ui/: %d", code)
	}
	for _, p := range []string{"/api/v1/pods", "/api/v1/namespaces/default/pods?watch=1", "/api/v1/nodes", "/apis/apps/v1/deployments",
		"/api/v1/events", "/api/v1/services", "/api/v1/endpoints", "/apis/batch/v1/jobs", "/api/v1/namespaces/default/pods/p/log", "/api", "/apis",
		"/api/v1/nodes/node-1/proxy/metrics", "/api/v1/nodes/node-1/proxy/stats/summary", "/apis/metrics.k8s.io/v1beta1/pods",
		"/apis/metrics.k8s.io/v1beta1/nodes", "/apis/autoscaling/v2/horizontalpodautoscalers", "/apis/autoscaling/v1/horizontalpodautoscalers",
		"/api/v1/namespaces/default/pods/p/exec?command=sh&stdout=true", "/api/v1/namespaces/default/pods/p/log?follow=true",
		"/openapi/v2", "/openapi/v3", "/metrics", "/apis/apps/v1/namespaces/default/deployments/x/scale",
		"/ui/api/v1/namespaces/default/pods/p/metrics-history"} {
		if code, out := e.do(t, "", "GET", p, "", nil); code != http.StatusUnauthorized {
			t.Errorf("GET %s without a token: %d %.100s", p, code, out)
		}
		if code, _ := e.do(t, "wrong-token", "GET", p, "", nil); code != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong token: %d", p, code)
		}
	}
	// CSRF: what a cross-site page can send (a form post, cookies, no
	// Authorization header) is refused before it acts.
	csrf := []struct{ method, path, ctype, body string }{
		{"POST", "/api/v1/namespaces/default/configmaps", "application/x-www-form-urlencoded", `{"metadata":{"name":"csrf"}}`},
		{"POST", "/api/v1/namespaces/default/configmaps", "text/plain", `{"metadata":{"name":"csrf"}}`},
		{"DELETE", "/api/v1/namespaces/default/pods/p", "", ""},
		{"PATCH", "/apis/apps/v1/namespaces/default/deployments/x/scale", "application/merge-patch+json", `{"spec":{"replicas":5}}`},
		{"PATCH", "/api/v1/namespaces/default/configmaps/csrf?fieldManager=x", "application/apply-patch+yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: csrf\n"},
	}
	for _, c := range csrf {
		req, _ := http.NewRequest(c.method, e.srv.URL+c.path, strings.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Cookie", "wasmpod.token="+adminToken+"; Authorization=Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s without Authorization: %d", c.method, c.path, resp.StatusCode)
		}
	}
	if code, _ := e.do(t, adminToken, "GET", "/api/v1/namespaces/default/pods/p", "", nil); code != 200 {
		t.Errorf("pod p after the CSRF attempts: %d", code)
	}
	if code, _ := e.do(t, adminToken, "GET", "/api/v1/namespaces/default/configmaps/csrf", "", nil); code != http.StatusNotFound {
		t.Errorf("configmap from a CSRF attempt: %d", code)
	}
}

// TestExecWebSocketBearerProtocol: the token in the
// base64url.bearer.authorization.k8s.io subprotocol authenticates an exec
// WebSocket (the negotiated protocol is the channel one, never the token);
// a wrong, undecodable or doubled token is 401, and the subprotocol does
// nothing for a plain (non-WebSocket) request.
func TestExecWebSocketBearerProtocol(t *testing.T) {
	e := newEnv(t)
	e.must(t, "POST", "/api/v1/namespaces/default/pods", podJSON("p", nil, nil))
	waitRunning(t, e, "p")
	wsURL := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/api/v1/namespaces/default/pods/p/exec?command=echo&command=hi&stdout=true&container=main"
	b64 := func(s string) string { return "base64url.bearer.authorization.k8s.io." + base64url(s) }
	dial := func(protos ...string) (*websocket.Conn, *http.Response, error) {
		d := websocket.Dialer{Subprotocols: protos, HandshakeTimeout: 10 * time.Second}
		return d.Dial(wsURL, http.Header{"Origin": {e.srv.URL}})
	}
	conn, resp, err := dial("v5.channel.k8s.io", b64(adminToken))
	if err != nil {
		t.Fatalf("exec with the bearer subprotocol: %v %v", err, resp)
	}
	if conn.Subprotocol() != "v5.channel.k8s.io" {
		t.Errorf("negotiated %q", conn.Subprotocol())
	}
	var out strings.Builder
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			break
		}
		if len(msg) > 0 && msg[0] == 1 {
			out.Write(msg[1:])
		}
	}
	conn.Close()
	if out.String() != "hi\n" {
		t.Errorf("exec echo hi: %q", out.String())
	}
	for _, protos := range [][]string{
		{"v5.channel.k8s.io", b64("wrong")},
		{"v5.channel.k8s.io", "base64url.bearer.authorization.k8s.io.%%%"},
		{"v5.channel.k8s.io", b64(adminToken), b64(adminToken)},
		{"v5.channel.k8s.io"},
	} {
		_, resp, err := dial(protos...)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			code := 0
			if resp != nil {
				code = resp.StatusCode
			}
			t.Errorf("exec with %q: %v, HTTP %d (want 401)", protos, err, code)
		}
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/pods", nil)
	req.Header.Set("Sec-WebSocket-Protocol", b64(adminToken))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("plain GET with the bearer subprotocol header: %d (want 401)", resp.StatusCode)
	}
}

func waitRunning(tb testing.TB, e *env, name string) {
	tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var p struct {
			Status struct {
				Phase string `json:"phase"`
			} `json:"status"`
		}
		json.Unmarshal(e.must(tb, "GET", "/api/v1/namespaces/default/pods/"+name, nil), &p)
		if p.Status.Phase == "Running" {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("pod %s: %s after 60 s", name, p.Status.Phase)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func base64url(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
