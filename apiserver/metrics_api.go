package apiserver

// metrics_api.go: the resource metrics API, metrics.k8s.io/v1beta1
// NodeMetrics and PodMetrics (k8s.io/metrics' types), which upstream's
// metrics-server serves behind the API server's aggregation layer and
// `kubectl top` reads. Here the API server serves it itself, from the
// nodes' Summary API (the kubelet's /stats/summary, pods/stats.go): an
// in-process agent is asked directly (SummaryProvider), an agent in
// another process through its kubelet API (NodeProxier, remotenode.go).
// A node without a connected agent, or one that does not answer within
// metricsNodeTimeout, has no metrics, as metrics-server skips a node it
// cannot scrape.
//
// Figures, as metrics-server's: CPU is the usage rate of the Summary
// (usageNanoCores: over the agent's sampling window of 10 s to 20 s),
// memory the working set. Only get and list are served (metrics-server
// serves no watch); list takes labelSelector, and fieldSelector on
// metadata.name and metadata.namespace. Authorization is the request's
// resource (nodes or pods in group metrics.k8s.io, verbs get and list)
// as for any resource.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

const (
	metricsGroup   = "metrics.k8s.io"
	metricsVersion = "v1beta1"
	// metricsNodeTimeout bounds the wait for one node's summary.
	metricsNodeTimeout = 10 * time.Second
	// metricsWindow is the window reported with the figures: the agent's
	// sampling window (pods/stats.go statsWindow).
	metricsWindow = 10 * time.Second
)

var metricsGV = schema.GroupVersion{Group: metricsGroup, Version: metricsVersion}

// SummaryProvider is the optional capability of a NodeConnector in the
// same process to give its node's Summary directly (pods.Agent).
type SummaryProvider interface {
	StatsSummary() *statsv1alpha1.Summary
}

// addMetricsGroup lists metrics.k8s.io in the group discovery.
func addMetricsGroup(list *metav1.APIGroupList) {
	gvd := metav1.GroupVersionForDiscovery{GroupVersion: metricsGV.String(), Version: metricsVersion}
	list.Groups = append(list.Groups, metav1.APIGroup{Name: metricsGroup, PreferredVersion: gvd, Versions: []metav1.GroupVersionForDiscovery{gvd}})
}

// metricsAPIResources are the resources of metrics.k8s.io/v1beta1.
func metricsAPIResources(gv schema.GroupVersion) []metav1.APIResource {
	if gv != metricsGV {
		return nil
	}
	return []metav1.APIResource{
		{Name: "nodes", SingularName: "", Namespaced: false, Kind: "NodeMetrics", Verbs: metav1.Verbs{"get", "list"}},
		{Name: "pods", SingularName: "", Namespaced: true, Kind: "PodMetrics", Verbs: metav1.Verbs{"get", "list"}},
	}
}

// serveMetricsAPI serves /apis/metrics.k8s.io/VERSION/REST...
func (h *httpHandler) serveMetricsAPI(w http.ResponseWriter, req *http.Request, version string, rest []string) {
	if version != metricsVersion {
		writeError(w, notFound())
		return
	}
	if req.Method != http.MethodGet {
		writeError(w, methodNotAllowed(req.Method))
		return
	}
	if req.URL.Query().Get("watch") == "true" || req.URL.Query().Get("watch") == "1" {
		writeError(w, methodNotAllowed("watch"))
		return
	}
	opts, err := listOptions(req)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx := req.Context()
	switch {
	case len(rest) == 1 && rest[0] == "nodes":
		out, err := h.s.NodeMetrics(ctx, opts, "")
		respondMetrics(w, out, err)
	case len(rest) == 2 && rest[0] == "nodes":
		out, err := h.s.NodeMetrics(ctx, metav1.ListOptions{}, rest[1])
		if err == nil && len(out.Items) == 0 {
			err = apierrors.NewNotFound(schema.GroupResource{Group: metricsGroup, Resource: "nodes"}, rest[1])
		}
		if err != nil {
			writeError(w, err)
			return
		}
		item := out.Items[0]
		item.TypeMeta = metav1.TypeMeta{Kind: "NodeMetrics", APIVersion: metricsGV.String()}
		writeJSON(w, http.StatusOK, &item)
	case len(rest) == 1 && rest[0] == "pods":
		out, err := h.s.PodMetrics(ctx, "", opts, "")
		respondMetrics(w, out, err)
	case len(rest) == 3 && rest[0] == "namespaces" && rest[2] == "pods":
		out, err := h.s.PodMetrics(ctx, rest[1], opts, "")
		respondMetrics(w, out, err)
	case len(rest) == 4 && rest[0] == "namespaces" && rest[2] == "pods":
		out, err := h.s.PodMetrics(ctx, rest[1], metav1.ListOptions{}, rest[3])
		if err == nil && len(out.Items) == 0 {
			err = apierrors.NewNotFound(schema.GroupResource{Group: metricsGroup, Resource: "pods"}, rest[3])
		}
		if err != nil {
			writeError(w, err)
			return
		}
		item := out.Items[0]
		item.TypeMeta = metav1.TypeMeta{Kind: "PodMetrics", APIVersion: metricsGV.String()}
		writeJSON(w, http.StatusOK, &item)
	default:
		writeError(w, notFound())
	}
}

