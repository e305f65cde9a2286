package bootstrap

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/nodeagent/certstore"
	"github.com/wasmpod/wasmpod/store/memory"
)

// TestJWSMatchesUpstream: cluster-info's signatures are
// k8s.io/cluster-bootstrap/token/jws's (its test vectors), so kubeadm's
// discovery would accept ours and ours kubeadm's.
func TestJWSMatchesUpstream(t *testing.T) {
	const content, secret, id = "Hello from the other side. I must have called a thousand times.", "my voice is my passcode", "joshua"
	for _, c := range []struct{ content, secret, want string }{
		{content, secret, "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..VShe2taLd-YTrmWuRkcL_8QTNDHYxQIEBsAYYiIj1_8"},
		{"", secret, "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..7Ui1ALizW4jXphVUB7xUqC9vLYLL9RZeOFfVLoB7Tgk"},
		{content, "", "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..UfkqvDGiIFxrMnFseDj9LYJOLNrvjW8aHhF71mvvAs8"},
	} {
		if got := detachedSignature(c.content, id, c.secret); got != c.want {
			t.Errorf("signature of %q with %q: %s, want %s", c.content, c.secret, got, c.want)
		}
		if !detachedSignatureValid(c.want, c.content, id, c.secret) || detachedSignatureValid(c.want, c.content+"x", id, c.secret) {
			t.Errorf("validity of %q with %q is wrong", c.content, c.secret)
		}
	}
}

const adminToken = "bootstrap-test-admin-token-0123456789"

type cluster struct {
	admin  *rest.Config
	cs     kubernetes.Interface
	clock  *clocktesting.FakeClock
	url    string
	caPEM  []byte
	caHash string
}

