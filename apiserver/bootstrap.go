package apiserver

// bootstrap.go: joining nodes (issue 15 §1), the kubeadm model.
//
//   - Bootstrap tokens: a bearer token "<id>.<secret>" (kubeadm's
//     [a-z0-9]{6}.[a-z0-9]{16}) whose Secret kube-system/bootstrap-token-<id>
//     (type bootstrap.kubernetes.io/token) holds the same secret, has not
//     expired and has usage-bootstrap-authentication "true" is the user
//     system:bootstrap:<id> in system:bootstrappers (plus the Secret's
//     auth-extra-groups) and system:authenticated, as kube-apiserver's
//     --enable-bootstrap-token-auth. The Secret is read at every request.
//   - Client certificates: with SetClusterCA, a request whose TLS client
//     certificate the cluster CA verifies (for client auth) is the user of
//     its CN in the groups of its O, as kube-apiserver's --client-ca-file.
//     The listener must ask for certificates (tls.RequestClientCert).
//   - Discovery: GET ClusterInfoPath (kube-public/cluster-info) is allowed
//     without credentials, as kubeadm's RBAC Role for system:anonymous; the
//     ConfigMap (written by wasmpod/bootstrap.CreateToken) holds a
//     kubeconfig with the CA and one JWS signature per token
//     (jws-kubeconfig-<id>), so a joining agent trusts the CA only when its
//     token signed it, or when its SHA-256 matches a pinned hash.
//   - The node credential: POST NodeCredentialPath by a user in
//     system:bootstrappers with a PEM CSR whose subject is CN
//     system:node:<name>, O system:nodes answers a client certificate
//     signed by the cluster CA (NodeCredentialLife), as upstream's CSR for
//     kubernetes.io/kube-apiserver-client-kubelet auto-approved for
//     system:bootstrappers — without the certificates.k8s.io objects.

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	bootstrapsecretutil "k8s.io/cluster-bootstrap/util/secrets"
)

const (
	// ClusterInfoPath is the kube-public/cluster-info ConfigMap, readable
	// without credentials.
	ClusterInfoPath = "/api/v1/namespaces/" + metav1NamespacePublic + "/configmaps/" + bootstrapapi.ConfigMapClusterInfo
	// NodeCredentialPath is where a bootstrapping node posts its CSR.
	NodeCredentialPath = "/wasmpod/bootstrap/node-credential"
	// NodeCredentialLife is how long a node's client certificate is valid
	// (kube-controller-manager's --cluster-signing-duration default).
	NodeCredentialLife = 365 * 24 * time.Hour
	// GroupNodes and NodeUserPrefix name a node's user: system:node:<name>
	// in system:nodes.
	GroupNodes     = user.NodesGroup
	NodeUserPrefix = "system:node:"

	metav1NamespacePublic = "kube-public"
	maxCSRBytes           = 16 << 10
)

// anonymousUser is a request without credentials on ClusterInfoPath.
var anonymousUser user.Info = &user.DefaultInfo{Name: user.Anonymous, Groups: []string{user.AllUnauthenticated}}

// clusterCA is the CA that verifies client certificates and signs nodes'.
type clusterCA struct {
	mu   sync.RWMutex
	cert *x509.Certificate
	key  crypto.Signer
	pool *x509.CertPool
}

// SetClusterCA gives the API server the cluster CA (PEM certificate and
// key): client certificates it signed authenticate, and joining nodes get
// their credential signed by it.
func (s *Server) SetClusterCA(certPEM, keyPEM []byte) error {
	certs, err := cert.ParseCertsPEM(certPEM)
	if err != nil {
		return fmt.Errorf("cluster CA: %w", err)
	}
	k, err := keyutil.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return fmt.Errorf("cluster CA key: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return errors.New("cluster CA key: not a signing key")
	}
	pool := x509.NewCertPool()
	pool.AddCert(certs[0])
	s.ca.mu.Lock()
	s.ca.cert, s.ca.key, s.ca.pool = certs[0], signer, pool
	s.ca.mu.Unlock()
	return nil
}

// authenticateClientCert is the user of req's verified client certificate.
func (s *Server) authenticateClientCert(req *http.Request) (user.Info, bool) {
	if req.TLS == nil || len(req.TLS.PeerCertificates) == 0 {
		return nil, false
	}
	s.ca.mu.RLock()
	pool := s.ca.pool
	s.ca.mu.RUnlock()
	if pool == nil {
		return nil, false
	}
	leaf := req.TLS.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range req.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: s.now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, false
	}
	if leaf.Subject.CommonName == "" {
		return nil, false
	}
	return withAuthenticatedGroup(&user.DefaultInfo{Name: leaf.Subject.CommonName, Groups: slices.Clone(leaf.Subject.Organization)}), true
}

// now is the server's clock.
func (s *Server) now() time.Time {
	if s.clock != nil {
		return s.clock.Now()
	}
	return time.Now()
}

