package apiserver

// hpa_v1.go: autoscaling/v1 HorizontalPodAutoscalers, served alongside
// autoscaling/v2 (the stored and preferred version) as kube-apiserver
// serves both. The resource table holds one version of a resource, so v1
// is a view of v2 (hpaV1View): a v1 request is served by the v2 handler,
// its body converted v1→v2 and the answer v2→v1 (hpa_v1convert.go), JSON
// in and out:
//
//   - GET, LIST, DELETE, DELETECOLLECTION: the v2 answer converted (objects
//     and lists; a Table, a Status or partial metadata are the same in
//     both versions and pass through);
//   - WATCH: each event's object converted as it streams;
//   - POST and PUT (the main resource and /status): the v1 body (JSON or
//     YAML) decoded, strictly when fieldValidation=Strict, and converted;
//   - PATCH (JSON, merge and strategic merge): applied to the object's v1
//     form, converted and written as an update of the version read (a
//     conflict with another writer re-reads and re-applies, as the v2
//     PATCH does);
//   - managedFields: every write at v1 records its entry at
//     autoscaling/v1 (hpaV1FieldManager), as upstream;
//   - server-side apply (application/apply-patch+yaml): the v2 apply
//     (apply.go) with autoscaling/v1's field manager (hpaV1FieldManager),
//     as upstream applies at the request's version: the live object is
//     converted to v1, the v1 configuration merged, the result converted
//     back; the applier's managedFields entry has apiVersion
//     autoscaling/v1, and conflicts with managers of either version are
//     found in each manager's own version (the conversions are in the
//     field managers' scheme, hpa_v1convert.go, so a v2 write also keeps
//     and updates v1 entries).
//
// Discovery lists v1 after v2, so the OpenAPI documents (openapi.go, built
// from discovery) have autoscaling/v1's paths and definitions; RBAC is
// version-blind, as upstream's.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"

	"github.com/wasmpod/wasmpod/internal/kube/kubernetes/scheme"
)

// hpaV1GV is the view's group version.
var hpaV1GV = autoscalingv1.SchemeGroupVersion

// hpaV1Base is the v2 resource the view serves, when the server has it.
func (s *Server) hpaV1Base() *Resource {
	r, ok := s.Resource(autoscalingv2.GroupName, "horizontalpodautoscalers")
	if !ok || r.GVR.Version != "v2" {
		return nil
	}
	return r
}

// addHPAV1Group lists autoscaling/v1 after the preferred v2 (groupList).
func (s *Server) addHPAV1Group(list *metav1.APIGroupList) {
	if s.hpaV1Base() == nil {
		return
	}
	gvd := metav1.GroupVersionForDiscovery{GroupVersion: hpaV1GV.String(), Version: hpaV1GV.Version}
	for i := range list.Groups {
		if list.Groups[i].Name == hpaV1GV.Group {
			list.Groups[i].Versions = append(list.Groups[i].Versions, gvd)
		}
	}
}

// hpaV1Resources are autoscaling/v1's discovery entries.
func (s *Server) hpaV1Resources(gv schema.GroupVersion) []metav1.APIResource {
	r := s.hpaV1Base()
	if r == nil || gv != hpaV1GV {
		return nil
	}
	return []metav1.APIResource{
		{Name: r.GVR.Resource, SingularName: r.Singular(), Namespaced: true, Kind: r.Kind, Verbs: allVerbs, ShortNames: r.ShortNames, Categories: r.Categories},
		{Name: r.GVR.Resource + "/status", Namespaced: true, Kind: r.Kind, Verbs: metav1.Verbs{"get", "patch", "update"}},
	}
}

