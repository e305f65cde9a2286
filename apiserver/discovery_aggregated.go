package apiserver

// discovery_aggregated.go serves aggregated discovery (apidiscovery.k8s.io/v2),
// as kube-apiserver does: GET /api and GET /apis whose Accept header asks
// first for
//
//	application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList
//
// (or the same in application/vnd.kubernetes.protobuf, or with
// profile=nopeer) are answered with one APIGroupDiscoveryList holding every
// group, version, resource and subresource, so a client learns the whole API
// in two requests instead of one per group-version. The list is built from
// the same resource table as the unaggregated documents (http.go groupList
// and resourceList), which stay served for clients that ask for plain JSON.
//
// As upstream, the answer carries an ETag (the quoted upper-case hex
// SHA-512 of the list's JSON), "Vary: Accept" and "Cache-Control: public";
// a request whose If-None-Match equals the ETag gets 304 with no body. The
// Content-Type names the kind: the requested media type with
// g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList.

import (
	"bytes"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
)

// aggregatedDiscoveryParams are the media type parameters naming the
// aggregated discovery kind, in the order upstream writes them.
const aggregatedDiscoveryParams = ";g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

var discoveryScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := apidiscoveryv2.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

var discoveryProto = protobuf.NewSerializer(discoveryScheme, discoveryScheme)

// aggregatedMediaType returns the base media type (JSON or protobuf) in
// which the Accept header asks for aggregated discovery, or "" when its
// first usable clause asks for something else (the unaggregated document).
func aggregatedMediaType(req *http.Request) string {
	header := req.Header.Get("Accept")
	if !strings.Contains(header, "apidiscovery.k8s.io") {
		return ""
	}
	for _, c := range parseAccept(header) { // table.go
		switch c.mediaType {
		case "application/json", runtime.ContentTypeProtobuf:
		case "application/*", "*/*":
			return ""
		default:
			continue
		}
		if c.params["as"] == "" && c.params["g"] == "" {
			return "" // plain JSON or protobuf: the unaggregated document
		}
		if c.params["g"] == apidiscoveryv2.SchemeGroupVersion.Group &&
			c.params["v"] == apidiscoveryv2.SchemeGroupVersion.Version &&
			c.params["as"] == "APIGroupDiscoveryList" {
			return c.mediaType
		}
		// Other conversions (v2beta1, removed upstream; Tables) are not
		// served here: try the next clause.
	}
	return ""
}

// serveAggregatedDiscovery answers GET /api (root "api") or /apis (root
// "apis") with the aggregated document when the client asks for it; it
// reports whether it wrote anything.
func (h *httpHandler) serveAggregatedDiscovery(w http.ResponseWriter, req *http.Request, root string) bool {
	if h.opts.noAggregatedDiscovery {
		return false
	}
	mt := aggregatedMediaType(req)
	if mt == "" {
		return false
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		writeError(w, methodNotAllowed(req.Method))
		return true
	}
	list := h.aggregatedDiscovery(root == "api")
	js, err := json.Marshal(list)
	if err != nil {
		writeError(w, err)
		return true
	}
	etag := strconv.Quote(fmt.Sprintf("%X", sha512.Sum512(js)))
	w.Header().Set("ETag", etag)
	w.Header().Set("Vary", "Accept")
	w.Header().Set("Cache-Control", "public")
	if req.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	body := append(js, '\n')
	if mt == runtime.ContentTypeProtobuf {
		var buf bytes.Buffer
		if err := discoveryProto.Encode(list, &buf); err != nil {
			writeError(w, err)
			return true
		}
		body = buf.Bytes()
	}
	w.Header().Set("Content-Type", mt+aggregatedDiscoveryParams)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if req.Method != http.MethodHead {
		w.Write(body)
	}
	return true
}

// aggregatedDiscovery builds the APIGroupDiscoveryList of the core group
// (core) or of every named group, from groupList and resourceList.
func (h *httpHandler) aggregatedDiscovery(core bool) *apidiscoveryv2.APIGroupDiscoveryList {
	list := &apidiscoveryv2.APIGroupDiscoveryList{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: apidiscoveryv2.SchemeGroupVersion.String()},
		Items:    []apidiscoveryv2.APIGroupDiscovery{},
	}
	if core {
		list.Items = append(list.Items, apidiscoveryv2.APIGroupDiscovery{
			Versions: []apidiscoveryv2.APIVersionDiscovery{h.versionDiscovery(corev1.SchemeGroupVersion)},
		})
		return list
	}
	for _, g := range h.groupList().Groups {
		gd := apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: g.Name}}
		// The preferred version first, as upstream orders by priority.
		versions := []string{g.PreferredVersion.Version}
		for _, v := range g.Versions {
			if v.Version != g.PreferredVersion.Version {
				versions = append(versions, v.Version)
			}
		}
		for _, v := range versions {
			gd.Versions = append(gd.Versions, h.versionDiscovery(schema.GroupVersion{Group: g.Name, Version: v}))
		}
		list.Items = append(list.Items, gd)
	}
	return list
}

// versionDiscovery converts gv's unaggregated resource list: a
// "resource/sub" entry becomes a subresource of "resource".
func (h *httpHandler) versionDiscovery(gv schema.GroupVersion) apidiscoveryv2.APIVersionDiscovery {
	vd := apidiscoveryv2.APIVersionDiscovery{Version: gv.Version, Resources: []apidiscoveryv2.APIResourceDiscovery{},
		Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
	index := map[string]int{}
	kindOf := func(r metav1.APIResource) *metav1.GroupVersionKind {
		k := &metav1.GroupVersionKind{Group: gv.Group, Version: gv.Version, Kind: r.Kind}
		if r.Group != "" || r.Version != "" {
			k.Group, k.Version = r.Group, r.Version
		}
		return k
	}
	resources := h.resourceList(gv).APIResources
	for _, r := range resources {
		if strings.Contains(r.Name, "/") {
			continue
		}
		scope := apidiscoveryv2.ScopeCluster
		if r.Namespaced {
			scope = apidiscoveryv2.ScopeNamespace
		}
		singular := r.SingularName
		if singular == "" {
			singular = strings.ToLower(r.Kind)
		}
		index[r.Name] = len(vd.Resources)
		vd.Resources = append(vd.Resources, apidiscoveryv2.APIResourceDiscovery{
			Resource: r.Name, ResponseKind: kindOf(r), Scope: scope, SingularResource: singular,
			Verbs: r.Verbs, ShortNames: r.ShortNames, Categories: r.Categories,
		})
	}
	for _, r := range resources {
		parent, sub, ok := strings.Cut(r.Name, "/")
		i, have := index[parent]
		if !ok || !have {
			continue
		}
		vd.Resources[i].Subresources = append(vd.Resources[i].Subresources, apidiscoveryv2.APISubresourceDiscovery{
			Subresource: sub, ResponseKind: kindOf(r), Verbs: r.Verbs,
		})
	}
	return vd
}
