package apiserver

// openapi.go serves /openapi/v2 and /openapi/v3[/{api/v1|apis/GROUP/VERSION}]
// as kube-apiserver does: the schemas are internal/openapi's generated
// definitions, the paths are one kube-openapi Route per served resource,
// subresource and verb (as kube-apiserver's installer makes them, with the
// query parameters of the option kinds, x-kubernetes-action and
// x-kubernetes-group-version-kind), and the documents are built by
// kube-openapi's own builders (builder for v2, builder3 for v3) from the
// discovery lists, so they follow the resource table. Each document is built
// once, on its first request, and cached with its ETag (the SHA-512 of its
// JSON, as kube-openapi's handler3 computes it); the protobuf forms
// (gnostic's openapi.v2/v3 Document messages) are encoded from the JSON by
// internal/openapipb on their first request. The ?hash= URLs of the
// /openapi/v3 discovery document are immutable (Cache-Control public,
// immutable); a stale hash redirects to the current one.

import (
	"bytes"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/munnerz/goautoneg"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/builder"
	"k8s.io/kube-openapi/pkg/builder3"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/wasmpod/wasmpod/internal/openapi"
	"github.com/wasmpod/wasmpod/internal/openapipb"
)

// openAPIDocs holds a Server's OpenAPI documents, built on first use.
type openAPIDocs struct {
	once sync.Once
	gvs  map[string]*openAPIDoc // v3: "api/v1", "apis/apps/v1", ...
	// v3disc is the /openapi/v3 discovery document: every group version's
	// path with its document's hash.
	v3disc struct {
		once sync.Once
		openAPIBytes
	}
	v2 openAPIDoc
}

// openAPIBytes is a document in one encoding.
type openAPIBytes struct {
	b    []byte
	etag string
	time time.Time
	err  error
}

// openAPIDoc is one document: its JSON, built by build on first use, and
// its protobuf form, encoded from the JSON on first use. Both carry the
// JSON's ETag.
type openAPIDoc struct {
	build    func() (any, error) // *spec.Swagger or *spec3.OpenAPI
	toProto  func([]byte) ([]byte, error)
	jsonOnce sync.Once
	json     openAPIBytes
	pbOnce   sync.Once
	pb       openAPIBytes
}

func (d *openAPIDoc) getJSON() *openAPIBytes {
	d.jsonOnce.Do(func() {
		doc, err := d.build()
		if err == nil {
			d.json.b, err = json.Marshal(doc)
		}
		if err != nil {
			d.json.err = err
			return
		}
		d.json.etag = computeETag(d.json.b)
		d.json.time = time.Now()
	})
	return &d.json
}

func (d *openAPIDoc) getProto() *openAPIBytes {
	d.pbOnce.Do(func() {
		j := d.getJSON()
		if j.err != nil {
			d.pb.err = j.err
			return
		}
		d.pb.b, d.pb.err = d.toProto(j.b)
		d.pb.etag, d.pb.time = j.etag, j.time
	})
	return &d.pb
}

// computeETag is kube-openapi's ETag of a document: its SHA-512 in hex.
func computeETag(b []byte) string { return fmt.Sprintf("%X", sha512.Sum512(b)) }

const (
	mimeOpenAPIV2Proto           = "com.github.proto-openapi.spec.v2.v1.0+protobuf"
	mimeOpenAPIV2ProtoDeprecated = "com.github.proto-openapi.spec.v2@v1.0+protobuf"
	mimeOpenAPIV3Proto           = "com.github.proto-openapi.spec.v3.v1.0+protobuf"
	mimeOpenAPIV3ProtoDeprecated = "com.github.proto-openapi.spec.v3@v1.0+protobuf"
)

