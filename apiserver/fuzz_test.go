package apiserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/store/memory"
)

// httpSeeds are real requests, as client-go and kubectl send them: method,
// request target, headers ("Key: value" lines) and body.
var httpSeeds = [][4]string{
	{"GET", "/version", "", ""},
	{"GET", BackupPath, "", ""},
	{"GET", "/api", "", ""},
	{"GET", "/apis", "", ""},
	{"GET", "/api/v1", "", ""},
	{"GET", "/apis/apps/v1", "", ""},
	{"POST", "/api/v1/namespaces/default/pods", "Content-Type: application/json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"a.wasm","args":["x"],"env":[{"name":"A","value":"b"}],"resources":{"limits":{"memory":"64Mi"}}}]}}`},
	{"POST", "/api/v1/namespaces/default/pods", "Content-Type: application/yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  generateName: g-\nspec:\n  containers:\n  - name: c\n    image: a.wasm\n"},
	{"GET", "/api/v1/namespaces/default/pods/p", "Authorization: Bearer x\nAccept: application/json", ""},
	{"GET", "/api/v1/pods?labelSelector=app%3Dweb&fieldSelector=spec.nodeName%3Dn1&limit=500", "", ""},
	{"GET", "/api/v1/namespaces/default/pods?watch=1&resourceVersion=0&timeoutSeconds=1&allowWatchBookmarks=true", "", ""},
	{"GET", "/api/v1/watch/namespaces/default/pods/p", "", ""},
	{"PUT", "/api/v1/namespaces/default/pods/p", "Content-Type: application/json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","resourceVersion":"1"},"spec":{"containers":[{"name":"c","image":"b.wasm"}]}}`},
	{"PUT", "/api/v1/namespaces/default/pods/p/status", "Content-Type: application/json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}`},
	{"PATCH", "/api/v1/namespaces/default/pods/p", "Content-Type: application/merge-patch+json", `{"metadata":{"labels":{"x":"y"}}}`},
	{"PATCH", "/api/v1/namespaces/default/pods/p", "Content-Type: application/strategic-merge-patch+json", `{"spec":{"containers":[{"name":"c","image":"c.wasm"}]}}`},
	{"PATCH", "/api/v1/namespaces/default/pods/p/status", "Content-Type: application/json-patch+json", `[{"op":"replace","path":"/status/phase","value":"Failed"},{"op":"test","path":"/metadata/name","value":"p"}]`},
	{"POST", "/api/v1/namespaces/default/pods/p/binding", "Content-Type: application/json", `{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"},"target":{"kind":"Node","name":"node-1"}}`},
	{"GET", "/api/v1/namespaces/default/pods/p/log?container=c&tailLines=10&timestamps=true", "", ""},
	{"GET", "/api/v1/namespaces/default/pods/p/log?follow=true&limitBytes=5", "", ""},
	{"POST", "/api/v1/namespaces/default/pods/p/exec?command=sh&command=-c&command=ls&stdout=true", "Connection: Upgrade\nUpgrade: websocket\nSec-WebSocket-Version: 13\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Protocol: v5.channel.k8s.io", ""},
	{"GET", "/api/v1/namespaces/default/pods/p/portforward?ports=8080", "Connection: Upgrade\nUpgrade: websocket", ""},
	{"DELETE", "/api/v1/namespaces/default/pods/p", "Content-Type: application/json", `{"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":-1,"preconditions":{"uid":"u"}}`},
	{"DELETE", "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb&gracePeriodSeconds=0", "", ""},
	{"POST", "/api/v1/namespaces", "Content-Type: application/json", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"ns1"}}`},
	{"DELETE", "/api/v1/namespaces/ns1", "", ""},
	{"PUT", "/api/v1/namespaces/ns1/finalize", "Content-Type: application/json", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"ns1"},"spec":{"finalizers":[]}}`},
	{"POST", "/api/v1/namespaces/default/services", "Content-Type: application/json", `{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"type":"NodePort","selector":{"app":"web"},"ports":[{"port":80,"targetPort":"http"}]}}`},
	{"POST", "/api/v1/namespaces/default/limitranges", "Content-Type: application/json", `{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"l"},"spec":{"limits":[{"type":"Container","max":{"memory":"1Gi"},"min":{"cpu":"10m"},"maxLimitRequestRatio":{"cpu":"4"}}]}}`},
	{"POST", "/api/v1/nodes", "Content-Type: application/json", `{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-1"},"status":{"capacity":{"cpu":"2"}}}`},
	{"PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1", "Content-Type: application/json", `{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"node-1"},"spec":{"holderIdentity":"node-1"}}`},
	{"POST", "/apis/apps/v1/namespaces/default/deployments", "Content-Type: application/json", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}}`},
	{"POST", "/api/v1/namespaces/default/events", "Content-Type: application/json", `{"apiVersion":"v1","kind":"Event","metadata":{"name":"e"},"involvedObject":{"kind":"Pod","name":"p"},"reason":"Started"}`},
	{"PATCH", "/api/v1/namespaces/default/pods/p", "Content-Type: application/apply-patch+yaml", "{}"},
	{"POST", "/api/v1/namespaces/default/pods?dryRun=All", "Content-Type: application/json", "{}"},
}

// FuzzHTTP sends arbitrary requests (method, target, headers, body) to the
// real handler over a memory store, with a node connector registered.
// Nothing may panic, hang or answer 5xx, except 503 when the request's own
// deadline ended it (a watch or followed log reaching its end) and 501 to
// a backup (the memory store has none).
func FuzzHTTP(f *testing.F) {
	for _, s := range httpSeeds {
		f.Add(s[0], s[1], s[2], s[3])
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := New(ctx, memory.New(), Options{})
	if err != nil {
		f.Fatal(err)
	}
	s.RegisterNode("node-1", &fakeNode{release: make(chan struct{})})
	h := s.Handler(HandlerOptions{MaxBodyBytes: 256 << 10, MaxJSONDepth: 32})
	f.Fuzz(func(t *testing.T, method, target, headers, body string) {
		if !isToken(method) {
			return // net/http refuses such a request line before any handler
		}
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(target, "/") {
			return
		}
		rctx, rcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer rcancel()
		req, err := http.NewRequestWithContext(rctx, method, "http://wasmpod.test"+u.RequestURI(), strings.NewReader(body))
		if err != nil {
			return
		}
		for _, line := range strings.Split(headers, "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && isToken(k) && !strings.ContainsAny(v, "\r\x00\x7f") {
				req.Header.Add(k, strings.TrimSpace(v))
			}
		}
		rec := httptest.NewRecorder()
		done := make(chan any, 1)
		go func() {
			defer func() { done <- recover() }()
			h.ServeHTTP(rec, req)
		}()
		select {
		case p := <-done:
			if p != nil && p != http.ErrAbortHandler {
				t.Fatalf("%s %s: panic: %v", method, target, p)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s %s: no answer 10s after the request (deadline 100ms)", method, target)
		}
		switch {
		case strings.Contains(rec.Body.String(), "panic:"):
			t.Fatalf("%s %s: a handler panicked: %s", method, target, rec.Body.String())
		case rec.Code == http.StatusServiceUnavailable && rctx.Err() != nil:
			// the request's deadline ended it
		case rec.Code == http.StatusNotImplemented && u.Path == BackupPath:
			// the documented answer of a memory store to a backup
		case rec.Code == http.StatusServiceUnavailable && strings.HasSuffix(u.Path, "/portforward") &&
			strings.Contains(rec.Body.String(), "does not support port-forward"):
			// the documented answer for a node with no PortForwarder, as
			// fakeNode is (a fuzz run found a pod bound to it: CI, FuzzHTTP)
		case rec.Code >= 500:
			t.Fatalf("%s %s (headers %q, body %q): %d %s", method, target, headers, body, rec.Code, rec.Body.String())
		}
	})
}

// isToken reports whether s is an HTTP token (RFC 9110), as a method or a
// header name must be to reach a handler.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