// authenticateBootstrapToken: ours is false for a token not of the
// bootstrap format (other authenticators are asked then).
func (s *Server) authenticateBootstrapToken(ctx context.Context, tok string) (u user.Info, ours bool) {
	if !bootstraputil.IsValidBootstrapToken(tok) {
		return nil, false
	}
	id, secret, _ := strings.Cut(tok, ".")
	obj, err := s.Get(ctx, s.resources["/secrets"], "kube-system", bootstraputil.BootstrapTokenSecretName(id))
	if err != nil {
		return nil, true
	}
	sec := obj.(*corev1.Secret)
	if sec.Type != bootstrapapi.SecretTypeBootstrapToken || sec.DeletionTimestamp != nil ||
		bootstrapsecretutil.GetData(sec, bootstrapapi.BootstrapTokenIDKey) != id ||
		subtle.ConstantTimeCompare([]byte(bootstrapsecretutil.GetData(sec, bootstrapapi.BootstrapTokenSecretKey)), []byte(secret)) != 1 ||
		bootstrapsecretutil.HasExpired(sec, s.now()) ||
		bootstrapsecretutil.GetData(sec, bootstrapapi.BootstrapTokenUsageAuthentication) != "true" {
		return nil, true
	}
	groups, err := bootstrapsecretutil.GetGroups(sec)
	if err != nil {
		return nil, true
	}
	return withAuthenticatedGroup(&user.DefaultInfo{Name: bootstrapapi.BootstrapUserPrefix + id, Groups: groups}), true
}

// inGroup: u is in group g.
func inGroup(u user.Info, g string) bool { return slices.Contains(u.GetGroups(), g) }

// serveNodeCredential signs a bootstrapping node's CSR (NodeCredentialPath).
func (h *httpHandler) serveNodeCredential(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		writeError(w, methodNotAllowed(req.Method))
		return
	}
	u := UserFrom(req.Context())
	if !inGroup(u, bootstrapapi.BootstrapDefaultGroup) && !isMaster(u) {
		writeError(w, apierrors.NewForbidden(corev1.Resource("certificatesigningrequests"), "",
			fmt.Errorf("user %q is not in %s: only a bootstrap token gets a node credential", u.GetName(), bootstrapapi.BootstrapDefaultGroup)))
		return
	}
	b, err := io.ReadAll(io.LimitReader(req.Body, maxCSRBytes+1))
	if err != nil {
		writeError(w, badRequest("reading the CSR: "+err.Error()))
		return
	}
	if len(b) > maxCSRBytes {
		writeError(w, badRequest(fmt.Sprintf("the CSR is larger than %d bytes", maxCSRBytes)))
		return
	}
	certPEM, err := h.s.signNodeCSR(b)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.WriteHeader(http.StatusCreated)
	w.Write(certPEM)
}

// signNodeCSR checks a node's CSR as upstream's kubelet client signer
// (kubernetes.io/kube-apiserver-client-kubelet: CN system:node:<name>, O
// exactly system:nodes, no SANs) and signs it with the cluster CA.
func (s *Server) signNodeCSR(b []byte) ([]byte, error) {
	s.ca.mu.RLock()
	caCert, caKey := s.ca.cert, s.ca.key
	s.ca.mu.RUnlock()
	if caCert == nil {
		return nil, apierrors.NewServiceUnavailable("this API server has no cluster CA to sign node credentials with")
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE REQUEST" {
		return nil, badRequest("the body must be a PEM CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		return nil, badRequest("the CSR: " + err.Error())
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, badRequest("the CSR's signature: " + err.Error())
	}
	name, ok := strings.CutPrefix(csr.Subject.CommonName, NodeUserPrefix)
	if !ok || name == "" || !slices.Equal(csr.Subject.Organization, []string{GroupNodes}) {
		return nil, badRequest(fmt.Sprintf("the CSR's subject must be CN=%s<node name>, O=%s (got CN=%q, O=%q)",
			NodeUserPrefix, GroupNodes, csr.Subject.CommonName, csr.Subject.Organization))
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return nil, badRequest(fmt.Sprintf("the CSR's node name %q: %s", name, strings.Join(errs, "; ")))
	}
	if len(csr.DNSNames)+len(csr.IPAddresses)+len(csr.EmailAddresses)+len(csr.URIs) > 0 {
		return nil, badRequest("a node client CSR has no subject alternative names")
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := s.now()
	notAfter := now.Add(NodeCredentialLife)
	if d := s.opts.ClusterSigningDuration; d > 0 {
		notAfter = now.Add(d)
	}
	if notAfter.After(caCert.NotAfter) {
		notAfter = caCert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: csr.Subject.CommonName, Organization: []string{GroupNodes}},
		NotBefore:    now.Add(-5 * time.Minute).UTC(), // clock skew, as upstream's signer's backdate
		NotAfter:     notAfter.UTC(),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, csr.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