// serveOpenAPI serves GET /openapi/v2, /openapi/v3 and
// /openapi/v3/{api/v1|apis/G/V}.
func (h *httpHandler) serveOpenAPI(w http.ResponseWriter, req *http.Request, parts []string) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		writeError(w, methodNotAllowed(req.Method))
		return
	}
	docs := h.s.openAPI()
	switch {
	case len(parts) == 2 && parts[1] == "v2":
		h.serveOpenAPIV2(w, req, docs)
	case len(parts) == 2 && parts[1] == "v3":
		serveOpenAPIV3Discovery(w, req, docs)
	case len(parts) > 2 && parts[1] == "v3" && docs.gvs[strings.Join(parts[2:], "/")] != nil:
		p := strings.Join(parts[2:], "/")
		serveOpenAPIV3(w, req, p, docs.gvs[p])
	default:
		writeError(w, notFound())
	}
}

// openAPI returns the server's documents, setting them up on first use
// (the documents themselves are built when first asked).
func (s *Server) openAPI() *openAPIDocs {
	d := &s.openapi
	d.once.Do(func() {
		d.gvs = map[string]*openAPIDoc{}
		gvs := s.openAPIGroupVersions()
		for _, gv := range gvs {
			gv := gv
			d.gvs[gvPath(gv)] = &openAPIDoc{
				build: func() (any, error) {
					return builder3.BuildOpenAPISpecFromRoutes([]common.RouteContainer{s.openAPIRoutes(gv)}, openAPIV3Config())
				},
				toProto: openapipb.V3,
			}
		}
		d.v2 = openAPIDoc{
			build: func() (any, error) {
				var cs []common.RouteContainer
				for _, gv := range gvs {
					cs = append(cs, s.openAPIRoutes(gv))
				}
				return builder.BuildOpenAPISpecFromRoutes(cs, openAPIV2Config())
			},
			toProto: openapipb.V2,
		}
	})
	return d
}

// openAPIGroupVersions lists the served group versions: core v1 and
// those of the discovery group list.
func (s *Server) openAPIGroupVersions() []schema.GroupVersion {
	out := []schema.GroupVersion{corev1.SchemeGroupVersion}
	for _, g := range (&httpHandler{s: s}).groupList().Groups {
		for _, v := range g.Versions {
			out = append(out, schema.GroupVersion{Group: g.Name, Version: v.Version})
		}
	}
	return out
}

func gvPath(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}

// openAPIV3URL is a group version's document URL with its hash, as
// kube-openapi's handler3 makes it.
func openAPIV3URL(p, etag string) string {
	return (&url.URL{Path: "/openapi/v3/" + p, RawQuery: url.Values{"hash": {etag}}.Encode()}).String()
}

// serveOpenAPIV3Discovery serves /openapi/v3: {"paths": {"api/v1":
// {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}, ...}}, which
// builds every group version's document for its hash.
func serveOpenAPIV3Discovery(w http.ResponseWriter, req *http.Request, docs *openAPIDocs) {
	disc := &docs.v3disc
	disc.once.Do(func() {
		type gvEntry struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		}
		paths := map[string]gvEntry{}
		for p, d := range docs.gvs {
			j := d.getJSON()
			if j.err != nil {
				disc.err = fmt.Errorf("building the OpenAPI v3 document of %s: %w", p, j.err)
				return
			}
			paths[p] = gvEntry{openAPIV3URL(p, j.etag)}
		}
		disc.b, disc.err = json.Marshal(struct {
			Paths map[string]gvEntry `json:"paths"`
		}{paths})
		disc.etag, disc.time = computeETag(disc.b), time.Now()
	})
	if disc.err != nil {
		writeError(w, disc.err)
		return
	}
	w.Header().Set("Etag", strconv.Quote(disc.etag))
	w.Header().Set("Content-Type", "application/json")
	http.ServeContent(w, req, "", disc.time, bytes.NewReader(disc.b))
}

