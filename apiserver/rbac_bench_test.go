package apiserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/wasmpod/wasmpod/store/memory"
)

// BenchmarkRBACGetConfigMap: the cost of RBAC on a small request, a GET of
// one ConfigMap by a user bound to view (resolved from the bindings on
// every request) against the same GET by the admin (system:masters, not
// resolved); reports rbac/admin, the ratio of their times per request.
func BenchmarkRBACGetConfigMap(b *testing.B) {
	ctx := context.Background()
	s, err := New(ctx, memory.New(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Create(ctx, s.resources["/configmaps"], "default", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Data: map[string]string{"a": "b"}}); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Create(ctx, s.rbacResource("rolebindings"), "default", &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "v"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "alice"}}}); err != nil {
		b.Fatal(err)
	}
	h := s.Handler(HandlerOptions{Token: "admin-token-0123456789",
		Users: staticUsers(map[string]*user.DefaultInfo{"alice-token": {Name: "alice"}})})
	run := func(token string, n int) time.Duration {
		start := time.Now()
		for i := 0; i < n; i++ {
			req := httptest.NewRequest("GET", "/api/v1/namespaces/default/configmaps/c", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("%s: %d %s", token, rec.Code, rec.Body)
			}
		}
		return time.Since(start)
	}
	run("admin-token-0123456789", 200) // warm both paths up
	run("alice-token", 200)
	const base = 2000
	admin := run("admin-token-0123456789", base)
	b.ResetTimer()
	rbac := run("alice-token", b.N)
	b.StopTimer()
	b.ReportMetric(float64(rbac)/float64(b.N)/(float64(admin)/base), "rbac/admin")
}
