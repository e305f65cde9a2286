package apiserver

import (
	certificatesv1 "k8s.io/api/certificates/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

	"github.com/wasmpod/wasmpod/internal/kube/kubernetes/scheme"
)

// internal/kube's scheme is client-gen's over the groups whose clients
// wasmpod generates (internal/kube/gen.sh); certificates.k8s.io/v1 is
// served (csr.go) but has no generated client, so the API server adds it:
// the field manager converts through this scheme, and without the kind
// every CSR write failed to record metadata.managedFields
// (TestCSRManagedFields).
func init() {
	utilruntime.Must(certificatesv1.AddToScheme(scheme.Scheme))
}