func respondMetrics(w http.ResponseWriter, out any, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// nodeSummaries asks the named nodes for their Summary, at most 16 at a
// time; a node that cannot answer is left out.
func (s *Server) nodeSummaries(ctx context.Context, nodes []string) map[string]*statsv1alpha1.Summary {
	out := map[string]*statsv1alpha1.Summary{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, name := range nodes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if sum := s.nodeSummary(ctx, name); sum != nil {
				mu.Lock()
				out[name] = sum
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// nodeSummary is one node's Summary, or nil.
func (s *Server) nodeSummary(ctx context.Context, name string) *statsv1alpha1.Summary {
	c, err := s.nodeConnector(ctx, name)
	if err != nil || c == nil {
		return nil
	}
	if sp, ok := c.(SummaryProvider); ok {
		return sp.StatsSummary()
	}
	p, ok := c.(NodeProxier)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, metricsNodeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/stats/summary", nil)
	if err != nil {
		return nil
	}
	rec := &bufferWriter{header: http.Header{}}
	p.ServeNodeProxy(rec, req, "/stats/summary")
	if rec.code != 0 && rec.code != http.StatusOK {
		return nil
	}
	var sum statsv1alpha1.Summary
	if json.Unmarshal(rec.body.Bytes(), &sum) != nil {
		return nil
	}
	return &sum
}

// bufferWriter keeps a response in memory (at most 64 MiB).
type bufferWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.header }
func (b *bufferWriter) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}
func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	if b.body.Len()+len(p) > 64<<20 {
		return 0, fmt.Errorf("summary larger than 64 MiB")
	}
	return b.body.Write(p)
}

func cpuQuantity(st *statsv1alpha1.CPUStats) (resource.Quantity, metav1.Time) {
	if st == nil || st.UsageNanoCores == nil {
		return *resource.NewScaledQuantity(0, resource.Nano), metav1.Time{}
	}
	return *resource.NewScaledQuantity(int64(*st.UsageNanoCores), resource.Nano), st.Time
}

func memQuantity(st *statsv1alpha1.MemoryStats) resource.Quantity {
	if st == nil || st.WorkingSetBytes == nil {
		return *resource.NewQuantity(0, resource.BinarySI)
	}
	return *resource.NewQuantity(int64(*st.WorkingSetBytes), resource.BinarySI)
}

// NodeMetrics is the NodeMetricsList of the nodes opts selects (or of the
// node named only, when only is set).
func (s *Server) NodeMetrics(ctx context.Context, opts metav1.ListOptions, only string) (*metricsv1beta1.NodeMetricsList, error) {
	var nodes []corev1.Node
	if only != "" {
		obj, err := s.Get(ctx, s.resources["/nodes"], "", only)
		if err != nil {
			if apierrors.IsNotFound(err) {
				return nil, apierrors.NewNotFound(schema.GroupResource{Group: metricsGroup, Resource: "nodes"}, only)
			}
			return nil, err
		}
		nodes = []corev1.Node{*obj.(*corev1.Node)}
	} else {
		obj, err := s.List(ctx, s.resources["/nodes"], "", metav1.ListOptions{LabelSelector: opts.LabelSelector, FieldSelector: opts.FieldSelector})
		if err != nil {
			return nil, err
		}
		nodes = obj.(*corev1.NodeList).Items
	}
	names := make([]string, 0, len(nodes))
	for _, n := range nodes {
		names = append(names, n.Name)
	}
	sums := s.nodeSummaries(ctx, names)
	out := &metricsv1beta1.NodeMetricsList{
		TypeMeta: metav1.TypeMeta{Kind: "NodeMetricsList", APIVersion: metricsGV.String()},
		Items:    []metricsv1beta1.NodeMetrics{},
	}
	for _, n := range nodes {
		sum := sums[n.Name]
		if sum == nil {
			continue
		}
		cpu, t := cpuQuantity(sum.Node.CPU)
		if t.IsZero() {
			continue // no rate yet
		}
		out.Items = append(out.Items, metricsv1beta1.NodeMetrics{
			ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: n.Labels, CreationTimestamp: metav1.NewTime(t.Time)},
			Timestamp:  t,
			Window:     metav1.Duration{Duration: metricsWindow},
			Usage:      corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: memQuantity(sum.Node.Memory)},
		})
	}
	return out, nil
}

