package ui

// history.go: the dashboard's usage history, as upstream's
// dashboard-metrics-scraper: a Sampler reads every pod's PodMetrics
// (metrics.k8s.io/v1beta1, from the API server's in-process metrics
// source) once a minute and keeps, per pod, the samples of the last hour
// (at most HistorySamples). A pod whose last sample is an hour old is
// dropped; at most SamplerOptions.MaxPods pods are tracked, a pod beyond
// that is not (Stats().NotTracked counts the samples refused), so a
// namespace creating pods without end cannot grow the sampler's memory
// without bound.
//
// The history is served at
// /ui/api/v1/namespaces/{ns}/pods/{name}/metrics-history to whoever may
// get pods in metrics.k8s.io in ns: the request's own credentials are
// put to the API (a SelfSubjectAccessReview through the same handler,
// so the same authentication and RBAC apply): 401 without valid
// credentials, 403 without the permission.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	"k8s.io/utils/clock"
)

const (
	// HistoryInterval is the sampling period, HistoryWindow the history
	// kept, HistorySamples the samples a pod keeps at most.
	HistoryInterval = time.Minute
	HistoryWindow   = time.Hour
	HistorySamples  = 60
	// DefaultMaxPods bounds the pods tracked.
	DefaultMaxPods = 10000
)

// PodMetricsSource gives the PodMetrics of the pods in ns ("" all)
// (*apiserver.Server).
type PodMetricsSource interface {
	PodMetrics(ctx context.Context, ns string, opts metav1.ListOptions, only string) (*metricsv1beta1.PodMetricsList, error)
}

// SamplerOptions: MaxPods bounds the pods tracked (DefaultMaxPods if 0).
type SamplerOptions struct {
	MaxPods int
}

// Sample is one pod's usage at Time: CPU in millicores, memory (working
// set) in bytes, summed over its containers.
type Sample struct {
	Time          time.Time `json:"timestamp"`
	CPUMillicores int64     `json:"cpuMillicores"`
	MemoryBytes   int64     `json:"memoryBytes"`
}

// SamplerStats: Ticks the samplings done, Pods the pods tracked,
// NotTracked the pod samples refused because MaxPods pods were tracked;
// Running whether Run's ticker is set.
type SamplerStats struct {
	Running     bool
	Ticks, Pods int
	NotTracked  int64
}

// Sampler keeps the pods' usage history.
type Sampler struct {
	src     PodMetricsSource
	clk     clock.WithTicker
	maxPods int

	mu    sync.Mutex
	pods  map[string][]Sample // namespace/name -> oldest first
	stats SamplerStats
}

// NewSampler returns a Sampler reading src on clk's time.
func NewSampler(src PodMetricsSource, clk clock.WithTicker, opts SamplerOptions) *Sampler {
	if opts.MaxPods <= 0 {
		opts.MaxPods = DefaultMaxPods
	}
	return &Sampler{src: src, clk: clk, maxPods: opts.MaxPods, pods: map[string][]Sample{}}
}

// Run samples every HistoryInterval until ctx ends.
func (s *Sampler) Run(ctx context.Context) {
	t := s.clk.NewTicker(HistoryInterval)
	defer t.Stop()
	s.mu.Lock()
	s.stats.Running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.stats.Running = false
		s.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			s.sample(ctx)
		}
	}
}

func (s *Sampler) sample(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, HistoryInterval/2)
	defer cancel()
	list, err := s.src.PodMetrics(ctx, "", metav1.ListOptions{}, "")
	now := s.clk.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Ticks++
	if err == nil {
		for i := range list.Items {
			m := &list.Items[i]
			var smp = Sample{Time: now}
			for _, c := range m.Containers {
				smp.CPUMillicores += c.Usage.Cpu().MilliValue()
				smp.MemoryBytes += c.Usage.Memory().Value()
			}
			k := m.Namespace + "/" + m.Name
			ss, ok := s.pods[k]
			if !ok && len(s.pods) >= s.maxPods {
				s.stats.NotTracked++
				continue
			}
			s.pods[k] = append(ss, smp)
		}
	}
	// Trim: samples older than the window, beyond HistorySamples; a pod
	// left without samples is dropped.
	for k, ss := range s.pods {
		i := 0
		for i < len(ss) && !ss[i].Time.After(now.Add(-HistoryWindow)) {
			i++
		}
		if n := len(ss) - i; n > HistorySamples {
			i = len(ss) - HistorySamples
		}
		if i == len(ss) {
			delete(s.pods, k)
		} else if i > 0 {
			s.pods[k] = append(ss[:0:0], ss[i:]...)
		}
	}
	s.stats.Pods = len(s.pods)
}

