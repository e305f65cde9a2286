package apiserver

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func mustQty(s string) resource.Quantity { return resource.MustParse(s) }

// net_ListenUnixNoUnlink leaves its socket file behind on Close, as a
// crashed server would.
func net_ListenUnixNoUnlink(path string) (net.Listener, error) {
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	return l, nil
}

type rawResp struct {
	code   int
	ctype  string
	body   string
	status metav1.Status
}

func do(t *testing.T, e *env, method, path, ctype, body string, hdr ...string) rawResp {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := rawResp{code: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: string(b)}
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(b, &r.status); err != nil || r.status.Kind != "Status" || r.status.APIVersion != "v1" {
			t.Fatalf("%s %s: error body is not a Status: %q", method, path, b)
		}
		if r.status.Code != int32(resp.StatusCode) || r.status.Status != metav1.StatusFailure {
			t.Fatalf("%s %s: Status %+v vs HTTP %d", method, path, r.status, resp.StatusCode)
		}
	}
	return r
}

func (r rawResp) want(t *testing.T, code int, reason metav1.StatusReason, msgPart string) {
	t.Helper()
	if r.code != code || r.status.Reason != reason || !strings.Contains(r.status.Message, msgPart) {
		t.Fatalf("got %d %s %q, want %d %s containing %q (body %s)", r.code, r.status.Reason, r.status.Message, code, reason, msgPart, r.body)
	}
}

const podJSON = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s"},"spec":{"containers":[{"name":"c","image":"a.wasm"}]}}`