// PodMetrics is the PodMetricsList of the pods in ns ("" all) that opts
// selects (or of the pod named only).
func (s *Server) PodMetrics(ctx context.Context, ns string, opts metav1.ListOptions, only string) (*metricsv1beta1.PodMetricsList, error) {
	var pods []corev1.Pod
	if only != "" {
		obj, err := s.Get(ctx, s.resources["/pods"], ns, only)
		if err != nil {
			if apierrors.IsNotFound(err) {
				return nil, apierrors.NewNotFound(schema.GroupResource{Group: metricsGroup, Resource: "pods"}, only)
			}
			return nil, err
		}
		pods = []corev1.Pod{*obj.(*corev1.Pod)}
	} else {
		// The pods' own fields are not selectable here beyond name and
		// namespace (PodMetrics has no spec or status).
		if opts.FieldSelector != "" {
			sel, err := fields.ParseSelector(opts.FieldSelector)
			if err != nil {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("fieldSelector: %v", err))
			}
			for _, r := range sel.Requirements() {
				if r.Field != "metadata.name" && r.Field != "metadata.namespace" {
					return nil, apierrors.NewBadRequest(fmt.Sprintf("fieldSelector: field %q is not supported by PodMetrics (only metadata.name and metadata.namespace)", r.Field))
				}
			}
		}
		obj, err := s.List(ctx, s.resources["/pods"], ns, metav1.ListOptions{LabelSelector: opts.LabelSelector, FieldSelector: opts.FieldSelector})
		if err != nil {
			return nil, err
		}
		pods = obj.(*corev1.PodList).Items
	}
	byUID := map[string]*corev1.Pod{}
	nodeSet := map[string]bool{}
	for i := range pods {
		p := &pods[i]
		if p.Spec.NodeName == "" {
			continue
		}
		byUID[string(p.UID)] = p
		nodeSet[p.Spec.NodeName] = true
	}
	nodes := make([]string, 0, len(nodeSet))
	for n := range nodeSet {
		nodes = append(nodes, n)
	}
	sums := s.nodeSummaries(ctx, nodes)
	out := &metricsv1beta1.PodMetricsList{
		TypeMeta: metav1.TypeMeta{Kind: "PodMetricsList", APIVersion: metricsGV.String()},
		Items:    []metricsv1beta1.PodMetrics{},
	}
	for node, sum := range sums {
		for _, ps := range sum.Pods {
			p := byUID[ps.PodRef.UID]
			if p == nil || p.Spec.NodeName != node || len(ps.Containers) == 0 {
				continue
			}
			// Only running containers have usage, as the kubelet's
			// resource metrics (CRI stats drop exited containers) and
			// metrics-server (a pod with none is left out): a Completed
			// or Error pod is not listed by kubectl top.
			running := map[string]bool{}
			for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
				running[cs.Name] = cs.State.Running != nil // sidecars too
			}
			pm := metricsv1beta1.PodMetrics{
				ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, Labels: p.Labels},
				Window:     metav1.Duration{Duration: metricsWindow},
				Containers: []metricsv1beta1.ContainerMetrics{},
			}
			for _, c := range ps.Containers {
				if !running[c.Name] {
					continue
				}
				cpu, t := cpuQuantity(c.CPU)
				if t.After(pm.Timestamp.Time) {
					pm.Timestamp = t
				}
				pm.Containers = append(pm.Containers, metricsv1beta1.ContainerMetrics{
					Name:  c.Name,
					Usage: corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: memQuantity(c.Memory)},
				})
			}
			if len(pm.Containers) == 0 {
				continue
			}
			pm.CreationTimestamp = pm.Timestamp
			out.Items = append(out.Items, pm)
		}
	}
	sort.Slice(out.Items, func(i, j int) bool {
		a, b := out.Items[i], out.Items[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return out, nil
}
