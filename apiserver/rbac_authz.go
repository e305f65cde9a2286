package apiserver

// rbac_authz.go: authorization of every authenticated request, as
// kube-apiserver's "Node,RBAC" chain without Node: system:masters may do
// everything (upstream's privileged-group authorizer), anyone else what
// the RBAC rules bound to them allow (rbac.go). The request's attributes
// (verb get/list/watch/create/update/patch/delete/deletecollection, API
// group, resource, subresource, namespace, name, or a non-resource path)
// come from k8s.io/apiserver's RequestInfoFactory. A denied request is 403
// with upstream's message, e.g.
//
//	pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default"
//
// The public paths (/healthz, /livez, /readyz, /version) are not checked:
// anonymous requests may read them.

import (
	"context"
	"fmt"
	"net/http"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"
)

var requestInfoFactory = &genericrequest.RequestInfoFactory{
	APIPrefixes:          sets.NewString("api", "apis"),
	GrouplessAPIPrefixes: sets.NewString("api"),
}

// isMaster: system:masters may do everything.
func isMaster(u user.Info) bool {
	for _, g := range u.GetGroups() {
		if g == GroupMasters {
			return true
		}
	}
	return false
}

type decision struct {
	allowed bool
	reason  string
}

// authorizeAttrs decides a request described by a.
func (s *Server) authorizeAttrs(ctx context.Context, a authorizer.AttributesRecord) decision {
	if a.User == nil {
		return decision{}
	}
	if isMaster(a.User) {
		return decision{allowed: true}
	}
	if s.authorizeJoining(ctx, a) { // node_authz.go
		return decision{allowed: true, reason: "Node: allowed"}
	}
	var d decision
	var errs []error
	s.visitRules(ctx, a.User, a.Namespace, func(source string, rule *rbacv1.PolicyRule, err error) bool {
		if err != nil {
			errs = append(errs, err)
			return true
		}
		if ruleAllows(a, rule) {
			d = decision{allowed: true, reason: "RBAC: allowed by " + source}
			return false
		}
		return true
	})
	if !d.allowed && len(errs) > 0 {
		d.reason = fmt.Sprintf("RBAC: %v", errs[0])
	}
	return d
}

// attributesOf describes an HTTP request for the authorizer.
func attributesOf(req *http.Request, u user.Info) (authorizer.AttributesRecord, error) {
	info, err := requestInfoFactory.NewRequestInfo(req)
	if err != nil {
		return authorizer.AttributesRecord{}, apierrors.NewBadRequest(err.Error())
	}
	return authorizer.AttributesRecord{
		User: u, Verb: info.Verb, Namespace: info.Namespace, APIGroup: info.APIGroup, APIVersion: info.APIVersion,
		Resource: info.Resource, Subresource: info.Subresource, Name: info.Name,
		ResourceRequest: info.IsResourceRequest, Path: info.Path,
	}, nil
}

// authorize returns nil when the request's user may make it, or a 403.
func (h *httpHandler) authorize(req *http.Request) error {
	u := UserFrom(req.Context())
	if isMaster(u) {
		return nil
	}
	a, err := attributesOf(req, u)
	if err != nil {
		return err
	}
	if d := h.s.authorizeAttrs(req.Context(), a); !d.allowed {
		return forbidden(a, "")
	}
	if a.ResourceRequest && a.Verb == "get" && a.Resource == "pods" && streamSubresources[a.Subresource] {
		// A WebSocket upgrade is a GET; it needs create too, as upstream's
		// AuthorizePodWebsocketUpgradeCreatePermission.
		a.Verb = "create"
		if d := h.s.authorizeAttrs(req.Context(), a); !d.allowed {
			return forbidden(a, "")
		}
	}
	return nil
}

var streamSubresources = map[string]bool{"exec": true, "attach": true, "portforward": true}

// forbidden is upstream's 403 for a denied request.
func forbidden(a authorizer.Attributes, reason string) error {
	name := "<unknown>"
	if a.GetUser() != nil {
		name = a.GetUser().GetName()
	}
	var msg string
	switch {
	case !a.IsResourceRequest():
		msg = fmt.Sprintf("User %q cannot %s path %q", name, a.GetVerb(), a.GetPath())
	default:
		res := a.GetResource()
		if a.GetSubresource() != "" {
			res += "/" + a.GetSubresource()
		}
		if a.GetNamespace() != "" {
			msg = fmt.Sprintf("User %q cannot %s resource %q in API group %q in the namespace %q", name, a.GetVerb(), res, a.GetAPIGroup(), a.GetNamespace())
		} else {
			msg = fmt.Sprintf("User %q cannot %s resource %q in API group %q at the cluster scope", name, a.GetVerb(), res, a.GetAPIGroup())
		}
	}
	if reason != "" {
		msg += ": " + reason
	}
	return apierrors.NewForbidden(schema.GroupResource{Group: a.GetAPIGroup(), Resource: a.GetResource()}, a.GetName(), fmt.Errorf("%s", msg))
}
