package apiserver

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	openapi_v3 "github.com/google/gnostic-models/openapiv3"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/openapi3"
)

// kubectlResult runs kubectl and returns its stdout, stderr and exit code.
func kubectlResult(t *testing.T, k *kubectlRunner, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	c := k.cmd(args...)
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), code
}

func openAPIGet(t *testing.T, e *env, path, accept string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// client-go's openapi3 root reads the served group versions, and
// kubectl's query-parameter verifier (cli-runtime's QueryParamVerifierV3,
// what --validate=strict asks before it sends fieldValidation) finds
// fieldValidation on the PATCH operations of every served kind.
func TestOpenAPIV3ClientGo(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	cs := e.client(t, "http")
	root := openapi3.NewRoot(cs.Discovery().OpenAPIV3())
	gvs, err := root.GroupVersions()
	if err != nil {
		t.Fatal(err)
	}
	want := map[schema.GroupVersion]bool{{Version: "v1"}: false, {Group: "apps", Version: "v1"}: false,
		{Group: "batch", Version: "v1"}: false, {Group: "coordination.k8s.io", Version: "v1"}: false,
		{Group: "discovery.k8s.io", Version: "v1"}: false, {Group: "authorization.k8s.io", Version: "v1"}: false}
	for _, gv := range gvs {
		if _, ok := want[gv]; ok {
			want[gv] = true
		}
	}
	for gv, ok := range want {
		if !ok {
			t.Errorf("/openapi/v3 lacks %v (has %v)", gv, gvs)
		}
	}
	// What cli-runtime's QueryParamVerifierV3 checks (kubectl's runs in
	// TestFieldValidationRealKubectl): the PATCH operations of the kind
	// list fieldValidation.
	for _, r := range e.s.Resources() {
		doc, err := root.GVSpec(r.GVR.GroupVersion())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range doc.Paths.Paths {
			if p.Patch == nil {
				continue
			}
			g, _ := p.Patch.Extensions["x-kubernetes-group-version-kind"].(map[string]interface{})
			if g["group"] != r.GVR.Group || g["version"] != r.GVR.Version || g["kind"] != r.Kind {
				continue
			}
			n++
			has := false
			for _, prm := range p.Patch.Parameters {
				has = has || prm.Name == "fieldValidation" && prm.In == "query"
			}
			if !has {
				t.Errorf("%v: PATCH %s lacks fieldValidation", r.GVK(), p.Patch.OperationId)
			}
		}
		if n == 0 {
			t.Errorf("%v: no PATCH operation", r.GVK())
		}
	}
	doc, err := root.GVSpec(schema.GroupVersion{Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	p := doc.Paths.Paths["/api/v1/namespaces/{namespace}/pods/{name}"]
	if p == nil || p.Patch == nil || p.Get == nil || p.Put == nil || p.Delete == nil {
		t.Fatalf("pod item path %+v", p)
	}
	if id := p.Patch.OperationId; id != "patchCoreV1NamespacedPod" {
		t.Errorf("operationId %q", id)
	}
	if a := p.Patch.Extensions["x-kubernetes-action"]; a != "patch" {
		t.Errorf("x-kubernetes-action %v", a)
	}
	var names []string
	for _, prm := range p.Patch.Parameters {
		names = append(names, prm.Name)
	}
	if got := strings.Join(names, ","); !strings.Contains(got, "dryRun") || !strings.Contains(got, "fieldManager") ||
		!strings.Contains(got, "fieldValidation") || !strings.Contains(got, "force") {
		t.Errorf("patch parameters %s", got)
	}
	if _, ok := doc.Components.Schemas["io.k8s.api.core.v1.Pod"]; !ok {
		t.Errorf("no Pod schema in /openapi/v3/api/v1")
	}
	if _, ok := doc.Components.Schemas["io.k8s.api.apps.v1.Deployment"]; ok {
		t.Errorf("/openapi/v3/api/v1 has apps' schemas")
	}
	if x := doc.Paths.Paths["/api/v1/namespaces/{namespace}/pods/{name}/exec"]; x == nil || x.Get == nil || x.Post == nil ||
		x.Get.OperationId != "connectCoreV1GetNamespacedPodExec" || x.Post.OperationId != "connectCoreV1PostNamespacedPodExec" {
		t.Errorf("pods/exec path %+v", x)
	} else {
		var names []string
		for _, prm := range append(x.Parameters, x.Get.Parameters...) { // the common ones are the path's
			names = append(names, prm.Name)
		}
		if got := strings.Join(names, ","); got != "command,container,name,namespace,stderr,stdin,stdout,tty" {
			t.Errorf("exec parameters %s", got)
		}
	}
	if doc.Paths.Paths["/api/v1/pods"] == nil || doc.Paths.Paths["/api/v1/watch/namespaces/{namespace}/pods/{name}"] == nil ||
		doc.Paths.Paths["/api/v1/namespaces/{namespace}/pods/{name}/status"] == nil || doc.Paths.Paths["/api/v1/nodes/{name}"] == nil {
		t.Errorf("missing paths")
	}
}

// The hash URLs of /openapi/v3 are immutable, a stale hash redirects to
// the current one, the document without a hash has an ETag that answers
// 304, and an unknown group version is a 404 Status.
func TestOpenAPIV3Caching(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	resp := openAPIGet(t, e, "/openapi/v3", "")
	var disc struct {
		Paths map[string]struct {
			URL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&disc); err != nil {
		t.Fatal(err)
	}
	u := disc.Paths["apis/apps/v1"].URL
	if !strings.HasPrefix(u, "/openapi/v3/apis/apps/v1?hash=") {
		t.Fatalf("apps/v1 url %q (%v)", u, disc.Paths)
	}
	resp = openAPIGet(t, e, u, "application/json")
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, immutable" || resp.Header.Get("Expires") == "" {
		t.Errorf("hash url: %d %v", resp.StatusCode, resp.Header)
	}
	etag := resp.Header.Get("Etag")
	if want := `"` + strings.TrimPrefix(u, "/openapi/v3/apis/apps/v1?hash=") + `"`; etag != want {
		t.Errorf("etag %s, want %s", etag, want)
	}
	resp = openAPIGet(t, e, "/openapi/v3/apis/apps/v1?hash=0123", "")
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != u {
		t.Errorf("stale hash: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp = openAPIGet(t, e, "/openapi/v3/apis/apps/v1", "")
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") == "public, immutable" {
		t.Errorf("no hash: %d %v", resp.StatusCode, resp.Header)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/openapi/v3/apis/apps/v1", nil)
	req.Header.Set("If-None-Match", etag)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", r2.StatusCode)
	}
	for _, p := range []string{"/openapi/v3/apis/example.com/v1", "/openapi/v3/apis/apps/v2", "/openapi/v3/api/v2", "/openapi/v4"} {
		resp = openAPIGet(t, e, p, "")
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 404 || !strings.Contains(string(b), `"reason":"NotFound"`) {
			t.Errorf("%s: %d %s", p, resp.StatusCode, b)
		}
	}
}

// /openapi/v2 in JSON and in the protobuf client-go asks for.
func TestOpenAPIV2(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	doc, err := e.client(t, "http").Discovery().OpenAPISchema() // protobuf
	if err != nil {
		t.Fatal(err)
	}
	var pod *openapi_v2.NamedSchema
	for _, d := range doc.GetDefinitions().GetAdditionalProperties() {
		if d.Name == "io.k8s.api.core.v1.Pod" {
			pod = d
		}
	}
	if pod == nil {
		t.Fatal("no Pod definition in /openapi/v2")
	}
	found := false
	for _, p := range doc.GetPaths().GetPath() {
		if p.Name == "/apis/apps/v1/namespaces/{namespace}/deployments/{name}" && p.Value.Patch != nil {
			found = p.Value.Patch.OperationId == "patchAppsV1NamespacedDeployment"
		}
	}
	if !found {
		t.Errorf("no deployment patch operation in /openapi/v2")
	}
	resp := openAPIGet(t, e, "/openapi/v2", "application/json")
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || !bytes.Contains(b, []byte(`"swagger":"2.0"`)) {
		t.Errorf("json: %d %s", resp.StatusCode, resp.Header)
	}
	jdoc, err := openapi_v2.ParseDocument(b)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(jdoc, doc) {
		t.Errorf("protobuf and JSON documents differ")
	}
	resp = openAPIGet(t, e, "/openapi/v2", "text/html")
	if resp.StatusCode != http.StatusNotAcceptable {
		t.Errorf("text/html: %d", resp.StatusCode)
	}
}

// The protobuf documents (internal/openapipb's encoding of the JSON) are
// what gnostic makes of the JSON documents, for /openapi/v2 and every
// group version of /openapi/v3: equal messages, and the same bytes as
// gnostic's proto.Marshal.
func TestOpenAPIProtobufMatchesGnostic(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	get := func(path, accept, wantType string) []byte {
		t.Helper()
		resp := openAPIGet(t, e, path, accept)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != wantType {
			t.Fatalf("%s as %s: %d %s %.200s", path, accept, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
		return b
	}
	check := func(name string, pb []byte, want, got proto.Message) {
		t.Helper()
		if err := proto.Unmarshal(pb, got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !proto.Equal(want, got) {
			t.Errorf("%s: the protobuf document is not gnostic's reading of the JSON one", name)
		}
		if wb, _ := proto.Marshal(want); !bytes.Equal(wb, pb) {
			t.Errorf("%s: %d bytes, gnostic's are %d", name, len(pb), len(wb))
		}
	}
	j := get("/openapi/v2", "application/json", "application/json")
	want2, err := openapi_v2.ParseDocument(j)
	if err != nil {
		t.Fatal(err)
	}
	for _, accept := range []string{"application/com.github.proto-openapi.spec.v2@v1.0+protobuf", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"} {
		check("/openapi/v2 "+accept, get("/openapi/v2", accept, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"), want2, &openapi_v2.Document{})
	}
	var disc struct {
		Paths map[string]struct {
			URL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(get("/openapi/v3", "", "application/json"), &disc); err != nil {
		t.Fatal(err)
	}
	if len(disc.Paths) < 10 {
		t.Fatalf("only %d group versions in /openapi/v3", len(disc.Paths))
	}
	for gv, p := range disc.Paths {
		j := get(p.URL, "application/json", "application/json")
		want3, err := openapi_v3.ParseDocument(j)
		if err != nil {
			t.Fatalf("%s: %v", gv, err)
		}
		pb := get(p.URL, "application/com.github.proto-openapi.spec.v3@v1.0+protobuf", "application/com.github.proto-openapi.spec.v3.v1.0+protobuf")
		check(gv, pb, want3, &openapi_v3.Document{})
	}
}

// kubectl explain reads /openapi/v3: a kind, a nested field, a kind of
// another group and --recursive.
func TestOpenAPIExplainRealKubectl(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	out := k.run(t, "explain", "pods")
	for _, want := range []string{"KIND:       Pod\nVERSION:    v1\n", "DESCRIPTION:\n    Pod is a collection of containers that can run on a host.",
		"FIELDS:\n  apiVersion\t<string>\n", "  spec\t<PodSpec>\n", "  status\t<PodStatus>\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain pods lacks %q:\n%s", want, out)
		}
	}
	out = k.run(t, "explain", "pods.spec.containers")
	for _, want := range []string{"KIND:       Pod\nVERSION:    v1\n", "FIELD: containers <[]Container>\n",
		"  image\t<string>\n", "  name\t<string> -required-\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain pods.spec.containers lacks %q:\n%s", want, out)
		}
	}
	out = k.run(t, "explain", "deployment", "--recursive")
	for _, want := range []string{"GROUP:      apps\nKIND:       Deployment\nVERSION:    v1\n", "    replicas\t<integer>\n",
		"        containers\t<[]Container> -required-\n", "          image\t<string>\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain deployment --recursive lacks %q:\n%s", want, out)
		}
	}
	_, stderr, code := kubectlResult(t, k, "explain", "pods.spec.nosuchfield")
	if code != 1 || !strings.Contains(stderr, `field "nosuchfield" does not exist`) {
		t.Errorf("explain of a missing field: exit %d %q", code, stderr)
	}
}

// /openapi needs the token, as every path but health and version.
func TestOpenAPIAuthenticated(t *testing.T) {
	e := newEnv(t, HandlerOptions{Token: "sekrit"})
	for _, p := range []string{"/openapi/v2", "/openapi/v3", "/openapi/v3/api/v1"} {
		if resp := openAPIGet(t, e, p, ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d", p, resp.StatusCode)
		}
	}
	if _, err := openapi3.NewRoot(e.client(t, "http").Discovery().OpenAPIV3()).GVSpec(schema.GroupVersion{Version: "v1"}); err != nil {
		t.Errorf("with the token: %v", err)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/openapi/v3", nil)
	req.Header.Set("Authorization", "Bearer sekrit")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /openapi/v3: %d", resp.StatusCode)
	}
}