// negotiateOpenAPI picks d's encoding that Accept asks for, as handler3
// negotiates: the first clause that matches application/json or the
// protobuf media type (or its deprecated name), wildcards included. It
// sets Vary and Content-Type; when nothing matches (406) or the document
// failed to build (500, naming what) it answers itself and returns nil.
func negotiateOpenAPI(w http.ResponseWriter, req *http.Request, d *openAPIDoc, protoMime, protoDeprecated, what string) *openAPIBytes {
	accept := req.Header.Get("Accept")
	if accept == "" {
		accept = "*/*"
	}
	w.Header().Add("Vary", "Accept")
	for _, c := range goautoneg.ParseAccept(accept) {
		if c.Type != "application" && c.Type != "*" {
			continue
		}
		var doc *openAPIBytes
		var ctype string
		switch c.SubType {
		case "json", "*":
			doc, ctype = d.getJSON(), "application/json"
		case protoMime, protoDeprecated:
			doc, ctype = d.getProto(), "application/"+protoMime
		default:
			continue
		}
		if doc.err != nil {
			writeError(w, fmt.Errorf("building the OpenAPI %s: %w", what, doc.err))
			return nil
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Etag", strconv.Quote(doc.etag))
		return doc
	}
	writeError(w, statusErr(http.StatusNotAcceptable, metav1.StatusReasonNotAcceptable,
		"only the following media types are accepted: application/json, application/"+protoMime))
	return nil
}

// serveOpenAPIV3 serves a group version's document, in JSON or protobuf
// as Accept asks.
func serveOpenAPIV3(w http.ResponseWriter, req *http.Request, p string, d *openAPIDoc) {
	doc := negotiateOpenAPI(w, req, d, mimeOpenAPIV3Proto, mimeOpenAPIV3ProtoDeprecated, "v3 document of "+p)
	if doc == nil {
		return
	}
	if hash := req.URL.Query().Get("hash"); hash != "" {
		if hash != doc.etag {
			http.Redirect(w, req, openAPIV3URL(p, doc.etag), http.StatusMovedPermanently)
			return
		}
		w.Header().Set("Cache-Control", "public, immutable")
		w.Header().Set("Expires", time.Now().AddDate(1, 0, 0).Format(time.RFC1123))
	}
	http.ServeContent(w, req, "", doc.time, bytes.NewReader(doc.b))
}

func (h *httpHandler) serveOpenAPIV2(w http.ResponseWriter, req *http.Request, d *openAPIDocs) {
	if doc := negotiateOpenAPI(w, req, &d.v2, mimeOpenAPIV2Proto, mimeOpenAPIV2ProtoDeprecated, "v2 document"); doc != nil {
		http.ServeContent(w, req, "", doc.time, bytes.NewReader(doc.b))
	}
}

var openAPIInfo = &spec.Info{InfoProps: spec.InfoProps{Title: "Kubernetes", Version: GitVersion}}

func openAPIV3Config() *common.OpenAPIV3Config {
	c := openapi.V3Config()
	c.Info = openAPIInfo
	c.GetOperationIDAndTagsFromRoute = operationIDAndTags
	c.CommonResponses = map[int]*spec3.Response{http.StatusUnauthorized: {ResponseProps: spec3.ResponseProps{Description: "Unauthorized"}}}
	c.SecuritySchemes = spec3.SecuritySchemes{"BearerToken": {SecuritySchemeProps: spec3.SecuritySchemeProps{
		Type: "apiKey", Name: "authorization", In: "header", Description: "Bearer Token authentication"}}}
	c.DefaultSecurity = []map[string][]string{{"BearerToken": {}}}
	return c
}

func openAPIV2Config() *common.Config {
	c := openapi.V2Config()
	c.Info = openAPIInfo
	c.GetOperationIDAndTagsFromRoute = operationIDAndTags
	c.CommonResponses = map[int]spec.Response{http.StatusUnauthorized: {ResponseProps: spec.ResponseProps{Description: "Unauthorized"}}}
	c.SecurityDefinitions = &spec.SecurityDefinitions{"BearerToken": {SecuritySchemeProps: spec.SecuritySchemeProps{
		Type: "apiKey", Name: "authorization", In: "header", Description: "Bearer Token authentication"}}}
	c.DefaultSecurity = []map[string][]string{{"BearerToken": {}}}
	return c
}

// operationIDAndTags names an operation as kube-apiserver: the verb, then
// the group and version ("listCoreV1NamespacedPod", tag "core_v1";
// "patchRbacAuthorizationV1ClusterRole", tag "rbacAuthorization_v1").
func operationIDAndTags(r common.Route) (string, []string, error) {
	rt := r.(*oaRoute)
	op := rt.op
	verb := ""
	for _, v := range []string{"connect", "replace", "create", "delete", "list", "patch", "watch", "read"} {
		if strings.HasPrefix(op, v) {
			verb = v
			break
		}
	}
	if verb == "" {
		return "", nil, fmt.Errorf("operation %q does not start with a verb", op)
	}
	group := rt.gv.Group
	if group == "" {
		group = "core"
	}
	group = strings.TrimSuffix(group, ".k8s.io")
	id := verb + identifier(group, true) + identifier(rt.gv.Version, true) + op[len(verb):]
	return id, []string{identifier(group, false) + "_" + identifier(rt.gv.Version, false)}, nil
}

// identifier keeps letters, digits (not first) and '_', and capitalizes
// the letter after anything else ("rbac.authorization" →
// "rbacAuthorization").
func identifier(s string, upperFirst bool) string {
	var b strings.Builder
	up := upperFirst
	for i, r := range s {
		if unicode.IsLetter(r) || r == '_' || (i > 0 && unicode.IsDigit(r)) {
			if up {
				r = unicode.ToUpper(r)
				up = false
			}
			b.WriteRune(r)
		} else {
			up = true
		}
	}
	return b.String()
}

// --- routes ---------------------------------------------------------------------

type oaContainer struct {
	root   string
	routes []common.Route
}

func (c *oaContainer) RootPath() string                   { return c.root }
func (c *oaContainer) PathParameters() []common.Parameter { return nil }
func (c *oaContainer) Routes() []common.Route             { return c.routes }

type oaRoute struct {
	method, path, op, desc string
	gv                     schema.GroupVersion // the path's group version
	params                 []common.Parameter
	consumes, produces     []string
	meta                   map[string]interface{}
	body                   interface{}
	responses              []common.StatusCodeResponse
}

func (r *oaRoute) Method() string                                   { return r.method }
func (r *oaRoute) Path() string                                     { return r.path }
func (r *oaRoute) OperationName() string                            { return r.op }
func (r *oaRoute) Parameters() []common.Parameter                   { return r.params }
func (r *oaRoute) Description() string                              { return r.desc }
func (r *oaRoute) Consumes() []string                               { return r.consumes }
func (r *oaRoute) Produces() []string                               { return r.produces }
func (r *oaRoute) Metadata() map[string]interface{}                 { return r.meta }
func (r *oaRoute) RequestPayloadSample() interface{}                { return r.body }
func (r *oaRoute) ResponsePayloadSample() interface{}               { return nil }
func (r *oaRoute) StatusCodeResponses() []common.StatusCodeResponse { return r.responses }

type oaResponse struct {
	code  int
	model interface{}
}

func (r oaResponse) Code() int          { return r.code }
func (r oaResponse) Message() string    { return http.StatusText(r.code) }
func (r oaResponse) Model() interface{} { return r.model }

type oaParam struct {
	N, Desc, Type string
	In            common.ParameterKind
	Req, Multi    bool
}

func (p oaParam) Name() string               { return p.N }
func (p oaParam) Description() string        { return p.Desc }
func (p oaParam) Required() bool             { return p.Req }
func (p oaParam) Kind() common.ParameterKind { return p.In }
func (p oaParam) DataType() string           { return p.Type }
func (p oaParam) AllowMultiple() bool        { return p.Multi }

var (
	prettyParam = oaParam{N: "pretty", Type: "string", In: common.QueryParameterKind,
		Desc: "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget)."}
	namespaceParam = oaParam{N: "namespace", Type: "string", In: common.PathParameterKind, Req: true,
		Desc: "object name and auth scope, such as for teams and projects"}
	bodyParam    = oaParam{N: "body", In: common.BodyParameterKind, Req: true}
	bodyOptParam = oaParam{N: "body", In: common.BodyParameterKind}

	openAPIProduces      = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	openAPIWatchProduces = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf",
		"application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch"}
	openAPIPatchConsumes = []string{"application/json-patch+json", "application/merge-patch+json",
		"application/strategic-merge-patch+json", "application/apply-patch+yaml", "application/apply-patch+cbor"}
)

