package nodeagent

// servingcert.go: the kubelet API's serving certificate from the cluster
// CA, as the kubelet's serverTLSBootstrap: the agent creates a
// certificates.k8s.io/v1 CertificateSigningRequest for the signer
// kubernetes.io/kubelet-serving (CN system:node:NAME, O system:nodes, the
// node's name and IP as SANs, a new P-256 key), waits for the
// certificate, serves it, and requests the next one once 70–90% of its
// lifetime has passed (upstream's certificate manager's jitter). Until
// the first arrives (a control plane that approves none: a kube-apiserver
// without the approval, or an admin who has not approved it yet) it
// serves its self-signed certificate. serve's controller approves such a
// request on its own when its names are the Node's (apiserver/csr.go).

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
)

const csrPath = "/apis/certificates.k8s.io/v1/certificatesigningrequests"

// csrObject is the part of a certificates.k8s.io/v1
// CertificateSigningRequest the agent writes and reads, in JSON: the
// agent does not link k8s.io/api/certificates/v1 (0.2 MB) for it.
type csrObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name         string `json:"name,omitempty"`
		GenerateName string `json:"generateName,omitempty"`
	} `json:"metadata"`
	Spec struct {
		Request    []byte   `json:"request"`
		SignerName string   `json:"signerName"`
		Usages     []string `json:"usages"`
	} `json:"spec"`
	Status struct {
		Conditions []struct {
			Type    string                 `json:"type"`
			Status  corev1.ConditionStatus `json:"status"`
			Reason  string                 `json:"reason,omitempty"`
			Message string                 `json:"message,omitempty"`
		} `json:"conditions,omitempty"`
		Certificate []byte `json:"certificate,omitempty"`
	} `json:"status"`
}

// ServingCerts requests and rotates a node's kubelet serving certificate.
type ServingCerts struct {
	rest     rest.Interface // any of the clientset's REST clients: paths are absolute
	node     string
	ip       net.IP
	clock    clock.Clock
	logf     func(string, ...any)
	fallback *tls.Certificate
	cur      atomic.Pointer[tls.Certificate]
	dir      string
}

// SetCertDir keeps the certificates in dir as kubelet-server-current.pem
// (clientcert.go's store): Run starts from a still valid one there, for
// the node's name and address, instead of a new request, as the kubelet
// does after a restart.
func (m *ServingCerts) SetCertDir(dir string) { m.dir = dir }

// stored is the still valid certificate in the cert dir, nil if none.
func (m *ServingCerts) stored() *tls.Certificate {
	if m.dir == "" {
		return nil
	}
	c, err := loadPair(CurrentCertPath(m.dir, ServingCertPrefix))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			m.logf("node %s: ignoring its stored serving certificate: %v", m.node, err)
		}
		return nil
	}
	leaf, err := leafOf(c)
	if err != nil || !m.clock.Now().Before(leaf.NotAfter) || leaf.VerifyHostname(m.node) != nil || leaf.VerifyHostname(m.ip.String()) != nil {
		return nil
	}
	return c
}

// NewServingCerts is the serving certificates of node at ip, requested
// through c (a REST client of the API server, e.g. the clientset's
// CoreV1().RESTClient()), served as fallback until the first arrives;
// clk times the rotations.
func NewServingCerts(c rest.Interface, node string, ip net.IP, fallback *tls.Certificate, clk clock.Clock, logf func(string, ...any)) *ServingCerts {
	return &ServingCerts{rest: c, node: node, ip: ip, clock: clk, logf: logf, fallback: fallback}
}

// GetCertificate is the tls.Config hook: the current certificate.
func (m *ServingCerts) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := m.cur.Load(); c != nil {
		return c, nil
	}
	return m.fallback, nil
}

// Current is the certificate from the cluster CA, nil before the first.
func (m *ServingCerts) Current() *x509.Certificate {
	if c := m.cur.Load(); c != nil {
		return c.Leaf
	}
	return nil
}

// RotationDeadline is when a certificate is renewed: after 70–90% of its
// lifetime (upstream's nextRotationDeadline, jitter 0.2 over 0.7).
func RotationDeadline(leaf *x509.Certificate, jitter float64) time.Time {
	total := float64(leaf.NotAfter.Sub(leaf.NotBefore))
	return leaf.NotBefore.Add(time.Duration(total * (0.7 + 0.2*jitter)))
}

