package wasmpod

// certificates.k8s.io (apiserver/csr.go) and the agent's serving
// certificate rotation (nodeagent/servingcert.go), issue 15.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/keyutil"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/bootstrap"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/nodeagent"
)

// registerTestNode creates Node name with the InternalIP ip.
func registerTestNode(t *testing.T, ctx context.Context, cl *Cluster, name, ip string) {
	t.Helper()
	n, err := cl.Client().CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if n, err = cl.Client().CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); err != nil {
			return err
		}
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}, {Type: corev1.NodeHostName, Address: name}}
		_, err = cl.Client().CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestServingCertRotation: an agent's serving certificate, issued by the
// cluster CA for a year, is kept until 70% of its life has passed and
// replaced by a new one once 90% has (fake clock).
func TestServingCertRotation(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := newJoinPlane(t, ctx, clk, "rot-0")
	cl, ca := p.cl, p.ca
	registerTestNode(t, ctx, cl, "rot-1", "127.0.0.1")
	fallback, err := tls.X509KeyPair(ca.leaf(t, "fallback", nil, net.IPv4(127, 0, 0, 1)))
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	m := nodeagent.NewServingCerts(cl.Client().CoreV1().RESTClient(), "rot-1", net.IPv4(127, 0, 0, 1), &fallback, clk,
		func(f string, a ...any) { logs.Write([]byte(strings.TrimSpace(strings.ReplaceAll(f, "%", "")) + "\n")) })
	if c, _ := m.GetCertificate(nil); c != &fallback {
		t.Fatal("before the first certificate, the fallback is not served")
	}
	go m.Run(ctx)
	waitCert := func(not *x509.Certificate) *x509.Certificate {
		t.Helper()
		var got *x509.Certificate
		if err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
			got = m.Current()
			return got != nil && (not == nil || !got.Equal(not)), nil
		}); err != nil {
			t.Fatalf("no new serving certificate: %v\n%s", err, logs)
		}
		return got
	}
	first := waitCert(nil)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	if _, err := first.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: clk.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Fatalf("the issued serving certificate: %v", err)
	}
	if first.VerifyHostname("rot-1") != nil || first.VerifyHostname("127.0.0.1") != nil || first.Subject.CommonName != "system:node:rot-1" {
		t.Errorf("the issued certificate names %v %v %v", first.Subject, first.DNSNames, first.IPAddresses)
	}
	if life := first.NotAfter.Sub(first.NotBefore); life != apiserver.CSRSigningDuration+5*time.Minute {
		t.Errorf("lifetime %s, want a year and the 5 min backdate", life)
	}
	if c, _ := m.GetCertificate(nil); c.Leaf != first {
		t.Error("the issued certificate is not served")
	}
	life := first.NotAfter.Sub(first.NotBefore)
	clk.SetTime(first.NotBefore.Add(life * 69 / 100))
	time.Sleep(500 * time.Millisecond) // a rotation now would be early; give it the chance to show
	if !m.Current().Equal(first) {
		t.Fatal("rotated before 70% of the lifetime")
	}
	clk.SetTime(first.NotBefore.Add(life * 91 / 100))
	second := waitCert(first)
	if d := second.NotBefore.Sub(clk.Now().Add(-5 * time.Minute)); d < -time.Second || d > time.Second {
		t.Errorf("the renewed certificate starts at %s, the fake clock is at %s", second.NotBefore, clk.Now())
	}
	csrs, err := kubernetes.NewForConfigOrDie(cl.RESTConfig()).CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The second, and the first unless the csrcleaner has deleted it
	// already (approved more than an hour ago on the fake clock).
	if n := len(csrs.Items); n < 1 || n > 2 {
		t.Fatalf("%d CSRs, want 1 or 2", n)
	}
	for _, c := range csrs.Items {
		if len(c.Status.Certificate) == 0 || len(c.Status.Conditions) != 1 || c.Status.Conditions[0].Reason != "AutoApproved" ||
			c.Spec.SignerName != certificatesv1.KubeletServingSignerName {
			t.Errorf("CSR %s: %+v %+v", c.Name, c.Spec, c.Status.Conditions)
		}
	}
}

