package wasmpod

import (
	"context"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// TestCSRManagedFields: a CSR's writes are recorded in
// metadata.managedFields as any other kind's (the field manager converts
// through the API server's scheme, which must know certificates.k8s.io).
func TestCSRManagedFields(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := newJoinPlane(t, ctx, clock.RealClock{}, "m-1")
	csrs := kubernetes.NewForConfigOrDie(p.admin).CertificatesV1().CertificateSigningRequests()
	c, err := csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "mf", Labels: map[string]string{"a": "b"}},
		Spec: certificatesv1.CertificateSigningRequestSpec{Request: csrFor(t, "someone", nil, nil, nil), SignerName: "example.com/x",
			Usages: []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}}}, metav1.CreateOptions{FieldManager: "hostile-test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ManagedFields) != 1 || c.ManagedFields[0].Manager != "hostile-test" || c.ManagedFields[0].Operation != metav1.ManagedFieldsOperationUpdate ||
		c.ManagedFields[0].FieldsV1 == nil || !strings.Contains(string(c.ManagedFields[0].FieldsV1.Raw), `"f:signerName"`) {
		t.Errorf("managedFields after create: %+v", c.ManagedFields)
	}
}
