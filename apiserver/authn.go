package apiserver

// authn.go: who a request is (authentication), as kube-apiserver's bearer
// token authenticators.
//
//   - HandlerOptions.Token, the generated admin token, is AdminUser: user
//     "admin" in system:masters and system:authenticated.
//   - ServiceAccount tokens of this server's issuer are the service
//     account's user (tokens.go).
//   - HandlerOptions.Users (a --token-auth-file, LoadTokenFile) maps other
//     tokens to users; system:authenticated is added to their groups, as
//     upstream's authenticated-group adder does.
//   - A handler with neither (the Unix socket, whose file mode is the
//     authentication, and the in-process transport) treats every request as
//     AdminUser.
//   - Impersonation headers (kubectl --as) are honoured for a user allowed
//     to impersonate (impersonate, below).
//   - Otherwise a request without a known token is 401 "Unauthorized",
//     except on the public paths (/healthz, /livez, /readyz, /version),
//     which anonymous requests may read; a wrong token is 401 there too.
//
// The user travels in the request's context (k8s.io/apiserver's
// request.WithUser); authorization (rbac.go) reads it from there. The
// token file is read once, at start, as upstream.

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/token/tokenfile"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"
)

// Group names, as upstream.
const (
	GroupMasters       = user.SystemPrivilegedGroup // system:masters
	GroupAuthenticated = user.AllAuthenticated      // system:authenticated
)

// AdminUser is the generated token's user, and every request's on a
// handler without tokens (the Unix socket, in-process calls).
var AdminUser user.Info = &user.DefaultInfo{Name: "admin", Groups: []string{GroupMasters, GroupAuthenticated}}

// maxTokenFileBytes bounds a --token-auth-file.
const maxTokenFileBytes = 16 << 20

// LoadTokenFile reads a static token file in kube-apiserver's
// --token-auth-file format: CSV lines token,user,uid[,"group1,group2"].
func LoadTokenFile(path string) (authenticator.Token, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Size() > maxTokenFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxTokenFileBytes)
	}
	a, err := tokenfile.NewCSV(path)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// WithUser returns ctx carrying u as the request's user.
func WithUser(ctx context.Context, u user.Info) context.Context {
	return genericrequest.WithUser(ctx, u)
}

// UserFrom returns the request's user; a context without one (in-process
// calls to the Server, its controllers) is the admin's.
func UserFrom(ctx context.Context) user.Info {
	if u, ok := genericrequest.UserFrom(ctx); ok && u != nil {
		return u
	}
	return AdminUser
}

// authRequired: the handler checks tokens.
func (h *httpHandler) authRequired() bool { return h.opts.Token != "" || h.opts.Users != nil }

// authenticate returns the request's user; ok is false for a request whose
// bearer token is missing or unknown (when tokens are required).
func (h *httpHandler) authenticate(req *http.Request) (u user.Info, ok bool) {
	if !h.authRequired() {
		return AdminUser, true
	}
	auth := req.Header.Get("Authorization")
	if auth == "" {
		auth = websocketBearer(req) // a browser's WebSocket (authn_ws.go)
	}
	const prefix = "Bearer "
	if len(auth) < len(prefix) || !strings.EqualFold(auth[:len(prefix)], prefix) {
		// A client certificate of the cluster CA (bootstrap.go).
		return h.s.authenticateClientCert(req)
	}
	tok := strings.TrimSpace(auth[len(prefix):])
	if tok == "" {
		return nil, false
	}
	if h.opts.Token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(h.opts.Token)) == 1 {
		return AdminUser, true
	}
	// Bootstrap tokens (bootstrap.go).
	if u, ours := h.s.authenticateBootstrapToken(req.Context(), tok); ours {
		return u, u != nil
	}
	// ServiceAccount tokens (tokens.go); one of another issuer falls
	// through to the token file.
	if u, _, ours, err := h.s.authenticateServiceAccountToken(req.Context(), tok, nil); ours {
		return u, err == nil
	}
	if h.opts.Users == nil {
		return nil, false
	}
	resp, found, err := h.opts.Users.AuthenticateToken(req.Context(), tok)
	if err != nil || !found || resp == nil || resp.User == nil || resp.User.GetName() == "" {
		return nil, false
	}
	return withAuthenticatedGroup(resp.User), true
}

