package apiserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/wasmpod/wasmpod/api"
	"github.com/wasmpod/wasmpod/store/memory"
)

// TestHostileHostPathVolumeNonAdmin: where the node allows hostPath volumes
// (serve's allowHostPath, meant for the admin's pods), a user who may
// create pods must still not mount the server's files.
func TestHostileHostPathVolumeNonAdmin(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := New(ctx, memory.New(), Options{Validation: api.Options{AllowHostPath: true}})
	if err != nil {
		t.Fatal(err)
	}
	users := staticUsers(map[string]*user.DefaultInfo{"alice-token": {Name: "alice"}})
	srv := httptest.NewServer(s.Handler(HandlerOptions{Token: hostileAdminToken, Users: users}))
	defer srv.Close()
	if _, err := s.Create(ctx, s.rbacResource("rolebindings"), "default", &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice-edit"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "alice"}}}); err != nil {
		t.Fatal(err)
	}
	e := &hostileEnv{s: s, srv: srv}
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"root"},"spec":{"volumes":[{"name":"h","hostPath":{"path":"/"}}],"containers":[{"name":"c","image":"wasmpod.local/ok","volumeMounts":[{"name":"h","mountPath":"/host"}]}]}}`
	r := e.do(t, "POST", "/api/v1/namespaces/default/pods", "alice-token", "application/json", []byte(pod))
	if r.code != http.StatusForbidden || !strings.Contains(r.body, "spec.volumes[0].hostPath") {
		t.Errorf("alice's pod mounting the host's /: %d %.300s", r.code, r.body)
	}
}
