package apiserver

// http.go serves the Server on Kubernetes REST paths, with Kubernetes JSON
// bodies and metav1.Status errors, so that client-go and kubectl can speak
// to it:
//
//	/version /healthz /readyz /livez (health.go)
//	/api /api/v1 /apis /apis/{group} /apis/{group}/{version}
//	/api/v1/[watch/][namespaces/{ns}/]{resource}[/{name}[/{subresource}]]
//	/apis/{group}/{version}/[watch/][namespaces/{ns}/]{resource}[/{name}[/{subresource}]]
//
// Contracts:
//   - Every error body is a metav1.Status with the code, reason, message
//     and details kube-apiserver would send; a panic in a handler becomes a
//     500 Status, never a dropped connection.
//   - Lists return every matching object (limit is accepted and ignored:
//     no continue token is ever returned).
//   - Watches stream metav1.WatchEvent JSON objects, one flush per event,
//     until the client goes away, timeoutSeconds (without one: 1 to 2 ×
//     MinRequestTimeout, as upstream) passes or the core watch
//     ends (an ERROR event with a Status carries the reason).
//   - Server-side apply (apply.go) and managedFields on every write
//     (managedfields.go); dryRun=All is served (dryrun.go).
//   - get, list and watch answer meta.k8s.io Tables, PartialObjectMetadata
//     and PartialObjectMetadataList when the Accept header asks (table.go).
//   - Bodies and answers are Kubernetes protobuf when the Content-Type and
//     Accept headers ask for it (protobuf.go); JSON otherwise.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/wasmpod/wasmpod/internal/streaming"
)

// GitVersion is the version the server reports at /version.
const GitVersion = "v1.37.2-wasmpod"

// DefaultMaxBodyBytes is the request body limit when HandlerOptions leaves
// it zero (3 MiB, as kube-apiserver).
const DefaultMaxBodyBytes = 3 << 20

// HandlerOptions configures the HTTP handler.
type HandlerOptions struct {
	// Token, when non-empty, is required as "Authorization: Bearer <token>"
	// on every request but /healthz, /livez, /readyz and /version (401
	// otherwise), which anonymous requests may get; a wrong token is 401
	// there too (health.go).
	Token string
	// Users authenticates other bearer tokens (a --token-auth-file,
	// LoadTokenFile) as users that RBAC authorizes (authn.go, rbac.go).
	Users authenticator.Token
	// MaxBodyBytes limits request bodies (413 beyond); DefaultMaxBodyBytes
	// when zero.
	MaxBodyBytes int64
	// MaxJSONDepth limits the nesting of arrays and objects in JSON (and
	// YAML) bodies (400 beyond, before anything is decoded);
	// DefaultMaxJSONDepth when zero.
	MaxJSONDepth int
	// MinRequestTimeout bounds a watch that gives no timeoutSeconds (or
	// 0): it ends after a random time between it and twice it, as with
	// kube-apiserver's --min-request-timeout (handlers/get.go), so that no
	// watch outlives its authorization forever and clients spread their
	// re-watches; DefaultMinRequestTimeout when zero.
	MinRequestTimeout time.Duration
	// Metrics, when set, counts the handler's requests and serves GET
	// /metrics (metrics.go); nil: /metrics is 404.
	Metrics *Metrics
	// noAggregatedDiscovery answers /api and /apis with the unaggregated
	// documents only (tests and benchmarks compare the two).
	noAggregatedDiscovery bool
}

// DefaultMinRequestTimeout is kube-apiserver's --min-request-timeout
// default (1800 s).
const DefaultMinRequestTimeout = 1800 * time.Second

// DefaultMaxJSONDepth is the JSON nesting limit when HandlerOptions leaves
// it zero. The deepest Kubernetes objects (a pod's node affinity
// expressions) nest about 10 levels.
const DefaultMaxJSONDepth = 100

// Handler returns the HTTP handler serving s on Kubernetes REST paths.
func (s *Server) Handler(opts HandlerOptions) http.Handler {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxJSONDepth <= 0 {
		opts.MaxJSONDepth = DefaultMaxJSONDepth
	}
	if opts.MinRequestTimeout <= 0 {
		opts.MinRequestTimeout = DefaultMinRequestTimeout
	}
	h := &httpHandler{s: s, opts: opts}
	if opts.Metrics != nil {
		opts.Metrics.storage.s.Store(s)
		return &instrumented{next: h, m: opts.Metrics, s: s} // metrics.go
	}
	return h
}

type httpHandler struct {
	s    *Server
	opts HandlerOptions
}