// serveHPAV1 serves an autoscaling/v1 request for horizontalpodautoscalers
// (parts: the path after the group version); false when it is not one.
func (h *httpHandler) serveHPAV1(w http.ResponseWriter, req *http.Request, gv schema.GroupVersion, parts []string) bool {
	if gv != hpaV1GV || h.s.hpaV1Base() == nil {
		return false
	}
	rest := parts
	if len(rest) > 0 && rest[0] == "watch" {
		rest = rest[1:]
	}
	if len(rest) >= 2 && rest[0] == "namespaces" {
		rest = rest[2:]
	}
	if len(rest) == 0 || rest[0] != "horizontalpodautoscalers" {
		return false
	}
	inner := req.Clone(withHPAV1Write(req.Context())) // its writes' managedFields entries are v1's
	inner.URL.Path = "/apis/" + autoscalingv2.SchemeGroupVersion.String() + "/" + strings.Join(parts, "/")
	inner.URL.RawPath = ""
	inner.RequestURI = inner.URL.RequestURI()
	v2 := autoscalingv2.SchemeGroupVersion
	switch req.Method {
	case http.MethodPost, http.MethodPut:
		body, err := hpaV1Body(req)
		if err != nil {
			writeError(w, err)
			return true
		}
		setBody(inner, body)
	case http.MethodPatch:
		h.patchHPAV1(w, req, inner, parts)
		return true
	}
	if isWatchRequest(req, parts) {
		cw := &hpaV1WatchWriter{w: w}
		h.serveResource(cw, inner, v2, parts)
		cw.finish()
		return true
	}
	rec := newBufferedResponse()
	h.serveResource(rec, inner, v2, parts)
	rec.writeV1(w)
	return true
}

func isWatchRequest(req *http.Request, parts []string) bool {
	if len(parts) > 0 && parts[0] == "watch" {
		return true
	}
	v := req.URL.Query().Get("watch")
	return req.Method == http.MethodGet && (v == "true" || v == "1")
}

func setBody(req *http.Request, body []byte) {
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Length", strconv.Itoa(len(body)))
}

// hpaV1Body reads a v1 HorizontalPodAutoscaler body and returns its v2
// JSON.
func hpaV1Body(req *http.Request) ([]byte, error) {
	body, _, mt, err := readObjectBody(req)
	if err != nil {
		return nil, err
	}
	if mt != "application/json" && mt != "*/*" && !isYAML(mt) {
		return nil, statusErr(http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType,
			fmt.Sprintf("the body of an autoscaling/v1 request must be application/json or application/yaml (got %q)", mt))
	}
	v1, err := decodeHPAV1(body, req.URL.Query().Get("fieldValidation") == "Strict")
	if err != nil {
		return nil, err
	}
	return json.Marshal(hpaFromV1(v1))
}

// decodeHPAV1 decodes a v1 object, refusing unknown fields when strict.
func decodeHPAV1(body []byte, strict bool) (*autoscalingv1.HorizontalPodAutoscaler, error) {
	var tm metav1.TypeMeta
	if err := json.Unmarshal(body, &tm); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the body of the request is not a HorizontalPodAutoscaler: %v", err))
	}
	if tm.APIVersion != "" && tm.APIVersion != hpaV1GV.String() || tm.Kind != "" && tm.Kind != "HorizontalPodAutoscaler" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", tm.APIVersion, hpaV1GV))
	}
	obj := &autoscalingv1.HorizontalPodAutoscaler{}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(obj); err != nil {
		if strict && strings.Contains(err.Error(), "unknown field") {
			return nil, apierrors.NewBadRequest("strict decoding error: " + strings.TrimPrefix(err.Error(), "json: "))
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the body of the request is not a HorizontalPodAutoscaler: %v", err))
	}
	return obj, nil
}