// optionsDoc is an options kind and its field descriptions. The
// descriptions come from a static call of the kind's SwaggerDoc: a call
// through an interface would keep every SwaggerDoc method of every k8s.io/api
// type the binary converts to an interface, and with them each package's
// description maps, which the linker otherwise drops (0.34 MB of binary).
type optionsDoc struct {
	obj any
	doc map[string]string
}

// connectOptions are the query options of the connect subresources.
var connectOptions = map[string]*optionsDoc{
	"exec":        {&corev1.PodExecOptions{}, corev1.PodExecOptions{}.SwaggerDoc()},
	"attach":      {&corev1.PodAttachOptions{}, corev1.PodAttachOptions{}.SwaggerDoc()},
	"portforward": {&corev1.PodPortForwardOptions{}, corev1.PodPortForwardOptions{}.SwaggerDoc()},
}

// optionParams are the query parameters of an options kind's fields, with
// the types and descriptions kube-apiserver's installer gives them
// (scalar fields only; the kind's TypeMeta and nested structs are not
// query parameters).
func optionParams(k *optionsDoc) []common.Parameter {
	var out []common.Parameter
	t := reflect.TypeOf(k.obj).Elem()
	doc := k.doc
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := strings.SplitN(f.Tag.Get("json"), ",", 2)[0]
		if name == "" || name == "-" {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			if e := ft.Elem(); (e.Kind() == reflect.Struct || e.Kind() == reflect.Interface) && e != reflect.TypeOf(metav1.Time{}) {
				continue
			}
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		typ := ""
		switch ft.Kind() {
		case reflect.Struct, reflect.Interface:
			if ft != reflect.TypeOf(metav1.Time{}) {
				continue
			}
			typ = "string"
		case reflect.Bool:
			typ = "boolean"
		case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint8, reflect.Uint32, reflect.Uint64:
			typ = "integer"
		case reflect.Float32, reflect.Float64:
			typ = "number"
		default:
			typ = "string"
		}
		out = append(out, oaParam{N: name, Desc: doc[name], Type: typ, In: common.QueryParameterKind})
	}
	return out
}

