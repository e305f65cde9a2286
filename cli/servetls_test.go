package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/store/memory"
)

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestServingPKIReusedAndRenewed: the CA is created once and reused; the
// serving certificate is reused while it names every host and is far from
// expiry, and re-signed by the same CA otherwise. Every file is 0600.
func TestServingPKIReusedAndRenewed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	now := time.Now()
	hosts := servingHosts("127.0.0.1")
	p1, err := loadOrCreatePKI(dir, hosts, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{caCertFile, caKeyFile, servingCertFile, servingKeyFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(p1.caPEM) {
		t.Fatal("caPEM holds no certificate")
	}
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		if _, err := p1.cert.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: h}); err != nil {
			t.Errorf("serving cert for %s: %v", h, err)
		}
	}
	if p1.cert.Leaf.IsCA || len(p1.cert.Leaf.ExtKeyUsage) != 1 || p1.cert.Leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("serving cert: IsCA %v, ExtKeyUsage %v", p1.cert.Leaf.IsCA, p1.cert.Leaf.ExtKeyUsage)
	}
	serving := readFile(t, filepath.Join(dir, servingCertFile))

	// A restart: everything reused.
	p2, err := loadOrCreatePKI(dir, hosts, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p2.caPEM, p1.caPEM) || !bytes.Equal(p2.cert.Certificate[0], p1.cert.Certificate[0]) {
		t.Error("restart with the same hosts: CA or serving certificate changed")
	}

	// A new listen host: same CA, a new serving certificate naming it.
	p3, err := loadOrCreatePKI(dir, servingHosts("10.1.2.3"), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p3.caPEM, p1.caPEM) {
		t.Error("new host: CA changed")
	}
	if bytes.Equal(readFile(t, filepath.Join(dir, servingCertFile)), serving) {
		t.Error("new host: serving certificate file not rewritten")
	}
	if _, err := p3.cert.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "10.1.2.3"}); err != nil {
		t.Errorf("new host: %v", err)
	}

	// Near expiry: renewed.
	late := p3.cert.Leaf.NotAfter.Add(-servingCertRenew / 2)
	p4, err := loadOrCreatePKI(dir, servingHosts("10.1.2.3"), late)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(p4.cert.Certificate[0], p3.cert.Certificate[0]) || !p4.cert.Leaf.NotAfter.After(late.Add(servingCertRenew)) {
		t.Errorf("near expiry: not renewed (NotAfter %v, now %v)", p4.cert.Leaf.NotAfter, late)
	}
	if !bytes.Equal(p4.caPEM, p1.caPEM) {
		t.Error("near expiry: CA changed")
	}
}

// TestWriteKubeconfigMerges: into a kubeconfig that exists, the wasmpod
// cluster, user and context are added and made current; others stay.
func TestWriteKubeconfigMerges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	other := clientcmdapi.NewConfig()
	other.Clusters["prod"] = &clientcmdapi.Cluster{Server: "https://prod.example:6443"}
	other.AuthInfos["prod"] = &clientcmdapi.AuthInfo{Token: "prod-token"}
	other.Contexts["prod"] = &clientcmdapi.Context{Cluster: "prod", AuthInfo: "prod"}
	other.CurrentContext = "prod"
	if err := clientcmd.WriteToFile(*other, path); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o644)
	if err := writeKubeconfig(path, "https://127.0.0.1:6443", []byte("CA"), "tok"); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentContext != "wasmpod" || cfg.Contexts["prod"] == nil || cfg.AuthInfos["prod"].Token != "prod-token" {
		t.Errorf("merged kubeconfig: current %q, contexts %v", cfg.CurrentContext, cfg.Contexts)
	}
	c := cfg.Contexts["wasmpod"]
	if c == nil || c.Namespace != "default" || cfg.Clusters[c.Cluster].Server != "https://127.0.0.1:6443" ||
		string(cfg.Clusters[c.Cluster].CertificateAuthorityData) != "CA" || cfg.AuthInfos[c.AuthInfo].Token != "tok" {
		t.Errorf("wasmpod context: %+v", c)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	// A file that is no kubeconfig is left alone.
	junk := filepath.Join(t.TempDir(), "notes")
	os.WriteFile(junk, []byte("\x00\x01 not yaml: ["), 0o600)
	if err := writeKubeconfig(junk, "https://x", nil, "tok"); err == nil || !strings.Contains(err.Error(), "not overwritten") {
		t.Errorf("junk file: %v", err)
	}
}

// TestServeRefusesPlainHTTPOffLoopback: --insecure-http-listen takes only
// loopback addresses, and says why, before anything is opened.
func TestServeRefusesPlainHTTPOffLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:8080", "[::]:0", "example.com:80"} {
		var stderr bytes.Buffer
		code := runServe(t, []string{"wasmpod", "serve", "--data-dir", t.TempDir(), "--insecure-http-listen", addr}, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "only on a loopback address") {
			t.Errorf("%s: exit %d, stderr %q", addr, code, stderr.String())
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:8080", "localhost:8080"} {
		if err := checkLoopbackListen(addr); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

// TestServeTLSCountsAuthenticatedConns: behind TLS, a connection whose
// request carried the token stops counting as unauthenticated, as on plain
// TCP, so a flood of idle TLS connections cannot evict it.
func TestServeTLSCountsAuthenticatedConns(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := apiserver.New(ctx, memory.New(), apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pki, err := loadOrCreatePKI(t.TempDir(), servingHosts("127.0.0.1"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const token = "tls-count-0123456789abcdef"
	ll := apiserver.LimitUnauthenticated(tl, 2)
	srv := apiserver.NewHTTPServer(s.Handler(apiserver.HandlerOptions{Token: token}), apiserver.ServingOptions{})
	go serveTLS(srv, ll, pki.tlsConfig())
	defer srv.Close()

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pki.caPEM)
	tlsCfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg, ForceAttemptHTTP2: true}}
	get := func() *http.Response {
		req, _ := http.NewRequest("GET", "https://"+tl.Addr().String()+"/api/v1/namespaces/default/pods", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return resp
	}
	if resp := get(); resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("not TLS 1.2+: %+v", resp.TLS)
	}
	if n := ll.(interface{ Unauthenticated() int }).Unauthenticated(); n != 0 {
		t.Fatalf("after an authenticated request over TLS, %d connection(s) still count as unauthenticated", n)
	}
	// Three idle TLS connections: the cap of 2 evicts the oldest idle one,
	// never the authenticated one.
	for range 3 {
		c, err := tls.Dial("tcp", tl.Addr().String(), tlsCfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	time.Sleep(100 * time.Millisecond)
	get()
}