// csrFor is a PEM CSR of a new key for subject, with the SANs.
func csrFor(t *testing.T, cn string, org []string, dns []string, ips []net.IP) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: org}, DNSNames: dns, IPAddresses: ips}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// TestCSRApprovalRules: with a joined node's own credential, its client
// certificate request for itself and its serving request for its own
// address are approved and issued by the controller; a client request for
// another node's name and a serving request for an address not its own
// wait for the admin. The API's rules: the requester is recorded from the
// credential, a bad request names the field, Approved and Denied exclude
// each other and stay, and /status cannot approve.
func TestCSRApprovalRules(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := newJoinPlane(t, ctx, clock.RealClock{}, "n-1")
	cl, admin, cred := p.cl, p.admin, p.cred
	var err error
	registerTestNode(t, ctx, cl, "n-1", "127.0.0.1")
	node := kubernetes.NewForConfigOrDie(cred.RESTConfig()).CertificatesV1().CertificateSigningRequests()
	csrs := kubernetes.NewForConfigOrDie(admin).CertificatesV1().CertificateSigningRequests()
	create := func(name, signer string, req []byte, usages ...certificatesv1.KeyUsage) {
		t.Helper()
		c, err := node.Create(ctx, &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: certificatesv1.CertificateSigningRequestSpec{Request: req, SignerName: signer, Usages: usages, Username: "forged"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating CSR %s with the node's credential: %v", name, err)
		}
		if c.Spec.Username != "system:node:n-1" {
			t.Errorf("CSR %s: spec.username %q, want the requester's", name, c.Spec.Username)
		}
	}
	local := []net.IP{net.IPv4(127, 0, 0, 1)}
	create("other-client", certificatesv1.KubeAPIServerClientKubeletSignerName, csrFor(t, "system:node:n-2", []string{"system:nodes"}, nil, nil),
		certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth)
	create("foreign-serving", certificatesv1.KubeletServingSignerName, csrFor(t, "system:node:n-1", []string{"system:nodes"}, []string{"n-1"}, []net.IP{net.IPv4(10, 9, 9, 9)}),
		certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth)
	// A node's client request for itself, but with a SAN, or with an
	// extra usage (server auth), or for another group, and serving
	// requests with a name not the Node's or a client usage: left to the
	// admin; all but the extra name refused by the signer if approved.
	create("self-client-san", certificatesv1.KubeAPIServerClientKubeletSignerName, csrFor(t, "system:node:n-1", []string{"system:nodes"}, []string{"n-1"}, nil),
		certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth)
	create("self-client-server-usage", certificatesv1.KubeAPIServerClientKubeletSignerName, csrFor(t, "system:node:n-1", []string{"system:nodes"}, nil, nil),
		certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth, certificatesv1.UsageServerAuth)
	create("self-client-masters", certificatesv1.KubeAPIServerClientKubeletSignerName, csrFor(t, "system:node:n-1", []string{"system:masters"}, nil, nil),
		certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth)
	create("serving-extra-san", certificatesv1.KubeletServingSignerName, csrFor(t, "system:node:n-1", []string{"system:nodes"}, []string{"n-1", "kubernetes.default"}, local),
		certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth)
	create("serving-client-usage", certificatesv1.KubeletServingSignerName, csrFor(t, "system:node:n-1", []string{"system:nodes"}, []string{"n-1"}, local),
		certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth, certificatesv1.UsageClientAuth)
	create("self-client", certificatesv1.KubeAPIServerClientKubeletSignerName, csrFor(t, "system:node:n-1", []string{"system:nodes"}, nil, nil),
		certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth)
	create("own-serving", certificatesv1.KubeletServingSignerName, csrFor(t, "system:node:n-1", []string{"system:nodes"}, []string{"n-1"}, local),
		certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth)
	for _, name := range []string{"self-client", "own-serving"} {
		var c *certificatesv1.CertificateSigningRequest
		if err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
			c, err = node.Get(ctx, name, metav1.GetOptions{})
			return err == nil && len(c.Status.Certificate) > 0, nil
		}); err != nil {
			t.Fatalf("CSR %s not issued: %v %+v", name, err, c)
		}
	}
	// The controller, which handles the requests in order, has seen the
	// two made before: they are still pending.
	// (A serving request naming a DNS name not the Node's is pending only:
	// the kubelet-serving signer allows any DNS names once approved.)
	hostile := []string{"self-client-san", "self-client-server-usage", "self-client-masters", "serving-client-usage"}
	for _, name := range append([]string{"other-client", "foreign-serving", "serving-extra-san"}, hostile...) {
		c, err := node.Get(ctx, name, metav1.GetOptions{})
		if err != nil || len(c.Status.Conditions) != 0 || len(c.Status.Certificate) != 0 {
			t.Errorf("CSR %s: %v %+v, want pending", name, err, c)
		}
	}
	// Approved by the admin, the signer still refuses them (Failed).
	for _, name := range hostile {
		c, err := csrs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "Admin"}}
		if _, err := csrs.UpdateApproval(ctx, name, c, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range hostile {
		var c *certificatesv1.CertificateSigningRequest
		if err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
			c, err = csrs.Get(ctx, name, metav1.GetOptions{})
			return err == nil && csrHas(c, certificatesv1.CertificateFailed), nil
		}); err != nil || len(c.Status.Certificate) != 0 {
			t.Errorf("CSR %s approved by the admin: %v %+v, want Failed and no certificate", name, err, c.Status)
		}
	}
	// A node may not approve.
	c, _ := node.Get(ctx, "other-client", metav1.GetOptions{})
	c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "Mine"}}
	if _, err := node.UpdateApproval(ctx, c.Name, c, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("a node approving a CSR: %v, want Forbidden", err)
	}
	// Nor does /status approve.
	if _, err := csrs.UpdateStatus(ctx, c, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := csrs.Get(ctx, c.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Conditions) != 0 {
		t.Errorf("/status set conditions %+v", got.Status.Conditions)
	}
	// The admin approves; it is issued; a denial after it is refused. (The
	// refused /status write still recorded its manager in managedFields, as
	// upstream's field manager runs before the status strategy: a new
	// resourceVersion, so the approval starts from the stored object.)
	got.Status.Conditions = c.Status.Conditions
	if _, err := csrs.UpdateApproval(ctx, got.Name, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
		c, err = csrs.Get(ctx, "other-client", metav1.GetOptions{})
		return err == nil && len(c.Status.Certificate) > 0, nil
	}); err != nil {
		t.Fatalf("the approved CSR is not issued: %v", err)
	}
	c.Status.Conditions = append(c.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue})
	if _, err := csrs.UpdateApproval(ctx, c.Name, c, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "mutually exclusive") {
		t.Errorf("denying an approved CSR: %v", err)
	}
	// Bad input names the field.
	_, err = csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		Spec: certificatesv1.CertificateSigningRequestSpec{Request: []byte("not a CSR"), SignerName: "example", Usages: []certificatesv1.KeyUsage{"flying"}}}, metav1.CreateOptions{})
	for _, want := range []string{"spec.request", "spec.signerName", `spec.usages[0]: Unsupported value: "flying"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("a bad CSR: %v, want %q", err, want)
		}
	}
}

// csrHas: c has condition ty.
func csrHas(c *certificatesv1.CertificateSigningRequest, ty certificatesv1.RequestConditionType) bool {
	for _, cond := range c.Status.Conditions {
		if cond.Type == ty && cond.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// TestCSRCleaner: serve's csrcleaner (apiserver/csr.go), on a fake clock,
// with upstream's periods: an issued request an hour after its approval, a
// denied one an hour after the denial, an issued one whose certificate
// expired (sooner), and a pending one after a day.
func TestCSRCleaner(t *testing.T) {
	t0 := time.Now().Truncate(time.Second)
	clk := clocktesting.NewFakeClock(t0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := newJoinPlane(t, ctx, clk, "c-0").cl
	csrs := kubernetes.NewForConfigOrDie(cl.RESTConfig()).CertificatesV1().CertificateSigningRequests()
	create := func(name, signer string, expire *int32) {
		t.Helper()
		_, err := csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: certificatesv1.CertificateSigningRequestSpec{Request: csrFor(t, "system:node:c-1", []string{"system:nodes"}, nil, nil), SignerName: signer,
				Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}, ExpirationSeconds: expire}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	decide := func(name string, how certificatesv1.RequestConditionType) {
		t.Helper()
		// As kubectl certificate approve|deny: on a conflict (the signer or
		// the approver wrote meanwhile), again from the stored request.
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			c, err := csrs.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			now := metav1.NewTime(clk.Now()) // as kubectl certificate approve|deny stamps it
			c.Status.Conditions = append(c.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: how, Status: corev1.ConditionTrue,
				Reason: "Test", LastUpdateTime: now, LastTransitionTime: now})
			_, err = csrs.UpdateApproval(ctx, name, c, metav1.UpdateOptions{})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	waitIssued := func(name string) {
		t.Helper()
		if err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
			c, err := csrs.Get(ctx, name, metav1.GetOptions{})
			return err == nil && len(c.Status.Certificate) > 0, nil
		}); err != nil {
			t.Fatalf("CSR %s not issued: %v", name, err)
		}
	}
	// waitLeft waits until exactly the names are left.
	waitLeft := func(when string, names ...string) {
		t.Helper()
		var got []string
		if err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
			l, err := csrs.List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			got = nil
			for _, c := range l.Items {
				got = append(got, c.Name)
			}
			return strings.Join(got, ",") == strings.Join(names, ","), nil
		}); err != nil {
			t.Fatalf("%s: CSRs %v, want %v", when, got, names)
		}
	}
	create("pending", "example.com/elsewhere", nil)
	create("issued", certificatesv1.KubeAPIServerClientKubeletSignerName, nil)
	create("denied", "example.com/elsewhere", nil)
	decide("issued", certificatesv1.CertificateApproved)
	decide("denied", certificatesv1.CertificateDenied)
	waitIssued("issued")
	clk.SetTime(t0.Add(59 * time.Minute))
	waitLeft("before an hour", "denied", "issued", "pending")
	clk.SetTime(t0.Add(61 * time.Minute)) // the hourly pass
	waitLeft("an hour after approval and denial", "pending")
	ten := int32(600)
	create("short", certificatesv1.KubeAPIServerClientKubeletSignerName, &ten)
	decide("short", certificatesv1.CertificateApproved)
	waitIssued("short")
	clk.SetTime(t0.Add(2*time.Hour + time.Minute)) // the next pass: approved 60 min ago, expired 50 min ago
	waitLeft("after the certificate expired", "pending")
	clk.SetTime(t0.Add(24*time.Hour + time.Minute))
	waitLeft("a day after creation")
}

// joinPlane is a control plane without nodes on loopback TLS with the
// cluster CA, whose clock is clk, and a node credential of node from a
// join token, as `serve --listen --nodes 0` and `agent --join`.
type joinPlane struct {
	cl    *Cluster
	ts    *httptest.Server
	ca    *testCA
	admin *rest.Config
	cred  *bootstrap.Credential
}

func newJoinPlane(t *testing.T, ctx context.Context, clk clock.WithTicker, node string, opts ...func(*Config)) *joinPlane {
	t.Helper()
	p := &joinPlane{ca: newTestCA(t)}
	cfg := Config{NoLocalNodes: true, DataDir: t.TempDir(), CacheDir: testwasm.CacheDir(), Clock: clk}
	for _, o := range opts {
		o(&cfg)
	}
	var err error
	if p.cl, err = New(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cl.Close() })
	p.cl.SetRootCA(p.ca.pem)
	kc, kk := p.ca.leaf(t, "kube-apiserver-kubelet-client", []string{"system:masters"}, nil)
	if err := p.cl.Server().SetKubeletClient(kc, kk); err != nil {
		t.Fatal(err)
	}
	keyPEM, _ := keyutil.MarshalPrivateKeyToPEM(p.ca.key)
	if err := p.cl.Server().SetClusterCA(p.ca.pem, keyPEM); err != nil {
		t.Fatal(err)
	}
	sc, sk := p.ca.leaf(t, "apiserver", nil, net.IPv4(127, 0, 0, 1))
	pair, err := tls.X509KeyPair(sc, sk)
	if err != nil {
		t.Fatal(err)
	}
	const token = "join-plane-admin-token-0123456789"
	p.ts = httptest.NewUnstartedServer(p.cl.Server().Handler(apiserver.HandlerOptions{Token: token}))
	p.ts.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequestClientCert}
	p.ts.StartTLS()
	t.Cleanup(p.ts.Close)
	p.admin = &rest.Config{Host: p.ts.URL, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: p.ca.pem}}
	tok, err := bootstrap.CreateToken(ctx, p.admin, bootstrap.TokenOptions{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := bootstrap.CACertHash(p.ca.pem)
	if p.cred, err = bootstrap.Bootstrap(ctx, bootstrap.Options{Server: p.ts.URL, Token: tok, NodeName: node, CACertHashes: []string{hash}}); err != nil {
		t.Fatal(err)
	}
	return p
}

// runAgentUntil runs RunAgent until the returned stop is called (or the
// test ends).
func runAgentUntil(t *testing.T, o AgentOptions) (*lockedBuffer, func()) {
	t.Helper()
	logs := &lockedBuffer{}
	o.Progress, o.CacheDir, o.NodeIP, o.HeartbeatInterval = logs, testwasm.CacheDir(), netip.MustParseAddr("127.0.0.1"), time.Second
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunAgent(ctx, o) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil && ctx.Err() == nil {
				t.Errorf("agent %s: %v", o.NodeName, err)
			}
		})
	}
	t.Cleanup(stop)
	return logs, stop
}

// storedLeaf is the leaf of the cert dir's current pair of prefix, nil
// if there is none (yet).
func storedLeaf(t *testing.T, dir, prefix string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(nodeagent.CurrentCertPath(dir, prefix))
	if err != nil {
		return nil
	}
	c, err := tls.X509KeyPair(b, b)
	if err != nil {
		t.Fatalf("%s: %v", prefix, err)
	}
	l, _ := x509.ParseCertificate(c.Certificate[0])
	return l
}

// TestClientCertRotation: a joined agent renews its node client
// certificate through a kube-apiserver-client-kubelet CSR, which serve
// approves, not before 70% of its lifetime and once 90% has passed (fake
// clock); the new pair is in the cert dir; the old certificate keeps
// working until it expires; after that the agent's API connections (its
// Lease) and its reverse tunnel still work, on the new certificate; a
// renewal request with the expired certificate is refused.
func TestClientCertRotation(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const signing = 30 * 24 * time.Hour // serve's clusterSigningDuration
	p := newJoinPlane(t, ctx, clk, "rot-c", func(c *Config) { c.ClusterSigningDuration = signing })
	dataDir := t.TempDir()
	certDir := filepath.Join(dataDir, "pki")
	o := AgentOptions{API: p.cred.RESTConfig(), NodeName: "rot-c", DataDir: dataDir, ReverseTunnel: true,
		PodCIDR: "10.244.13.0/24", RotateCertificates: true, Clock: clk}
	logs, stop := runAgentUntil(t, o)
	tunnels := func() int { return strings.Count(logs.String(), "reverse tunnel to "+p.ts.URL+" open") }
	poll := func(what string, cond func() bool) {
		t.Helper()
		if err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) { return cond(), nil }); err != nil {
			t.Fatalf("%s: %v\nagent log:\n%s", what, err, logs)
		}
	}
	poll("the tunnel", func() bool {
		return tunnels() >= 1 && strings.Contains(logs.String(), "client certificate valid until")
	})
	first := storedLeaf(t, certDir, nodeagent.ClientCertPrefix)
	given, _ := tls.X509KeyPair(p.cred.CertPEM, p.cred.KeyPEM)
	if first == nil || !bytes.Equal(first.Raw, given.Certificate[0]) {
		t.Fatalf("the cert dir does not hold the joined credential: %v", first)
	}
	csrs := kubernetes.NewForConfigOrDie(p.admin).CertificatesV1().CertificateSigningRequests()
	clientCSRs := func() (n int) {
		l, err := csrs.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range l.Items {
			if c.Spec.SignerName == certificatesv1.KubeAPIServerClientKubeletSignerName {
				n++
				if c.Spec.Username != "system:node:rot-c" || len(c.Status.Conditions) == 0 || c.Status.Conditions[0].Reason != "AutoApproved" {
					t.Errorf("CSR %s: %+v %+v", c.Name, c.Spec, c.Status.Conditions)
				}
			}
		}
		return n
	}
	life := first.NotAfter.Sub(first.NotBefore)
	if life != signing+5*time.Minute {
		t.Errorf("the joined credential lasts %s, want the signing duration and the 5 min backdate", life)
	}
	clk.SetTime(first.NotBefore.Add(life * 69 / 100))
	time.Sleep(500 * time.Millisecond) // a renewal now would be early; give it the chance to show
	if n := clientCSRs(); n != 0 || !storedLeaf(t, certDir, nodeagent.ClientCertPrefix).Equal(first) {
		t.Fatalf("renewed before 70%% of the lifetime (%d CSRs)", n)
	}
	clk.SetTime(first.NotBefore.Add(life * 91 / 100))
	var second *x509.Certificate
	poll("the renewed certificate", func() bool {
		second = storedLeaf(t, certDir, nodeagent.ClientCertPrefix)
		return second != nil && !second.Equal(first) && strings.Contains(logs.String(), "client certificate renewed")
	})
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.cert)
	if _, err := second.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: clk.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil ||
		second.Subject.CommonName != "system:node:rot-c" || strings.Join(second.Subject.Organization, ",") != "system:nodes" {
		t.Fatalf("the renewed certificate %v: %v", second.Subject, err)
	}
	if n := clientCSRs(); n != 1 {
		t.Errorf("%d client CSRs, want 1", n)
	}
	if l := second.NotAfter.Sub(second.NotBefore); l != signing+5*time.Minute {
		t.Errorf("the renewed certificate lasts %s, want the signing duration and the 5 min backdate", l)
	}
	poll("the reverse tunnel re-opened with the new certificate", func() bool { return tunnels() >= 2 })
	// The old certificate keeps working until it expires.
	old := kubernetes.NewForConfigOrDie(p.cred.RESTConfig())
	if _, err := old.CoreV1().Nodes().Get(ctx, "rot-c", metav1.GetOptions{}); err != nil {
		t.Errorf("the old certificate before it expires: %v", err)
	}
	clk.SetTime(first.NotAfter.Add(time.Minute))
	if _, err := old.CoreV1().Nodes().Get(ctx, "rot-c", metav1.GetOptions{}); !apierrors.IsUnauthorized(err) {
		t.Errorf("the old certificate after it expired: %v, want Unauthorized", err)
	}
	// A renewal with the expired certificate is refused.
	_, err := old.CertificatesV1().CertificateSigningRequests().Create(ctx, &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{GenerateName: "csr-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{Request: csrFor(t, "system:node:rot-c", []string{"system:nodes"}, nil, nil),
			SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName, Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}}}, metav1.CreateOptions{})
	if !apierrors.IsUnauthorized(err) {
		t.Errorf("a renewal with the expired certificate: %v, want Unauthorized", err)
	}
	// The agent's own connections: its Lease is renewed after the old
	// certificate expired.
	leases := kubernetes.NewForConfigOrDie(p.admin).CoordinationV1().Leases("kube-node-lease")
	l0, err := leases.Get(ctx, "rot-c", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	poll("a Lease renewal after the old certificate expired", func() bool {
		l, err := leases.Get(ctx, "rot-c", metav1.GetOptions{})
		return err == nil && l.ResourceVersion != l0.ResourceVersion
	})
	// And the reverse tunnel: serve reaches the kubelet API through it.
	if b, err := kubernetes.NewForConfigOrDie(p.admin).CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/rot-c/proxy/healthz").DoRaw(ctx); err != nil || string(b) != "ok" {
		t.Errorf("the kubelet API through the tunnel: %q %v", b, err)
	}
	if strings.Contains(logs.String(), "Unauthorized") {
		t.Errorf("the agent was refused:\n%s", logs)
	}
	// Restarted with its joined (now expired) credential, the agent uses
	// the renewed certificate of its cert dir.
	stop()
	logs, _ = runAgentUntil(t, o)
	poll("the restarted agent's tunnel", func() bool { return tunnels() >= 1 })
	if got := storedLeaf(t, certDir, nodeagent.ClientCertPrefix); !got.Equal(second) {
		t.Errorf("the restarted agent replaced the renewed certificate")
	}
}

// TestServingCertKeptAcrossRestart: a restarted agent serves the
// kubelet serving certificate it got before (kubelet-server-current.pem
// in its cert dir) and makes no new CSR while it is valid.
func TestServingCertKeptAcrossRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p := newJoinPlane(t, ctx, clock.RealClock{}, "keep-1")
	dataDir := t.TempDir()
	certDir := filepath.Join(dataDir, "pki")
	o := AgentOptions{API: p.cred.RESTConfig(), NodeName: "keep-1", DataDir: dataDir, ReverseTunnel: true, PodCIDR: "10.244.14.0/24", RotateCertificates: true}
	servingCSRs := func() int {
		l, err := kubernetes.NewForConfigOrDie(p.admin).CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, c := range l.Items {
			if c.Spec.SignerName == certificatesv1.KubeletServingSignerName {
				n++
			}
		}
		return n
	}
	logs, stop := runAgentUntil(t, o)
	var first *x509.Certificate
	if err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
		first = storedLeaf(t, certDir, nodeagent.ServingCertPrefix)
		return first != nil && strings.Contains(logs.String(), "kubelet serving certificate from the cluster CA"), nil
	}); err != nil {
		t.Fatalf("no serving certificate kept: %v\n%s", err, logs)
	}
	stop()
	if n := servingCSRs(); n != 1 {
		t.Fatalf("%d serving CSRs after the first start, want 1", n)
	}
	logs, _ = runAgentUntil(t, o)
	if err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
		return strings.Contains(logs.String(), "kubelet serving certificate from the cluster CA") && strings.Contains(logs.String(), "reverse tunnel to"), nil
	}); err != nil {
		t.Fatalf("the restarted agent: %v\n%s", err, logs)
	}
	// serve reaches the kubelet API through the tunnel, verifying the
	// served certificate against the cluster CA.
	var b []byte
	if err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		var err error
		b, err = kubernetes.NewForConfigOrDie(p.admin).CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/keep-1/proxy/healthz").DoRaw(ctx)
		return err == nil, nil
	}); err != nil || string(b) != "ok" {
		t.Fatalf("the kubelet API of the restarted agent: %q %v\n%s", b, err, logs)
	}
	if n := servingCSRs(); n != 1 {
		t.Errorf("%d serving CSRs after the restart, want 1 (the kept certificate reused)", n)
	}
	if got := storedLeaf(t, certDir, nodeagent.ServingCertPrefix); !got.Equal(first) {
		t.Errorf("the kept serving certificate was replaced")
	}
}
