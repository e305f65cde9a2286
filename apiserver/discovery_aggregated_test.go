package apiserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

const aggregatedAccept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"

func getAggregated(t *testing.T, e *env, path, accept string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	req.Header.Set("Accept", accept)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func findResource(l *apidiscoveryv2.APIGroupDiscoveryList, group, version, resource string) *apidiscoveryv2.APIResourceDiscovery {
	for _, g := range l.Items {
		if g.Name != group {
			continue
		}
		for _, v := range g.Versions {
			if v.Version != version {
				continue
			}
			for i := range v.Resources {
				if v.Resources[i].Resource == resource {
					return &v.Resources[i]
				}
			}
		}
	}
	return nil
}

// TestAggregatedDiscoveryDocuments: /api and /apis answer an
// APIGroupDiscoveryList with resources, scopes, kinds and subresources, an
// ETag honoured by If-None-Match, and protobuf when asked first.
func TestAggregatedDiscoveryDocuments(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	resp, body := getAggregated(t, e, "/api", aggregatedAccept)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" {
		t.Fatalf("/api: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var core apidiscoveryv2.APIGroupDiscoveryList
	if err := json.Unmarshal(body, &core); err != nil || core.Kind != "APIGroupDiscoveryList" || core.APIVersion != "apidiscovery.k8s.io/v2" ||
		len(core.Items) != 1 || core.Items[0].Name != "" || len(core.Items[0].Versions) != 1 || core.Items[0].Versions[0].Version != "v1" {
		t.Fatalf("/api document: %v %s", err, body)
	}
	pods := findResource(&core, "", "v1", "pods")
	if pods == nil || pods.Scope != apidiscoveryv2.ScopeNamespace || pods.SingularResource != "pod" ||
		pods.ResponseKind == nil || *pods.ResponseKind != (metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}) ||
		strings.Join(pods.ShortNames, ",") != "po" || strings.Join(pods.Categories, ",") != "all" ||
		strings.Join(pods.Verbs, ",") != "create,delete,deletecollection,get,list,patch,update,watch" {
		t.Fatalf("pods: %+v", pods)
	}
	subs := map[string]apidiscoveryv2.APISubresourceDiscovery{}
	for _, s := range pods.Subresources {
		subs[s.Subresource] = s
	}
	for _, want := range []string{"binding", "eviction", "exec", "log", "status"} {
		if _, ok := subs[want]; !ok {
			t.Errorf("pods lacks subresource %s: %+v", want, pods.Subresources)
		}
	}
	if ev := subs["eviction"]; ev.ResponseKind == nil || *ev.ResponseKind != (metav1.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}) ||
		strings.Join(ev.Verbs, ",") != "create" {
		t.Errorf("eviction: %+v", ev)
	}
	if st := subs["status"]; st.ResponseKind == nil || st.ResponseKind.Kind != "Pod" || strings.Join(st.Verbs, ",") != "get,patch,update" {
		t.Errorf("status: %+v", st)
	}
	if n := findResource(&core, "", "v1", "nodes"); n == nil || n.Scope != apidiscoveryv2.ScopeCluster {
		t.Errorf("nodes: %+v", n)
	}

	resp, body = getAggregated(t, e, "/apis", aggregatedAccept)
	var groups apidiscoveryv2.APIGroupDiscoveryList
	if err := json.Unmarshal(body, &groups); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/apis: %v %s", err, body)
	}
	if d := findResource(&groups, "apps", "v1", "deployments"); d == nil || d.ResponseKind.Group != "apps" || d.ResponseKind.Kind != "Deployment" ||
		d.Scope != apidiscoveryv2.ScopeNamespace || len(d.Subresources) == 0 {
		t.Errorf("deployments: %+v", d)
	}
	if r := findResource(&groups, "authorization.k8s.io", "v1", "selfsubjectaccessreviews"); r == nil || strings.Join(r.Verbs, ",") != "create" ||
		r.Scope != apidiscoveryv2.ScopeCluster {
		t.Errorf("selfsubjectaccessreviews: %+v", r)
	}
	for _, g := range groups.Items {
		if g.Name == "" || len(g.Versions) == 0 {
			t.Errorf("group %+v", g)
		}
	}

	// ETag and 304, as upstream.
	etag := resp.Header.Get("ETag")
	if !regexp.MustCompile(`^"[0-9A-F]{128}"$`).MatchString(etag) || resp.Header.Get("Vary") != "Accept" || resp.Header.Get("Cache-Control") != "public" {
		t.Fatalf("headers: %v", resp.Header)
	}
	resp, body = getAggregated(t, e, "/apis", aggregatedAccept, "If-None-Match", etag)
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("ETag") != etag {
		t.Fatalf("If-None-Match: %d %q", resp.StatusCode, body)
	}
	resp, _ = getAggregated(t, e, "/apis", aggregatedAccept, "If-None-Match", `"0"`)
	if resp.StatusCode != 200 {
		t.Fatalf("stale If-None-Match: %d", resp.StatusCode)
	}
	if resp, _ = getAggregated(t, e, "/api", aggregatedAccept); resp.Header.Get("ETag") == etag {
		t.Fatal("/api and /apis share an ETag")
	}

	// Protobuf, when asked first.
	resp, body = getAggregated(t, e, "/apis", "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"+aggregatedAccept)
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" || !bytes.HasPrefix(body, protobufMagic) {
		t.Fatalf("protobuf: %s %q", ct, body[:min(len(body), 40)])
	}
	obj, _, err := discoveryProto.Decode(body, nil, nil)
	pl, ok := obj.(*apidiscoveryv2.APIGroupDiscoveryList)
	if err != nil || !ok || len(pl.Items) != len(groups.Items) || findResource(pl, "apps", "v1", "deployments") == nil {
		t.Fatalf("protobuf decode: %v %T", err, obj)
	}

	// The nopeer profile is the same document; plain JSON and a bare
	// protobuf Accept stay unaggregated.
	resp, _ = getAggregated(t, e, "/apis", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;profile=nopeer,"+aggregatedAccept)
	if !strings.Contains(resp.Header.Get("Content-Type"), "as=APIGroupDiscoveryList") {
		t.Fatalf("nopeer: %s", resp.Header.Get("Content-Type"))
	}
	for _, accept := range []string{"application/json", "*/*", "application/json," + aggregatedAccept, ""} {
		resp, body = getAggregated(t, e, "/apis", accept)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(body), `"kind":"APIGroupList"`) {
			t.Fatalf("Accept %q: %s %s", accept, resp.Header.Get("Content-Type"), body)
		}
	}
	// Only GET and HEAD.
	req, _ := http.NewRequest("POST", e.srv.URL+"/apis", strings.NewReader("{}"))
	req.Header.Set("Accept", aggregatedAccept)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /apis: %d", r2.StatusCode)
	}
}

