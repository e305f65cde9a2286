package apiserver

// table.go negotiates the representation of get, list and watch
// responses, as kube-apiserver does (k8s.io/apiserver's handlers/
// negotiation and handlers/response.go):
//
//   - Accept: application/json;as=Table;v=v1;g=meta.k8s.io (or v1beta1)
//     answers a meta.k8s.io Table, its columns and cells from the printers
//     package, its rows carrying the object as ?includeObject= says:
//     Metadata (the default: a PartialObjectMetadata), Object (the whole
//     object) or None.
//   - as=PartialObjectMetadata (get, watch) and as=PartialObjectMetadataList
//     (list) answer the objects' metadata only.
//   - A watch answers one Table per event, with one row; only the first
//     event's Table carries the column definitions.
//   - Clauses are tried in order of their q value; the first one the
//     server can answer wins. A clause without as= is the plain object. A
//     header whose every clause asks for a conversion the server cannot do
//     (another group or version, another kind) is 406 Not Acceptable.

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1beta1 "k8s.io/apimachinery/pkg/apis/meta/v1beta1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/wasmpod/wasmpod/printers"
)

// servedMediaTypes is what a 406 lists.
const servedMediaTypes = "application/json"

// readTarget is the conversion a get, list or watch asked for; nil means
// the object itself.
type readTarget struct {
	kind    string // Table, PartialObjectMetadata or PartialObjectMetadataList
	gv      schema.GroupVersion
	include metav1.IncludeObjectPolicy
	// noHeaders is set after a watch's first Table.
	noHeaders bool
}

type acceptClause struct {
	mediaType string
	params    map[string]string
	q         float64
}

// parseAccept splits an Accept header into its clauses, best q first
// (stable for equal q); clauses that do not parse or have q=0 are dropped.
func parseAccept(header string) []acceptClause {
	var out []acceptClause
	for _, part := range strings.Split(header, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		mt, params, err := mime.ParseMediaType(part)
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(s, 64); err != nil || q <= 0 {
				continue
			}
			delete(params, "q")
		}
		out = append(out, acceptClause{mediaType: mt, params: params, q: q})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].q > out[j].q })
	return out
}

// negotiateRead picks the representation of a get, list or watch response
// from the Accept header, and reads ?includeObject= for a Table.
func negotiateRead(req *http.Request) (*readTarget, error) {
	header := req.Header.Get("Accept")
	if !strings.Contains(header, "as=") {
		return nil, nil // the common case: the object itself
	}
	clauses := parseAccept(header)
	for _, c := range clauses {
		switch c.mediaType {
		case "application/json", "application/*", "*/*":
		default:
			// Other media types (yaml, protobuf, cbor) are answered in
			// JSON when they ask for the object itself, as before;
			// conversions are served in JSON only.
			if c.params["as"] != "" {
				continue
			}
		}
		as := c.params["as"]
		if as == "" {
			return nil, nil
		}
		gv := schema.GroupVersion{Group: c.params["g"], Version: c.params["v"]}
		if gv != metav1.SchemeGroupVersion && gv != metav1beta1.SchemeGroupVersion {
			continue
		}
		switch as {
		case "Table":
			var opts metav1.TableOptions
			if err := decodeQuery(req.URL.Query(), &opts); err != nil {
				return nil, err
			}
			switch opts.IncludeObject {
			case metav1.IncludeObject, metav1.IncludeMetadata, metav1.IncludeNone, "":
			default:
				return nil, apierrors.NewBadRequest(fmt.Sprintf("Unable to convert to Table as requested: includeObject: Unsupported value: %q: supported values: %q, %q, %q",
					opts.IncludeObject, metav1.IncludeMetadata, metav1.IncludeNone, metav1.IncludeObject))
			}
			return &readTarget{kind: as, gv: gv, include: opts.IncludeObject}, nil
		case "PartialObjectMetadata", "PartialObjectMetadataList":
			return &readTarget{kind: as, gv: gv}, nil
		}
	}
	return nil, notAcceptable(fmt.Sprintf("only the following media types are accepted: %s", servedMediaTypes))
}