// trackingWriter remembers whether the header went out, so a panic can
// still be answered with a Status.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
	proto bool // the client asked for protobuf (protobuf.go)
}

func (w *trackingWriter) WriteHeader(code int) { w.wrote = true; w.ResponseWriter.WriteHeader(code) }
func (w *trackingWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}
func (w *trackingWriter) Flush() {
	w.wrote = true
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (h *httpHandler) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	w := &trackingWriter{ResponseWriter: rw, proto: acceptsProtobuf(req)}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			if !w.wrote {
				writeError(w, apierrors.NewInternalError(fmt.Errorf("panic: %v\n%s", p, debug.Stack())))
			}
		}
	}()
	path := req.URL.Path
	if strings.Contains(path, "//") {
		// The router drops empty segments and the authorizer's
		// RequestInfo keeps them: pods/p//status would be authorized as
		// pods and served as pods/status. Upstream's mux routes no such
		// path either.
		writeError(w, notFound())
		return
	}
	if isPublicPath(path) && h.authRequired() && req.Header.Get("Authorization") != "" && !h.authenticated(req) {
		// Public paths are public to anonymous requests; a wrong token is
		// still refused, as upstream (health.go).
		writeError(w, &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusUnauthorized,
			Reason: metav1.StatusReasonUnauthorized, Message: "Unauthorized"}})
		return
	}
	switch path {
	case "/healthz", "/livez", "/readyz":
		h.serveHealthRoot(w, req, path[1:])
		return
	case "/version", "/version/":
		writeJSON(w, http.StatusOK, version.Info{
			Major: "1", Minor: "37", GitVersion: GitVersion, GitTreeState: "clean",
			GoVersion: goruntime.Version(), Compiler: goruntime.Compiler,
			Platform: goruntime.GOOS + "/" + goruntime.GOARCH,
		})
		return
	}
	u, ok := h.authenticate(req) // authn.go
	anonymous := false
	if !ok && path == ClusterInfoPath && req.Method == http.MethodGet && req.Header.Get("Authorization") == "" {
		u, ok, anonymous = anonymousUser, true, true // kubeadm's discovery (bootstrap.go)
	}
	if !ok {
		writeError(w, &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusUnauthorized,
			Reason: metav1.StatusReasonUnauthorized, Message: "Unauthorized"}})
		return
	}
	// The connection carried a valid token (or none is needed): it no
	// longer counts against LimitUnauthenticated's cap.
	if !anonymous {
		markAuthenticated(req.Context())
	}
	u, err := h.impersonate(req, u) // authn.go
	if err != nil {
		writeError(w, err)
		return
	}
	req = req.WithContext(WithUser(req.Context(), u))
	if err := h.authorize(req); err != nil { // rbac_authz.go
		writeError(w, err)
		return
	}
	if isModulesPath(path) { // modules.go: a module may be larger than MaxBodyBytes
		h.serveModules(w, req)
		return
	}
	if req.Body != nil {
		if req.ContentLength > h.opts.MaxBodyBytes {
			writeError(w, tooLarge(h.opts.MaxBodyBytes))
			return
		}
		req.Body = http.MaxBytesReader(w, req.Body, h.opts.MaxBodyBytes)
	}
	parts := splitPath(path)
	switch {
	case len(parts) == 1 && (parts[0] == "api" || parts[0] == "apis") && h.serveAggregatedDiscovery(w, req, parts[0]):
		// aggregated discovery, when asked for (discovery_aggregated.go)
	case len(parts) == 1 && parts[0] == "api":
		writeJSON(w, http.StatusOK, &metav1.APIVersions{
			TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
			Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
				{ClientCIDR: "0.0.0.0/0", ServerAddress: req.Host}},
		})
	case len(parts) == 1 && parts[0] == "apis":
		writeJSON(w, http.StatusOK, h.groupList())
	case len(parts) == 2 && parts[0] == "api" && parts[1] == "v1":
		writeJSON(w, http.StatusOK, h.resourceList(corev1.SchemeGroupVersion))
	case len(parts) == 2 && parts[0] == "apis":
		for _, g := range h.groupList().Groups {
			if g.Name == parts[1] {
				g.Kind, g.APIVersion = "APIGroup", "v1"
				writeJSON(w, http.StatusOK, &g)
				return
			}
		}
		writeError(w, notFound())
	case len(parts) == 3 && parts[0] == "apis":
		gv := schema.GroupVersion{Group: parts[1], Version: parts[2]}
		list := h.resourceList(gv)
		if len(list.APIResources) == 0 {
			writeError(w, notFound())
			return
		}
		writeJSON(w, http.StatusOK, list)
	case len(parts) >= 5 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "nodes" && parts[4] == "proxy":
		h.serveNodeProxy(w, req, parts[2:]) // nodeproxy.go
	case len(parts) > 2 && parts[0] == "api" && parts[1] == "v1":
		h.serveResource(w, req, corev1.SchemeGroupVersion, parts[2:])
	case len(parts) == 4 && parts[0] == "apis" && h.serveReview(w, req, parts[1], parts[2], parts[3]):
		// self-subject reviews (authreview.go)
	case len(parts) > 3 && parts[0] == "apis" && parts[1] == metricsGroup:
		h.serveMetricsAPI(w, req, parts[2], parts[3:]) // metrics_api.go
	case len(parts) > 3 && parts[0] == "apis":
		h.serveResource(w, req, schema.GroupVersion{Group: parts[1], Version: parts[2]}, parts[3:])
	case len(parts) >= 2 && parts[0] == "openapi":
		h.serveOpenAPI(w, req, parts) // openapi.go
	case path == "/metrics":
		h.serveMetrics(w, req) // metrics.go
	case path == BackupPath:
		h.serveBackup(w, req)
	case path == NodeCredentialPath:
		h.serveNodeCredential(w, req) // bootstrap.go
	case strings.HasPrefix(path, TunnelPath):
		h.serveTunnel(w, req, strings.TrimPrefix(path, TunnelPath)) // tunnel.go
	case len(parts) == 2 && healthEndpoints[parts[0]] && h.serveHealthCheck(w, req, parts[1]):
		// /healthz/NAME (health.go)
	default:
		writeError(w, notFound())
	}
}

