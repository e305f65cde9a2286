package wasmpod

// certificates.k8s.io against a hostile node: what a joined node's own
// credential (and a bootstrap token) may do with CertificateSigningRequests,
// as upstream's node authorizer (system:node's rules: create, get, list,
// watch) and the selfnodeclient ClusterRole allow, and nothing more.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math"
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
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/wasmpod/wasmpod/bootstrap"
)

// TestCSRHostileNode: a node's credential may create, get, list and watch
// CSRs, but not delete, update, write status (a certificate of its
// choosing) or approve them, also its own; its self-client request with
// a second organization (system:masters) is neither approved nor signed;
// a kube-apiserver-client request for system:masters waits for the admin;
// a huge expirationSeconds is cut to the signing duration; a huge body is
// 413 and malformed PEM or a forged signature a 422 naming spec.request;
// a bootstrap token's serving request for a node is not auto-approved.
func TestCSRHostileNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := newJoinPlane(t, ctx, clock.RealClock{}, "h-1")
	registerTestNode(t, ctx, p.cl, "h-1", "127.0.0.1")
	registerTestNode(t, ctx, p.cl, "h-2", "127.0.0.2")
	node := kubernetes.NewForConfigOrDie(p.cred.RESTConfig()).CertificatesV1().CertificateSigningRequests()
	csrs := kubernetes.NewForConfigOrDie(p.admin).CertificatesV1().CertificateSigningRequests()
	clientUsages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
	mk := func(name, signer string, req []byte, exp *int32, usages ...certificatesv1.KeyUsage) *certificatesv1.CertificateSigningRequest {
		return &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: certificatesv1.CertificateSigningRequestSpec{Request: req, SignerName: signer, Usages: usages, ExpirationSeconds: exp}}
	}
	create := func(name, signer string, req []byte, exp *int32, usages ...certificatesv1.KeyUsage) {
		t.Helper()
		if _, err := node.Create(ctx, mk(name, signer, req, exp, usages...), metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating CSR %s with the node's credential: %v", name, err)
		}
	}
	// The admin's own pending request, and the node's.
	if _, err := csrs.Create(ctx, mk("admins", certificatesv1.KubeAPIServerClientSignerName, csrFor(t, "someone", nil, nil, nil), nil, clientUsages...), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	create("two-orgs", certificatesv1.KubeAPIServerClientKubeletSignerName, csrFor(t, "system:node:h-1", []string{"system:nodes", "system:masters"}, nil, nil), nil, clientUsages...)
	create("masters", certificatesv1.KubeAPIServerClientSignerName, csrFor(t, "kubernetes-admin", []string{"system:masters"}, nil, nil), nil, clientUsages...)
	create("forever", certificatesv1.KubeAPIServerClientKubeletSignerName, csrFor(t, "system:node:h-1", []string{"system:nodes"}, nil, nil), ptr.To[int32](math.MaxInt32), clientUsages...)

	// The forever request is the node's own, approved and issued; for a year at most.
	var c *certificatesv1.CertificateSigningRequest
	var err error
	if err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
		c, err = node.Get(ctx, "forever", metav1.GetOptions{})
		return err == nil && len(c.Status.Certificate) > 0, nil
	}); err != nil {
		t.Fatalf("the node's own client CSR not issued: %v %+v", err, c)
	}
	blk, _ := pem.Decode(c.Status.Certificate)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if life := time.Until(cert.NotAfter); life > 366*24*time.Hour {
		t.Errorf("expirationSeconds MaxInt32: a certificate for %v, want at most the signing duration (a year)", life)
	}

	// Reading is allowed (upstream's system:node rules), writing is not.
	if l, err := node.List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) < 4 {
		t.Errorf("a node listing CSRs: %v (%d), want allowed as upstream", err, len(l.Items))
	}
	for _, name := range []string{"admins", "two-orgs", "forever"} {
		c, err := node.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get %s: %v", name, err)
		}
		if err := node.Delete(ctx, name, metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("a node deleting CSR %s: %v, want Forbidden", name, err)
		}
		c.Labels = map[string]string{"x": "y"}
		if _, err := node.Update(ctx, c, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("a node updating CSR %s: %v, want Forbidden", name, err)
		}
		// Its own certificate in status, or an approval: refused.
		c.Status.Certificate = p.ca.pem
		if _, err := node.UpdateStatus(ctx, c, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("a node writing CSR %s's status: %v, want Forbidden", name, err)
		}
		c.Status.Conditions = append(c.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "Mine"})
		if _, err := node.UpdateApproval(ctx, name, c, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("a node approving CSR %s: %v, want Forbidden", name, err)
		}
		if err := node.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("a node deleting all CSRs: %v, want Forbidden", err)
		}
	}
	if _, err := node.Patch(ctx, "admins", "application/merge-patch.json", []byte(`{"status":{"certificate":"eA=="}}`), metav1.PatchOptions{}, "status"); !apierrors.IsForbidden(err) {
		t.Errorf("a node patching a CSR's status: %v, want Forbidden", err)
	}
	// Still pending: not auto-approved.
	for _, name := range []string{"two-orgs", "masters"} {
		c, err := csrs.Get(ctx, name, metav1.GetOptions{})
		if err != nil || len(c.Status.Conditions) != 0 || len(c.Status.Certificate) != 0 {
			t.Errorf("CSR %s: %v %+v, want pending", name, err, c.Status)
		}
	}
	// Approved by the admin, the self-client one with system:masters is still refused.
	c, err = csrs.Get(ctx, "two-orgs", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "Admin"}}
	if _, err := csrs.UpdateApproval(ctx, c.Name, c, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
		c, err = csrs.Get(ctx, "two-orgs", metav1.GetOptions{})
		return err == nil && csrHas(c, certificatesv1.CertificateFailed), nil
	}); err != nil || len(c.Status.Certificate) != 0 {
		t.Errorf("a kubelet client CSR with O system:masters approved by the admin: %v %+v, want Failed", err, c.Status)
	}

	// Bad requests.
	big := make([]byte, 4<<20)
	for i := range big {
		big[i] = 'A'
	}
	_, err = node.Create(ctx, mk("huge", certificatesv1.KubeAPIServerClientKubeletSignerName, big, nil, clientUsages...), metav1.CreateOptions{})
	if !apierrors.IsRequestEntityTooLargeError(err) {
		t.Errorf("a 4 MB CSR: %v, want 413", err)
	}
	good := csrFor(t, "system:node:h-1", []string{"system:nodes"}, nil, nil)
	blk, _ = pem.Decode(good)
	forged := append([]byte(nil), blk.Bytes...)
	forged[len(forged)-3] ^= 0xff // in the signature
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:h-1"}}, key)
	for what, req := range map[string][]byte{
		"garbage DER":           pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte("not DER at all")}),
		"forged signature":      pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: forged}),
		"a certificate":         p.ca.pem,
		"a private key block":   pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: other}),
		"truncated PEM":         good[:len(good)/2],
		"empty":                 nil,
		"binary":                []byte{0, 1, 2, 0xff, 0xfe},
		"PEM of 1 MB of header": append([]byte("-----BEGIN CERTIFICATE REQUEST-----\n"+strings.Repeat("A", 1<<20)), "\n-----END CERTIFICATE REQUEST-----\n"...),
	} {
		_, err := node.Create(ctx, mk("bad", certificatesv1.KubeAPIServerClientKubeletSignerName, req, nil, clientUsages...), metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.request") {
			t.Errorf("a CSR of %s: %v, want 422 naming spec.request", what, err)
		}
	}
	_, err = node.Create(ctx, mk("short", certificatesv1.KubeAPIServerClientKubeletSignerName, good, ptr.To[int32](1), clientUsages...), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.expirationSeconds") {
		t.Errorf("expirationSeconds 1: %v, want 422 naming spec.expirationSeconds", err)
	}

	// A bootstrap token may make a node's client CSR (nodeclient) but its
	// serving request for a Node's own names is not approved on its own.
	tok, err := bootstrap.CreateToken(ctx, p.admin, bootstrap.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	boot := kubernetes.NewForConfigOrDie(&rest.Config{Host: p.admin.Host, BearerToken: tok, TLSClientConfig: p.admin.TLSClientConfig}).CertificatesV1().CertificateSigningRequests()
	if _, err := boot.Create(ctx, mk("boot-serving", certificatesv1.KubeletServingSignerName, csrFor(t, "system:node:h-2", []string{"system:nodes"}, []string{"h-2"}, []net.IP{net.IPv4(127, 0, 0, 2)}), nil,
		certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := boot.Delete(ctx, "forever", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("a bootstrap token deleting a CSR: %v, want Forbidden", err)
	}
	// A later request the controller handles after it: once that one is
	// issued, boot-serving has been seen.
	create("later", certificatesv1.KubeAPIServerClientKubeletSignerName, csrFor(t, "system:node:h-1", []string{"system:nodes"}, nil, nil), nil, clientUsages...)
	if err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
		c, err = node.Get(ctx, "later", metav1.GetOptions{})
		return err == nil && len(c.Status.Certificate) > 0, nil
	}); err != nil {
		t.Fatalf("CSR later not issued: %v", err)
	}
	if c, err := csrs.Get(ctx, "boot-serving", metav1.GetOptions{}); err != nil || len(c.Status.Conditions) != 0 {
		t.Errorf("a bootstrap token's kubelet-serving CSR: %v %+v, want pending", err, c.Status)
	}
}