// patchHPAV1 applies a patch to the object's v1 form and writes the
// result as an update (inner: the request at v2's path).
func (h *httpHandler) patchHPAV1(w http.ResponseWriter, req, inner *http.Request, parts []string) {
	r := h.s.hpaV1Base()
	ct := req.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	pt := types.PatchType(mt)
	switch pt {
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType:
	case types.ApplyPatchType, types.ApplyCBORPatchType:
		// The v2 request path with the v1 field manager; the v2 path
		// refuses CBOR with upstream's 415.
		rec := newBufferedResponse()
		h.serveResource(rec, inner, autoscalingv2.SchemeGroupVersion, parts)
		rec.writeV1(w)
		return
	default:
		writeError(w, statusErr(http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType, fmt.Sprintf("unsupported patch type %q", ct)))
		return
	}
	data, err := readBody(req)
	if err != nil {
		writeError(w, err)
		return
	}
	rq, err := h.parseResourcePath(autoscalingv2.SchemeGroupVersion, parts)
	if err != nil || rq.name == "" {
		writeError(w, methodNotAllowed(req.Method))
		return
	}
	pinned, err := patchPinsRV(pt, data)
	if err != nil {
		writeError(w, err)
		return
	}
	var jp jsonpatch.Patch
	if pt == types.JSONPatchType {
		if jp, err = jsonpatch.DecodePatch(data); err != nil {
			writeError(w, apierrors.NewBadRequest(fmt.Sprintf("invalid JSON patch: %v", err)))
			return
		}
	}
	for attempt := 0; ; attempt++ {
		cur, err := h.s.Get(req.Context(), r, rq.ns, rq.name)
		if err != nil {
			writeError(w, err)
			return
		}
		v1, err := hpaToV1(cur.(*autoscalingv2.HorizontalPodAutoscaler))
		if err != nil {
			writeError(w, apierrors.NewInternalError(err))
			return
		}
		orig, err := json.Marshal(v1)
		if err != nil {
			writeError(w, apierrors.NewInternalError(err))
			return
		}
		var patched []byte
		switch pt {
		case types.JSONPatchType:
			patched, err = jp.Apply(orig)
		case types.MergePatchType:
			patched, err = jsonpatch.MergePatch(orig, data)
		default:
			patched, err = strategicpatch.StrategicMergePatch(orig, data, &autoscalingv1.HorizontalPodAutoscaler{})
		}
		if err != nil {
			writeError(w, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", r.GVR.GroupResource(), rq.name, err.Error(), 0, false))
			return
		}
		obj, err := decodeHPAV1(patched, false)
		if err != nil {
			writeError(w, err)
			return
		}
		if !pinned {
			obj.ResourceVersion = cur.(*autoscalingv2.HorizontalPodAutoscaler).ResourceVersion
		}
		body, err := json.Marshal(hpaFromV1(obj))
		if err != nil {
			writeError(w, apierrors.NewInternalError(err))
			return
		}
		put := inner.Clone(inner.Context())
		put.Method = http.MethodPut
		setBody(put, body)
		rec := newBufferedResponse()
		h.serveResource(rec, put, autoscalingv2.SchemeGroupVersion, parts)
		if rec.code == http.StatusConflict && !pinned && attempt < 10 {
			continue
		}
		rec.writeV1(w)
		return
	}
}

type hpaV1WriteKey struct{}

// withHPAV1Write marks ctx's writes (an apply, a create, an update, a
// patch) as ones at autoscaling/v1: their managedFields entries are
// recorded by hpaV1FieldManager, at v1, as upstream records each write at
// its request's version.
func withHPAV1Write(ctx context.Context) context.Context {
	return context.WithValue(ctx, hpaV1WriteKey{}, true)
}

func isHPAV1Write(ctx context.Context) bool {
	v, _ := ctx.Value(hpaV1WriteKey{}).(bool)
	return v
}

var (
	hpaV1FieldManagersMu sync.Mutex
	hpaV1FieldManagers   = map[string]*managedfields.FieldManager{}
)

// hpaV1FieldManager is the field manager of an apply at autoscaling/v1
// (subresource "" or "status"): the configuration and the entry it writes
// are v1, the objects it takes and returns v2 (the hub), with the same
// type converter, scheme and reset fields as the v2 field managers
// (managedfields.go).
func hpaV1FieldManager(subresource string) (*managedfields.FieldManager, error) {
	hpaV1FieldManagersMu.Lock()
	defer hpaV1FieldManagersMu.Unlock()
	if fm, ok := hpaV1FieldManagers[subresource]; ok {
		return fm, nil
	}
	tc, err := typeConverter()
	if err != nil {
		return nil, err
	}
	gvk := hpaV1GV.WithKind("HorizontalPodAutoscaler")
	fm, err := managedfields.NewDefaultFieldManager(tc, runtime.UnsafeObjectConvertor(scheme.Scheme), scheme.Scheme, scheme.Scheme,
		gvk, autoscalingv2.SchemeGroupVersion, subresource, resetFields(fieldManagerKey{gvk: gvk, subresource: subresource, status: true}))
	if err != nil {
		return nil, err
	}
	hpaV1FieldManagers[subresource] = fm
	return fm, nil
}

// bufferedResponse holds a v2 answer to convert.
type bufferedResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func newBufferedResponse() *bufferedResponse { return &bufferedResponse{header: http.Header{}} }

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}
func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.body.Write(p)
}

