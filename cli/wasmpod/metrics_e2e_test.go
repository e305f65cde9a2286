package main

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/metrics/promtest"
	"github.com/wasmpod/wasmpod/internal/testkubectl"
)

// TestServeMetricsAndTop: `wasmpod serve --listen` serves /metrics over
// HTTPS to its admin token (401 without one, 401 with a wrong one) with
// the API server's, the scheduler's and the controllers' families, and
// `kubectl top nodes` and `wasmpod top nodes` work with KUBECONFIG alone.
func TestServeMetricsAndTop(t *testing.T) {
	t.Parallel()
	dir, addr := t.TempDir(), freeAddr(t)
	serve(t, dir, "--listen", addr)
	tok, err := os.ReadFile(filepath.Join(dir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("pki/ca.crt holds no certificate")
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	url := "https://" + addr + "/metrics"
	if code, body := promtest.Scrape(t, hc, url, ""); code != 401 {
		t.Errorf("/metrics without a token: %d %s", code, body)
	}
	if code, body := promtest.Scrape(t, hc, url, "not-the-token-0123456789"); code != 401 {
		t.Errorf("/metrics with a wrong token: %d %s", code, body)
	}
	code, body := promtest.Scrape(t, hc, url, strings.TrimSpace(string(tok)))
	if code != 200 {
		t.Fatalf("/metrics with the token: %d %s", code, body)
	}
	fams := promtest.Parse(t, body)
	for _, name := range []string{"apiserver_request_total", "apiserver_request_duration_seconds", "scheduler_pending_pods", "workqueue_adds_total"} {
		if _, ok := fams.Value(name, nil); !ok {
			t.Errorf("/metrics has no %s", name)
		}
	}
	// The node's registration and leases went through the API server.
	if v, _ := fams.Value("apiserver_request_total", map[string]string{"resource": "nodes", "verb": "POST", "code": "201"}); v < 1 {
		t.Errorf("apiserver_request_total{POST nodes 201} = %v, want the node's registration", v)
	}

	env := cleanEnv(t, filepath.Join(dir, "kubeconfig"))
	row := regexp.MustCompile(`(?m)^NAME\s+CPU\(cores\)\s+CPU\(%\)\s+MEMORY\(bytes\)\s+MEMORY\(%\)\s*\n\S+\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%\s*$`)
	for _, bin := range []string{testkubectl.Path(t), binPath} {
		if out := mustClient(t, env, bin, "top", "nodes"); !row.MatchString(out) {
			t.Errorf("%s top nodes:\n%s", filepath.Base(bin), out)
		}
	}
}