// History is the pod's samples, oldest first (nil if not tracked).
func (s *Sampler) History(ns, name string) []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sample(nil), s.pods[ns+"/"+name]...)
}

// Stats reports the sampler's counters.
func (s *Sampler) Stats() SamplerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// historyResponse is the endpoint's body.
type historyResponse struct {
	Namespace       string   `json:"namespace"`
	Name            string   `json:"name"`
	IntervalSeconds int      `json:"intervalSeconds"`
	WindowSeconds   int      `json:"windowSeconds"`
	Samples         []Sample `json:"samples"`
}

const historyPrefix = Prefix + "/api/v1/namespaces/"

// serveHistory serves historyPrefix{ns}/pods/{name}/metrics-history,
// authorizing the request through api.
func (s *Sampler) serveHistory(api http.Handler, w http.ResponseWriter, req *http.Request) {
	parts := strings.Split(strings.TrimPrefix(req.URL.Path, historyPrefix), "/")
	if len(parts) != 4 || parts[1] != "pods" || parts[3] != "metrics-history" {
		jsonStatus(w, http.StatusNotFound, "NotFound", "no such path: "+req.URL.Path)
		return
	}
	ns, name := parts[0], parts[2]
	if len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
		jsonStatus(w, http.StatusBadRequest, "BadRequest", "namespace or pod name is not a valid name")
		return
	}
	if req.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		jsonStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "only GET is served")
		return
	}
	// The caller's own access, asked of the API with the caller's
	// credentials (headers and TLS state of req).
	review, _ := json.Marshal(authorizationv1.SelfSubjectAccessReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "authorization.k8s.io/v1", Kind: "SelfSubjectAccessReview"},
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: ns, Verb: "get", Group: "metrics.k8s.io", Resource: "pods", Name: name}},
	})
	sub := req.Clone(req.Context())
	sub.Method = http.MethodPost
	sub.URL.Path, sub.URL.RawPath, sub.URL.RawQuery = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "", ""
	sub.RequestURI = sub.URL.RequestURI()
	sub.Body = io.NopCloser(bytes.NewReader(review))
	sub.ContentLength = int64(len(review))
	sub.Header.Set("Content-Type", "application/json")
	sub.Header.Set("Accept", "application/json")
	sub.Header.Del("Accept-Encoding")
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, sub)
	if rec.Code == http.StatusUnauthorized {
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return
	}
	var got authorizationv1.SelfSubjectAccessReview
	if rec.Code/100 != 2 || json.Unmarshal(rec.Body.Bytes(), &got) != nil {
		jsonStatus(w, http.StatusForbidden, "Forbidden", "cannot review access to pods.metrics.k8s.io "+name+" in namespace "+ns)
		return
	}
	if !got.Status.Allowed {
		jsonStatus(w, http.StatusForbidden, "Forbidden", `pods.metrics.k8s.io "`+name+`" is forbidden: cannot get resource "pods" in API group "metrics.k8s.io" in the namespace "`+ns+`"`)
		return
	}
	out := historyResponse{Namespace: ns, Name: name, IntervalSeconds: int(HistoryInterval / time.Second),
		WindowSeconds: int(HistoryWindow / time.Second), Samples: s.History(ns, name)}
	if out.Samples == nil {
		out.Samples = []Sample{}
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	json.NewEncoder(w).Encode(out)
}

// jsonStatus writes a meta/v1 Status failure.
func jsonStatus(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"},
		Status: metav1.StatusFailure, Code: int32(code), Reason: metav1.StatusReason(reason), Message: msg})
}
