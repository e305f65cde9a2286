package apiserver

// metrics.go: the API server's Prometheus metrics, served at GET /metrics
// to whoever RBAC allows the non-resource URL /metrics (get), as
// kube-apiserver: system:masters, and the group system:monitoring through
// the system:monitoring ClusterRole (rbac_bootstrap.go). Unauthenticated
// requests get 401, like every path but the health and version ones.
//
// Upstream's names and labels:
//
//	apiserver_request_total{verb,dry_run,group,version,resource,subresource,scope,component,code}
//	apiserver_request_duration_seconds{verb,dry_run,group,version,resource,subresource,scope,component}
//	apiserver_longrunning_requests{verb,group,version,resource,subresource,scope,component}
//	apiserver_registered_watchers{group,version,kind}
//	apiserver_storage_objects{resource}
//
// apiserver_storage_objects is each stored resource's object count, its
// label the group-resource ("pods", "deployments.apps"), read from the
// watch cache (cacher.go) at each scrape rather than counted in the store
// on a timer as upstream; -1 while a resource's cache is not ready (being
// re-listed), as upstream reports a count it could not fetch.
//
// The duration histogram leaves out WATCH and CONNECT (exec, attach,
// port-forward, node proxy): they last as long as their clients keep them,
// and are counted as long-running requests while they run. A request
// answered 400, 401 or 404 is counted without its group, version,
// resource and subresource, so that made-up paths cannot grow the series
// without bound.

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wasmpod/wasmpod/internal/metrics"
)

// Metrics are an API server's request metrics in a registry
// (HandlerOptions.Metrics). One Metrics may instrument several handlers of
// the same server (the listeners of serve).
type Metrics struct {
	gatherer    prometheus.Gatherer
	handler     http.Handler
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	longrunning *prometheus.GaugeVec
	watchers    *prometheus.GaugeVec
	storage     *storageCollector
}

// NewMetrics registers the API server's metrics in reg, and serves reg's
// metrics (all of them: the plane's scheduler and controllers register
// theirs in the same registry) at /metrics.
func NewMetrics(reg *prometheus.Registry) (*Metrics, error) {
	m := &Metrics{
		gatherer: reg,
		handler:  metrics.Handler(reg),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiserver_request_total",
			Help: "Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.",
		}, []string{"verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "apiserver_request_duration_seconds",
			Help: "Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.",
			Buckets: []float64{0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3,
				4, 5, 6, 8, 10, 15, 20, 30, 45, 60},
		}, []string{"verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component"}),
		longrunning: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apiserver_longrunning_requests",
			Help: "Gauge of all active long-running apiserver requests broken out by verb, group, version, resource, scope and component. Not all requests are tracked this way.",
		}, []string{"verb", "group", "version", "resource", "subresource", "scope", "component"}),
		watchers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apiserver_registered_watchers",
			Help: "Number of currently registered watchers for a given resources",
		}, []string{"group", "version", "kind"}),
		storage: &storageCollector{desc: prometheus.NewDesc("apiserver_storage_objects",
			"Number of stored objects at the time of last check split by kind. In case of a fetching error, the value will be -1.",
			[]string{"resource"}, nil)},
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.longrunning, m.watchers, m.storage} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// serveMetrics answers GET /metrics (authorized by the caller).
func (h *httpHandler) serveMetrics(w http.ResponseWriter, req *http.Request) {
	if h.opts.Metrics == nil {
		writeError(w, notFound())
		return
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		writeError(w, methodNotAllowed(req.Method))
		return
	}
	h.opts.Metrics.handler.ServeHTTP(w, req)
}

// statusWriter remembers the response's status code.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}
func (w *statusWriter) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrumented is a handler counted in m.
type instrumented struct {
	next http.Handler
	m    *Metrics
	s    *Server

	kindsMu sync.Mutex
	kinds   map[[3]string]string // group, version, resource -> kind
}

// connectSubresources are served as CONNECT upstream.
var connectSubresources = map[string]bool{"exec": true, "attach": true, "portforward": true, "proxy": true}

