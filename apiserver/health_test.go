package apiserver

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// get sends GET path with an optional bearer token and returns the code
// and the body.
func rawGet(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHealthEndpoints: /healthz, /livez and /readyz answer as
// kube-apiserver's: "ok", the verbose list, exclusions, and the single
// checks; the root paths are public, single checks need the token, and a
// wrong token is refused everywhere.
func TestHealthEndpoints(t *testing.T) {
	const tok = "0123456789abcdefXYZ"
	e := newEnv(t, HandlerOptions{Token: tok})
	u := e.srv.URL
	for _, c := range []struct {
		path, token string
		code        int
		body        string
	}{
		{"/healthz", "", 200, "ok"},
		{"/livez", "", 200, "ok"},
		{"/readyz", tok, 200, "ok"},
		{"/readyz?verbose", "", 200, "[+]ping ok\n[+]store ok\nreadyz check passed\n"},
		{"/healthz?verbose=1", "", 200, "[+]ping ok\n[+]store ok\nhealthz check passed\n"},
		{"/livez?verbose&exclude=store&exclude=nope&exclude=etcd", "", 200,
			"[+]ping ok\n[+]store excluded: ok\nwarn: some health checks cannot be excluded: no matches for \"etcd\",\"nope\"\nlivez check passed\n"},
		{"/healthz", "wrong-token-0123456789", 401, `"reason":"Unauthorized"`},
		{"/version", "wrong-token-0123456789", 401, `"reason":"Unauthorized"`},
		{"/version", "", 200, `"gitVersion"`},
		{"/healthz/ping", "", 401, `"reason":"Unauthorized"`},
		{"/healthz/ping", tok, 200, "ok"},
		{"/readyz/store", tok, 200, "ok"},
		{"/livez/nope", tok, 404, `"reason":"NotFound"`},
		{"/api/v1/pods", "", 401, `"reason":"Unauthorized"`},
	} {
		code, body := rawGet(t, u+c.path, c.token)
		if code != c.code || (c.code == 200 && strings.HasPrefix(c.path, "/") && !strings.HasPrefix(c.path, "/version") && body != c.body) || !strings.Contains(body, c.body) {
			t.Errorf("GET %s (token %q): %d %q, want %d %q", c.path, c.token, code, body, c.code, c.body)
		}
	}

	// A store that no longer answers fails the checks; the public answer
	// withholds the reason, the single check gives it.
	e.s.store.Close()
	for _, c := range []struct {
		path, body string
	}{
		{"/readyz", "[+]ping ok\n[-]store failed: reason withheld\nreadyz check failed\n"},
		{"/healthz?verbose", "[+]ping ok\n[-]store failed: reason withheld\nhealthz check failed\n"},
		{"/livez?exclude=store", "ok"},
		{"/healthz/store", "internal server error: store closed\n"},
	} {
		code, body := rawGet(t, u+c.path, tok)
		want := 500
		if c.body == "ok" {
			want = 200
		}
		if code != want || body != c.body {
			t.Errorf("closed store: GET %s: %d %q, want %d %q", c.path, code, body, want, c.body)
		}
	}
}

// TestHealthRealKubectl: kubectl get --raw /readyz?verbose prints
// upstream's text.
func TestHealthRealKubectl(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	if got, want := k.run(t, "get", "--raw", "/readyz?verbose"), "[+]ping ok\n[+]store ok\nreadyz check passed\n"; got != want {
		t.Errorf("kubectl get --raw /readyz?verbose:\n%q\nwant\n%q", got, want)
	}
	if got := k.run(t, "get", "--raw", "/livez/ping"); got != "ok" {
		t.Errorf("kubectl get --raw /livez/ping: %q", got)
	}
}