// withAuthenticatedGroup adds system:authenticated to u's groups.
func withAuthenticatedGroup(u user.Info) user.Info {
	groups := u.GetGroups()
	for _, g := range groups {
		if g == GroupAuthenticated {
			return u
		}
	}
	out := &user.DefaultInfo{Name: u.GetName(), UID: u.GetUID(), Extra: u.GetExtra()}
	for _, g := range groups {
		if g = strings.TrimSpace(g); g != "" {
			out.Groups = append(out.Groups, g)
		}
	}
	out.Groups = append(out.Groups, GroupAuthenticated)
	return out
}

// impersonate applies the Impersonate-User, -Group, -Uid and -Extra-*
// headers (kubectl --as, --as-group, --as-uid), as upstream's impersonation
// filter: the authenticated user needs the "impersonate" verb on users (or
// serviceaccounts), groups, uids and userextras/KEY for each value, and
// the request then runs as the impersonated user (in
// system:authenticated). Without the headers it returns u.
func (h *httpHandler) impersonate(req *http.Request, u user.Info) (user.Info, error) {
	name := req.Header.Get(authenticationv1.ImpersonateUserHeader)
	groups := req.Header.Values(authenticationv1.ImpersonateGroupHeader)
	uid := req.Header.Get(authenticationv1.ImpersonateUIDHeader)
	extra := map[string][]string{}
	for k, v := range req.Header {
		if strings.HasPrefix(k, authenticationv1.ImpersonateUserExtraHeaderPrefix) {
			key, err := url.PathUnescape(strings.ToLower(strings.TrimPrefix(k, authenticationv1.ImpersonateUserExtraHeaderPrefix)))
			if err != nil {
				return nil, apierrors.NewBadRequest("invalid " + k + " header")
			}
			extra[key] = append(extra[key], v...)
		}
	}
	if name == "" {
		if len(groups) > 0 || uid != "" || len(extra) > 0 {
			return nil, apierrors.NewBadRequest("requested impersonation of groups, uid or extra without impersonating a user")
		}
		return u, nil
	}
	check := func(a authorizer.AttributesRecord) error {
		a.User, a.Verb, a.ResourceRequest = u, "impersonate", true
		if !h.s.authorizeAttrs(req.Context(), a).allowed {
			return forbidden(a, "")
		}
		return nil
	}
	out := &user.DefaultInfo{Name: name, UID: uid}
	if ns, sa, err := serviceaccount.SplitUsername(name); err == nil {
		if err := check(authorizer.AttributesRecord{Resource: "serviceaccounts", Namespace: ns, Name: sa}); err != nil {
			return nil, err
		}
		out.Groups = append(out.Groups, serviceaccount.AllServiceAccountsGroup, serviceaccount.MakeNamespaceGroupName(ns))
	} else if err := check(authorizer.AttributesRecord{Resource: "users", Name: name}); err != nil {
		return nil, err
	}
	for _, g := range groups {
		if err := check(authorizer.AttributesRecord{Resource: "groups", Name: g}); err != nil {
			return nil, err
		}
	}
	if uid != "" {
		if err := check(authorizer.AttributesRecord{APIGroup: authenticationv1.GroupName, Resource: "uids", Name: uid}); err != nil {
			return nil, err
		}
	}
	for k, vs := range extra {
		for _, v := range vs {
			if err := check(authorizer.AttributesRecord{APIGroup: authenticationv1.GroupName, Resource: "userextras", Subresource: k, Name: v}); err != nil {
				return nil, err
			}
		}
	}
	out.Groups = append(out.Groups, groups...)
	if len(extra) > 0 {
		out.Extra = extra
	}
	if name != user.Anonymous {
		out.Groups = append(out.Groups, GroupAuthenticated)
	}
	for k := range req.Header {
		if strings.HasPrefix(k, "Impersonate-") {
			req.Header.Del(k)
		}
	}
	return out, nil
}
