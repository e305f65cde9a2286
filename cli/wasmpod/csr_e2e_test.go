package main

// certificates.k8s.io under the real kubectl (issue 15): a joined agent
// gets its kubelet serving certificate from the cluster CA through a
// kubelet-serving CertificateSigningRequest that serve approves and signs
// on its own, and serve verifies it (logs reach the agent's pod; an agent
// serving a self-signed certificate is refused); a client certificate
// request of a user waits Pending until `kubectl certificate approve`,
// is then Issued, and authenticates its user.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

func TestCSRServingCertsAndKubectlApprove(t *testing.T) {
	t.Parallel()
	dir, addr := t.TempDir(), freeAddr(t)
	s := serveControlPlane(t, dir, addr)
	kc := filepath.Join(dir, "kubeconfig")
	caPEM, err := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	join := strings.Fields(mustClient(t, cleanEnv(t, kc), binPath, "token", "create", "--print-join-command"))
	agentDir := filepath.Join(t.TempDir(), "csr-1")
	agentArgs := append(join[1:], "--node-name", "csr-1", "--data-dir", agentDir,
		"--cache-dir", cacheDir, "--kubelet-port", "0", "--address", "127.0.0.1", "--heartbeat-interval", "1s")
	a := start(t, "", agentArgs...)
	a.waitFor(`node csr-1: kubelet serving certificate from the cluster CA`, time.Minute)
	n := waitNode(t, s.client, "csr-1", "Ready", func(n *corev1.Node) bool { return nodeReady(n) == corev1.ConditionTrue })

	// The kubelet API serves a certificate the cluster CA verifies for the
	// node's IP and name.
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", n.Status.DaemonEndpoints.KubeletEndpoint.Port), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("the kubelet API's certificate against the cluster CA: %v", err)
	}
	leaf := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	if leaf.Subject.CommonName != "system:node:csr-1" || leaf.VerifyHostname("csr-1") != nil {
		t.Errorf("the serving certificate: subject %v, DNS names %v", leaf.Subject, leaf.DNSNames)
	}
	k := newKubectlUser(t, kc)
	out := k.must(t, "get", "csr")
	if !strings.Contains(out, "kubernetes.io/kubelet-serving") || !strings.Contains(out, "system:node:csr-1") || !strings.Contains(out, "Approved,Issued") {
		t.Errorf("kubectl get csr:\n%s", out)
	}
	// serve verifies it: logs through serve reach the agent.
	if o, errOut, code := k.run(t, "run", "hi", "--image=busybox", "--restart=Never", "--overrides",
		`{"spec":{"nodeSelector":{"kubernetes.io/hostname":"csr-1"}}}`, "--", "sh", "-c", "echo verified; sleep 3600"); code != 0 {
		t.Fatalf("kubectl run: exit %d\n%s%s", code, o, errOut)
	}
	var logs string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && logs != "verified\n"; time.Sleep(200 * time.Millisecond) {
		logs, _, _ = k.run(t, "logs", "hi")
	}
	if logs != "verified\n" {
		t.Errorf("kubectl logs through serve: %q\nagent:\n%s", logs, a.stderr)
	}

	// An agent serving a certificate the cluster CA did not sign is refused.
	certPEM, keyPEM, err := cert.GenerateSelfSignedCertKey("self-1", []net.IP{net.ParseIP("127.0.0.1")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(t.TempDir(), "kubelet.crt"), filepath.Join(t.TempDir(), "kubelet.key")
	if os.WriteFile(certFile, certPEM, 0o600) != nil || os.WriteFile(keyFile, keyPEM, 0o600) != nil {
		t.Fatal("writing the kubelet certificate")
	}
	start(t, "", append(join[1:], "--node-name", "self-1", "--data-dir", filepath.Join(t.TempDir(), "self-1"), "--cache-dir", cacheDir,
		"--kubelet-port", "0", "--address", "127.0.0.1", "--heartbeat-interval", "1s", "--tls-cert-file", certFile, "--tls-private-key-file", keyFile)...)
	waitNode(t, s.client, "self-1", "Ready", func(n *corev1.Node) bool { return nodeReady(n) == corev1.ConditionTrue })
	if o, errOut, code := k.run(t, "get", "--raw", "/api/v1/nodes/self-1/proxy/healthz"); code == 0 || !strings.Contains(errOut, "certificate") {
		t.Errorf("nodes/self-1/proxy with a self-signed kubelet certificate: exit %d, %q %q", code, o, errOut)
	}
	if o := k.must(t, "get", "--raw", "/api/v1/nodes/csr-1/proxy/healthz"); o != "ok" {
		t.Errorf("nodes/csr-1/proxy/healthz: %q", o)
	}

	// The agent keeps its certificates in <data-dir>/pki (0600), and,
	// restarted, serves the same serving certificate without a new request.
	for _, f := range []string{"kubelet-client-current.pem", "kubelet-server-current.pem"} {
		if fi, err := os.Stat(filepath.Join(agentDir, "pki", f)); err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("the agent's %s: %v %v", f, err, fi)
		}
	}
	a.interrupt(0)
	a = start(t, "", agentArgs...)
	a.waitFor(`node csr-1: kubelet serving certificate from the cluster CA`, time.Minute)
	var healthz string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && healthz != "ok"; time.Sleep(200 * time.Millisecond) {
		healthz, _, _ = k.run(t, "get", "--raw", "/api/v1/nodes/csr-1/proxy/healthz")
	}
	if healthz != "ok" {
		t.Errorf("nodes/csr-1/proxy/healthz after the agent's restart: %q\n%s", healthz, a.stderr)
	}
	serving := 0
	for _, l := range strings.Split(k.must(t, "get", "csr"), "\n") {
		if strings.Contains(l, "kubernetes.io/kubelet-serving") && strings.Contains(l, "system:node:csr-1") {
			serving++
		}
	}
	if serving != 1 {
		t.Errorf("%d kubelet-serving CSRs of csr-1 after its restart, want 1 (the kept certificate)", serving)
	}

	// A user's client certificate: Pending until kubectl approves it.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "jane", Organization: []string{"devs"}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	req := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	manifest := `apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata: {name: jane}
spec:
  request: ` + req + `
  signerName: kubernetes.io/kube-apiserver-client
  expirationSeconds: 86400
  usages: [client auth]
`
	if o, errOut, code := runClientStdin(t, k, manifest, "create", "-f", "-"); code != 0 {
		t.Fatalf("kubectl create csr: exit %d\n%s%s", code, o, errOut)
	}
	out = k.must(t, "get", "csr", "jane")
	if !strings.Contains(out, "Pending") || !strings.Contains(out, "24h") {
		t.Errorf("kubectl get csr jane before approval:\n%s", out)
	}
	if o := k.must(t, "certificate", "approve", "jane"); !strings.Contains(o, "approved") {
		t.Errorf("kubectl certificate approve: %q", o)
	}
	var issued string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && issued == ""; time.Sleep(100 * time.Millisecond) {
		issued = k.must(t, "get", "csr", "jane", "-o", "jsonpath={.status.certificate}")
	}
	if out := k.must(t, "get", "csr", "jane"); !strings.Contains(out, "Approved,Issued") {
		t.Errorf("kubectl get csr jane after approval:\n%s", out)
	}
	certDER, err := base64.StdEncoding.DecodeString(issued)
	if err != nil {
		t.Fatalf("status.certificate %q: %v", issued, err)
	}
	keyDER, _ := keyutil.MarshalPrivateKeyToPEM(key)
	cfg, err := clientcmd.LoadFromFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AuthInfos = map[string]*clientcmdapi.AuthInfo{"jane": {ClientCertificateData: certDER, ClientKeyData: keyDER}}
	for _, c := range cfg.Contexts {
		c.AuthInfo = "jane"
	}
	janeKC := filepath.Join(t.TempDir(), "jane")
	if err := clientcmd.WriteToFile(*cfg, janeKC); err != nil {
		t.Fatal(err)
	}
	if o := newKubectlUser(t, janeKC).must(t, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}"); o != `jane ["devs","system:authenticated"]` {
		t.Errorf("kubectl auth whoami with the issued certificate: %q", o)
	}
}

// clusterSignedServingCert is a serving certificate for name and ip
// signed by the cluster CA in serve's data dir.
func clusterSignedServingCert(t *testing.T, dir, name string, ip net.IP) (certPEM, keyPEM []byte) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "pki", "ca.crt"), filepath.Join(dir, "pki", "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, DNSNames: []string{name}, IPAddresses: []net.IP{ip}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, pair.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM
}