func (h *httpHandler) authenticated(req *http.Request) bool {
	_, ok := h.authenticate(req)
	return ok
}

func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// --- encoding of responses ---------------------------------------------------

func writeJSON(w http.ResponseWriter, code int, obj any) {
	if writeProtobuf(w, code, obj) { // protobuf.go
		return
	}
	b, err := json.Marshal(obj)
	if err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// statusOf turns any error into the Status kube-apiserver would send
// (streaming.StatusOf: the node agent's streaming server answers the same).
func statusOf(err error) *metav1.Status { return streaming.StatusOf(err) }

func writeError(w http.ResponseWriter, err error) {
	st := statusOf(err)
	writeJSON(w, int(st.Code), st)
}

func notFound() error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound,
		Message: "the server could not find the requested resource", Details: &metav1.StatusDetails{}}}
}

func tooLarge(limit int64) error {
	return apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", limit))
}

func statusErr(code int32, reason metav1.StatusReason, msg string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: reason, Message: msg}}
}

func methodNotAllowed(method string) error {
	return apierrors.NewMethodNotSupported(schema.GroupResource{}, strings.ToLower(method))
}

// --- discovery ----------------------------------------------------------------

func (h *httpHandler) groupList() *metav1.APIGroupList {
	list := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []metav1.APIGroup{}}
	seen := map[string]int{}
	for _, r := range h.s.Resources() {
		g := r.GVR.Group
		if g == "" {
			continue
		}
		gvd := metav1.GroupVersionForDiscovery{GroupVersion: r.GVR.GroupVersion().String(), Version: r.GVR.Version}
		i, ok := seen[g]
		if !ok {
			list.Groups = append(list.Groups, metav1.APIGroup{Name: g, PreferredVersion: gvd})
			i = len(list.Groups) - 1
			seen[g] = i
		}
		have := false
		for _, v := range list.Groups[i].Versions {
			have = have || v == gvd
		}
		if !have {
			list.Groups[i].Versions = append(list.Groups[i].Versions, gvd)
		}
	}
	h.s.addHPAV1Group(list) // hpa_v1.go
	addReviewGroups(list)   // authreview.go
	addMetricsGroup(list)   // metrics_api.go
	return list
}

