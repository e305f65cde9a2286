package apiserver

import (
	"io"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestBodyLimitEveryVerb: the body limit answers 413 on every verb that
// takes a body, patch and watch included, whether the body announces its
// length or is chunked.
func TestBodyLimitEveryVerb(t *testing.T) {
	e := newEnv(t, HandlerOptions{MaxBodyBytes: 16 << 10})
	pods := "/api/v1/namespaces/default/pods"
	if r := do(t, e, "POST", pods, "application/json", strings.Replace(podJSON, "%s", "p", 1)); r.code != 201 {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	big := `{"metadata":{"annotations":{"a":"` + strings.Repeat("x", 20<<10) + `"}}}`
	for _, tc := range []struct{ method, path, ctype string }{
		{"POST", pods, "application/json"},
		{"PUT", pods + "/p", "application/json"},
		{"PUT", pods + "/p/status", "application/json"},
		{"PATCH", pods + "/p", "application/merge-patch+json"},
		{"PATCH", pods + "/p", "application/strategic-merge-patch+json"},
		{"PATCH", pods + "/p/status", "application/merge-patch+json"},
		{"DELETE", pods + "/p", "application/json"},
		{"DELETE", pods, "application/json"},
		{"POST", pods + "/p/binding", "application/json"},
		{"GET", pods + "?watch=true", "application/json"},
		{"GET", "/api/v1/watch/namespaces/default/pods", "application/json"},
	} {
		for _, chunked := range []bool{false, true} {
			var body io.Reader = strings.NewReader(big)
			if chunked {
				body = io.MultiReader(body)
			}
			req, _ := http.NewRequest(tc.method, e.srv.URL+tc.path, body)
			if chunked {
				req.ContentLength = -1
			}
			req.Header.Set("Content-Type", tc.ctype)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			// A watch never reads its body: a chunked one is ignored, not
			// buffered (it is served as a watch).
			if chunked && tc.method == "GET" {
				if resp.StatusCode != 200 {
					t.Errorf("%s %s chunked: %d", tc.method, tc.path, resp.StatusCode)
				}
				continue
			}
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("%s %s (chunked %v): %d, want 413", tc.method, tc.path, chunked, resp.StatusCode)
			}
		}
	}
}

func nested(depth int, leaf string) string {
	return strings.Repeat(`{"a":`, depth) + leaf + strings.Repeat("}", depth)
}

// TestJSONDepthLimit: bodies nested deeper than MaxJSONDepth are refused
// with 400 before they are decoded, on create, update, patch, delete and
// binding; YAML too.
func TestJSONDepthLimit(t *testing.T) {
	e := newEnv(t, HandlerOptions{MaxJSONDepth: 20})
	pods := "/api/v1/namespaces/default/pods"
	if r := do(t, e, "POST", pods, "application/json", strings.Replace(podJSON, "%s", "p", 1)); r.code != 201 {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	deepPod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"deep"},"spec":{"containers":[{"name":"c","image":"a.wasm"}]},"x":` + nested(30, "1") + `}`
	deepArr := `{"metadata":{"name":"p"},"x":` + strings.Repeat("[", 25) + strings.Repeat("]", 25) + `}`
	const msg = "more than 20 levels deep"
	do(t, e, "POST", pods, "application/json", deepPod).want(t, 400, metav1.StatusReasonBadRequest, msg)
	do(t, e, "POST", pods, "application/yaml", "apiVersion: v1\nkind: Pod\nx: "+strings.Repeat("[", 25)+strings.Repeat("]", 25)+"\n").want(t, 400, metav1.StatusReasonBadRequest, msg)
	do(t, e, "PUT", pods+"/p", "application/json", deepArr).want(t, 400, metav1.StatusReasonBadRequest, msg)
	do(t, e, "PATCH", pods+"/p", "application/merge-patch+json", nested(25, "1")).want(t, 400, metav1.StatusReasonBadRequest, msg)
	do(t, e, "PATCH", pods+"/p", "application/strategic-merge-patch+json", nested(25, "1")).want(t, 400, metav1.StatusReasonBadRequest, msg)
	do(t, e, "PATCH", pods+"/p", "application/json-patch+json", `[{"op":"add","path":"/metadata/labels","value":`+nested(25, "1")+`}]`).want(t, 400, metav1.StatusReasonBadRequest, msg)
	do(t, e, "DELETE", pods+"/p", "application/json", `{"kind":"DeleteOptions","x":`+nested(25, "1")+`}`).want(t, 400, metav1.StatusReasonBadRequest, msg)
	do(t, e, "POST", pods+"/p/binding", "application/json", `{"target":{"name":"n"},"x":`+nested(25, "1")+`}`).want(t, 400, metav1.StatusReasonBadRequest, msg)
	// Brackets inside strings do not count; a body at the limit passes.
	ok := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"strs","annotations":{"a":"` + strings.Repeat("[{", 100) + `\"[["}},"spec":{"containers":[{"name":"c","image":"a.wasm"}]}}`
	if r := do(t, e, "POST", pods, "application/json", ok); r.code != 201 {
		t.Fatalf("brackets in strings: %d %s", r.code, r.body)
	}
	if r := do(t, e, "PATCH", pods+"/p", "application/merge-patch+json", `{"metadata":{"labels":{"x":"y"}}}`); r.code != 200 {
		t.Fatalf("shallow patch: %d %s", r.code, r.body)
	}
}
