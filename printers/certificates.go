package printers

// The certificates.k8s.io kinds' columns and cells, as upstream's
// AddHandlers and printCertificateSigningRequest.

import (
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

func init() {
	register(certificatesv1.SchemeGroupVersion.WithKind("CertificateSigningRequest"), &certificatesv1.CertificateSigningRequestList{}, []metav1.TableColumnDefinition{
		nameColumn,
		ageColumn,
		{Name: "SignerName", Type: "string", Description: "The name of the signer"},
		{Name: "Requestor", Type: "string", Description: "Name of the user which created the CertificateSigningRequest"},
		{Name: "RequestedDuration", Type: "string", Description: "The requested duration of the certificate"},
		{Name: "Condition", Type: "string", Description: "The condition of the CertificateSigningRequest"},
	}, printCSR)
}

func printCSR(csr *certificatesv1.CertificateSigningRequest, o *options) []any {
	requested := "<none>"
	if e := csr.Spec.ExpirationSeconds; e != nil {
		requested = duration.HumanDuration(time.Duration(*e) * time.Second)
	}
	return []any{csr.Name, translateTimestampSince(csr.CreationTimestamp, o.now), csr.Spec.SignerName, csr.Spec.Username, requested, csrCondition(csr)}
}

// csrCondition is upstream's extractCSRStatus: Denied, else Approved,
// else Pending; then ",Failed" and ",Issued".
func csrCondition(csr *certificatesv1.CertificateSigningRequest) string {
	var approved, denied, failed bool
	for _, c := range csr.Status.Conditions {
		switch c.Type {
		case certificatesv1.CertificateApproved:
			approved = true
		case certificatesv1.CertificateDenied:
			denied = true
		case certificatesv1.CertificateFailed:
			failed = true
		}
	}
	s := "Pending"
	if denied {
		s = "Denied"
	} else if approved {
		s = "Approved"
	}
	if failed {
		s += ",Failed"
	}
	if len(csr.Status.Certificate) > 0 {
		s += ",Issued"
	}
	return s
}
