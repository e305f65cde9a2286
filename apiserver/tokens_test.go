package apiserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/wasmpod/wasmpod/store/memory"
)

// tokenEnv is a Server with a fake clock behind HTTPS with an admin token.
type tokenEnv struct {
	tlsEnv
	clk   *clocktesting.FakeClock
	admin *kubernetes.Clientset
}

const tokenEnvAdmin = "admin-token-0123456789"

func newTokenEnv(t *testing.T) *tokenEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	clk := clocktesting.NewFakeClock(time.Now())
	s, err := New(ctx, memory.New(), Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(s.Handler(HandlerOptions{Token: tokenEnvAdmin}))
	t.Cleanup(func() { cancel(); srv.CloseClientConnections(); srv.Close() })
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	e := &tokenEnv{tlsEnv: tlsEnv{s: s, srv: srv, ca: base64.StdEncoding.EncodeToString(pemBytes)}, clk: clk}
	e.admin = e.clientAs(t, tokenEnvAdmin)
	for _, name := range []string{"default", "builder"} {
		if _, err := e.admin.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *tokenEnv) clientAs(t *testing.T, token string) *kubernetes.Clientset {
	t.Helper()
	cfg := &rest.Config{Host: e.srv.URL, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.srv.Certificate().Raw})}}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// review asks the server's TokenReview about tok.
func (e *tokenEnv) review(t *testing.T, tok string, auds ...string) authenticationv1.TokenReviewStatus {
	t.Helper()
	tr, err := e.admin.AuthenticationV1().TokenReviews().Create(context.Background(),
		&authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: tok, Audiences: auds}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status
}

