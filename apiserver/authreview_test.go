package apiserver

import (
	"net/http"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestAuthReviewsClientGo: the self-subject reviews through client-go's
// typed clients (protobuf and JSON bodies), their validation, and their
// place in discovery.
func TestAuthReviewsClientGo(t *testing.T) {
	const tok = "0123456789abcdefXYZ"
	e := newEnv(t, HandlerOptions{Token: tok})
	for _, ct := range []string{"application/json", "application/vnd.kubernetes.protobuf"} {
		cfg := TCPConfig(e.srv.URL, tok)
		cfg.ContentType = ct
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		ssr, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("%s: selfsubjectreview: %v", ct, err)
		}
		if u := ssr.Status.UserInfo; u.Username != "admin" || strings.Join(u.Groups, ",") != "system:masters,system:authenticated" {
			t.Errorf("%s: whoami: %+v", ct, u)
		}
		sar, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: "default", Verb: "create", Resource: "pods"}}}, metav1.CreateOptions{})
		if err != nil || !sar.Status.Allowed || sar.Spec.ResourceAttributes.Resource != "pods" {
			t.Errorf("%s: selfsubjectaccessreview: %+v %v", ct, sar, err)
		}
		_, err = cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{}, metav1.CreateOptions{})
		wantStatus(t, err, 422, metav1.StatusReasonInvalid,
			`SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified`)
		srr, err := cs.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx, &authorizationv1.SelfSubjectRulesReview{
			Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: "default"}}, metav1.CreateOptions{})
		if err != nil || !hasStarRule(srr.Status) {
			t.Errorf("%s: selfsubjectrulesreview: %+v %v", ct, srr, err)
		}
		_, err = cs.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx, &authorizationv1.SelfSubjectRulesReview{}, metav1.CreateOptions{})
		wantStatus(t, err, 400, metav1.StatusReasonBadRequest, "no namespace on request")
	}
	// Only create; not without the token.
	do(t, e, "GET", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "", "", "Authorization", "Bearer "+tok).want(t, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, "")
	do(t, e, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", "application/json", `{}`).want(t, 401, metav1.StatusReasonUnauthorized, "Unauthorized")

	cs := e.client(t, "http")
	_, lists, err := cs.Discovery().ServerGroupsAndResources()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]metav1.APIResource{}
	for _, l := range lists {
		for _, r := range l.APIResources {
			found[l.GroupVersion+"/"+r.Name] = r
		}
	}
	for _, want := range []string{"authentication.k8s.io/v1/selfsubjectreviews", "authorization.k8s.io/v1/selfsubjectaccessreviews", "authorization.k8s.io/v1/selfsubjectrulesreviews"} {
		if r, ok := found[want]; !ok || strings.Join(r.Verbs, ",") != "create" || r.Namespaced {
			t.Errorf("discovery: %s: %+v (found %v)", want, r, ok)
		}
	}
}

// TestAuthReviewsRealKubectl: kubectl auth whoami and auth can-i answer
// for the admin.
func TestAuthReviewsRealKubectl(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	if got, want := k.run(t, "auth", "whoami"), ""+
		"ATTRIBUTE   VALUE\n"+
		"Username    admin\n"+
		"Groups      [system:masters system:authenticated]\n"; got != want {
		t.Errorf("kubectl auth whoami:\n%s\nwant:\n%s", got, want)
	}
	if got := k.run(t, "auth", "can-i", "create", "pods"); got != "yes\n" {
		t.Errorf("kubectl auth can-i create pods: %q", got)
	}
	if got := k.run(t, "auth", "can-i", "get", "/healthz"); got != "yes\n" {
		t.Errorf("kubectl auth can-i get /healthz: %q", got)
	}
	got := k.run(t, "auth", "can-i", "--list")
	if !strings.Contains(got, "*.*") || !strings.HasPrefix(got, "Resources") {
		t.Errorf("kubectl auth can-i --list:\n%s", got)
	}
	t.Logf("can-i --list:\n%s", got)
}

// hasStarRule: the rules include cluster-admin's (the admin is bound to
// it through system:masters).
func hasStarRule(st authorizationv1.SubjectRulesReviewStatus) bool {
	res, urls := false, false
	for _, r := range st.ResourceRules {
		res = res || strings.Join(r.Verbs, ",") == "*" && strings.Join(r.APIGroups, ",") == "*" && strings.Join(r.Resources, ",") == "*"
	}
	for _, r := range st.NonResourceRules {
		urls = urls || strings.Join(r.Verbs, ",") == "*" && strings.Join(r.NonResourceURLs, ",") == "*"
	}
	return res && urls
}