var allVerbs = metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// resourceList is gv's unaggregated discovery document; the aggregated one
// is built from it (discovery_aggregated.go).
func (h *httpHandler) resourceList(gv schema.GroupVersion) *metav1.APIResourceList {
	list := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String(), APIResources: []metav1.APIResource{}}
	for _, r := range h.s.Resources() {
		if r.GVR.GroupVersion() != gv {
			continue
		}
		verbs := allVerbs
		if r.GVR.Resource == "namespaces" {
			verbs = metav1.Verbs{"create", "delete", "get", "list", "patch", "update", "watch"}
		}
		if r.listOnly != "" {
			verbs = listOnlyVerbs // listonly.go
		}
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: r.GVR.Resource, SingularName: r.Singular(), Namespaced: r.Namespaced, Kind: r.Kind,
			Verbs: verbs, ShortNames: r.ShortNames, Categories: r.Categories,
		})
		sub := func(name, kind string, verbs ...string) {
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: r.GVR.Resource + "/" + name, Namespaced: r.Namespaced, Kind: kind, Verbs: verbs})
		}
		if r.GVR.Resource == "pods" {
			sub("binding", "Binding", "create")
			list.APIResources = append(list.APIResources, evictionAPIResource) // eviction.go
			sub("attach", "PodAttachOptions", "create", "get")
			sub("exec", "PodExecOptions", "create", "get")
			sub("log", "Pod", "get")
			sub("portforward", "PodPortForwardOptions", "create", "get")
		}
		if r.GVR.Resource == "nodes" {
			sub("proxy", "NodeProxyOptions", "create", "delete", "get", "patch", "update") // nodeproxy.go
		}
		if hasScale(r) {
			list.APIResources = append(list.APIResources, scaleAPIResource(r)) // scale.go
		}
		if r.Status {
			sub("status", r.Kind, "get", "patch", "update")
		}
		if r.approval {
			sub("approval", r.Kind, "get", "patch", "update")
		}
		if r.GVR.Resource == "serviceaccounts" {
			list.APIResources = append(list.APIResources, tokenAPIResource) // tokens_request.go
		}
	}
	list.APIResources = append(list.APIResources, h.s.hpaV1Resources(gv)...)  // hpa_v1.go
	list.APIResources = append(list.APIResources, reviewAPIResources(gv)...)  // authreview.go
	list.APIResources = append(list.APIResources, metricsAPIResources(gv)...) // metrics_api.go
	return list
}

// --- resources ----------------------------------------------------------------

// request is a parsed resource request.
type request struct {
	r           *Resource
	ns, name    string
	subresource string
	watch       bool
	namespaced  bool // the path named a namespace
}

// parseResourcePath parses the part of a path after /api/v1 or
// /apis/{g}/{v}, with the rules of kube-apiserver's RequestInfo.
func (h *httpHandler) parseResourcePath(gv schema.GroupVersion, parts []string) (*request, error) {
	rq := &request{}
	if parts[0] == "watch" {
		rq.watch = true
		parts = parts[1:]
	}
	if len(parts) >= 2 && parts[0] == "namespaces" {
		if len(parts) == 2 || parts[2] == "status" || parts[2] == "finalize" {
			// the namespaces resource itself: namespaces/{name}[/status]
		} else {
			rq.ns, rq.namespaced = parts[1], true
			parts = parts[2:]
		}
	}
	if len(parts) == 0 || len(parts) > 3 {
		return nil, notFound()
	}
	r, ok := h.s.Resource(gv.Group, parts[0])
	if !ok || r.GVR.Version != gv.Version {
		return nil, notFound()
	}
	rq.r = r
	if len(parts) > 1 {
		rq.name = parts[1]
	}
	if len(parts) > 2 {
		rq.subresource = parts[2]
	}
	if rq.namespaced && !r.Namespaced {
		return nil, notFound()
	}
	if r.Namespaced && !rq.namespaced && rq.name != "" {
		return nil, notFound() // namespaced items need a namespace in the path
	}
	return rq, nil
}