// newCluster serves an API server over TLS that asks for client
// certificates, with a cluster CA, as `serve --listen`.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca, err := cert.NewSelfSignedCACert(cert.Config{CommonName: "wasmpod-ca"}, caKey)
	if err != nil {
		t.Fatal(err)
	}
	// The fake clock starts after the CA's NotBefore (whole seconds, of
	// the real clock): made before it, across a second's tick, the server
	// saw the CA as not yet valid and refused the node's certificate.
	clk := clocktesting.NewFakeClock(time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	st := memory.New()
	t.Cleanup(func() { cancel(); st.Close() })
	s, err := apiserver.New(ctx, st, apiserver.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := cert.EncodeCertificates(ca)
	caKeyPEM, _ := keyutil.MarshalPrivateKeyToPEM(caKey)
	if err := s.SetClusterCA(caPEM, caKeyPEM); err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "apiserver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(s.Handler(apiserver.HandlerOptions{Token: adminToken}))
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, ClientAuth: tls.RequestClientCert}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	admin := &rest.Config{Host: ts.URL, BearerToken: adminToken, TLSClientConfig: rest.TLSClientConfig{CAData: caPEM}}
	cs, err := kubernetes.NewForConfig(admin)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := CACertHash(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{admin: admin, cs: cs, clock: clk, url: ts.URL, caPEM: caPEM, caHash: hash}
}

// TestJoinWithToken: a token from CreateToken bootstraps a node (CA pinned
// by the token's signature and by hash), whose credential may act as its
// own node and nothing more.
func TestJoinWithToken(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	tok, err := CreateToken(ctx, c.admin, TokenOptions{Description: "edge fleet", Now: c.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[a-z0-9]{6}\.[a-z0-9]{16}$`).MatchString(tok) {
		t.Fatalf("token %q is not in kubeadm's format", tok)
	}
	id, _, _ := strings.Cut(tok, ".")
	sec, err := c.cs.CoreV1().Secrets("kube-system").Get(ctx, "bootstrap-token-"+id, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	exp, err := time.Parse(time.RFC3339, string(sec.Data["expiration"]))
	if sec.Type != bootstrapapi.SecretTypeBootstrapToken || string(sec.Data["usage-bootstrap-authentication"]) != "true" || err != nil ||
		exp.Sub(c.clock.Now()) < 23*time.Hour || exp.Sub(c.clock.Now()) > DefaultTTL || string(sec.Data["description"]) != "edge fleet" {
		t.Errorf("the token's Secret: type %s, data %q", sec.Type, sec.Data)
	}

	cred, err := Bootstrap(ctx, Options{Server: c.url, Token: tok, NodeName: "edge-1", CACertHashes: []string{c.caHash}})
	if err != nil {
		t.Fatal(err)
	}
	if string(cred.CAPEM) != string(c.caPEM) {
		t.Error("the pinned CA is not the cluster's")
	}
	leaf, _ := cert.ParseCertsPEM(cred.CertPEM)
	if s := leaf[0].Subject; s.CommonName != "system:node:edge-1" || len(s.Organization) != 1 || s.Organization[0] != "system:nodes" {
		t.Errorf("the node credential's subject: %v", s)
	}
	if _, err := Bootstrap(ctx, Options{Server: c.url, Token: tok, NodeName: "edge-2"}); err != nil {
		t.Errorf("without a pinned hash (trusting the token's signature): %v", err)
	}

	// The credential is the node's user: its own Node and Lease, not others'.
	kc, err := cred.Kubeconfig("edge-1")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	node, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	review, err := node.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil || review.Status.UserInfo.Username != "system:node:edge-1" {
		t.Fatalf("whoami with the node credential: %v, %v", review, err)
	}
	for _, n := range []string{"edge-1", "other"} {
		if _, err := c.cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	own, err := node.CoreV1().Nodes().Get(ctx, "edge-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	own.Status.Phase = corev1.NodeRunning
	if _, err := node.CoreV1().Nodes().UpdateStatus(ctx, own, metav1.UpdateOptions{}); err != nil {
		t.Errorf("the node updating its own status: %v", err)
	}
	other, _ := node.CoreV1().Nodes().Get(ctx, "other", metav1.GetOptions{})
	if _, err := node.CoreV1().Nodes().UpdateStatus(ctx, other, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("edge-1 updating node other's status: %v, want 403", err)
	}
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "edge-1", Namespace: "kube-node-lease"}}
	if lease, err = node.CoordinationV1().Leases("kube-node-lease").Create(ctx, lease, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := node.CoordinationV1().Leases("kube-node-lease").Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		t.Errorf("renewing its own Lease: %v", err)
	}
	if err := node.CoordinationV1().Leases("kube-node-lease").Delete(ctx, "other", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("deleting another node's Lease: %v, want 403", err)
	}
	// Secrets: only those of its pods.
	for _, name := range []string{"mine", "theirs"} {
		if _, err := c.cs.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}, Spec: corev1.PodSpec{NodeName: "edge-1",
		Containers: []corev1.Container{{Name: "c", Image: "x.wasm", EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "mine"}}}}}}}}
	if _, err := c.cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := node.CoreV1().Secrets("default").Get(ctx, "mine", metav1.GetOptions{}); err != nil {
		t.Errorf("a secret of its pod: %v", err)
	}
	if _, err := node.CoreV1().Secrets("default").Get(ctx, "theirs", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("a secret of no pod of its: %v, want 403", err)
	}
	if _, err := node.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing secrets: %v, want 403", err)
	}
	// Its reverse tunnel: its own, not another node's.
	if _, err := apiserver.DialTunnel(ctx, cfg, "other"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("edge-1 opening node other's tunnel: %v, want 403", err)
	}
	// The bootstrap token itself only joins.
	tokCfg := &rest.Config{Host: c.url, BearerToken: tok, TLSClientConfig: rest.TLSClientConfig{CAData: c.caPEM}}
	tcs, _ := kubernetes.NewForConfig(tokCfg)
	if _, err := tcs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("the bootstrap token listing pods: %v, want 403", err)
	}
}

// TestJoinErrors: a malformed, unknown, wrong or expired token and a CA
// that matches no pin each fail with an error that says so.
func TestJoinErrors(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	if _, err := Bootstrap(ctx, Options{Server: c.url, Token: "abcdef.0123456789abcdef", NodeName: "n"}); err == nil || !strings.Contains(err.Error(), "no token was created yet") {
		t.Errorf("before any token: %v", err)
	}
	tok, err := CreateToken(ctx, c.admin, TokenOptions{TTL: time.Hour, Now: c.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	id, secret, _ := strings.Cut(tok, ".")
	wrongSecret := id + "." + strings.Repeat("z", 16)
	if secret == strings.Repeat("z", 16) {
		wrongSecret = id + "." + strings.Repeat("y", 16)
	}
	for _, c2 := range []struct {
		name string
		o    Options
		want string
	}{
		{"malformed token", Options{Token: "not-a-token"}, "--token: not a bootstrap token"},
		{"unknown token", Options{Token: "zzzzzz.0123456789abcdef"}, `does not know token ID "zzzzzz"`},
		{"wrong secret", Options{Token: wrongSecret}, "does not match the token's secret"},
		{"CA mismatch", Options{Token: tok, CACertHashes: []string{"sha256:" + strings.Repeat("ab", 32)}}, "--discovery-token-ca-cert-hash: the cluster CA's hash is " + c.caHash + ", which matches none"},
		{"bad pin", Options{Token: tok, CACertHashes: []string{"md5:abc"}}, "the format is sha256:<64 hex digits>"},
		{"no node name", Options{Token: tok, NodeName: "-"}, "node name"},
		{"http", Options{Token: tok, Server: "http://127.0.0.1:1"}, "https:// URL is required"},
	} {
		o := c2.o
		if o.Server == "" {
			o.Server = c.url
		}
		if o.NodeName == "" {
			o.NodeName = "n"
		}
		if _, err := Bootstrap(ctx, o); err == nil || !strings.Contains(err.Error(), c2.want) {
			t.Errorf("%s: %v, want an error containing %q", c2.name, err, c2.want)
		}
	}
	c.clock.Step(2 * time.Hour)
	if _, err := Bootstrap(ctx, Options{Server: c.url, Token: tok, NodeName: "n"}); err == nil || !strings.Contains(err.Error(), "refused the token (401): it is wrong, expired or deleted") {
		t.Errorf("expired token: %v", err)
	}
	if _, err := CreateToken(ctx, c.admin, TokenOptions{Now: c.clock.Now}); err != nil {
		t.Fatal(err)
	}
	cm, err := c.cs.CoreV1().ConfigMaps("kube-public").Get(ctx, "cluster-info", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cm.Data["jws-kubeconfig-"+id]; ok {
		t.Error("the expired token's signature is still in cluster-info")
	}
}

// TestLoadOrBootstrap: the first start trades the token for a credential
// kept as a 0600 kubeconfig; the next start reads it and needs no valid
// token (this one has expired meanwhile).
func TestLoadOrBootstrap(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	tok, err := CreateToken(ctx, c.admin, TokenOptions{TTL: time.Hour, Now: c.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "agent", "kubeconfig")
	o := Options{Server: c.url, Token: tok, NodeName: "edge-1", CACertHashes: []string{c.caHash}}
	whoami := func(cfg *rest.Config) string {
		t.Helper()
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		r, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status.UserInfo.Username
	}
	cfg, err := LoadOrBootstrap(ctx, path, o)
	if err != nil {
		t.Fatal(err)
	}
	if u := whoami(cfg); u != "system:node:edge-1" {
		t.Errorf("first start: %s", u)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the kept credential: %v, %v", st, err)
	}
	c.clock.Step(2 * time.Hour)
	cfg, err = LoadOrBootstrap(ctx, path, o)
	if err != nil {
		t.Fatal(err)
	}
	if u := whoami(cfg); u != "system:node:edge-1" {
		t.Errorf("restart: %s", u)
	}
	if _, err := LoadOrBootstrap(ctx, filepath.Join(t.TempDir(), "k"), o); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("a new node with the expired token: %v", err)
	}
}

// TestListAndDeleteTokens: a deleted token no longer authenticates nor
// signs cluster-info; an expired one is listed as such.
func TestListAndDeleteTokens(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	a, err := CreateToken(ctx, c.admin, TokenOptions{TTL: time.Hour, Description: "a", Now: c.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	b, err := CreateToken(ctx, c.admin, TokenOptions{TTL: 3 * time.Hour, Now: c.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	c.clock.Step(2 * time.Hour)
	list, err := ListTokens(ctx, c.admin, c.clock.Now())
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %+v, %v", list, err)
	}
	for _, ti := range list {
		tok := map[bool]string{true: a, false: b}[ti.Description == "a"]
		if !strings.HasPrefix(tok, ti.ID+".") || ti.Expired != (tok == a) || len(ti.Usages) != 2 || len(ti.Groups) != 2 || ti.Groups[0] != "system:bootstrappers" || ti.Groups[1] != ExtraGroup {
			t.Errorf("listed %+v for token %s", ti, tok)
		}
	}
	if err := DeleteToken(ctx, c.admin, b, c.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := Bootstrap(ctx, Options{Server: c.url, Token: b, NodeName: "n"}); err == nil || !strings.Contains(err.Error(), "does not know token ID") {
		t.Errorf("joining with a deleted token: %v", err)
	}
	if err := DeleteToken(ctx, c.admin, b, c.clock.Now()); err == nil || !strings.Contains(err.Error(), "no such bootstrap token") {
		t.Errorf("deleting it again: %v", err)
	}
	if err := DeleteToken(ctx, c.admin, "NOPE", c.clock.Now()); err == nil || !strings.Contains(err.Error(), "not a bootstrap token ID") {
		t.Errorf("deleting a malformed ID: %v", err)
	}
}

// The join's paths and the node's user, named in this package so that the
// agent links no part of the API server, are the API server's.
func TestBootstrapPathsMatchAPIServer(t *testing.T) {
	for _, c := range []struct{ name, got, want string }{
		{"cluster-info path", clusterInfoPath, apiserver.ClusterInfoPath},
		{"node credential path", nodeCredentialPath, apiserver.NodeCredentialPath},
		{"nodes group", groupNodes, apiserver.GroupNodes},
		{"node user prefix", nodeUserPrefix, apiserver.NodeUserPrefix},
	} {
		if c.got != c.want {
			t.Errorf("%s: bootstrap has %q, apiserver %q", c.name, c.got, c.want)
		}
	}
}

// kubeconfigUser is the user of the kubeconfig at path.
func kubeconfigUser(t *testing.T, path string) *clientcmdapi.AuthInfo {
	t.Helper()
	kc, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return kc.AuthInfos[kc.Contexts[kc.CurrentContext].AuthInfo]
}

// leafOfFile is the leaf of a PEM pair file.
func leafOfFile(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	c, err := certstore.LoadPair(path, path)
	if err != nil {
		t.Fatal(err)
	}
	return c.Leaf
}

// TestLoadOrBootstrapNamesCertDir: the joined credential's kubeconfig
// names <cert-dir>/kubelet-client-current.pem (no embedded data), as the
// kubelet's bootstrap writes it, so a pair renewed there is the
// kubeconfig's at the next start; an old kubeconfig with the pair
// embedded still works, and once its certificate expired, the cert dir's
// renewed one takes its place (the kubeconfig is rewritten to name it).
func TestLoadOrBootstrapNamesCertDir(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	tok, err := CreateToken(ctx, c.admin, TokenOptions{TTL: 800 * 24 * time.Hour, Now: c.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "kubeconfig")
	certDir := filepath.Join(dir, "pki")
	cur := filepath.Join(certDir, "kubelet-client-current.pem")
	o := Options{Server: c.url, Token: tok, NodeName: "edge-2", CACertHashes: []string{c.caHash}, Now: c.clock.Now}
	cfg, err := LoadOrBootstrap(ctx, path, o)
	if err != nil {
		t.Fatal(err)
	}
	if u := whoamiOf(t, cfg); u != "system:node:edge-2" {
		t.Errorf("first start: %s", u)
	}
	u := kubeconfigUser(t, path)
	if u.ClientCertificate != cur || u.ClientKey != cur || len(u.ClientCertificateData) > 0 || len(u.ClientKeyData) > 0 {
		t.Fatalf("the kubeconfig's user: cert %q key %q, %d bytes embedded; want %s for both, none embedded", u.ClientCertificate, u.ClientKey, len(u.ClientCertificateData), cur)
	}
	if fi, err := os.Lstat(cur); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("%s: %v, want a link to the pair (certstore)", cur, err)
	}
	first := leafOfFile(t, cur)
	// A renewal (as the agent's rotation does) puts a new pair there.
	c.clock.Step(time.Hour)
	cred, err := Bootstrap(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := certstore.StorePEM(certDir, certstore.ClientPrefix, append(cred.CertPEM, cred.KeyPEM...), c.clock.Now()); err != nil {
		t.Fatal(err)
	}
	o.Token = "" // a restart
	cfg, err = LoadOrBootstrap(ctx, path, o)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil || !bytes.Equal(got.Certificate[0], mustLeafDER(t, cred.CertPEM)) {
		t.Fatalf("the restart's certificate is not the renewed one: %v", err)
	}
	if u := whoamiOf(t, cfg); u != "system:node:edge-2" {
		t.Errorf("restart: %s", u)
	}

	// A kubeconfig written before (the pair embedded) still works.
	if err := os.WriteFile(path, mustKubeconfig(t, cred, "edge-2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err = LoadOrBootstrap(ctx, path, o); err != nil || len(cfg.CertData) == 0 {
		t.Fatalf("an embedded kubeconfig: %v", err)
	}
	if u := whoamiOf(t, cfg); u != "system:node:edge-2" {
		t.Errorf("an embedded kubeconfig: %s", u)
	}
	// Its certificate expired, the cert dir holds a valid renewed one:
	// the kubeconfig names it from now on.
	old, err := Bootstrap(ctx, Options{Server: c.url, Token: tok, NodeName: "edge-2", CACertHashes: []string{c.caHash}, Now: c.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, mustKubeconfig(t, old, "edge-2"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.clock.Step(time.Hour)
	renewed, err := Bootstrap(ctx, Options{Server: c.url, Token: tok, NodeName: "edge-2", CACertHashes: []string{c.caHash}, Now: c.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := certstore.StorePEM(certDir, certstore.ClientPrefix, append(renewed.CertPEM, renewed.KeyPEM...), c.clock.Now()); err != nil {
		t.Fatal(err)
	}
	oldLeaf, _ := x509.ParseCertificate(mustLeafDER(t, old.CertPEM))
	at := oldLeaf.NotAfter.Add(time.Second)
	o.Now = func() time.Time { return at }
	if cfg, err = LoadOrBootstrap(ctx, path, o); err != nil {
		t.Fatalf("an expired embedded kubeconfig beside a valid renewed pair: %v", err)
	}
	if u := kubeconfigUser(t, path); u.ClientCertificate != cur || len(u.ClientCertificateData) > 0 || cfg.CertFile != cur {
		t.Errorf("the expired embedded kubeconfig was not rewritten to name %s: %+v", cur, u)
	}
	if !leafOfFile(t, cur).Equal(mustParse(t, renewed.CertPEM)) || leafOfFile(t, cur).Equal(first) {
		t.Error("the cert dir's pair is not the renewed one")
	}
}

// TestLoadOrBootstrapJoinsAgainWhenExpired: a kept credential whose
// certificate expired (or whose certificate file is gone) is replaced by
// joining again when a token is given, as the kubelet bootstraps again
// with --bootstrap-kubeconfig; without a token, the error names the file
// and the expiry.
func TestLoadOrBootstrapJoinsAgainWhenExpired(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	tok, err := CreateToken(ctx, c.admin, TokenOptions{TTL: 800 * 24 * time.Hour, Now: c.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "kubeconfig")
	cur := filepath.Join(dir, "pki", "kubelet-client-current.pem")
	var notes []string
	o := Options{Server: c.url, Token: tok, NodeName: "edge-3", CACertHashes: []string{c.caHash}, Now: c.clock.Now,
		Logf: func(f string, a ...any) { notes = append(notes, fmt.Sprintf(f, a...)) }}
	if _, err := LoadOrBootstrap(ctx, path, o); err != nil {
		t.Fatal(err)
	}
	first := leafOfFile(t, cur)
	c.clock.SetTime(first.NotAfter.Add(time.Minute)) // the server's clock too: the certificate is refused there
	noToken := o
	noToken.Token = ""
	_, err = LoadOrBootstrap(ctx, path, noToken)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), cur) ||
		!strings.Contains(err.Error(), "expired at "+first.NotAfter.UTC().Format(time.RFC3339)) || !strings.Contains(err.Error(), "--token") {
		t.Fatalf("an expired credential without a token: %v, want the kubeconfig, the certificate file, the expiry and --token named", err)
	}
	cfg, err := LoadOrBootstrap(ctx, path, o)
	if err != nil {
		t.Fatalf("an expired credential with a token: %v", err)
	}
	second := leafOfFile(t, cur)
	if !second.NotAfter.After(c.clock.Now()) || second.Equal(first) {
		t.Fatalf("joined again: valid until %s, clock at %s", second.NotAfter, c.clock.Now())
	}
	if u := whoamiOf(t, cfg); u != "system:node:edge-3" {
		t.Errorf("joined again: %s", u)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "expired") || !strings.Contains(notes[0], "joining again") {
		t.Errorf("notes: %q", notes)
	}
	// The certificate file is gone (a wiped cert dir).
	if err := os.RemoveAll(filepath.Dir(cur)); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrBootstrap(ctx, path, noToken); err == nil || !strings.Contains(err.Error(), cur) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing certificate file without a token: %v", err)
	}
	if cfg, err = LoadOrBootstrap(ctx, path, o); err != nil {
		t.Fatalf("a missing certificate file with a token: %v", err)
	}
	if u := whoamiOf(t, cfg); u != "system:node:edge-3" {
		t.Errorf("joined again after the loss: %s", u)
	}
}

// TestLoadOrBootstrapHostileCertFile: a kept kubeconfig whose certificate
// file is a link out of the cert dir, a device, a FIFO, a directory, too
// large, or garbage is refused with an error naming the file, without a
// hang, and without joining again (a token is given; no server runs).
func TestLoadOrBootstrapHostileCertFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kubeconfig")
	certDir := filepath.Join(dir, "pki")
	cur := filepath.Join(certDir, "kubelet-client-current.pem")
	ca := newTestPair(t)
	cred := &Credential{Server: "https://127.0.0.1:1", CAPEM: ca}
	kc, err := cred.KubeconfigFor("edge-4", cur)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	elsewhere := filepath.Join(t.TempDir(), "other.pem")
	os.WriteFile(elsewhere, ca, 0o600)
	o := Options{Server: cred.Server, Token: "abcdef.0123456789abcdef", NodeName: "edge-4", Timeout: time.Second}
	for _, tc := range []struct {
		name  string
		setup func() error
		want  string
	}{
		{"a link out of the cert dir", func() error { return os.Symlink(elsewhere, cur) }, "outside its cert dir"},
		{"a link to a device", func() error { return os.Symlink("/dev/zero", cur) }, "outside its cert dir"},
		{"a link in the dir to a device", func() error {
			os.Symlink("/dev/zero", filepath.Join(certDir, "zero"))
			return os.Symlink("zero", cur)
		}, "not a regular file"},
		{"a FIFO", func() error { return syscall.Mkfifo(cur, 0o600) }, "not a regular file"},
		{"a directory", func() error { return os.Mkdir(cur, 0o700) }, "not a regular file"},
		{"too large", func() error { return os.WriteFile(cur, bytes.Repeat([]byte("A"), certstore.MaxFileSize+1), 0o600) }, "larger than"},
		{"garbage", func() error { return os.WriteFile(cur, []byte("-----BEGIN CERTIFICATE-----\ngarbage\n"), 0o600) }, "PEM"},
		{"a certificate without its key", func() error { return os.WriteFile(cur, ca, 0o600) }, "key"},
	} {
		os.RemoveAll(certDir)
		if err := os.MkdirAll(certDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := tc.setup(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		_, err := LoadOrBootstrap(context.Background(), path, o)
		t.Logf("%s: %v", tc.name, err)
		if err == nil || !strings.Contains(err.Error(), cur) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s and %s, with %q", tc.name, err, path, cur, tc.want)
		}
		if strings.Contains(fmt.Sprint(err), "cluster-info") {
			t.Errorf("%s: joined again instead: %v", tc.name, err)
		}
	}
}

func whoamiOf(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := cs.AuthenticationV1().SelfSubjectReviews().Create(context.Background(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r.Status.UserInfo.Username
}

func mustLeafDER(t *testing.T, certPEM []byte) []byte {
	t.Helper()
	return mustParse(t, certPEM).Raw
}

func mustParse(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	cs, err := cert.ParseCertsPEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cs[0]
}

func mustKubeconfig(t *testing.T, c *Credential, node string) []byte {
	t.Helper()
	b, err := c.Kubeconfig(node)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newTestPair is a self-signed certificate (PEM) without its key.
func newTestPair(t *testing.T) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c, err := cert.NewSelfSignedCACert(cert.Config{CommonName: "x"}, key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := cert.EncodeCertificates(c)
	return b
}
