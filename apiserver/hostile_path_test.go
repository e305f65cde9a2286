package apiserver

import (
	"context"
	"net/http"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestHostilePathEmptySegmentSmuggling: the authorizer (RequestInfoFactory)
// keeps empty path segments, the router (splitPath) drops them, so
// "pods/NAME//SUB" is authorized as the pod itself and served as its
// subresource. A user with get/update on pods (no pods/status, no
// pods/exec) must not reach the subresources through a doubled slash.
func TestHostilePathEmptySegmentSmuggling(t *testing.T) {
	e := newHostileEnv(t, "")
	ctx := context.Background()
	if _, err := e.s.Create(ctx, e.s.rbacResource("roles"), "default", &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pods-rw"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"get", "update", "create"}, APIGroups: []string{""}, Resources: []string{"pods"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Create(ctx, e.s.rbacResource("rolebindings"), "default", &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pods-rw"},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "alice"}}}); err != nil {
		t.Fatal(err)
	}
	if r := e.do(t, "POST", "/api/v1/namespaces/default/pods", hostileAdminToken, "application/json", hostilePod("p", "wasmpod.local/ok")); r.code != http.StatusCreated {
		t.Fatalf("pod: %d %s", r.code, r.body)
	}
	cur := e.do(t, "GET", "/api/v1/namespaces/default/pods/p", "alice-token", "", nil)
	status := strings.Replace(cur.body, `"status":{`, `"status":{"message":"forged by alice",`, 1)
	if r := e.do(t, "PUT", "/api/v1/namespaces/default/pods/p/status", "alice-token", "application/json", []byte(status)); r.code != http.StatusForbidden {
		t.Fatalf("PUT pods/p/status: %d %.200s", r.code, r.body)
	}
	for _, p := range []string{
		"/api/v1/namespaces/default/pods/p//status",
		"/api/v1//namespaces/default/pods/p/status",
		"//api/v1/namespaces/default/pods/p/status",
	} {
		if r := e.do(t, "PUT", p, "alice-token", "application/json", []byte(status)); r.code != http.StatusForbidden && r.code != http.StatusNotFound && r.code != http.StatusBadRequest {
			t.Errorf("PUT %s: %d %.200s", p, r.code, r.body)
		}
	}
	// exec: alice may create pods, not pods/exec.
	if r := e.do(t, "POST", "/api/v1/namespaces/default/pods/p//exec?command=sh&stdout=1", "alice-token", "", nil); r.code != http.StatusForbidden && r.code != http.StatusNotFound && r.code != http.StatusBadRequest {
		t.Errorf("POST pods/p//exec: %d %.200s", r.code, r.body)
	}
	if r := e.do(t, "POST", "/api/v1/namespaces/default/pods/p//exec?command=sh&stdout=1", "alice-token", "", nil); r.code == http.StatusBadRequest && strings.Contains(r.body, "pgrade") {
		t.Errorf("POST pods/p//exec reached the exec handler: %d %.200s", r.code, r.body)
	}
	if r := e.do(t, "GET", "/api/v1/namespaces/default/pods/p", "alice-token", "", nil); strings.Contains(r.body, "forged by alice") {
		t.Errorf("alice wrote the pod's status through a doubled slash")
	}
}
