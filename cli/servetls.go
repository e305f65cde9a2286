package cli

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"

	"github.com/wasmpod/wasmpod/apiserver"
)

// The serving PKI of `wasmpod serve --listen`: a CA and a serving
// certificate it signs, under <data-dir>/pki, every file mode 0600.
const (
	pkiDirName       = "pki"
	caCertFile       = "ca.crt"
	caKeyFile        = "ca.key"
	servingCertFile  = "serving.crt"
	servingKeyFile   = "serving.key"
	tokenFileName    = "token"
	kubeconfigName   = "kubeconfig"
	kubeconfigEntry  = "wasmpod" // cluster and context name in the kubeconfig
	kubeconfigUser   = "wasmpod-admin"
	servingCertLife  = 365 * 24 * time.Hour
	servingCertRenew = 30 * 24 * time.Hour // regenerate when it expires sooner than this
)

// servingPKI is what serve needs to serve TLS and to write a kubeconfig.
type servingPKI struct {
	cert   tls.Certificate
	caPEM  []byte // the trust anchor clients need (kubeconfig certificate-authority-data)
	caPath string // file holding caPEM ("" when it is only part of --tls-cert-file)
}

// servingHosts are the names the serving certificate must hold: the
// --listen host (or, for a wildcard host, every local interface address),
// localhost, 127.0.0.1, ::1 and the machine's hostname.
func servingHosts(listenHost string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if ip := net.ParseIP(listenHost); listenHost == "" || ip != nil && ip.IsUnspecified() {
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok {
					hosts = append(hosts, n.IP.String())
				}
			}
		}
	} else {
		hosts = append(hosts, listenHost)
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	return slices.Compact(hosts)
}

// loadOrCreatePKI returns the CA under dir (creating it on first use) and
// a serving certificate it signed for hosts: the one on disk when it is
// signed by that CA, holds every one of hosts and expires later than
// servingCertRenew from now; else a new one, written in its place.
func loadOrCreatePKI(dir string, hosts []string, now time.Time) (*servingPKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	caCert, caKey, caPEM, err := loadOrCreateCA(dir, now)
	if err != nil {
		return nil, err
	}
	certPath, keyPath := filepath.Join(dir, servingCertFile), filepath.Join(dir, servingKeyFile)
	if pair, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && servingCertUsable(pair.Leaf, caCert, hosts, now) {
		return &servingPKI{cert: pair, caPEM: caPEM, caPath: filepath.Join(dir, caCertFile)}, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "wasmpod-apiserver"},
		NotBefore:    now.Add(-time.Hour).UTC(),
		NotAfter:     now.Add(servingCertLife).UTC(),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, err
	}
	certPEM, err := cert.EncodeCertificates(leaf)
	if err != nil {
		return nil, err
	}
	if err := writePrivateFile(keyPath, keyPEM); err != nil {
		return nil, err
	}
	if err := writePrivateFile(certPath, certPEM); err != nil {
		return nil, err
	}
	return &servingPKI{
		cert:   tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		caPEM:  caPEM,
		caPath: filepath.Join(dir, caCertFile),
	}, nil
}

// servingCertUsable: leaf is signed by ca, names every host and does not
// expire within servingCertRenew.
func servingCertUsable(leaf, ca *x509.Certificate, hosts []string, now time.Time) bool {
	if leaf == nil || leaf.CheckSignatureFrom(ca) != nil || now.Add(servingCertRenew).After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return false
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

// loadOrCreateCA reads dir/ca.crt and dir/ca.key, or creates them (a
// self-signed ECDSA P-256 CA valid ten years, client-go's util/cert).
func loadOrCreateCA(dir string, now time.Time) (*x509.Certificate, crypto.Signer, []byte, error) {
	certPath, keyPath := filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
	certPEM, cerr := os.ReadFile(certPath)
	keyPEM, kerr := os.ReadFile(keyPath)
	if cerr == nil && kerr == nil {
		certs, err := cert.ParseCertsPEM(certPEM)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %v", certPath, err)
		}
		k, err := keyutil.ParsePrivateKeyPEM(keyPEM)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %v", keyPath, err)
		}
		signer, ok := k.(crypto.Signer)
		if !ok || !certs[0].IsCA {
			return nil, nil, nil, fmt.Errorf("%s and %s are not a CA certificate and its key", certPath, keyPath)
		}
		return certs[0], signer, certPEM, nil
	}
	if !errors.Is(cerr, fs.ErrNotExist) || !errors.Is(kerr, fs.ErrNotExist) {
		return nil, nil, nil, fmt.Errorf("the CA in %s is incomplete or unreadable (%v; %v): remove both %s and %s to create a new one (clients must then fetch the new kubeconfig)", dir, cerr, kerr, caCertFile, caKeyFile)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	ca, err := cert.NewSelfSignedCACert(cert.Config{CommonName: fmt.Sprintf("wasmpod-ca@%d", now.Unix())}, key)
	if err != nil {
		return nil, nil, nil, err
	}
	keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, nil, nil, err
	}
	if certPEM, err = cert.EncodeCertificates(ca); err != nil {
		return nil, nil, nil, err
	}
	if err := writePrivateFile(keyPath, keyPEM); err != nil {
		return nil, nil, nil, err
	}
	if err := writePrivateFile(certPath, certPEM); err != nil {
		return nil, nil, nil, err
	}
	return ca, key, certPEM, nil
}