func (in *instrumented) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	info, err := requestInfoFactory.NewRequestInfo(req)
	if err != nil {
		in.next.ServeHTTP(rw, req)
		return
	}
	verb := reportedVerb(req, info.Verb, info.IsResourceRequest, info.Subresource)
	scope := ""
	if info.IsResourceRequest {
		switch {
		case info.Name != "" || info.Verb == "create":
			scope = "resource"
		case info.Namespace != "":
			scope = "namespace"
		default:
			scope = "cluster"
		}
	}
	dryRun := ""
	if req.URL.Query().Has("dryRun") {
		dryRun = "All"
	}
	group, version, resource, sub := info.APIGroup, info.APIVersion, info.Resource, info.Subresource
	if !info.IsResourceRequest {
		group, version, resource, sub = "", "", "", ""
	}
	w := &statusWriter{ResponseWriter: rw}
	long := verb == "WATCH" || verb == "CONNECT"
	start := time.Now()
	if long {
		// A request that is refused is not long-running for long; the
		// gauge follows the handler's run, so it comes back down.
		g := in.m.longrunning.WithLabelValues(verb, group, version, resource, sub, scope, "apiserver")
		g.Inc()
		defer g.Dec()
		if verb == "WATCH" {
			if kind := in.kindOf(group, version, resource); kind != "" {
				wg := in.m.watchers.WithLabelValues(group, version, kind)
				wg.Inc()
				defer wg.Dec()
			}
		}
	}
	in.next.ServeHTTP(w, req)
	code := w.code
	if code == 0 {
		code = http.StatusOK // a hijacked upgrade, or nothing written
	}
	if code == http.StatusBadRequest || code == http.StatusUnauthorized || code == http.StatusNotFound {
		group, version, resource, sub = "", "", "", ""
	}
	in.m.requests.WithLabelValues(verb, dryRun, group, version, resource, sub, scope, "apiserver", strconv.Itoa(code)).Inc()
	if !long {
		in.m.duration.WithLabelValues(verb, dryRun, group, version, resource, sub, scope, "apiserver").Observe(time.Since(start).Seconds())
	}
}

// kindOf is the kind of a served resource ("" when none is served: the
// gauge gets no series for made-up resources).
func (in *instrumented) kindOf(group, version, resource string) string {
	key := [3]string{group, version, resource}
	in.kindsMu.Lock()
	defer in.kindsMu.Unlock()
	if k, ok := in.kinds[key]; ok {
		return k
	}
	kind := ""
	for _, r := range in.s.Resources() {
		if r.GVR.Group == group && r.GVR.Version == version && r.GVR.Resource == resource {
			kind = r.Kind
		}
	}
	if kind != "" {
		if in.kinds == nil {
			in.kinds = map[[3]string]string{}
		}
		in.kinds[key] = kind
	}
	return kind
}

// reportedVerb is upstream's verb label: the HTTP method, LIST and WATCH
// for collection reads, APPLY for server-side apply, CONNECT for the
// connect subresources; any other method is "other".
func reportedVerb(req *http.Request, verb string, resource bool, sub string) string {
	switch {
	case resource && connectSubresources[sub]:
		return "CONNECT"
	case resource && verb == "list":
		return "LIST"
	case resource && verb == "watch":
		return "WATCH"
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return req.Method
	case http.MethodPatch:
		if strings.HasPrefix(req.Header.Get("Content-Type"), string(types.ApplyPatchType)) {
			return "APPLY"
		}
		return "PATCH"
	}
	return "other"
}

// storageCollector reports the object counts of the server whose handler
// the Metrics instrument (the last one made, Server.Handler).
type storageCollector struct {
	desc *prometheus.Desc
	s    atomic.Pointer[Server]
}

func (c *storageCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *storageCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s.Load()
	if s == nil || s.cache == nil {
		return
	}
	seen := map[string]bool{}
	for _, cc := range s.cache.byPrefix {
		gr := cc.r.GVR.GroupResource().String()
		if seen[gr] {
			continue
		}
		seen[gr] = true
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(cc.objectCount()), gr)
	}
}

// objectCount is the number of objects the cache holds, -1 when it is not
// ready.
func (c *cacher) objectCount() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.ready {
		return -1
	}
	return len(c.objs)
}
