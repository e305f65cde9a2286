package apiserver

// nodeproxy.go: /api/v1/nodes/NAME/proxy/PATH, which kube-apiserver
// proxies to the node's kubelet (its /stats/summary, /healthz, ...). Here
// the node agent answers in process (NodeProxier). Authorization is the
// "proxy" subresource of nodes (rbac_authz.go, as upstream's RequestInfo
// gives it). A node that exists but has no connected agent is 503, as an
// unreachable kubelet is upstream.

import (
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// NodeProxier is the optional capability of a NodeConnector to answer the
// requests the API server proxies to its node (nodes/NAME/proxy/PATH):
// path is PATH with a leading "/" (just "/" for nodes/NAME/proxy), and
// req keeps its method, query and body. A connector without it answers
// ServiceUnavailable.
type NodeProxier interface {
	ServeNodeProxy(w http.ResponseWriter, req *http.Request, path string)
}

// serveNodeProxy serves parts = [nodes NAME proxy PATH...] (after /api/v1).
func (h *httpHandler) serveNodeProxy(w http.ResponseWriter, req *http.Request, parts []string) {
	name := parts[1]
	// NAME may be [scheme:]NAME[:port], as upstream's proxy accepts.
	if segs := strings.Split(name, ":"); len(segs) == 3 {
		name = segs[1]
	} else if len(segs) == 2 && segs[0] != "http" && segs[0] != "https" {
		name = segs[0]
	} else if len(segs) == 2 {
		name = segs[1]
	}
	if _, err := h.s.Get(req.Context(), h.s.resources["/nodes"], "", name); err != nil {
		writeError(w, err)
		return
	}
	c, _ := h.s.nodeConnector(req.Context(), name) // remotenode.go
	p, ok := c.(NodeProxier)
	if !ok {
		writeError(w, apierrors.NewServiceUnavailable(fmt.Sprintf("error trying to reach service: node %s is not connected", name)))
		return
	}
	path := "/" + strings.Join(parts[3:], "/")
	if strings.HasSuffix(req.URL.Path, "/") && path != "/" {
		path += "/"
	}
	p.ServeNodeProxy(w, req, path)
}