// loadServingFiles reads --tls-cert-file and --tls-private-key-file. The
// kubeconfig's CA is the last certificate of the file's chain (its root,
// or the highest one given: Go and client-go trust any certificate in the
// pool as an anchor).
func loadServingFiles(certFile, keyFile string) (*servingPKI, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert-file/--tls-private-key-file: %v", err)
	}
	last, err := x509.ParseCertificate(pair.Certificate[len(pair.Certificate)-1])
	if err != nil {
		return nil, fmt.Errorf("--tls-cert-file: %v", err)
	}
	caPEM, err := cert.EncodeCertificates(last)
	if err != nil {
		return nil, err
	}
	return &servingPKI{cert: pair, caPEM: caPEM}, nil
}

// tlsConfig is the serving TLS configuration: TLS 1.2 and up, HTTP/2 and
// HTTP/1.1 (exec and port-forward upgrades use the latter). It asks for a
// client certificate without requiring one: the API server authenticates
// those of the cluster CA (joined agents' node credentials; see
// apiserver.Server.SetClusterCA), and bearer tokens otherwise.
func (p *servingPKI) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{p.cert},
		NextProtos:   []string{"h2", "http/1.1"},
		ClientAuth:   tls.RequestClientCert,
	}
}

// serveTLS serves s on l (a LimitUnauthenticated listener) with TLS. The
// connection the handler sees is the TLS one; ConnContext is given the
// accepted connection under it, so that a token check still marks it
// authenticated.
func serveTLS(s *http.Server, l net.Listener, cfg *tls.Config) error {
	if inner := s.ConnContext; inner != nil {
		s.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			if tc, ok := c.(*tls.Conn); ok {
				return inner(ctx, tc.NetConn())
			}
			return inner(ctx, c)
		}
	}
	s.TLSConfig = cfg
	return s.ServeTLS(l, "", "")
}

// loadOrCreateToken returns <data-dir>/token, creating it (32 random
// bytes, hex) on first use.
func loadOrCreateToken(dataDir string) (string, error) {
	path := filepath.Join(dataDir, tokenFileName)
	if b, err := os.ReadFile(path); err == nil {
		tok := strings.TrimSpace(string(b))
		if err := apiserver.CheckToken(tok); err != nil {
			return "", fmt.Errorf("%s: %v (remove it to generate a new one)", path, err)
		}
		return tok, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", err
	}
	return tok, writePrivateFile(path, []byte(tok+"\n"))
}

// writeKubeconfig writes (or, into an existing kubeconfig, merges) the
// cluster, user and context "wasmpod" for server with the CA and token,
// and makes it the current context. The file is mode 0600.
func writeKubeconfig(path, server string, caPEM []byte, token string) error {
	cfg := clientcmdapi.NewConfig()
	if b, err := os.ReadFile(path); err == nil && len(bytes.TrimSpace(b)) > 0 {
		if cfg, err = clientcmd.Load(b); err != nil {
			return fmt.Errorf("%s exists and is not a kubeconfig (%v): not overwritten", path, err)
		}
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	cluster := clientcmdapi.NewCluster()
	cluster.Server = server
	cluster.CertificateAuthorityData = caPEM
	user := clientcmdapi.NewAuthInfo()
	user.Token = token
	kctx := clientcmdapi.NewContext()
	kctx.Cluster, kctx.AuthInfo, kctx.Namespace = kubeconfigEntry, kubeconfigUser, "default"
	cfg.Clusters[kubeconfigEntry] = cluster
	cfg.AuthInfos[kubeconfigUser] = user
	cfg.Contexts[kubeconfigEntry] = kctx
	cfg.CurrentContext = kubeconfigEntry
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return err
	}
	return os.Chmod(path, 0o600) // WriteToFile keeps an existing file's mode
}

// kubeconfigServer is the https:// URL clients use for the listener at
// addr requested as listenHost: a wildcard host is reached on loopback.
func serverURL(listenHost string, addr net.Addr) string {
	_, port, _ := net.SplitHostPort(addr.String())
	host := listenHost
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "https://" + net.JoinHostPort(host, port)
}

// checkLoopbackListen refuses an --insecure-http-listen address that is
// not on loopback: plain HTTP carries the token in the clear.
func checkLoopbackListen(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--insecure-http-listen %q: %v", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--insecure-http-listen %q: plain HTTP is served only on a loopback address (127.0.0.1, ::1 or localhost), since it carries the bearer token in the clear; use --listen (HTTPS) for other addresses", addr)
}

// writePrivateFile writes path atomically with mode 0600.
func writePrivateFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr, os.Chmod(tmp.Name(), 0o600)); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