func TestHTTPBodiesAndErrors(t *testing.T) {
	e := newEnv(t, HandlerOptions{MaxBodyBytes: 64 << 10})
	pods := "/api/v1/namespaces/default/pods"

	r := do(t, e, "POST", pods, "application/json", strings.Replace(podJSON, "%s", "j", 1))
	if r.code != 201 || r.ctype != "application/json" {
		t.Fatalf("create json: %d %s", r.code, r.body)
	}
	yamlPod := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: ypod\nspec:\n  containers:\n  - name: c\n    image: a.wasm\n"
	if r := do(t, e, "POST", pods, "application/yaml", yamlPod); r.code != 201 {
		t.Fatalf("create yaml: %d %s", r.code, r.body)
	}
	do(t, e, "POST", pods, "application/json", `{"kind":"Pod",`).want(t, 400, metav1.StatusReasonBadRequest, "not a valid Pod object")
	do(t, e, "POST", pods, "application/json", `[1,2]`).want(t, 400, metav1.StatusReasonBadRequest, "not a valid Pod object")
	do(t, e, "POST", pods, "application/json", ``).want(t, 400, metav1.StatusReasonBadRequest, "empty")
	do(t, e, "POST", pods, "application/yaml", "kind: Pod\n  bad: [indent\n").want(t, 400, metav1.StatusReasonBadRequest, "not valid YAML")
	do(t, e, "POST", pods, "application/json", `{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"}}`).
		want(t, 400, metav1.StatusReasonBadRequest, "the kind in the data (Service) does not match the expected kind (Pod)")
	do(t, e, "POST", pods, "application/json", `{"apiVersion":"apps/v1","kind":"Pod","metadata":{"name":"s"}}`).
		want(t, 400, metav1.StatusReasonBadRequest, "the API version in the data (apps/v1) does not match the expected API version (v1)")
	do(t, e, "POST", pods, "text/plain", "x").want(t, 415, metav1.StatusReasonUnsupportedMediaType, "unknown format")
	big := `{"metadata":{"name":"big","annotations":{"a":"` + strings.Repeat("x", 70<<10) + `"}}}`
	do(t, e, "POST", pods, "application/json", big).want(t, 413, metav1.StatusReasonRequestEntityTooLarge, "limit is 65536")
	// Chunked (no Content-Length) bodies hit the same limit while reading.
	req, _ := http.NewRequest("POST", e.srv.URL+pods, io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("chunked big body: %d", resp.StatusCode)
	}

	do(t, e, "PUT", pods+"/j", "application/json", strings.Replace(podJSON, "%s", "other", 1)).
		want(t, 400, metav1.StatusReasonBadRequest, "does not match the name on the URL")
	do(t, e, "PATCH", pods+"/j", "application/merge-patch+json", `{bad`).want(t, 400, metav1.StatusReasonBadRequest, "invalid")
	do(t, e, "PATCH", pods+"/j", "application/json-patch+json", `{"op":"add"}`).want(t, 400, metav1.StatusReasonBadRequest, "invalid JSON patch")
	do(t, e, "PATCH", pods+"/j", "application/apply-patch+yaml", "{}").want(t, 422, metav1.StatusReasonInvalid, "fieldManager: Required value: is required for apply patch")
	do(t, e, "POST", pods+"?dryRun=Bogus", "application/json", strings.Replace(podJSON, "%s", "d", 1)).want(t, 422, metav1.StatusReasonInvalid, `dryRun: Unsupported value: ["Bogus"]: supported values: "All"`)

	// Unknown paths and resources.
	for _, p := range []string{"/api/v1/widgets", "/apis/nope/v1/things", "/api/v1/namespaces/default/nodes", "/api/v1/pods/j", "/apis/apps/v2", "/nothing", "/api/v1/namespaces/default/pods/j/bogus"} {
		do(t, e, "GET", p, "", "").want(t, 404, metav1.StatusReasonNotFound, "")
	}
	do(t, e, "GET", "/api/v1/widgets", "", "").want(t, 404, metav1.StatusReasonNotFound, "the server could not find the requested resource")
	do(t, e, "GET", pods+"/missing", "", "").want(t, 404, metav1.StatusReasonNotFound, `pods "missing" not found`)
	do(t, e, "POST", "/api/v1/pods", "application/json", podJSON).want(t, 405, metav1.StatusReasonMethodNotAllowed, "")
	r = do(t, e, "GET", pods+"/missing", "", "")
	if r.status.Details == nil || r.status.Details.Name != "missing" || r.status.Details.Kind != "pods" {
		t.Fatalf("404 details: %+v", r.status.Details)
	}

	// Delete returns the object; health endpoints answer ok.
	if r := do(t, e, "DELETE", pods+"/ypod", "", ""); r.code != 200 || !strings.Contains(r.body, `"name":"ypod"`) {
		t.Fatalf("delete: %d %s", r.code, r.body)
	}
	do(t, e, "DELETE", pods+"/j", "application/json", `{"gracePeriodSeconds":`).want(t, 400, metav1.StatusReasonBadRequest, "DeleteOptions")
	for _, p := range []string{"/healthz", "/readyz", "/livez"} {
		if r := do(t, e, "GET", p, "", ""); r.code != 200 || r.body != "ok" {
			t.Fatalf("%s: %d %q", p, r.code, r.body)
		}
	}
	// Lists always carry items (never null) and a resourceVersion.
	r = do(t, e, "GET", "/api/v1/namespaces/default/configmaps?limit=1", "", "")
	if r.code != 200 || !strings.Contains(r.body, `"items":[]`) || !strings.Contains(r.body, `"kind":"ConfigMapList"`) || strings.Contains(r.body, `"continue"`) {
		t.Fatalf("empty list: %s", r.body)
	}
}