// writeV1 writes the answer to w with its HorizontalPodAutoscalers at v1.
func (b *bufferedResponse) writeV1(w http.ResponseWriter) {
	body := b.body.Bytes()
	if strings.HasPrefix(b.header.Get("Content-Type"), "application/json") {
		if conv, err := hpaJSONToV1(body); err == nil {
			body = conv
		}
	}
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if b.code == 0 {
		b.code = http.StatusOK
	}
	w.WriteHeader(b.code)
	w.Write(body)
}

// hpaJSONToV1 converts a v2 HorizontalPodAutoscaler or list in JSON to v1;
// anything else is returned as it is.
func hpaJSONToV1(body []byte) ([]byte, error) {
	var tm metav1.TypeMeta
	if err := json.Unmarshal(body, &tm); err != nil {
		return nil, err
	}
	switch tm.Kind {
	case "HorizontalPodAutoscaler":
		var in autoscalingv2.HorizontalPodAutoscaler
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, err
		}
		out, err := hpaToV1(&in)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(out)
		return append(b, '\n'), err
	case "HorizontalPodAutoscalerList":
		var in autoscalingv2.HorizontalPodAutoscalerList
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, err
		}
		out := &autoscalingv1.HorizontalPodAutoscalerList{ListMeta: in.ListMeta, Items: make([]autoscalingv1.HorizontalPodAutoscaler, 0, len(in.Items))}
		out.APIVersion, out.Kind = hpaV1GV.String(), "HorizontalPodAutoscalerList"
		for i := range in.Items {
			o, err := hpaToV1(&in.Items[i])
			if err != nil {
				return nil, err
			}
			o.APIVersion, o.Kind = "", ""
			out.Items = append(out.Items, *o)
		}
		b, err := json.Marshal(out)
		return append(b, '\n'), err
	}
	return body, nil
}

// hpaV1WatchWriter converts a JSON watch stream's events, one a line, as
// they are written.
type hpaV1WatchWriter struct {
	w       http.ResponseWriter
	buf     []byte
	started bool
}

func (c *hpaV1WatchWriter) Header() http.Header { return c.w.Header() }
func (c *hpaV1WatchWriter) WriteHeader(code int) {
	c.started = true
	c.w.WriteHeader(code)
}

func (c *hpaV1WatchWriter) Write(p []byte) (int, error) {
	if !c.started {
		c.WriteHeader(http.StatusOK)
	}
	if !strings.HasPrefix(c.w.Header().Get("Content-Type"), "application/json") {
		return c.w.Write(p) // an error Status before the stream, or not JSON
	}
	c.buf = append(c.buf, p...)
	for {
		i := bytes.IndexByte(c.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := c.buf[:i+1]
		if _, err := c.w.Write(hpaWatchLineToV1(line)); err != nil {
			return 0, err
		}
		c.buf = c.buf[i+1:]
	}
}

func (c *hpaV1WatchWriter) Flush() {
	if f, ok := c.w.(http.Flusher); ok {
		f.Flush()
	}
}

// finish writes what is left of a last line without its newline.
func (c *hpaV1WatchWriter) finish() {
	if len(c.buf) > 0 {
		c.w.Write(c.buf)
		c.buf = nil
	}
}

// hpaWatchLineToV1 converts one JSON watch event (a line).
func hpaWatchLineToV1(line []byte) []byte {
	var ev struct {
		Type   string          `json:"type"`
		Object json.RawMessage `json:"object"`
	}
	if json.Unmarshal(line, &ev) != nil {
		return line
	}
	obj, err := hpaJSONToV1(ev.Object)
	if err != nil {
		return line
	}
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	if err := json.NewEncoder(bw).Encode(struct {
		Type   string          `json:"type"`
		Object json.RawMessage `json:"object"`
	}{ev.Type, bytes.TrimRight(obj, "\n")}); err != nil {
		return line
	}
	bw.Flush()
	return out.Bytes()
}