func (h *httpHandler) serveResource(w http.ResponseWriter, req *http.Request, gv schema.GroupVersion, parts []string) {
	rq, err := h.parseResourcePath(gv, parts)
	if err != nil {
		if h.serveHPAV1(w, req, gv, parts) { // autoscaling/v1 (hpa_v1.go)
			return
		}
		writeError(w, err)
		return
	}
	if req, err = dryRunRequest(req); err != nil { // dryrun.go
		writeError(w, err)
		return
	}
	if req, err = fieldValidationRequest(req, w); err != nil { // fieldvalidation.go
		writeError(w, err)
		return
	}
	if req, err = fieldManagerRequest(req); err != nil { // managedfields.go
		writeError(w, err)
		return
	}
	ctx := req.Context()
	s, r := h.s, rq.r
	if rq.watch && req.Method != http.MethodGet {
		writeError(w, methodNotAllowed(req.Method))
		return
	}
	if r.listOnly != "" && req.Method != http.MethodGet {
		verb := map[string]string{http.MethodPost: "create", http.MethodPut: "update", http.MethodPatch: "patch", http.MethodDelete: "delete"}[req.Method]
		if verb == "" {
			verb = strings.ToLower(req.Method)
		}
		writeError(w, refuseListOnly(r, verb)) // listonly.go
		return
	}
	if rq.name == "" {
		switch req.Method {
		case http.MethodGet:
			opts, err := listOptions(req)
			if err != nil {
				writeError(w, err)
				return
			}
			if rq.watch || opts.Watch {
				h.serveWatch(w, req, r, rq.ns, opts)
				return
			}
			target, err := negotiateRead(req) // Table, PartialObjectMetadataList (table.go)
			if err != nil {
				writeError(w, err)
				return
			}
			obj, err := s.List(ctx, r, rq.ns, opts)
			h.respondRead(w, r, target, obj, err)
		case http.MethodPost:
			if r.Namespaced && !rq.namespaced {
				writeError(w, methodNotAllowed(req.Method))
				return
			}
			obj, err := h.decodeBody(req, r)
			if err != nil {
				writeError(w, err)
				return
			}
			obj, err = s.Create(ctx, r, rq.ns, obj)
			respond(w, r, http.StatusCreated, obj, err)
		case http.MethodDelete:
			if r.Namespaced && !rq.namespaced {
				writeError(w, methodNotAllowed(req.Method))
				return
			}
			h.serveDeleteCollection(w, req, rq)
		default:
			writeError(w, methodNotAllowed(req.Method))
		}
		return
	}
	if rq.watch {
		opts, err := listOptions(req)
		if err != nil {
			writeError(w, err)
			return
		}
		sel := "metadata.name=" + rq.name
		if opts.FieldSelector != "" {
			sel += "," + opts.FieldSelector
		}
		opts.FieldSelector = sel
		h.serveWatch(w, req, r, rq.ns, opts)
		return
	}
	switch rq.subresource {
	case "":
		h.serveItem(w, req, rq)
	case "status":
		if !r.Status {
			writeError(w, notFound())
			return
		}
		h.serveItem(w, req, rq)
	case "approval":
		if !r.approval {
			writeError(w, notFound())
			return
		}
		h.serveCSRApproval(w, req, rq) // csr.go
	case "scale":
		if !hasScale(r) {
			writeError(w, notFound())
			return
		}
		h.serveScale(w, req, rq) // scale.go
	case "binding":
		if r.GVR.Resource != "pods" || req.Method != http.MethodPost {
			writeError(w, pick(r.GVR.Resource != "pods", notFound(), methodNotAllowed(req.Method)))
			return
		}
		h.serveBinding(w, req, rq)
	case "log":
		if r.GVR.Resource != "pods" || req.Method != http.MethodGet {
			writeError(w, pick(r.GVR.Resource != "pods", notFound(), methodNotAllowed(req.Method)))
			return
		}
		h.serveLog(w, req, rq)
	case "exec":
		if r.GVR.Resource != "pods" || (req.Method != http.MethodGet && req.Method != http.MethodPost) {
			writeError(w, pick(r.GVR.Resource != "pods", notFound(), methodNotAllowed(req.Method)))
			return
		}
		h.serveExec(w, req, rq)
	case "eviction":
		if r.GVR.Resource != "pods" {
			writeError(w, notFound())
			return
		}
		h.serveEviction(w, req, rq) // eviction.go
	case "token":
		if r.GVR.Resource != "serviceaccounts" {
			writeError(w, notFound())
			return
		}
		h.serveTokenRequest(w, req, rq) // tokens_request.go
	case "portforward":
		if r.GVR.Resource != "pods" || (req.Method != http.MethodGet && req.Method != http.MethodPost) {
			writeError(w, pick(r.GVR.Resource != "pods", notFound(), methodNotAllowed(req.Method)))
			return
		}
		h.servePortForward(w, req, rq)
	case "attach":
		if r.GVR.Resource != "pods" || (req.Method != http.MethodGet && req.Method != http.MethodPost) {
			writeError(w, pick(r.GVR.Resource != "pods", notFound(), methodNotAllowed(req.Method)))
			return
		}
		h.serveAttach(w, req, rq) // attach.go
	default:
		writeError(w, notFound())
	}
}

func pick(c bool, a, b error) error {
	if c {
		return a
	}
	return b
}

// respond writes obj (with its kind set) or the error.
func respond(w http.ResponseWriter, r *Resource, code int, obj runtime.Object, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	if obj.GetObjectKind().GroupVersionKind().Empty() {
		obj.GetObjectKind().SetGroupVersionKind(r.GVK())
	}
	writeJSON(w, code, obj)
}

