package apiserver

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestUser16JSONPatchNotApplicable: a JSON patch whose test op fails or
// that removes a missing path is upstream's 422 Status naming no resource
// and no name (applyJSPatch's NewGenericServerResponse), which kubectl
// prints as "The request is invalid"; it named the resource and object, so
// kubectl printed `The configmaps "c" is invalid` and the message ended in
// "( configmaps c)".
func TestUser16JSONPatchNotApplicable(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	post, err := http.Post(e.srv.URL+"/api/v1/namespaces/default/configmaps", "application/json",
		strings.NewReader(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"b"}}`))
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	for _, patch := range []string{
		`[{"op":"test","path":"/data/a","value":"x"}]`,
		`[{"op":"remove","path":"/data/nope"}]`,
	} {
		req, _ := http.NewRequest(http.MethodPatch, e.srv.URL+"/api/v1/namespaces/default/configmaps/c", strings.NewReader(patch))
		req.Header.Set("Content-Type", "application/json-patch+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var st metav1.Status
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatalf("%s: %v\n%s", patch, err, b)
		}
		if resp.StatusCode != http.StatusUnprocessableEntity || st.Reason != metav1.StatusReasonInvalid ||
			st.Message != "the server rejected our request due to an error in our request" ||
			st.Details == nil || st.Details.Name != "" || st.Details.Kind != "" || st.Details.Group != "" {
			t.Errorf("%s: %d %s, want upstream's 422 naming no resource", patch, resp.StatusCode, b)
		}
	}
}