func notAcceptable(msg string) error {
	return statusErr(http.StatusNotAcceptable, metav1.StatusReason("NotAcceptable"), msg)
}

// convert turns the object or list read for r into the target's
// representation. now-dependent cells (AGE) use the server's clock.
func (t *readTarget) convert(s *Server, r *Resource, obj runtime.Object) (runtime.Object, error) {
	if _, ok := obj.(*metav1.Status); ok {
		return obj, nil
	}
	switch t.kind {
	case "PartialObjectMetadata":
		if meta.IsListType(obj) {
			return nil, notAcceptable(fmt.Sprintf("you requested PartialObjectMetadata, but the requested object is a list (%T)", obj))
		}
		m, err := meta.Accessor(obj)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		p := meta.AsPartialObjectMetadata(m)
		p.SetGroupVersionKind(t.gv.WithKind("PartialObjectMetadata"))
		return p, nil
	case "PartialObjectMetadataList":
		li, ok := obj.(metav1.ListInterface)
		if !ok {
			return nil, notAcceptable(fmt.Sprintf("you requested PartialObjectMetadataList, but the requested object is not a list (%T)", obj))
		}
		out := &metav1.PartialObjectMetadataList{Items: []metav1.PartialObjectMetadata{}}
		out.SetGroupVersionKind(t.gv.WithKind("PartialObjectMetadataList"))
		err := meta.EachListItem(obj, func(item runtime.Object) error {
			m, err := meta.Accessor(item)
			if err != nil {
				return err
			}
			p := meta.AsPartialObjectMetadata(m)
			p.SetGroupVersionKind(t.gv.WithKind("PartialObjectMetadata"))
			out.Items = append(out.Items, *p)
			return nil
		})
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		out.ResourceVersion, out.Continue, out.RemainingItemCount = li.GetResourceVersion(), li.GetContinue(), li.GetRemainingItemCount()
		return out, nil
	}
	table, err := printers.ToTable(obj, printers.WithClock(s.Clock()), printers.WithNoHeaders(t.noHeaders))
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	table.APIVersion = t.gv.String()
	for i := range table.Rows {
		row := &table.Rows[i]
		item := row.Object.Object
		row.Object = runtime.RawExtension{}
		var embed runtime.Object
		switch t.include {
		case metav1.IncludeObject:
			if item.GetObjectKind().GroupVersionKind().Empty() {
				item.GetObjectKind().SetGroupVersionKind(r.GVK())
			}
			embed = item
		case metav1.IncludeNone:
			continue
		default: // Metadata
			m, err := meta.Accessor(item)
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			p := meta.AsPartialObjectMetadata(m)
			p.SetGroupVersionKind(t.gv.WithKind("PartialObjectMetadata"))
			embed = p
		}
		raw, err := json.Marshal(embed)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		row.Object.Raw = raw
	}
	return table, nil
}

// respondRead writes a get's or list's answer in the representation the
// request negotiated (target nil: the object itself).
func (h *httpHandler) respondRead(w http.ResponseWriter, r *Resource, target *readTarget, obj runtime.Object, err error) {
	if err != nil || target == nil {
		respond(w, r, http.StatusOK, obj, err)
		return
	}
	// An empty list's items are [], not null, as upstream.
	if meta.IsListType(obj) && meta.LenList(obj) == 0 {
		_ = meta.SetList(obj, []runtime.Object{})
	}
	out, err := target.convert(h.s, r, obj)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// watchObject converts one watch event's object for the target; after the
// first Table the column definitions are left out. A conversion that fails
// sends the object itself, as upstream's watch encoder does.
func (t *readTarget) watchObject(s *Server, r *Resource, obj runtime.Object) runtime.Object {
	if t == nil {
		return obj
	}
	if _, ok := obj.(*metav1.Status); ok {
		return obj
	}
	out, err := t.convert(s, r, obj)
	if t.kind == "Table" {
		t.noHeaders = true
	}
	if err != nil {
		return obj
	}
	return out
}
