package pods

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/metrics/promtest"
)

// TestKubeletMetricsEndpoint: the agent's /metrics on its kubelet API is
// authorized as the kubelet's (nodes/metrics: 401 without credentials, 403
// for a user without it, 200 for system:masters) and its exposition is
// clean, with no pods running on a fresh agent; two agents in one process
// keep their own registries.
func TestKubeletMetricsEndpoint(t *testing.T) {
	ca := newTestCA(t)
	a := NewAgent(AgentConfig{NodeName: "n1"})
	if NewAgent(AgentConfig{NodeName: "n2"}).Registry() == a.Registry() {
		t.Fatal("two agents share a registry")
	}
	tlsCfg, err := KubeletTLSConfig(ca.issue(t, "n1", nil, true), ca.pem)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(a.KubeletHandler(KubeletAPIConfig{}))
	srv.TLS = tlsCfg
	srv.StartTLS()
	defer srv.Close()
	client := func(cert *tls.Certificate) *http.Client {
		pool := x509.NewCertPool()
		pool.AddCert(ca.cert)
		cfg := &tls.Config{RootCAs: pool, ServerName: "localhost"}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
	}
	admin := ca.issue(t, "kube-apiserver-kubelet-client", []string{"system:masters"}, false)
	bob := ca.issue(t, "bob", []string{"devs"}, false)
	if code, body := promtest.Scrape(t, client(nil), srv.URL+"/metrics", ""); code != 401 {
		t.Errorf("/metrics without credentials: %d %s", code, body)
	}
	if code, body := promtest.Scrape(t, client(&bob), srv.URL+"/metrics", ""); code != 403 || !strings.Contains(body, "subresource=metrics") {
		t.Errorf("/metrics as bob: %d %s", code, body)
	}
	code, body := promtest.Scrape(t, client(&admin), srv.URL+"/metrics", "")
	if code != 200 {
		t.Fatalf("/metrics as admin: %d %s", code, body)
	}
	fams := promtest.Parse(t, body)
	for _, name := range []string{"kubelet_running_pods", "kubelet_started_pods_total"} {
		if v, ok := fams.Value(name, nil); !ok || v != 0 {
			t.Errorf("%s = %v (present %v) on an agent without pods, want 0", name, v, ok)
		}
	}
	if v, ok := fams.Value("kubelet_running_containers", map[string]string{"container_state": "running"}); !ok || v != 0 {
		t.Errorf("kubelet_running_containers{running} = %v (present %v), want 0", v, ok)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/metrics", nil)
	resp, err := client(&admin).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %d, want 405", resp.StatusCode)
	}
}