// discoverySummary flattens client-go's view of discovery into comparable
// lines.
func discoverySummary(t *testing.T, e *env) ([]string, int) {
	t.Helper()
	e.mu.Lock()
	e.reqs = nil
	e.mu.Unlock()
	dc, err := discovery.NewDiscoveryClientForConfig(e.modes["http"])
	if err != nil {
		t.Fatal(err)
	}
	_, lists, err := dc.ServerGroupsAndResources()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range lists {
		for _, r := range l.APIResources {
			// client-go fills a subresource's group and version from
			// its responseKind: only a different one is compared.
			kind := r.Kind
			if gv := (schema.GroupVersion{Group: r.Group, Version: r.Version}); r.Version != "" && gv.String() != l.GroupVersion {
				kind = gv.String() + "/" + r.Kind
			}
			out = append(out, fmt.Sprintf("%s %s kind=%s ns=%v verbs=%s short=%s cat=%s", l.GroupVersion, r.Name, kind, r.Namespaced,
				strings.Join(r.Verbs, ","), strings.Join(r.ShortNames, ","), strings.Join(r.Categories, ",")))
		}
	}
	sort.Strings(out)
	e.mu.Lock()
	defer e.mu.Unlock()
	return out, len(e.reqs)
}

// TestAggregatedDiscoveryClientGo: client-go's discovery client learns the
// same resources from the aggregated documents as from the unaggregated
// ones, in two requests instead of one per group-version.
func TestAggregatedDiscoveryClientGo(t *testing.T) {
	agg, nAgg := discoverySummary(t, newEnv(t, HandlerOptions{}))
	legacy, nLegacy := discoverySummary(t, newEnv(t, HandlerOptions{noAggregatedDiscovery: true}))
	if strings.Join(agg, "\n") != strings.Join(legacy, "\n") {
		t.Fatalf("aggregated:\n%s\nunaggregated:\n%s", strings.Join(agg, "\n"), strings.Join(legacy, "\n"))
	}
	if nAgg != 2 || nLegacy <= nAgg {
		t.Fatalf("requests: aggregated %d, unaggregated %d", nAgg, nLegacy)
	}
	t.Logf("client-go discovery: %d requests aggregated, %d unaggregated", nAgg, nLegacy)
}