func (h *httpHandler) serveItem(w http.ResponseWriter, req *http.Request, rq *request) {
	ctx, s, r := req.Context(), h.s, rq.r
	switch req.Method {
	case http.MethodGet:
		target, err := negotiateRead(req) // Table, PartialObjectMetadata (table.go)
		if err != nil {
			writeError(w, err)
			return
		}
		obj, err := s.Get(ctx, r, rq.ns, rq.name)
		h.respondRead(w, r, target, obj, err)
	case http.MethodPut:
		obj, err := h.decodeBody(req, r)
		if err != nil {
			writeError(w, err)
			return
		}
		m, _ := meta.Accessor(obj)
		if m.GetName() == "" {
			m.SetName(rq.name)
		}
		if m.GetName() != rq.name {
			writeError(w, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), rq.name)))
			return
		}
		obj, err = s.Update(ctx, r, rq.ns, obj, rq.subresource)
		respond(w, r, http.StatusOK, obj, err)
	case http.MethodPatch:
		ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
		pt := types.PatchType(ct)
		switch pt {
		case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType:
		case types.ApplyYAMLPatchType, types.ApplyCBORPatchType:
			h.serveApply(w, req, rq, pt) // apply.go
			return
		default:
			writeError(w, unsupportedPatchType())
			return
		}
		data, err := readBody(req)
		if err != nil {
			writeError(w, err)
			return
		}
		if err := checkJSONDepth(data, h.opts.MaxJSONDepth); err != nil {
			writeError(w, err)
			return
		}
		obj, err := s.Patch(ctx, r, rq.ns, rq.name, pt, data, rq.subresource)
		respond(w, r, http.StatusOK, obj, err)
	case http.MethodDelete:
		if rq.subresource != "" {
			writeError(w, methodNotAllowed(req.Method))
			return
		}
		opts, err := h.deleteOptions(req)
		if err != nil {
			writeError(w, err)
			return
		}
		ctx = withWarnings(ctx, w) // deletion.go
		obj, err := s.Delete(ctx, r, rq.ns, rq.name, opts)
		code := http.StatusOK
		if err == nil {
			if m, _ := meta.Accessor(obj); m != nil && m.GetDeletionTimestamp() != nil {
				code = http.StatusAccepted // still terminating
			}
		}
		respond(w, r, code, obj, err)
	default:
		writeError(w, methodNotAllowed(req.Method))
	}
}

func (h *httpHandler) serveDeleteCollection(w http.ResponseWriter, req *http.Request, rq *request) {
	ctx, s, r := req.Context(), h.s, rq.r
	lopts, err := listOptions(req)
	if err != nil {
		writeError(w, err)
		return
	}
	dopts, err := h.deleteOptions(req)
	if err != nil {
		writeError(w, err)
		return
	}
	listObj, err := s.List(ctx, r, rq.ns, lopts)
	if err != nil {
		writeError(w, err)
		return
	}
	items, err := meta.ExtractList(listObj)
	if err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	var deleted []runtime.Object
	ctx = withWarnings(ctx, w) // deletion.go
	for _, it := range items {
		m, _ := meta.Accessor(it)
		obj, err := s.Delete(ctx, r, m.GetNamespace(), m.GetName(), dopts)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			writeError(w, err)
			return
		}
		deleted = append(deleted, obj)
	}
	// As upstream: the answer is the list (kind PodList, ...) of what was
	// deleted.
	if err := meta.SetList(listObj, deleted); err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	respond(w, r, http.StatusOK, listObj, nil)
}

func (h *httpHandler) serveBinding(w http.ResponseWriter, req *http.Request, rq *request) {
	body, err := readBody(req)
	if err != nil {
		writeError(w, err)
		return
	}
	b := &corev1.Binding{}
	if err := decodeInto(body, b, corev1.SchemeGroupVersion.WithKind("Binding"), h.opts.MaxJSONDepth); err != nil {
		writeError(w, err)
		return
	}
	if b.Name == "" {
		b.Name = rq.name
	}
	if b.Name != rq.name {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", b.Name, rq.name)))
		return
	}
	if b.Namespace != "" && b.Namespace != rq.ns {
		writeError(w, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request"))
		return
	}
	if err := h.s.Bind(req.Context(), rq.ns, b); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status: metav1.StatusSuccess, Code: http.StatusCreated})
}

// --- request decoding -----------------------------------------------------------

func listOptions(req *http.Request) (metav1.ListOptions, error) {
	var opts metav1.ListOptions
	if err := decodeQuery(req.URL.Query(), &opts); err != nil {
		return opts, err
	}
	return opts, validateListOptions(&opts) // http_query.go
}

