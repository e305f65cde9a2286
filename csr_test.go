package wasmpod

// certificates.k8s.io (apiserver/csr.go) and the agent's serving
// certificate rotation (nodeagent/servingcert.go), issue 15.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"strings"
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
	ca := newTestCA(t)
	clk := clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
	cl, err := New(context.Background(), Config{NoLocalNodes: true, DataDir: t.TempDir(), CacheDir: testwasm.CacheDir(), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	keyPEM, _ := keyutil.MarshalPrivateKeyToPEM(ca.key)
	if err := cl.Server().SetClusterCA(ca.pem, keyPEM); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
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
	if len(csrs.Items) != 2 {
		t.Fatalf("%d CSRs, want 2", len(csrs.Items))
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
	ca := newTestCA(t)
	const token = "csr-test-admin-token-0123456789ab"
	cl, ts := tlsControlPlane(t, ca, apiserver.HandlerOptions{Token: token})
	keyPEM, _ := keyutil.MarshalPrivateKeyToPEM(ca.key)
	if err := cl.Server().SetClusterCA(ca.pem, keyPEM); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := &rest.Config{Host: ts.URL, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: ca.pem}}
	tok, err := bootstrap.CreateToken(ctx, admin, bootstrap.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := bootstrap.CACertHash(ca.pem)
	cred, err := bootstrap.Bootstrap(ctx, bootstrap.Options{Server: ts.URL, Token: tok, NodeName: "n-1", CACertHashes: []string{hash}})
	if err != nil {
		t.Fatal(err)
	}
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
	for _, name := range []string{"other-client", "foreign-serving"} {
		c, err := node.Get(ctx, name, metav1.GetOptions{})
		if err != nil || len(c.Status.Conditions) != 0 || len(c.Status.Certificate) != 0 {
			t.Errorf("CSR %s: %v %+v, want pending", name, err, c)
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
	if got, _ := csrs.Get(ctx, c.Name, metav1.GetOptions{}); len(got.Status.Conditions) != 0 {
		t.Errorf("/status set conditions %+v", got.Status.Conditions)
	}
	// The admin approves; it is issued; a denial after it is refused.
	if _, err := csrs.UpdateApproval(ctx, c.Name, c, metav1.UpdateOptions{}); err != nil {
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

// TestCSRCleaner: serve's csrcleaner (apiserver/csr.go), on a fake clock,
// with upstream's periods: an issued request an hour after its approval, a
// denied one an hour after the denial, an issued one whose certificate
// expired (sooner), and a pending one after a day.
func TestCSRCleaner(t *testing.T) {
	ca := newTestCA(t)
	t0 := time.Now().Truncate(time.Second)
	clk := clocktesting.NewFakeClock(t0)
	cl, err := New(context.Background(), Config{NoLocalNodes: true, DataDir: t.TempDir(), CacheDir: testwasm.CacheDir(), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	keyPEM, _ := keyutil.MarshalPrivateKeyToPEM(ca.key)
	if err := cl.Server().SetClusterCA(ca.pem, keyPEM); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
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
		c, err := csrs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		now := metav1.NewTime(clk.Now()) // as kubectl certificate approve|deny stamps it
		c.Status.Conditions = append(c.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: how, Status: corev1.ConditionTrue,
			Reason: "Test", LastUpdateTime: now, LastTransitionTime: now})
		if _, err := csrs.UpdateApproval(ctx, name, c, metav1.UpdateOptions{}); err != nil {
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
