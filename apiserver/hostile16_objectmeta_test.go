package apiserver

// Hostile clients naming objects: every kind gets upstream's name, label
// and annotation rules, not only pods, services and workloads.

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestHostile16ObjectMeta: over HTTP, against a bbolt store, a ConfigMap,
// Secret, Namespace, Node, Role, Lease, Event, EndpointSlice, LimitRange,
// PDB, HPA, ControllerRevision and RuntimeClass named "Bad_N\nX",
// "x/../../kube-system/y" or 40,000 bytes, or labelled "a b", are 422
// naming metadata.name, metadata.labels or metadata.annotations (they
// were stored; the long name was a 500 from the store), as kube-apiserver
// answers (RBAC names are path segments: "/" is refused, colons and capitals
// are not; 40,000 bytes is past maxNameBytes); a CSR may have any name but
// one that cannot be a key ("a/b": 400). Good names still go in.
func TestHostile16ObjectMeta(t *testing.T) {
	s := newBboltServer(t)
	srv := httptest.NewServer(s.Handler(HandlerOptions{}))
	defer srv.Close()
	post := func(path, body string) (int, metav1.Status) {
		t.Helper()
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var st metav1.Status
		_ = json.Unmarshal(b, &st)
		if st.Message == "" {
			st.Message = string(b)
		}
		return resp.StatusCode, st
	}
	kinds := []struct{ path, apiVersion, kind, extra string }{
		{"/api/v1/namespaces/default/configmaps", "v1", "ConfigMap", ""},
		{"/api/v1/namespaces/default/secrets", "v1", "Secret", ""},
		{"/api/v1/namespaces", "v1", "Namespace", ""},
		{"/api/v1/nodes", "v1", "Node", ""},
		{"/api/v1/namespaces/default/endpoints", "v1", "Endpoints", ""},
		{"/api/v1/namespaces/default/events", "v1", "Event", `,"involvedObject":{"kind":"Pod","name":"p","namespace":"default"}`},
		{"/api/v1/namespaces/default/limitranges", "v1", "LimitRange", ""},
		{"/apis/coordination.k8s.io/v1/namespaces/default/leases", "coordination.k8s.io/v1", "Lease", ""},
		{"/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", "discovery.k8s.io/v1", "EndpointSlice", `,"addressType":"IPv4"`},
		{"/apis/policy/v1/namespaces/default/poddisruptionbudgets", "policy/v1", "PodDisruptionBudget", `,"spec":{"minAvailable":1}`},
		{"/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers", "autoscaling/v2", "HorizontalPodAutoscaler", `,"spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"d"},"maxReplicas":2}`},
		{"/apis/apps/v1/namespaces/default/controllerrevisions", "apps/v1", "ControllerRevision", `,"data":{},"revision":1`},
		{"/apis/node.k8s.io/v1/runtimeclasses", "node.k8s.io/v1", "RuntimeClass", `,"handler":"wazero"`},
		{"/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", "rbac.authorization.k8s.io/v1", "Role", ""},
		{"/apis/rbac.authorization.k8s.io/v1/clusterroles", "rbac.authorization.k8s.io/v1", "ClusterRole", ""},
	}
	obj := func(apiVersion, kind, meta, extra string) string {
		return `{"apiVersion":"` + apiVersion + `","kind":"` + kind + `","metadata":` + meta + extra + `}`
	}
	long := strings.Repeat("a", 40000)
	for _, k := range kinds {
		for _, bad := range []struct{ meta, field string }{
			{`{"name":"Bad_N\nX"}`, "metadata.name"},
			{`{"name":"x/../../kube-system/y"}`, "metadata.name"},
			{`{"name":"` + long + `"}`, "metadata.name"},
			{`{"name":"ok-name","labels":{"a b":"c"}}`, "metadata.labels"},
			{`{"name":"ok-name","annotations":{"a b":"c"}}`, "metadata.annotations"},
		} {
			if k.kind == "ClusterRole" || k.kind == "Role" {
				if bad.field == "metadata.name" && !strings.Contains(bad.meta, "/") && !strings.Contains(bad.meta, long) {
					continue // RBAC names are path segments: Bad_N\nX is one
				}
			}
			code, st := post(k.path, obj(k.apiVersion, k.kind, bad.meta, k.extra))
			if code != http.StatusUnprocessableEntity || !strings.Contains(st.Message, bad.field) {
				t.Errorf("%s %.60s: %d %.300s, want 422 naming %s", k.kind, bad.meta, code, st.Message, bad.field)
			}
		}
		if code, st := post(k.path, obj(k.apiVersion, k.kind, `{"name":"good-name-1"}`, k.extra)); code != http.StatusCreated {
			t.Errorf("%s good-name-1: %d %s", k.kind, code, st.Message)
		}
	}
	if code, st := post("/apis/rbac.authorization.k8s.io/v1/clusterroles", obj("rbac.authorization.k8s.io/v1", "ClusterRole", `{"name":"system:custom:Role_1"}`, "")); code != http.StatusCreated {
		t.Errorf("ClusterRole system:custom:Role_1: %d %s", code, st.Message)
	}
	// An update may not bring in what a create may not.
	req, _ := http.NewRequest(http.MethodPatch, srv.URL+"/api/v1/namespaces/default/configmaps/good-name-1", strings.NewReader(`{"metadata":{"labels":{"a b":"c"}}}`))
	req.Header.Set("Content-Type", "application/merge-patch+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(b), "metadata.labels") {
		t.Errorf("a patch labelling a ConfigMap 'a b': %d %s, want 422 naming metadata.labels", resp.StatusCode, b)
	}
	// A CSR: any name (upstream's ValidateCertificateRequestName), but a
	// key's segment.
	csr := func(name string) string {
		return obj("certificates.k8s.io/v1", "CertificateSigningRequest", `{"name":"`+name+`"}`, `,"spec":{"request":"","signerName":"example.com/x","usages":["digital signature"]}`)
	}
	if code, st := post("/apis/certificates.k8s.io/v1/certificatesigningrequests", csr("a/b")); code != http.StatusBadRequest || !strings.Contains(st.Message, "Name parameter invalid") {
		t.Errorf("CSR a/b: %d %s, want 400 Name parameter invalid", code, st.Message)
	}
	if code, st := post("/apis/certificates.k8s.io/v1/certificatesigningrequests", csr(long)); code != http.StatusUnprocessableEntity || !strings.Contains(st.Message, "metadata.name: Too long") {
		t.Errorf("CSR of 40,000 bytes: %d %.300s, want 422 metadata.name: Too long", code, st.Message)
	}
}
