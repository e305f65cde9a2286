package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/store/memory"
)

// TestRuleAllows: verbs, groups, resources with subresources and "*/sub",
// resourceNames and non-resource URL prefixes, as upstream's RuleAllows.
func TestRuleAllows(t *testing.T) {
	res := func(verb, group, resource, sub, name string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{Verb: verb, APIGroup: group, Resource: resource, Subresource: sub, Name: name, ResourceRequest: true}
	}
	url := func(verb, path string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{Verb: verb, Path: path}
	}
	for i, c := range []struct {
		rule rbacv1.PolicyRule
		a    authorizer.AttributesRecord
		want bool
	}{
		{rule([]string{"get"}, "", "pods"), res("get", "", "pods", "", "p"), true},
		{rule([]string{"get"}, "", "pods"), res("list", "", "pods", "", ""), false},
		{rule([]string{"get"}, "", "pods"), res("get", "apps", "pods", "", ""), false},
		{rule([]string{"get"}, "", "pods"), res("get", "", "pods", "log", "p"), false},
		{rule([]string{"get"}, "", "pods/log"), res("get", "", "pods", "log", "p"), true},
		{rule([]string{"get"}, "", "*/log"), res("get", "", "pods", "log", "p"), true},
		{rule([]string{"*"}, "*", "*"), res("deletecollection", "batch", "jobs", "", ""), true},
		{rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"a"}}, res("get", "", "configmaps", "", "a"), true},
		{rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"a"}}, res("get", "", "configmaps", "", "b"), false},
		{rbacv1.PolicyRule{Verbs: []string{"list"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"a"}}, res("list", "", "configmaps", "", ""), false},
		{urlRule([]string{"get"}, "/apis/*"), url("get", "/apis/apps/v1"), true},
		{urlRule([]string{"get"}, "/apis/*"), url("get", "/api"), false},
		{urlRule([]string{"get"}, "/healthz"), url("get", "/healthz/ping"), false},
		{urlRule([]string{"get"}, "/healthz"), url("post", "/healthz"), false},
		{urlRule([]string{"*"}, "*"), url("put", "/x"), true},
		{rule([]string{"get"}, "*", "*"), url("get", "/api"), false},
	} {
		if got := ruleAllows(c.a, &c.rule); got != c.want {
			t.Errorf("%d: ruleAllows(%+v, %+v) = %v", i, c.a, c.rule, got)
		}
	}
}