func (h *httpHandler) deleteOptions(req *http.Request) (metav1.DeleteOptions, error) {
	var opts metav1.DeleteOptions
	body, err := readBody(req)
	if err != nil {
		return opts, err
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decodeInto(body, &opts, metav1.SchemeGroupVersion.WithKind("DeleteOptions"), h.opts.MaxJSONDepth); err != nil {
			return opts, err
		}
	}
	if err := decodeQuery(req.URL.Query(), &opts); err != nil {
		return opts, err
	}
	if len(opts.DryRun) > 0 {
		if err := validateDryRun("DeleteOptions", opts.DryRun); err != nil { // dryrun.go
			return opts, err
		}
	}
	return opts, validateDeleteOptions(opts) // deletion.go
}

func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(mbe.Limit)
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("reading the request body: %v", err))
	}
	return b, nil
}

// readObjectBody reads a request's body and its media type (from
// Content-Type; JSON when there is none). A YAML body is turned into
// JSON; original is the body as sent. Any other type is returned as read,
// for the caller to accept or refuse.
func readObjectBody(req *http.Request) (body, original []byte, mt string, err error) {
	mt = "application/json"
	if ct := req.Header.Get("Content-Type"); ct != "" {
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			return nil, nil, "", statusErr(http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType, fmt.Sprintf("invalid Content-Type %q: %v", ct, err))
		}
	}
	if body, err = readBody(req); err != nil {
		return nil, nil, "", err
	}
	original = body
	if isYAML(mt) {
		if body, err = sigsyaml.YAMLToJSON(body); err != nil {
			return nil, nil, "", apierrors.NewBadRequest(fmt.Sprintf("the body of the request is not valid YAML: %v", err))
		}
	}
	return body, original, mt, nil
}

// isYAML reports whether mt is one of YAML's media types.
func isYAML(mt string) bool {
	return mt == "application/yaml" || mt == "application/x-yaml" || mt == "text/yaml"
}

// decodeBody reads a JSON or YAML object of r's kind from the body.
func (h *httpHandler) decodeBody(req *http.Request, r *Resource) (runtime.Object, error) {
	body, original, mt, err := readObjectBody(req)
	if err != nil {
		return nil, err
	}
	switch {
	case mt == "application/json" || mt == "*/*" || isYAML(mt):
	case mt == runtime.ContentTypeProtobuf: // decodeInto reads the envelope (protobuf.go)
		if !isProtobufBody(body) && len(body) > 0 {
			return nil, apierrors.NewBadRequest("the body of the request is not a protobuf " + r.Kind + " object")
		}
	default:
		return nil, statusErr(http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType,
			fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got %q)", mt))
	}
	obj := r.newObj()
	if err := decodeInto(body, obj, r.GVK(), h.opts.MaxJSONDepth); err != nil {
		return nil, err
	}
	if err := checkBodyFields(req.Context(), r, body, original, mt); err != nil { // fieldvalidation.go
		return nil, err
	}
	return obj, nil
}

// decodeInto decodes a JSON object into obj, checking that it nests at
// most maxDepth levels and that its kind and apiVersion (when given) are
// want's.
func decodeInto(body []byte, obj any, want schema.GroupVersionKind, maxDepth int) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return apierrors.NewBadRequest("the request body is empty; expected a " + want.Kind + " object")
	}
	if isProtobufBody(body) {
		return decodeProtobufInto(body, obj, want) // protobuf.go
	}
	if err := checkJSONDepth(body, maxDepth); err != nil {
		return err
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(body, &tm); err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("the body of the request is not a valid %s object: %v", want.Kind, err))
	}
	// Options kinds (DeleteOptions, ...) are accepted in every group
	// version, as kube-apiserver does: client-go sends them as "v1".
	metaKind := want.Group == metav1.GroupName && strings.HasSuffix(tm.APIVersion, "/"+want.Version) || tm.APIVersion == want.Version
	if tm.APIVersion != "" && tm.APIVersion != want.GroupVersion().String() && !(want.Group == metav1.GroupName && metaKind) {
		return apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", tm.APIVersion, want.GroupVersion()))
	}
	if tm.Kind != "" && tm.Kind != want.Kind {
		return apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s) for this URL", tm.Kind, want.Kind))
	}
	if err := unmarshalCaseSensitive(body, obj); err != nil { // fieldvalidation.go
		return apierrors.NewBadRequest(fmt.Sprintf("the body of the request is not a valid %s object: %v", want.Kind, err))
	}
	return nil
}

// --- watch ------------------------------------------------------------------------

type watchEventJSON struct {
	Type   watch.EventType `json:"type"`
	Object json.RawMessage `json:"object"`
}