// Run requests a certificate, then each next one at its rotation
// deadline, until ctx ends.
func (m *ServingCerts) Run(ctx context.Context) {
	c := m.stored()
	for {
		if c == nil {
			if !retry(ctx, func() (err error) {
				c, err = m.request(ctx)
				return err
			}, func(err error) { m.logf("node %s: kubelet serving certificate: %v (retrying)", m.node, err) }) {
				return
			}
			if m.dir != "" {
				if err := storePair(m.dir, ServingCertPrefix, c, m.clock.Now()); err != nil {
					m.logf("node %s: keeping its serving certificate: %v", m.node, err)
				}
			}
		}
		m.cur.Store(c)
		deadline := jitteredDeadline(c.Leaf)
		m.logf("node %s: kubelet serving certificate from the cluster CA, valid until %s, renewed at %s", m.node,
			c.Leaf.NotAfter.UTC().Format(time.RFC3339), deadline.UTC().Format(time.RFC3339))
		if !waitUntil(ctx, m.clock, deadline) {
			return
		}
		c = nil
	}
}

// waitForAddress waits (up to 30 s) until the Node reports the agent's
// IP, which serve's approver checks the request's names against: a request
// made before would wait for the approver's next pass.
func (m *ServingCerts) waitForAddress(ctx context.Context) {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		var n corev1.Node
		b, err := m.rest.Get().AbsPath("/api/v1/nodes", m.node).SetHeader("Accept", "application/json").Do(ctx).Raw()
		if err == nil && json.Unmarshal(b, &n) == nil {
			for _, a := range n.Status.Addresses {
				if ip := net.ParseIP(a.Address); ip != nil && ip.Equal(m.ip) {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// request creates a CSR and waits until it is signed, denied or failed.
func (m *ServingCerts) request(ctx context.Context) (*tls.Certificate, error) {
	if m.cur.Load() == nil {
		m.waitForAddress(ctx)
	}
	return requestCert(ctx, m.rest, &x509.CertificateRequest{
		Subject:     pkix.Name{CommonName: "system:node:" + m.node, Organization: []string{"system:nodes"}},
		DNSNames:    []string{m.node},
		IPAddresses: []net.IP{m.ip},
	}, "kubernetes.io/kubelet-serving", []string{"digital signature", "server auth"}, func(name string) {
		m.logf("node %s: waiting for CertificateSigningRequest %s to be approved (kubectl certificate approve %s)", m.node, name, name)
	})
}

// requestCert creates a CertificateSigningRequest of a new P-256 key for
// tmpl through c, for signer with usages, and waits until it is signed
// (the key pair), denied or failed (an error); waiting is told the
// request's name once it has waited a few seconds.
func requestCert(ctx context.Context, c rest.Interface, tmpl *x509.CertificateRequest, signer string, usages []string, waiting func(string)) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, err
	}
	csr := &csrObject{APIVersion: "certificates.k8s.io/v1", Kind: "CertificateSigningRequest"}
	csr.Metadata.GenerateName = "csr-"
	csr.Spec.Request = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	csr.Spec.SignerName = signer
	csr.Spec.Usages = usages
	body, _ := json.Marshal(csr)
	if err := doCSR(ctx, c.Post().AbsPath(csrPath).Body(body), csr); err != nil {
		return nil, fmt.Errorf("creating its CertificateSigningRequest: %w", err)
	}
	name := csr.Metadata.Name
	told := false
	for wait := 500 * time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
		for _, c := range csr.Status.Conditions {
			if (c.Type == "Denied" || c.Type == "Failed") && c.Status == corev1.ConditionTrue {
				return nil, fmt.Errorf("CertificateSigningRequest %s: %s: %s", name, c.Reason, c.Message)
			}
		}
		if len(csr.Status.Certificate) > 0 {
			return keyPair(csr.Status.Certificate, key)
		}
		if !told && wait >= 4*time.Second && waiting != nil {
			waiting(name)
			told = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		if err := doCSR(ctx, c.Get().AbsPath(csrPath, name), csr); err != nil {
			return nil, fmt.Errorf("reading CertificateSigningRequest %s: %w", name, err)
		}
	}
}

// doCSR sends req as JSON and decodes its answer into out.
func doCSR(ctx context.Context, req *rest.Request, out *csrObject) error {
	b, err := req.SetHeader("Content-Type", "application/json").SetHeader("Accept", "application/json").Do(ctx).Raw()
	if err != nil {
		return err
	}
	*out = csrObject{}
	return json.Unmarshal(b, out)
}

// keyPair is the signed chain with key, its leaf parsed.
func keyPair(chainPEM []byte, key *ecdsa.PrivateKey) (*tls.Certificate, error) {
	var c tls.Certificate
	for rest := chainPEM; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			c.Certificate = append(c.Certificate, blk.Bytes)
		}
	}
	if len(c.Certificate) == 0 {
		return nil, errors.New("the issued certificate holds no PEM CERTIFICATE")
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil, err
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, errors.New("the issued certificate is not for the requested key")
	}
	c.PrivateKey, c.Leaf = key, leaf
	return &c, nil
}