// coldKubectlRequests runs kubectl args with an empty cache dir against e
// and counts the requests the server saw.
func coldKubectlRequests(t *testing.T, e *env, args ...string) (string, int) {
	t.Helper()
	e.mu.Lock()
	e.reqs = nil
	e.mu.Unlock()
	out := newKubectl(t, e.srv.URL).run(t, args...)
	e.mu.Lock()
	defer e.mu.Unlock()
	return out, len(e.reqs)
}

// TestAggregatedDiscoveryRealKubectl: real kubectl api-resources,
// api-versions and a cold get pods print the same with and without
// aggregated discovery, and make fewer requests with it.
func TestAggregatedDiscoveryRealKubectl(t *testing.T) {
	agg := newEnv(t, HandlerOptions{})
	legacy := newEnv(t, HandlerOptions{noAggregatedDiscovery: true})
	for _, e := range []*env{agg, legacy} {
		newKubectl(t, e.srv.URL).run(t, "create", "configmap", "c1", "--from-literal=a=b")
	}
	for _, args := range [][]string{{"api-resources"}, {"api-versions"}, {"get", "pods"}, {"get", "configmaps"}} {
		outA, nA := coldKubectlRequests(t, agg, args...)
		outL, nL := coldKubectlRequests(t, legacy, args...)
		// The AGE column may tick between the two runs.
		age := regexp.MustCompile(`(?m)\s+\d+s$`)
		if age.ReplaceAllString(outA, "") != age.ReplaceAllString(outL, "") {
			t.Errorf("kubectl %v differs:\naggregated:\n%s\nunaggregated:\n%s", args, outA, outL)
		}
		if nA >= nL {
			t.Errorf("kubectl %v: %d requests aggregated, %d unaggregated", args, nA, nL)
		}
		t.Logf("kubectl %v: %d requests aggregated, %d unaggregated", args, nA, nL)
		switch args[len(args)-1] {
		case "api-resources":
			if !regexp.MustCompile(`(?m)^pods\s+po\s+v1\s+true\s+Pod$`).MatchString(outA) ||
				!regexp.MustCompile(`(?m)^deployments\s+deploy\s+apps/v1\s+true\s+Deployment$`).MatchString(outA) {
				t.Errorf("api-resources:\n%s", outA)
			}
		case "api-versions":
			if !regexp.MustCompile(`(?m)^apps/v1$`).MatchString(outA) || !regexp.MustCompile(`(?m)^v1$`).MatchString(outA) {
				t.Errorf("api-versions:\n%s", outA)
			}
		case "configmaps":
			if !regexp.MustCompile(`(?m)^c1\s+1\s+`).MatchString(outA) {
				t.Errorf("get configmaps:\n%s", outA)
			}
		}
	}
}
