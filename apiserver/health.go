package apiserver

// health.go serves /healthz, /livez and /readyz as kube-apiserver's
// k8s.io/apiserver/pkg/server/healthz does:
//
//   - GET /healthz (/livez, /readyz) runs every check and answers "ok";
//     with ?verbose it lists them, "[+]ping ok" one a line, then
//     "healthz check passed". ?exclude=NAME (repeatable) skips a check
//     ("[+]NAME excluded: ok"); excluding an unknown name adds a "warn:"
//     line. A failing check makes the answer 500 "[-]NAME failed: reason
//     withheld ... healthz check failed" (the reason is not public).
//   - GET /healthz/NAME runs one check: "ok", or 500 "internal server
//     error: <reason>".
//
// The checks are "ping" (always passes) and "store" (the store answers a
// read within storeCheckTimeout; kube-apiserver calls its equivalent
// "etcd"). /livez and /readyz run the same checks as /healthz.
//
// Authentication, as kube-apiserver's default RBAC roles: the three root
// paths (and /version) are public (system:public-info-viewer lets
// system:unauthenticated get them), but a request that presents a wrong
// bearer token is still refused (401), since upstream authenticates a
// presented token before it falls back to anonymous. /healthz/NAME needs
// the token like every API path (upstream: system:monitoring).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/wasmpod/wasmpod/store"
)

// storeCheckTimeout bounds the "store" health check's read.
const storeCheckTimeout = 5 * time.Second

// healthCheck is one named check.
type healthCheck struct {
	name  string
	check func(ctx context.Context) error
}

// healthEndpoints are the root paths of the health endpoints.
var healthEndpoints = map[string]bool{"healthz": true, "livez": true, "readyz": true}

// healthChecks are the checks every health endpoint runs, in order.
func (s *Server) healthChecks() []healthCheck {
	return []healthCheck{
		{"ping", func(context.Context) error { return nil }},
		{"store", func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, storeCheckTimeout)
			defer cancel()
			_, err := s.store.Get(ctx, s.resources["/namespaces"].key("", "default"))
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			return nil
		}},
	}
}

// isPublicPath: the paths kube-apiserver's system:public-info-viewer role
// opens to everyone.
func isPublicPath(path string) bool {
	switch path {
	case "/healthz", "/livez", "/readyz", "/version", "/version/":
		return true
	}
	return false
}

// serveHealthRoot answers GET /healthz, /livez or /readyz.
func (h *httpHandler) serveHealthRoot(w http.ResponseWriter, req *http.Request, endpoint string) {
	q := req.URL.Query()
	excluded := map[string]bool{}
	for _, e := range q["exclude"] {
		excluded[e] = true
	}
	var out strings.Builder
	failed := false
	for _, c := range h.s.healthChecks() {
		if excluded[c.name] {
			delete(excluded, c.name)
			fmt.Fprintf(&out, "[+]%s excluded: ok\n", c.name)
			continue
		}
		if err := c.check(req.Context()); err != nil {
			fmt.Fprintf(&out, "[-]%s failed: reason withheld\n", c.name)
			failed = true
		} else {
			fmt.Fprintf(&out, "[+]%s ok\n", c.name)
		}
	}
	if len(excluded) > 0 {
		var names []string
		for n := range excluded {
			names = append(names, fmt.Sprintf("%q", n))
		}
		sort.Strings(names)
		fmt.Fprintf(&out, "warn: some health checks cannot be excluded: no matches for %s\n", strings.Join(names, ","))
	}
	if failed {
		http.Error(w, fmt.Sprintf("%s%s check failed", out.String(), endpoint), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if _, verbose := q["verbose"]; !verbose {
		fmt.Fprint(w, "ok")
		return
	}
	fmt.Fprintf(w, "%s%s check passed\n", out.String(), endpoint)
}

// serveHealthCheck answers GET /healthz/NAME (and /livez/NAME,
// /readyz/NAME); it reports false for an unknown check.
func (h *httpHandler) serveHealthCheck(w http.ResponseWriter, req *http.Request, name string) bool {
	for _, c := range h.s.healthChecks() {
		if c.name != name {
			continue
		}
		if err := c.check(req.Context()); err != nil {
			http.Error(w, fmt.Sprintf("internal server error: %v", err), http.StatusInternalServerError)
			return true
		}
		fmt.Fprint(w, "ok")
		return true
	}
	return false
}
