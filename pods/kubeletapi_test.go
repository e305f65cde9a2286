package pods

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// testCA is a CA that signs client certificates for the kubelet API tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a certificate for cn in groups, for client or server use.
func (ca *testCA) issue(t *testing.T, cn string, groups []string, server bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, Organization: groups},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestKubeletAPIAuthentication: the kubelet API over real TLS. A client
// certificate of the cluster CA in system:masters is served; one of
// another group is 403 (an agent without an API client cannot ask a
// SubjectAccessReview about it);
// none is 401, and a bearer token with no API server to review it too.
func TestKubeletAPIAuthentication(t *testing.T) {
	ca := newTestCA(t)
	a := NewAgent(AgentConfig{NodeName: "n1"})
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
	get := func(c *http.Client, path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		name        string
		c           *http.Client
		token, path string
		code        int
		body        string
	}{
		{"admin healthz", client(&admin), "", "/healthz", 200, "ok"},
		{"admin pods", client(&admin), "", "/pods", 200, `"kind":"PodList"`},
		{"admin logs of an unknown pod", client(&admin), "", "/containerLogs/default/nope/c", 404, `pods \"nope\" not found`},
		{"admin bad tailLines", client(&admin), "", "/containerLogs/default/nope/c?tailLines=-1", 400, "tailLines"},
		{"admin unknown path", client(&admin), "", "/configz", 404, ""},
		{"bob", client(&bob), "", "/pods", 403, "Forbidden (user=bob, verb=get, resource=nodes, subresource=proxy)"},
		{"bob stats", client(&bob), "", "/stats/summary", 403, "subresource=stats"},
		{"nobody", client(nil), "", "/healthz", 401, "Unauthorized"},
		{"a token without an API server", client(nil), "0123456789abcdef", "/healthz", 401, "Unauthorized"},
	} {
		if code, body := get(tc.c, tc.path, tc.token); code != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("%s: %d %q, want %d with %q", tc.name, code, body, tc.code, tc.body)
		}
	}
	// A certificate of another CA does not get through the handshake.
	other := newTestCA(t).issue(t, "mallory", []string{"system:masters"}, false)
	if _, err := client(&other).Get(srv.URL + "/pods"); err == nil {
		t.Error("a client certificate of another CA was accepted")
	}
}
