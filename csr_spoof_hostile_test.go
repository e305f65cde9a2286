package wasmpod

// A hostile node's kubelet-serving request for names it wrote into its
// own Node's status (see TestCSRHostileNode for the rest).

import (
	"context"
	"net"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
)

// TestCSRServingSpoofedNodeAddresses: a node writes its own Node's
// status.addresses (the node authorizer lets it, as the kubelet reports
// them), so names it adds there are self-asserted: a kubelet-serving
// request for the API server's names (kubernetes.default.svc), another
// Node's name or the kubernetes Service's IP must not be auto-approved
// (upstream approves no kubelet-serving request on its own for this
// reason); else a node credential buys a cluster-CA server certificate
// that in-cluster clients, which trust that CA, accept for the API server.
func TestCSRServingSpoofedNodeAddresses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := newJoinPlane(t, ctx, clock.RealClock{}, "s-1")
	registerTestNode(t, ctx, p.cl, "s-1", "127.0.0.1")
	registerTestNode(t, ctx, p.cl, "s-2", "127.0.0.2")
	nodeCS := kubernetes.NewForConfigOrDie(p.cred.RESTConfig())
	var svcIP net.IP
	if err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
		svc, err := p.cl.Client().CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err == nil {
			svcIP = net.ParseIP(svc.Spec.ClusterIP)
		}
		return svcIP != nil, nil
	}); err != nil {
		t.Fatalf("the kubernetes Service: %v", err)
	}
	// The node, with its own credential, claims the names.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := nodeCS.CoreV1().Nodes().Get(ctx, "s-1", metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: "kubernetes.default.svc"},
			corev1.NodeAddress{Type: corev1.NodeHostName, Address: "s-2"}, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: svcIP.String()})
		_, err = nodeCS.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatalf("the node writing its addresses: %v", err)
	}
	csrs := nodeCS.CertificatesV1().CertificateSigningRequests()
	usages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}
	for name, req := range map[string][]byte{
		"apiserver-name": csrFor(t, "system:node:s-1", []string{"system:nodes"}, []string{"s-1", "kubernetes.default.svc"}, nil),
		"other-node":     csrFor(t, "system:node:s-1", []string{"system:nodes"}, []string{"s-1", "s-2"}, nil),
		"service-ip":     csrFor(t, "system:node:s-1", []string{"system:nodes"}, []string{"s-1"}, []net.IP{svcIP}),
	} {
		if _, err := csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: certificatesv1.CertificateSigningRequestSpec{Request: req, SignerName: certificatesv1.KubeletServingSignerName, Usages: usages}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A request the controller approves, made after them: once it is
	// issued, the others have been seen.
	if _, err := csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "own"},
		Spec: certificatesv1.CertificateSigningRequestSpec{Request: csrFor(t, "system:node:s-1", []string{"system:nodes"}, []string{"s-1"}, []net.IP{net.IPv4(127, 0, 0, 1)}),
			SignerName: certificatesv1.KubeletServingSignerName, Usages: usages}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
		c, err := csrs.Get(ctx, "own", metav1.GetOptions{})
		return err == nil && len(c.Status.Certificate) > 0, nil
	}); err != nil {
		t.Fatalf("the node's own serving CSR not issued: %v", err)
	}
	for _, name := range []string{"apiserver-name", "other-node", "service-ip"} {
		c, err := csrs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Status.Conditions) != 0 || len(c.Status.Certificate) != 0 {
			var why string
			if len(c.Status.Conditions) > 0 {
				why = c.Status.Conditions[0].Message
			}
			t.Errorf("serving CSR %s for a self-asserted name: conditions %d (%s), certificate %v; want pending for the admin", name, len(c.Status.Conditions), why, len(c.Status.Certificate) > 0)
		}
	}
}
