package apiserver

import (
	"net/http"
	"testing"
)

// TestHostileManifestDirAnnotationMove: moving the manifest-dir annotation
// of an admin's pod or template re-points its relative host images, so a
// non-admin may not do it.
func TestHostileManifestDirAnnotationMove(t *testing.T) {
	e := newHostileEnv(t, "edit")
	dep := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"},"annotations":{"wasmpod.io/manifest-dir":"/home/admin/app"}},"spec":{"containers":[{"name":"c","image":"./x.wasm"}]}}}}`
	if r := e.do(t, "POST", "/apis/apps/v1/namespaces/default/deployments", hostileAdminToken, "application/json", []byte(dep)); r.code != http.StatusCreated {
		t.Fatalf("admin's deployment: %d %s", r.code, r.body)
	}
	r := e.do(t, "PATCH", "/apis/apps/v1/namespaces/default/deployments/d", "alice-token", "application/strategic-merge-patch+json",
		[]byte(`{"spec":{"template":{"metadata":{"annotations":{"wasmpod.io/manifest-dir":"/tmp/mallory"}}}}}`))
	if r.code != http.StatusForbidden {
		t.Errorf("alice moved the manifest dir of a host image: %d %.300s", r.code, r.body)
	}
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","annotations":{"wasmpod.io/manifest-dir":"/home/admin/app"}},"spec":{"containers":[{"name":"c","image":"./x.wasm"}]}}`
	if r := e.do(t, "POST", "/api/v1/namespaces/default/pods", hostileAdminToken, "application/json", []byte(pod)); r.code != http.StatusCreated {
		t.Fatalf("admin's pod: %d %s", r.code, r.body)
	}
	r = e.do(t, "PATCH", "/api/v1/namespaces/default/pods/p", "alice-token", "application/merge-patch+json",
		[]byte(`{"metadata":{"annotations":{"wasmpod.io/manifest-dir":"/tmp/mallory"}}}`))
	if r.code != http.StatusForbidden {
		t.Errorf("alice moved the manifest dir of a pod's host image: %d %.300s", r.code, r.body)
	}
}