// TestRBACForbiddenStatusAndAggregation: the 403 body is upstream's Status;
// a ClusterRole labelled aggregate-to-view adds its rules to view (and so
// to edit and admin); a binding's ServiceAccount subject matches its user
// name; the bootstrap objects survive a restart on the same store.
func TestRBACForbiddenStatusAndAggregation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, HandlerOptions{})
	s := e.s
	alice := &user.DefaultInfo{Name: "alice", Groups: []string{GroupAuthenticated}}
	sa := &user.DefaultInfo{Name: "system:serviceaccount:default:builder", Groups: []string{GroupAuthenticated}}
	can := func(u user.Info, verb, group, resource string) bool {
		return s.authorizeAttrs(ctx, authorizer.AttributesRecord{User: u, Verb: verb, Namespace: "default", APIGroup: group, Resource: resource, ResourceRequest: true}).allowed
	}
	if can(alice, "list", "coordination.k8s.io", "leases") || can(alice, "list", "", "pods") {
		t.Fatal("alice may list before any binding")
	}
	if _, err := s.Create(ctx, s.rbacResource("rolebindings"), "default", &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "b"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "alice"}, {Kind: "ServiceAccount", Name: "builder"}}}); err != nil {
		t.Fatal(err)
	}
	if !can(alice, "list", "", "pods") || !can(sa, "create", "apps", "deployments") || can(alice, "list", "coordination.k8s.io", "leases") {
		t.Error("edit through the binding")
	}
	if _, err := s.Create(ctx, s.rbacResource("clusterroles"), "", &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "leases-view",
		Labels: map[string]string{"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
		Rules: []rbacv1.PolicyRule{rule(readVerbs, "coordination.k8s.io", "leases")}}); err != nil {
		t.Fatal(err)
	}
	if !can(alice, "list", "coordination.k8s.io", "leases") {
		t.Error("an aggregate-to-view ClusterRole does not reach edit")
	}

	// The 403 Status, through HTTP, for a user from a token file.
	users := staticUsers(map[string]*user.DefaultInfo{"bob-token": {Name: "bob", Groups: []string{"qa"}}})
	h := s.Handler(HandlerOptions{Token: "admin-token-0123456789", Users: users})
	rec := httpDo(h, "GET", "/apis/apps/v1/namespaces/default/deployments/web", "bob-token")
	var st metav1.Status
	if err := json.Unmarshal(rec.body, &st); err != nil || rec.code != http.StatusForbidden || st.Reason != metav1.StatusReasonForbidden ||
		st.Message != `deployments.apps "web" is forbidden: User "bob" cannot get resource "deployments" in API group "apps" in the namespace "default"` ||
		st.Details == nil || st.Details.Name != "web" || st.Details.Group != "apps" || st.Details.Kind != "deployments" {
		t.Errorf("403: %d %s", rec.code, rec.body)
	}
	rec = httpDo(h, "GET", "/backup", "bob-token")
	if rec.code != http.StatusForbidden || !strings.Contains(string(rec.body), `"forbidden: User \"bob\" cannot get path \"/backup\""`) {
		t.Errorf("non-resource 403: %d %s", rec.code, rec.body)
	}
	if rec = httpDo(h, "GET", "/apis", "bob-token"); rec.code != http.StatusOK {
		t.Errorf("discovery for bob: %d %s", rec.code, rec.body)
	}
	if rec = httpDo(h, "GET", "/api/v1/pods", "wrong"); rec.code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d %s", rec.code, rec.body)
	}
	if rec = httpDo(h, "GET", "/api/v1/pods", "admin-token-0123456789"); rec.code != http.StatusOK {
		t.Errorf("admin: %d %s", rec.code, rec.body)
	}

	// Restart on the same store: bootstrap keeps what exists.
	if _, err := New(ctx, s.Store(), Options{}); err != nil {
		t.Fatalf("second New on the same store: %v", err)
	}
}

type staticUsers map[string]*user.DefaultInfo

func (s staticUsers) AuthenticateToken(_ context.Context, tok string) (*authenticator.Response, bool, error) {
	u, ok := s[tok]
	if !ok {
		return nil, false, nil
	}
	return &authenticator.Response{User: u}, true, nil
}

type recorded struct {
	code int
	body []byte
}

func httpDo(h http.Handler, method, path, token string) recorded {
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return recorded{rec.Code, rec.Body.Bytes()}
}