// jwtPayload decodes a JWT's claims without checking them.
func jwtPayload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(tok), ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func claimPath(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

// TestTokenRequestRealKubectl: `kubectl create token` (real kubectl
// v1.37.2) gets a token with upstream's claims, which authenticates as the
// service account (`kubectl auth whoami`), is authorized by RBAC (403, then
// 200 after a RoleBinding), and with --audience/--duration/--bound-object
// gets those claims; a token for another audience is 401.
func TestTokenRequestRealKubectl(t *testing.T) {
	e := newTokenEnv(t)
	ctx := context.Background()
	admin := e.kubectlAs(t, tokenEnvAdmin)

	tok := strings.TrimSpace(admin.run(t, "create", "token", "default"))
	sa, err := e.admin.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := jwtPayload(t, tok)
	for k, want := range map[string]any{
		"iss": DefaultServiceAccountIssuer, "sub": "system:serviceaccount:default:default",
	} {
		if c[k] != want {
			t.Errorf("claim %s = %v, want %v", k, c[k], want)
		}
	}
	if auds, _ := c["aud"].([]any); len(auds) != 1 || auds[0] != DefaultServiceAccountIssuer {
		t.Errorf("aud = %v, want [%s]", c["aud"], DefaultServiceAccountIssuer)
	}
	if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != 3600 || c["nbf"] != c["iat"] {
		t.Errorf("exp-iat = %v (want 3600), nbf %v iat %v", exp-iat, c["nbf"], c["iat"])
	}
	if jti, _ := c["jti"].(string); len(jti) != 36 {
		t.Errorf("jti = %v, want a uuid", c["jti"])
	}
	if claimPath(c, "kubernetes.io", "namespace") != "default" || claimPath(c, "kubernetes.io", "serviceaccount", "name") != "default" ||
		claimPath(c, "kubernetes.io", "serviceaccount", "uid") != string(sa.UID) || claimPath(c, "kubernetes.io", "pod") != nil {
		t.Errorf("kubernetes.io claim = %v", c["kubernetes.io"])
	}

	// The token is the service account's user.
	asSA := e.kubectlAs(t, tok)
	who := asSA.run(t, "auth", "whoami")
	for _, want := range []string{"system:serviceaccount:default:default", string(sa.UID),
		"[system:serviceaccounts system:serviceaccounts:default system:authenticated]",
		"authentication.kubernetes.io/credential-id", "[JTI=" + c["jti"].(string) + "]"} {
		if !strings.Contains(who, want) {
			t.Errorf("kubectl auth whoami with the token:\n%s\nwant %q", who, want)
		}
	}
	asSA.wantFail(t, `Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:default:default" cannot list resource "pods" in API group "" in the namespace "default"`, "get", "pods")
	admin.run(t, "create", "rolebinding", "sa-view", "--clusterrole=view", "--serviceaccount=default:default")
	if _, errOut, code := asSA.try(t, "get", "pods"); code != 0 || !strings.Contains(errOut, "No resources found in default namespace.") {
		t.Errorf("get pods after the RoleBinding: exit %d, stderr %q", code, errOut)
	}
	// RBAC of the token request itself: the view role may not create tokens.
	asSA.wantFail(t, `serviceaccounts "builder" is forbidden: User "system:serviceaccount:default:default" cannot create resource "serviceaccounts/token" in API group "" in the namespace "default"`,
		"create", "token", "builder")

	// Audience, duration and a pod binding.
	pod, err := e.admin.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: corev1.PodSpec{ServiceAccountName: "default", NodeName: "", Containers: []corev1.Container{{Name: "c", Image: "wasmpod.local/x:1"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	btok := strings.TrimSpace(admin.run(t, "create", "token", "default", "--audience", "x", "--duration", "20m", "--bound-object-kind", "Pod", "--bound-object-name", "p"))
	b := jwtPayload(t, btok)
	if auds, _ := b["aud"].([]any); len(auds) != 1 || auds[0] != "x" {
		t.Errorf("aud = %v, want [x]", b["aud"])
	}
	if exp, iat := b["exp"].(float64), b["iat"].(float64); exp-iat != 1200 {
		t.Errorf("exp-iat = %v, want 1200", exp-iat)
	}
	if claimPath(b, "kubernetes.io", "pod", "name") != "p" || claimPath(b, "kubernetes.io", "pod", "uid") != string(pod.UID) {
		t.Errorf("pod claim = %v", claimPath(b, "kubernetes.io", "pod"))
	}
	// Not for the API server: 401.
	e.kubectlAs(t, btok).wantFail(t, "error: You must be logged in to the server (Unauthorized)", "auth", "whoami")
	if st := e.review(t, btok); st.Authenticated || st.Error != `token audiences ["x"] is invalid for the target audiences ["`+DefaultServiceAccountIssuer+`"]` {
		t.Errorf("review for the API server: %+v", st)
	}
	if st := e.review(t, btok, "x"); !st.Authenticated || st.User.Extra["authentication.kubernetes.io/pod-name"][0] != "p" || len(st.Audiences) != 1 || st.Audiences[0] != "x" {
		t.Errorf("review for audience x: %+v", st)
	}

	// Validation, with upstream's messages.
	admin.wantFail(t, `error: failed to create token: TokenRequest.authentication.k8s.io "default" is invalid: spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes`,
		"create", "token", "default", "--duration", "5m")
	admin.wantFail(t, `error: failed to create token: cannot bind token for serviceaccount "builder" to pod running with different serviceaccount name.`,
		"create", "token", "builder", "--bound-object-kind", "Pod", "--bound-object-name", "p")
	admin.wantFail(t, `error: failed to create token: serviceaccounts "nobody" not found`, "create", "token", "nobody")
	admin.wantFail(t, `error: failed to create token: pods "gone" not found`, "create", "token", "default", "--bound-object-kind", "Pod", "--bound-object-name", "gone")
}

// TestTokenDiscovery: serviceaccounts/token is listed as upstream's, in the
// aggregated document kubectl reads too, and tokenreviews.
func TestTokenDiscovery(t *testing.T) {
	e := newTokenEnv(t)
	admin := e.kubectlAs(t, tokenEnvAdmin)
	out := admin.run(t, "get", "--raw", "/api/v1")
	var list metav1.APIResourceList
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range list.APIResources {
		if r.Name == "serviceaccounts/token" {
			found = r.Group == "authentication.k8s.io" && r.Version == "v1" && r.Kind == "TokenRequest" && len(r.Verbs) == 1 && r.Verbs[0] == "create" && r.Namespaced
		}
	}
	if !found {
		t.Errorf("serviceaccounts/token missing or wrong in /api/v1: %s", out)
	}
	res := admin.run(t, "api-resources", "--api-group=authentication.k8s.io", "--no-headers")
	if !strings.Contains(res, "tokenreviews") || !strings.Contains(res, "TokenReview") {
		t.Errorf("api-resources: %s", res)
	}
	if got := admin.run(t, "auth", "can-i", "create", "serviceaccounts/token"); strings.TrimSpace(got) != "yes" {
		t.Errorf("can-i create serviceaccounts/token = %q", got)
	}
}

// TestTokenInvalidation: expiry, a deleted and recreated service account,
// a deleted or replaced bound pod and a deleted bound secret end a token,
// with upstream's messages; a token signed by another key is not accepted.
func TestTokenInvalidation(t *testing.T) {
	e := newTokenEnv(t)
	ctx := context.Background()
	mk := func(tr authenticationv1.TokenRequestSpec, sa string) string {
		t.Helper()
		out, err := e.admin.CoreV1().ServiceAccounts("default").CreateToken(ctx, sa, &authenticationv1.TokenRequest{Spec: tr}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return out.Status.Token
	}
	whoami := func(tok string) (string, error) {
		r, err := e.clientAs(t, tok).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			return "", err
		}
		return r.Status.UserInfo.Username, nil
	}
	expect := func(tok, msg string) {
		t.Helper()
		if st := e.review(t, tok); st.Authenticated || st.Error != msg {
			t.Errorf("review: authenticated %v error %q, want %q", st.Authenticated, st.Error, msg)
		}
		if _, err := whoami(tok); !apierrors.IsUnauthorized(err) {
			t.Errorf("request with the token: %v, want 401", err)
		}
	}

	// Expiry: valid until exp plus a minute of leeway.
	tok := mk(authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}, "default")
	if u, err := whoami(tok); err != nil || u != "system:serviceaccount:default:default" {
		t.Fatalf("fresh token: %q %v", u, err)
	}
	e.clk.Step(600*time.Second + 30*time.Second)
	if _, err := whoami(tok); err != nil {
		t.Errorf("within the leeway: %v", err)
	}
	e.clk.Step(time.Minute)
	expect(tok, "service account token has expired")

	// A pod-bound token ends with its pod, and with a pod of the same name
	// but another uid.
	podSpec := corev1.PodSpec{ServiceAccountName: "builder", Containers: []corev1.Container{{Name: "c", Image: "wasmpod.local/x:1"}}}
	pod, err := e.admin.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: podSpec}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ptok := mk(authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "p", UID: pod.UID}}, "builder")
	if st := e.review(t, ptok); !st.Authenticated || st.User.Extra["authentication.kubernetes.io/pod-uid"][0] != string(pod.UID) {
		t.Errorf("pod-bound token: %+v", st)
	}
	// A wrong uid in the reference is a conflict, as upstream.
	_, err = e.admin.CoreV1().ServiceAccounts("default").CreateToken(ctx, "builder", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "p", UID: "nope"}}}, metav1.CreateOptions{})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "the UID in the bound object reference (nope) does not match the UID in record") {
		t.Errorf("wrong bound uid: %v", err)
	}
	_, err = e.admin.CoreV1().ServiceAccounts("default").CreateToken(ctx, "builder", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Deployment", APIVersion: "apps/v1", Name: "d"}}}, metav1.CreateOptions{})
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "cannot bind token to object of type apps/v1, Kind=Deployment") {
		t.Errorf("bound to a Deployment: %v", err)
	}
	if err := e.admin.CoreV1().Pods("default").Delete(ctx, "p", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	expect(ptok, "service account token has been invalidated")
	pod2, err := e.admin.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: podSpec}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	expect(ptok, "pod UID ("+string(pod2.UID)+") does not match service account pod ref claim ("+string(pod.UID)+")")

	// A secret-bound token ends with its secret.
	if _, err := e.admin.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	stok := mk(authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Secret", APIVersion: "v1", Name: "s"}}, "builder")
	if _, err := whoami(stok); err != nil {
		t.Errorf("secret-bound token: %v", err)
	}
	if err := e.admin.CoreV1().Secrets("default").Delete(ctx, "s", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expect(stok, "service account token has been invalidated")

	// A deleted service account: gone, then recreated with another uid.
	old, _ := e.admin.CoreV1().ServiceAccounts("default").Get(ctx, "builder", metav1.GetOptions{})
	btok := mk(authenticationv1.TokenRequestSpec{}, "builder")
	if err := e.admin.CoreV1().ServiceAccounts("default").Delete(ctx, "builder", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expect(btok, `serviceaccounts "builder" not found`)
	sa2, err := e.admin.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	expect(btok, "service account UID ("+string(sa2.UID)+") does not match claim ("+string(old.UID)+")")

	// Another issuer's key with our issuer name: the signature fails.
	key, _ := GenerateServiceAccountKey()
	other, _ := NewTokenIssuer(key, "")
	forged, err := other.issue(sa2, tokenBinding{}, 3600, other.Audiences(), e.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st := e.review(t, forged); st.Authenticated || st.Error == "" {
		t.Errorf("forged token: %+v", st)
	}
	if _, err := whoami(forged); !apierrors.IsUnauthorized(err) {
		t.Errorf("forged token: %v, want 401", err)
	}
	// A token of another issuer is not ours at all.
	other2, _ := NewTokenIssuer(key, "https://elsewhere")
	foreign, _ := other2.issue(sa2, tokenBinding{}, 3600, []string{DefaultServiceAccountIssuer}, e.clk.Now())
	if st := e.review(t, foreign); st.Authenticated || st.Error != "[invalid bearer token, token lookup failed]" {
		t.Errorf("foreign token: %+v", st)
	}
}

// TestTokenRequestHostile: bad bodies and parameters are refused with a
// Status naming the problem; a kube-api-access token (3607 s, pod-bound)
// lasts a year with warnafter, as upstream's extended expiration.
func TestTokenRequestHostile(t *testing.T) {
	e := newTokenEnv(t)
	ctx := context.Background()
	post := func(path, ct, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tokenEnvAdmin)
		req.Header.Set("Content-Type", ct)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const p = "/api/v1/namespaces/default/serviceaccounts/default/token"
	for _, tc := range []struct {
		body, want string
		code       int
	}{
		{``, "the request body is empty; expected a TokenRequest object", 400},
		{`{"kind":"Pod","apiVersion":"v1"}`, "does not match the expected kind", 400},
		{`{"spec":{"expirationSeconds":"x"}}`, "not a valid TokenRequest object", 400},
		{`{"spec":{"expirationSeconds":9000000000}}`, "spec.expirationSeconds: Invalid value: 9000000000: may not specify a duration larger than 2^32 seconds", 422},
		{`{"metadata":{"namespace":"kube-system"}}`, "the namespace of the provided object does not match the namespace sent on the request", 400},
		{`{"spec":{"audiences":[` + strings.Repeat(`"a",`, 100) + `"a"]}}`, "spec.audiences: Too many: 101: must have at most 64 items", 422},
		{strings.Repeat("[", 200), "nest", 400},
	} {
		code, body := post(p, "application/json", tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) || !strings.Contains(body, `"kind":"Status"`) {
			t.Errorf("POST %.40q: %d %s, want %d with %q", tc.body, code, body, tc.code, tc.want)
		}
	}
	if code, body := post(strings.Replace(p, "serviceaccounts", "secrets", 1), "application/json", `{}`); code != 404 {
		t.Errorf("secrets/NAME/token: %d %s", code, body)
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+p, nil)
	req.Header.Set("Authorization", "Bearer "+tokenEnvAdmin)
	if resp, err := e.srv.Client().Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET token: %v %v", resp, err)
	}
	// dryRun issues nothing.
	dr, err := e.admin.CoreV1().ServiceAccounts("default").CreateToken(ctx, "default", &authenticationv1.TokenRequest{}, metav1.CreateOptions{DryRun: []string{"All"}})
	if err != nil || dr.Status.Token != "" || *dr.Spec.ExpirationSeconds != 3600 {
		t.Errorf("dry run: %+v %v", dr, err)
	}
	// A kube-api-access token.
	pod, err := e.admin.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "wasmpod.local/x:1"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := e.admin.CoreV1().ServiceAccounts("default").CreateToken(ctx, "default", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: ptr.To[int64](3607), BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "p", UID: pod.UID}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := jwtPayload(t, tr.Status.Token)
	if exp, iat, warn := c["exp"].(float64), c["iat"].(float64), claimPath(c, "kubernetes.io", "warnafter"); exp-iat != 365*24*3600 || warn != iat+3607 {
		t.Errorf("extended token: exp-iat %v warnafter %v iat %v", exp-iat, warn, iat)
	}
	if got := tr.Status.ExpirationTimestamp.Sub(e.clk.Now().Truncate(time.Second)); got != 3607*time.Second {
		t.Errorf("status.expirationTimestamp is now+%v, want 3607s", got)
	}
}

// TestServiceAccountKeyFile: the key is created once, 0600, and read back;
// junk is refused.
func TestServiceAccountKeyFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pki", "sa.key")
	k1, err := LoadOrCreateServiceAccountKey(p)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	k2, err := LoadOrCreateServiceAccountKey(p)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("reloaded key differs: %v", err)
	}
	if err := os.WriteFile(p, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateServiceAccountKey(p); err == nil || !strings.Contains(err.Error(), "no PEM block") {
		t.Errorf("junk key: %v", err)
	}
	if _, err := LoadOrCreateServiceAccountKey(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory as key: %v", err)
	}
}

// TestTokenGoJoseCompat: tokens are upstream's format both ways. A token
// the server issues verifies with go-jose (upstream kube-apiserver's JWT
// library) and carries upstream's header and claims; a token go-jose signs
// with the server's key, as upstream's issuer does, authenticates, with
// go-jose's nbf/iat checks (one minute of leeway); a token naming an
// algorithm upstream does not accept is not ours.
func TestTokenGoJoseCompat(t *testing.T) {
	e := newTokenEnv(t)
	ctx := context.Background()
	iss, err := e.s.TokenIssuer()
	if err != nil {
		t.Fatal(err)
	}
	sa, err := e.admin.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := e.admin.CoreV1().ServiceAccounts("default").CreateToken(ctx, "default", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := josejwt.ParseSigned(tr.Status.Token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if h := parsed.Headers[0]; h.KeyID != iss.kid || h.ExtraHeaders["typ"] != "JWT" {
		t.Errorf("header: kid %q typ %v, want %q JWT", h.KeyID, h.ExtraHeaders["typ"], iss.kid)
	}
	var public josejwt.Claims
	var private struct {
		K8s struct {
			Namespace      string            `json:"namespace"`
			ServiceAccount map[string]string `json:"serviceaccount"`
		} `json:"kubernetes.io"`
	}
	if err := parsed.Claims(&iss.key.PublicKey, &public, &private); err != nil {
		t.Fatalf("go-jose cannot verify the server's token: %v", err)
	}
	if public.Issuer != DefaultServiceAccountIssuer || public.Subject != "system:serviceaccount:default:default" ||
		public.ID == "" || public.Expiry == nil || public.IssuedAt == nil || public.NotBefore == nil ||
		private.K8s.Namespace != "default" || private.K8s.ServiceAccount["uid"] != string(sa.UID) {
		t.Errorf("claims: %+v %+v", public, private)
	}
	if aud := claimPath(jwtPayload(t, tr.Status.Token), "aud"); fmt.Sprint(aud) != "["+DefaultServiceAccountIssuer+"]" {
		t.Errorf("aud %#v, want a list", aud)
	}

	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: iss.key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	now := e.clk.Now()
	upstream := func(nbf, iat time.Time) string {
		t.Helper()
		tok, err := josejwt.Signed(signer).Claims(josejwt.Claims{
			Issuer: DefaultServiceAccountIssuer, Subject: "system:serviceaccount:default:default",
			Audience: josejwt.Audience{DefaultServiceAccountIssuer}, ID: "abc",
			Expiry: josejwt.NewNumericDate(now.Add(time.Hour)), NotBefore: josejwt.NewNumericDate(nbf), IssuedAt: josejwt.NewNumericDate(iat),
		}).Claims(map[string]any{"kubernetes.io": map[string]any{"namespace": "default",
			"serviceaccount": map[string]string{"name": "default", "uid": string(sa.UID)}}}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if st := e.review(t, upstream(now, now)); !st.Authenticated || st.User.Username != "system:serviceaccount:default:default" {
		t.Errorf("go-jose's token: %+v", st)
	}
	if st := e.review(t, upstream(now.Add(50*time.Second), now)); !st.Authenticated {
		t.Errorf("nbf within the leeway: %+v", st)
	}
	if st := e.review(t, upstream(now.Add(2*time.Minute), now)); st.Authenticated || st.Error != "service account token is not valid yet" {
		t.Errorf("nbf in the future: %+v", st)
	}
	if st := e.review(t, upstream(now, now.Add(2*time.Minute))); st.Authenticated || st.Error != "service account token is issued in the future" {
		t.Errorf("iat in the future: %+v", st)
	}

	hs, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hsTok, err := josejwt.Signed(hs).Claims(josejwt.Claims{Issuer: DefaultServiceAccountIssuer, Subject: "system:serviceaccount:default:default"}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	if st := e.review(t, hsTok); st.Authenticated || st.Error != "[invalid bearer token, token lookup failed]" {
		t.Errorf("HS256 token: %+v", st)
	}
}
