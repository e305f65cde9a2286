// Package ui is wasmpod's web dashboard: static, hand-written HTML, CSS
// and JavaScript embedded in the binary and served by `wasmpod serve` at
// /ui. The page holds no data of its own: it logs in with a bearer token
// (kept in the tab's sessionStorage) and calls the real Kubernetes API
// paths (/api/v1/..., /apis/apps/v1/...) with "Authorization: Bearer", so
// authentication, RBAC and admission apply to it exactly as to kubectl.
// Lists stay live through watches (?watch=1, JSON lines over fetch);
// the exec terminal (a VT emulator of our own, assets/vt.js) speaks
// v5.channel.k8s.io over a WebSocket, with the token in the
// base64url.bearer.authorization.k8s.io subprotocol (apiserver/authn_ws.go).
//
// The shell itself (these files) is public, as upstream dashboards' are:
// every data path behind it answers 401 without a token. Pages build DOM
// with textContent only, and a Content-Security-Policy without
// 'unsafe-inline' keeps injected markup from running even if it got in.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed assets
var assets embed.FS

// Prefix is the dashboard's path.
const Prefix = "/ui"

// csp: scripts, styles and connections only from this origin (WebSocket
// to it included), no inline script or style, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the dashboard's files at /ui/ (index.html for /ui/ and
// any path that names no file, so that a reload keeps the page).
func Handler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if req.URL.Path == Prefix {
			http.Redirect(w, req, Prefix+"/", http.StatusMovedPermanently)
			return
		}
		name := strings.TrimPrefix(path.Clean(req.URL.Path), Prefix)
		name = strings.TrimPrefix(name, "/")
		if name == "" || strings.HasPrefix(name, ".") {
			name = "index.html"
		}
		b, err := fs.ReadFile(sub, name)
		if err != nil {
			name = "index.html"
			if b, err = fs.ReadFile(sub, name); err != nil {
				http.Error(w, "not found", http.StatusNotFound)
				return
			}
		}
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		switch path.Ext(name) {
		case ".html":
			h.Set("Content-Type", "text/html; charset=utf-8")
		case ".js":
			h.Set("Content-Type", "text/javascript; charset=utf-8")
		case ".css":
			h.Set("Content-Type", "text/css; charset=utf-8")
		case ".svg":
			h.Set("Content-Type", "image/svg+xml")
		default:
			h.Set("Content-Type", "application/octet-stream")
		}
		if req.Method == http.MethodHead {
			return
		}
		w.Write(b)
	})
}

// Mount returns api with the dashboard at /ui and /ui/...; every other
// path goes to api unchanged.
func Mount(api http.Handler) http.Handler { return MountWithHistory(api, nil) }

// MountWithHistory is Mount with hist's usage history served under
// /ui/api/ (history.go); nil serves none (404).
func MountWithHistory(api http.Handler, hist *Sampler) http.Handler {
	ui := Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasPrefix(req.URL.Path, Prefix+"/api/") {
			if hist == nil {
				jsonStatus(w, http.StatusNotFound, "NotFound", "no usage history is kept")
				return
			}
			hist.serveHistory(api, w, req)
			return
		}
		if p := req.URL.Path; p == Prefix || strings.HasPrefix(p, Prefix+"/") {
			ui.ServeHTTP(w, req)
			return
		}
		api.ServeHTTP(w, req)
	})
}