func TestHTTPBearerToken(t *testing.T) {
	e := newEnv(t, HandlerOptions{Token: "s3cret"})
	do(t, e, "GET", "/api/v1/pods", "", "").want(t, 401, metav1.StatusReasonUnauthorized, "Unauthorized")
	do(t, e, "GET", "/api/v1/pods", "", "", "Authorization", "Bearer wrong").want(t, 401, metav1.StatusReasonUnauthorized, "Unauthorized")
	if r := do(t, e, "GET", "/api/v1/pods", "", "", "Authorization", "Bearer s3cret"); r.code != 200 {
		t.Fatalf("with token: %d", r.code)
	}
	if r := do(t, e, "GET", "/healthz", "", ""); r.code != 200 {
		t.Fatalf("healthz needs no token: %d", r.code)
	}
	// client-go without the token gets Unauthorized; with it, works.
	cfg := TCPConfig(e.srv.URL, "")
	cs := e.client(t, "http")
	_ = cs
	noTok, _ := kubernetesFor(cfg)
	if _, err := noTok.CoreV1().Pods("").List(t.Context(), metav1.ListOptions{}); err == nil || !strings.Contains(err.Error(), "Unauthorized") {
		t.Fatalf("client-go without token: %v", err)
	}
	if _, err := cs.CoreV1().Pods("").List(t.Context(), metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestHTTPWatchStream reads the raw watch stream: chunked, one JSON
// WatchEvent per line, flushed as events happen, over both URL forms.
func TestHTTPWatchStream(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	for _, path := range []string{"/api/v1/namespaces/default/pods?watch=true&resourceVersion=0", "/api/v1/watch/namespaces/default/pods?resourceVersion=0"} {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, resp.TransferEncoding)
		}
		name := "w" + string(rune('a'+len(path)%20))
		go func() {
			time.Sleep(50 * time.Millisecond)
			do(t, e, "POST", "/api/v1/namespaces/default/pods", "application/json", strings.Replace(podJSON, "%s", name, 1))
		}()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var ev struct {
				Type   string
				Object struct {
					Kind     string
					Metadata metav1.ObjectMeta
				}
			}
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatalf("bad event line %q: %v", sc.Text(), err)
			}
			if ev.Type != "ADDED" || ev.Object.Kind != "Pod" {
				t.Fatalf("event: %s", sc.Text())
			}
			if ev.Object.Metadata.Name == name {
				break
			}
		}
		resp.Body.Close()
	}
	// timeoutSeconds ends the stream.
	start := time.Now()
	resp, err := http.Get(e.srv.URL + "/api/v1/namespaces/default/pods?watch=1&timeoutSeconds=1&resourceVersion=1000000")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("watch with timeoutSeconds=1 took %v", d)
	}
}

func TestHTTPDiscoveryDocuments(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	// Aggregated discovery when asked first (discovery_aggregated.go), the
	// unaggregated document for plain JSON.
	r := do(t, e, "GET", "/api", "", "", "Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json")
	if r.code != 200 || r.ctype != "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" || !strings.Contains(r.body, `"kind":"APIGroupDiscoveryList"`) {
		t.Fatalf("/api aggregated: %s %s", r.ctype, r.body)
	}
	r = do(t, e, "GET", "/api", "", "", "Accept", "application/json")
	if r.code != 200 || r.ctype != "application/json" || !strings.Contains(r.body, `"kind":"APIVersions"`) || !strings.Contains(r.body, `"versions":["v1"]`) {
		t.Fatalf("/api: %s %s", r.ctype, r.body)
	}
	r = do(t, e, "GET", "/apis/apps", "", "")
	if r.code != 200 || !strings.Contains(r.body, `"kind":"APIGroup"`) || !strings.Contains(r.body, `"groupVersion":"apps/v1"`) {
		t.Fatalf("/apis/apps: %s", r.body)
	}
	var list metav1.APIResourceList
	r = do(t, e, "GET", "/api/v1", "", "")
	if err := json.Unmarshal([]byte(r.body), &list); err != nil || list.Kind != "APIResourceList" {
		t.Fatalf("/api/v1: %v %s", err, r.body)
	}
	for _, res := range list.APIResources {
		if res.Name == "pods/exec" && res.Kind != "PodExecOptions" {
			t.Fatalf("pods/exec kind %q", res.Kind)
		}
		if res.Name == "pods" && strings.Join(res.Verbs, ",") != "create,delete,deletecollection,get,list,patch,update,watch" {
			t.Fatalf("pods verbs %v", res.Verbs)
		}
	}
}

// TestHTTPPanicIsStatus: a handler panic becomes a 500 Status.
func TestHTTPPanicIsStatus(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	r, _ := e.s.Resource("", "pods")
	saved := r.prepareCreate
	r.prepareCreate = func(*Server, runtimeObject) error { panic("boom") }
	defer func() { r.prepareCreate = saved }()
	do(t, e, "POST", "/api/v1/namespaces/default/pods", "application/json", strings.Replace(podJSON, "%s", "p", 1)).
		want(t, 500, metav1.StatusReasonInternalError, "boom")
}

type runtimeObject = runtime.Object

func kubernetesFor(cfg *rest.Config) (*kubernetes.Clientset, error) {
	return kubernetes.NewForConfig(cfg)
}