// TestRBACModuleStore: any authenticated user may upload a module by
// digest and read tags (wasmpod:module-uploader); moving a tag, which
// changes what others' pods run, is the admin's unless granted.
func TestRBACModuleStore(t *testing.T) {
	ctx := context.Background()
	st, err := images.OpenStore(filepath.Join(t.TempDir(), "modules"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, memory.New(), Options{Modules: st})
	if err != nil {
		t.Fatal(err)
	}
	users := staticUsers(map[string]*user.DefaultInfo{"bob-token": {Name: "bob"}})
	srv := httptest.NewServer(s.Handler(HandlerOptions{Token: "admin-token-0123456789", Users: users}))
	t.Cleanup(srv.Close)
	mod := append([]byte{0, 'a', 's', 'm', 1, 0, 0, 0}, bytes.Repeat([]byte{7}, 64)...)
	digest := images.Digest(mod)
	send := func(method, path, token string, body []byte) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := send("PUT", ModulesPath+digest, "bob-token", mod); code != http.StatusCreated {
		t.Errorf("bob: PUT module: %d %s", code, body)
	}
	if code, body := send("HEAD", ModulesPath+digest, "bob-token", nil); code != http.StatusOK {
		t.Errorf("bob: HEAD module: %d %s", code, body)
	}
	tag, _ := json.Marshal(map[string]string{"digest": digest})
	if code, body := send("PUT", TagsPath+"hello:1", "bob-token", tag); code != http.StatusForbidden ||
		!strings.Contains(body, `forbidden: User \"bob\" cannot put path \"/wasmpod/tags/hello:1\"`) {
		t.Errorf("bob: PUT tag: %d %s", code, body)
	}
	if code, body := send("PUT", TagsPath+"hello:1", "admin-token-0123456789", tag); code != http.StatusOK {
		t.Errorf("admin: PUT tag: %d %s", code, body)
	}
	if code, body := send("GET", TagsPath+"hello:1", "bob-token", nil); code != http.StatusOK {
		t.Errorf("bob: GET tag: %d %s", code, body)
	}
}

// TestRBACEscalateAndBindVerbs: without the rules, the escalate verb lets
// a user write a Role, and bind lets them bind a role, as upstream; an
// aggregationRule needs escalate; the roleRef cannot change.
func TestRBACEscalateAndBindVerbs(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, HandlerOptions{})
	s := e.s
	carol := WithUser(ctx, &user.DefaultInfo{Name: "carol", Groups: []string{GroupAuthenticated}})
	mk := func(ctx context.Context, res string, obj runtime.Object) error {
		ns := ""
		if res == "roles" || res == "rolebindings" {
			ns = "default"
		}
		_, err := s.Create(ctx, s.rbacResource(res), ns, obj)
		return err
	}
	// carol may manage roles and rolebindings in default, nothing else.
	if err := mk(ctx, "roles", &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "rbac-writer"},
		Rules: []rbacv1.PolicyRule{rule(readWriteVerbs, rbacv1.GroupName, "roles", "rolebindings")}}); err != nil {
		t.Fatal(err)
	}
	bindCarol := func(name, kind, role string) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: role},
			Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "carol"}}}
	}
	if err := mk(ctx, "rolebindings", bindCarol("carol-rbac", "Role", "rbac-writer")); err != nil {
		t.Fatal(err)
	}
	big := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "big"}, Rules: []rbacv1.PolicyRule{rule([]string{"*"}, "", "secrets")}}
	err := mk(carol, "roles", big.DeepCopy())
	if err == nil || !strings.Contains(err.Error(), `roles.rbac.authorization.k8s.io "big" is forbidden: user "carol" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:
{APIGroups:[""], Resources:["secrets"], Verbs:["*"]}`) {
		t.Fatalf("escalation: %v", err)
	}
	if err := mk(ctx, "roles", &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "escalator"},
		Rules: []rbacv1.PolicyRule{rule([]string{"escalate"}, rbacv1.GroupName, "roles")}}); err != nil {
		t.Fatal(err)
	}
	if err := mk(ctx, "rolebindings", bindCarol("carol-escalate", "Role", "escalator")); err != nil {
		t.Fatal(err)
	}
	if err := mk(carol, "roles", big.DeepCopy()); err != nil {
		t.Errorf("with escalate: %v", err)
	}
	// Binding cluster-admin: refused, then allowed with bind on it.
	if err := mk(carol, "rolebindings", bindCarol("root", "ClusterRole", "cluster-admin")); err == nil || !strings.Contains(err.Error(), "is attempting to grant RBAC permissions not currently held") {
		t.Errorf("bind without the verb: %v", err)
	}
	if err := mk(ctx, "roles", &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "binder"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"bind"}, APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterroles"}, ResourceNames: []string{"cluster-admin"}}}}); err != nil {
		t.Fatal(err)
	}
	if err := mk(ctx, "rolebindings", bindCarol("carol-bind", "Role", "binder")); err != nil {
		t.Fatal(err)
	}
	if err := mk(carol, "rolebindings", bindCarol("root", "ClusterRole", "cluster-admin")); err != nil {
		t.Errorf("bind with the verb: %v", err)
	}
	// ClusterRoles: carol has nothing cluster-wide; an aggregationRule needs escalate.
	agg := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "agg"}, AggregationRule: &rbacv1.AggregationRule{
		ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"x": "y"}}}}}
	if err := mk(carol, "clusterroles", agg); err == nil {
		t.Error("carol created a ClusterRole")
	}
	// roleRef is immutable.
	rb, err := s.Get(ctx, s.rbacResource("rolebindings"), "default", "carol-bind")
	if err != nil {
		t.Fatal(err)
	}
	rb.(*rbacv1.RoleBinding).RoleRef.Name = "escalator"
	if _, err := s.Update(ctx, s.rbacResource("rolebindings"), "default", rb, ""); err == nil ||
		!strings.Contains(err.Error(), `RoleBinding.rbac.authorization.k8s.io "carol-bind" is invalid: roleRef: Invalid value:`) || !strings.Contains(err.Error(), "cannot change roleRef") {
		t.Errorf("roleRef change: %v", err)
	}
}