var (
	listParams   = optionParams(&optionsDoc{&metav1.ListOptions{}, metav1.ListOptions{}.SwaggerDoc()})
	createParams = optionParams(&optionsDoc{&metav1.CreateOptions{}, metav1.CreateOptions{}.SwaggerDoc()})
	updateParams = optionParams(&optionsDoc{&metav1.UpdateOptions{}, metav1.UpdateOptions{}.SwaggerDoc()})
	patchParams  = optionParams(&optionsDoc{&metav1.PatchOptions{}, metav1.PatchOptions{}.SwaggerDoc()})
	deleteParams = optionParams(&optionsDoc{&metav1.DeleteOptions{}, metav1.DeleteOptions{}.SwaggerDoc()})
)

func params(groups ...[]common.Parameter) []common.Parameter {
	var out []common.Parameter
	seen := map[string]bool{}
	for _, g := range groups {
		for _, p := range g {
			if !seen[p.Name()] {
				seen[p.Name()] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// openAPIRoutes builds the routes of gv from its discovery list (the
// resource table, its subresources and the review kinds).
func (s *Server) openAPIRoutes(gv schema.GroupVersion) *oaContainer {
	h := &httpHandler{s: s}
	list := h.resourceList(gv)
	for _, rr := range reviewAPIResources(gv) { // authreview.go, when resourceList lacks them
		have := false
		for _, ar := range list.APIResources {
			have = have || ar.Name == rr.Name
		}
		if !have {
			list.APIResources = append(list.APIResources, rr)
		}
	}
	for i, ar := range list.APIResources {
		if r, ok := s.Resource(gv.Group, ar.Name); ok && r.listOnly != "" {
			// A list-only kind (listonly.go) keeps its create and patch routes
			// here, so that kubectl apply, finding fieldValidation on the patch
			// route, sends the object and shows the server's 405 saying why,
			// instead of failing its client-side check on the missing CRD API.
			list.APIResources[i].Verbs = append(metav1.Verbs{"create", "patch"}, ar.Verbs...)
		}
	}
	prefix := "/" + gvPath(gv)
	c := &oaContainer{root: prefix}
	sch := openapi.Scheme()
	for _, ar := range list.APIResources {
		resource, sub, _ := strings.Cut(ar.Name, "/")
		kgv := gv
		if ar.Group != "" || ar.Version != "" {
			kgv = schema.GroupVersion{Group: ar.Group, Version: ar.Version}
		}
		gvk := kgv.WithKind(ar.Kind)
		obj, err := sch.New(gvk)
		if err != nil {
			continue // a kind without a definition is left out
		}
		gvkExt := metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind}
		// The parent's kind names the operations ("NamespacedPodStatus").
		parentKind := ar.Kind
		if sub != "" {
			for _, p := range list.APIResources {
				if p.Name == resource {
					parentKind = p.Kind
				}
			}
		}
		opKind := parentKind + identifier(sub, true)
		ns := ""
		var scope []common.Parameter
		collection := prefix + "/" + resource
		watchCollection := prefix + "/watch/" + resource
		if ar.Namespaced {
			ns = "Namespaced"
			scope = []common.Parameter{namespaceParam}
			collection = prefix + "/namespaces/{namespace}/" + resource
			watchCollection = prefix + "/watch/namespaces/{namespace}/" + resource
		}
		nameParam := oaParam{N: "name", Type: "string", In: common.PathParameterKind, Req: true, Desc: "name of the " + parentKind}
		item := collection + "/{name}"
		if sub != "" {
			item += "/" + sub
		}
		itemScope := append(append([]common.Parameter{}, scope...), nameParam)
		add := func(method, path, op, action, desc string, ps []common.Parameter, body interface{}, produces, consumes []string, resps ...oaResponse) {
			rt := &oaRoute{method: method, path: path, op: op, desc: desc, gv: gv, params: ps, body: body,
				produces: produces, consumes: consumes,
				meta: map[string]interface{}{"x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvkExt}}
			for _, r := range resps {
				rt.responses = append(rt.responses, r)
			}
			c.routes = append(c.routes, rt)
		}
		var listObj interface{}
		if l, err := sch.New(kgv.WithKind(ar.Kind + "List")); err == nil {
			listObj = l
		}
		status := &metav1.Status{}
		watchEvent := &metav1.WatchEvent{}
		anyType := []string{"*/*"}
		for _, verb := range ar.Verbs {
			switch {
			case connectOptions[sub] != nil && (verb == "get" || verb == "create"):
				method, opVerb := "GET", "connectGet"
				if verb == "create" {
					method, opVerb = "POST", "connectPost"
				}
				add(method, item, opVerb+ns+opKind, "connect", "connect "+method+" requests to "+sub+" of "+parentKind,
					params(itemScope, optionParams(connectOptions[sub])), nil, anyType, anyType, oaResponse{200, ""})
			case sub == "" && verb == "list" && listObj != nil:
				add("GET", collection, "list"+ns+opKind, "list", "list or watch objects of kind "+ar.Kind,
					params(scope, listParams, []common.Parameter{prettyParam}), nil, openAPIWatchProduces, anyType, oaResponse{200, listObj})
				if ar.Namespaced {
					add("GET", prefix+"/"+resource, "list"+opKind+"ForAllNamespaces", "list", "list or watch objects of kind "+ar.Kind,
						params(listParams, []common.Parameter{prettyParam}), nil, openAPIWatchProduces, anyType, oaResponse{200, listObj})
				}
			case sub == "" && verb == "watch":
				add("GET", watchCollection, "watch"+ns+opKind+"List", "watchlist",
					"watch individual changes to a list of "+ar.Kind+". deprecated: use the 'watch' parameter with a list operation instead.",
					params(scope, listParams, []common.Parameter{prettyParam}), nil, openAPIWatchProduces, anyType, oaResponse{200, watchEvent})
				add("GET", watchCollection+"/{name}", "watch"+ns+opKind, "watch",
					"watch changes to an object of kind "+ar.Kind+". deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter.",
					params(itemScope, listParams, []common.Parameter{prettyParam}), nil, openAPIWatchProduces, anyType, oaResponse{200, watchEvent})
				if ar.Namespaced {
					add("GET", prefix+"/watch/"+resource, "watch"+opKind+"ListForAllNamespaces", "watchlist",
						"watch individual changes to a list of "+ar.Kind+". deprecated: use the 'watch' parameter with a list operation instead.",
						params(listParams, []common.Parameter{prettyParam}), nil, openAPIWatchProduces, anyType, oaResponse{200, watchEvent})
				}
			case sub == "" && verb == "create":
				add("POST", collection, "create"+ns+opKind, "post", "create a "+ar.Kind,
					params(scope, []common.Parameter{bodyParam}, createParams, []common.Parameter{prettyParam}), obj, openAPIProduces, anyType,
					oaResponse{200, obj}, oaResponse{201, obj}, oaResponse{202, obj})
			case sub != "" && verb == "create":
				add("POST", item, "create"+ns+opKind, "post", "create "+sub+" of a "+parentKind,
					params(itemScope, []common.Parameter{bodyParam}, createParams, []common.Parameter{prettyParam}), obj, openAPIProduces, anyType,
					oaResponse{200, obj}, oaResponse{201, obj}, oaResponse{202, obj})
			case sub == "" && verb == "deletecollection":
				add("DELETE", collection, "deleteCollection"+ns+opKind, "deletecollection", "delete collection of "+ar.Kind,
					params(scope, []common.Parameter{bodyOptParam}, deleteParams, listParams, []common.Parameter{prettyParam}), &metav1.DeleteOptions{},
					openAPIProduces, anyType, oaResponse{200, status})
			case verb == "get" && sub == "log":
				add("GET", item, "read"+ns+opKind, "get", "read log of the specified "+parentKind,
					params(itemScope, optionParams(&optionsDoc{&corev1.PodLogOptions{}, corev1.PodLogOptions{}.SwaggerDoc()}), []common.Parameter{prettyParam}), nil,
					[]string{"text/plain", "application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}, anyType, oaResponse{200, ""})
			case verb == "get":
				add("GET", item, "read"+ns+opKind, "get", "read "+subText(sub)+"the specified "+parentKind,
					params(itemScope, []common.Parameter{prettyParam}), nil, openAPIProduces, anyType, oaResponse{200, obj})
			case verb == "update":
				add("PUT", item, "replace"+ns+opKind, "put", "replace "+subText(sub)+"the specified "+parentKind,
					params(itemScope, []common.Parameter{bodyParam}, updateParams, []common.Parameter{prettyParam}), obj, openAPIProduces, anyType,
					oaResponse{200, obj}, oaResponse{201, obj})
			case verb == "patch":
				add("PATCH", item, "patch"+ns+opKind, "patch", "partially update "+subText(sub)+"the specified "+parentKind,
					params(itemScope, []common.Parameter{bodyParam}, patchParams, []common.Parameter{prettyParam}), &metav1.Patch{},
					openAPIProduces, openAPIPatchConsumes, oaResponse{200, obj}, oaResponse{201, obj})
			case sub == "" && verb == "delete":
				add("DELETE", item, "delete"+ns+opKind, "delete", "delete a "+ar.Kind,
					params(itemScope, []common.Parameter{bodyOptParam}, deleteParams, []common.Parameter{prettyParam}), &metav1.DeleteOptions{},
					openAPIProduces, anyType, oaResponse{200, obj}, oaResponse{202, obj})
			}
		}
	}
	return c
}

func subText(sub string) string {
	if sub == "" {
		return ""
	}
	return sub + " of "
}