func (h *httpHandler) serveWatch(w http.ResponseWriter, req *http.Request, r *Resource, ns string, opts metav1.ListOptions) {
	target, err := negotiateRead(req) // one Table per event (table.go)
	if err != nil {
		writeError(w, err)
		return
	}
	if opts.TimeoutSeconds == nil || *opts.TimeoutSeconds == 0 {
		// No timeout asked: MinRequestTimeout times 1 to 2, as upstream.
		t := max(1, int64((h.opts.MinRequestTimeout.Seconds() * (1 + rand.Float64()))))
		opts.TimeoutSeconds = &t
	}
	wi, err := h.s.watch(req.Context(), r, ns, opts, true) // objects shared, read-only (watchcache.go)
	if err != nil {
		writeError(w, err)
		return
	}
	defer wi.Stop()
	if target == nil && wantsProtobuf(w) {
		serveWatchProtobuf(w, req, r, wi, nil) // protobuf.go
		return
	}
	if watchesMetadataProtobuf(req, target) { // protobuf.go
		serveWatchProtobuf(w, req, r, wi, func(obj runtime.Object) runtime.Object { return target.watchObject(h.s, r, obj) })
		return
	}
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	enc := json.NewEncoder(w)
	for {
		select {
		case <-req.Context().Done():
			return
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return
			}
			se, _ := ev.Object.(*sharedEvent)
			if se != nil {
				ev.Object = se.obj
			}
			var obj any = ev.Object
			if st, ok := ev.Object.(*metav1.Status); ok {
				st.Kind, st.APIVersion = "Status", "v1"
			} else if ev.Object.GetObjectKind().GroupVersionKind().Empty() {
				ev.Object.GetObjectKind().SetGroupVersionKind(r.GVK())
			}
			var b []byte
			if target != nil {
				obj = target.watchObject(h.s, r, ev.Object)
				b, err = json.Marshal(obj)
			} else if se != nil {
				b, err = se.encodedJSON() // once for every JSON watcher
			} else {
				b, err = json.Marshal(obj)
			}
			if err != nil {
				b, _ = json.Marshal(statusOf(apierrors.NewInternalError(err)))
				ev.Type = watch.Error
			}
			if err := enc.Encode(watchEventJSON{Type: ev.Type, Object: b}); err != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
			if ev.Type == watch.Error {
				return
			}
		}
	}
}

// --- logs ---------------------------------------------------------------------------

// lazyWriter sends the 200 header on the first write and flushes every
// write, so an error before any output can still be a Status.
type lazyWriter struct {
	w       http.ResponseWriter
	started bool
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		l.w.Header().Set("Content-Type", "text/plain")
		l.w.Header().Set("Transfer-Encoding", "chunked")
		l.w.WriteHeader(http.StatusOK)
	}
	n, err := l.w.Write(p)
	if f, ok := l.w.(http.Flusher); ok {
		f.Flush()
	}
	return n, err
}

func (h *httpHandler) serveLog(w http.ResponseWriter, req *http.Request, rq *request) {
	var opts corev1.PodLogOptions
	if err := decodeQuery(req.URL.Query(), &opts); err != nil {
		writeError(w, err)
		return
	}
	if opts.TailLines != nil && *opts.TailLines < 0 {
		writeError(w, apierrors.NewBadRequest("tailLines: must be greater than or equal to 0"))
		return
	}
	if opts.LimitBytes != nil && *opts.LimitBytes < 1 {
		writeError(w, apierrors.NewBadRequest("limitBytes: must be greater than 0"))
		return
	}
	if opts.SinceSeconds != nil && opts.SinceTime != nil {
		writeError(w, apierrors.NewBadRequest("at most one of `sinceTime` or `sinceSeconds` may be specified"))
		return
	}
	if isWebSocketUpgrade(req) {
		h.serveLogWebSocket(w, req, rq, &opts) // logs_ws.go
		return
	}
	lw := &lazyWriter{w: w}
	var out io.Writer = lw
	ctx := req.Context()
	if opts.LimitBytes != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		out = &limitWriter{w: lw, n: *opts.LimitBytes, done: cancel}
	}
	err := h.s.PodLogs(ctx, rq.ns, rq.name, &opts, out)
	if lw, ok := out.(*limitWriter); ok && lw.n <= 0 {
		err = nil
	}
	if err != nil && !lw.started {
		writeError(w, err)
		return
	}
	if !lw.started {
		lw.Write(nil)
	}
}

// limitWriter stops the log after n bytes.
type limitWriter struct {
	w    io.Writer
	n    int64
	done func()
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.ErrShortWrite
	}
	full := len(p)
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.w.Write(p)
	l.n -= int64(n)
	if err != nil {
		return n, err
	}
	if l.n <= 0 {
		l.done()
		if n < full {
			return n, io.ErrShortWrite
		}
	}
	return n, nil
}
