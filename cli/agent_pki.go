package cli

// agent_pki.go: serve's kubelet client certificate, with which its API
// server reaches the kubelet API of `wasmpod agent` nodes (as
// kube-apiserver's --kubelet-client-certificate): signed by serve's CA,
// which the agents trust, and made in memory at every start.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"time"

	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// kubeletClientCertLife is how long a kubelet client certificate is
// valid; serve makes a new one at each start.
const kubeletClientCertLife = 365 * 24 * time.Hour

// kubeletClientCert returns a client certificate and key (PEM) for the
// user kube-apiserver-kubelet-client in the group system:masters, signed
// by the CA under pkiDir (created if missing, as serve's).
func kubeletClientCert(pkiDir string, now time.Time) (certPEM, keyPEM []byte, err error) {
	ca, caKey, _, err := loadOrCreateCA(pkiDir, now) // servetls.go
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}},
		NotBefore:    now.Add(-time.Hour).UTC(),
		NotAfter:     now.Add(kubeletClientCertLife).UTC(),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	if certPEM, err = cert.EncodeCertificates(leaf); err != nil {
		return nil, nil, err
	}
	if keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}
