// Package realkube runs an unmodified upstream kube-apiserver for tests,
// as the control plane a wasmpod agent joins as a virtual node (the
// Krustlet and virtual-kubelet model).
//
// The binary is upstream's cmd/kube-apiserver of k8s.io/kubernetes
// v1.37.2, built from the Go module proxy: testdata/kube-apiserver is a
// module of its own (a go.mod that pins each staging module to v0.37.2,
// a go.sum, and upstream's main), so the wasmpod module never depends on
// k8s.io/kubernetes. APIServerPath builds it once per machine into the
// tests' cache (build.go), under a file lock so that parallel test
// binaries build it once; without $WASMPOD_REAL_APISERVER a test skips
// when it is not cached yet.
//
// Start runs it on loopback over an embedded etcd (store/etcd/etcdtest),
// as a real cluster's is configured: TLS from a CA of the test's, token
// authentication (an admin in system:masters, and one user
// system:node:NAME in system:nodes per node), --authorization-mode=Node,RBAC
// and the NodeRestriction admission plugin, a kubelet client certificate
// (in system:masters) for logs, exec, attach and port-forward, and service
// account token signing. Nothing else runs: no kube-controller-manager and
// no kube-scheduler.
package realkube

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/wasmpod/wasmpod/internal/proctest"
	"github.com/wasmpod/wasmpod/store/etcd/etcdtest"
)

// Options configure Start.
type Options struct {
	// Nodes are the names of the nodes that get a credential: the user
	// system:node:NAME in the group system:nodes (NodeConfig).
	Nodes []string
	// Args are added to kube-apiserver's command line.
	Args []string
}

// Server is a running kube-apiserver.
type Server struct {
	// URL is the API server's address (https://127.0.0.1:PORT).
	URL string
	// CA is the cluster CA (PEM): it signed the serving certificate and
	// the kubelet client certificate.
	CA []byte
	// Etcd is the server's store.
	Etcd *etcdtest.Server

	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	tokens map[string]string // user → token
	cmd    *exec.Cmd
	exited chan struct{}
	log    string
}

// AdminUser is the user of AdminConfig, in system:masters.
const AdminUser = "admin"

// Start starts etcd and kube-apiserver on loopback and waits until
// /readyz answers 200. Both are stopped when the test ends; the API
// server's log is printed when the test fails.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	bin := APIServerPath(tb)
	dir := tb.TempDir()
	etcd := etcdtest.Start(tb, filepath.Join(dir, "etcd"), etcdtest.Options{})
	s := &Server{Etcd: etcd, dir: dir, tokens: map[string]string{}, exited: make(chan struct{}), log: filepath.Join(dir, "kube-apiserver.log")}

	ca, caKey := newCA(tb)
	s.CA, s.ca, s.caKey = pemCert(ca.Raw), ca, caKey
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			tb.Fatal(err)
		}
		return p
	}
	caFile := write("ca.crt", s.CA)
	serving, servingKey := issue(tb, ca, caKey, x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 96, 0, 1)},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
	})
	// The kubelet client certificate, as kubeadm's apiserver-kubelet-client.
	kc, kcKey := issue(tb, ca, caKey, x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	saDER, err := x509.MarshalECPrivateKey(saKey)
	if err != nil {
		tb.Fatal(err)
	}
	saPub, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		tb.Fatal(err)
	}

	// token,user,uid,"group,group"
	var tokens strings.Builder
	addUser := func(user, groups string) {
		tok := randomHex(tb)
		s.tokens[user] = tok
		fmt.Fprintf(&tokens, "%s,%s,%s,%q\n", tok, user, user, groups)
	}
	addUser(AdminUser, "system:masters")
	for _, n := range opts.Nodes {
		addUser("system:node:"+n, "system:nodes")
	}

	port := freePort(tb)
	s.URL = fmt.Sprintf("https://127.0.0.1:%d", port)
	args := []string{
		"--etcd-servers=" + strings.Join(etcd.Endpoints(), ","),
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none",
		"--cert-dir=" + filepath.Join(dir, "certs"),
		"--tls-cert-file=" + write("apiserver.crt", pemCert(serving)),
		"--tls-private-key-file=" + write("apiserver.key", pemKey(tb, servingKey)),
		"--client-ca-file=" + caFile,
		"--token-auth-file=" + write("tokens.csv", []byte(tokens.String())),
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--kubelet-client-certificate=" + write("kubelet-client.crt", pemCert(kc)),
		"--kubelet-client-key=" + write("kubelet-client.key", pemKey(tb, kcKey)),
		"--kubelet-preferred-address-types=InternalIP,Hostname",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + write("sa.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub})),
		"--service-account-signing-key-file=" + write("sa.key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: saDER})),
		"--service-cluster-ip-range=10.96.0.0/12",
		"--profiling=false",
	}
	args = append(args, opts.Args...)
	logf, err := os.Create(s.log)
	if err != nil {
		tb.Fatal(err)
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	setPdeathsig(s.cmd)
	started := time.Now()
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		tb.Fatalf("starting kube-apiserver: %v", err)
	}
	go func() {
		s.cmd.Wait()
		logf.Close()
		close(s.exited)
	}()
	tb.Cleanup(func() {
		if tb.Failed() {
			s.dumpLog(tb)
		}
		s.Stop()
	})
	if err := s.waitReady(tb, time.Minute); err != nil {
		tb.Fatalf("kube-apiserver at %s: %v", s.URL, err)
	}
	tb.Logf("realkube: kube-apiserver %s at %s ready in %s", Version, s.URL, time.Since(started).Round(100*time.Millisecond))
	return s
}

// Stop stops kube-apiserver (SIGTERM, then SIGKILL after 10 s).
func (s *Server) Stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// Pid is the kube-apiserver process's id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// RSS is the kube-apiserver process's resident set in bytes.
func (s *Server) RSS() (int64, error) {
	u, err := proctest.Read(s.Pid())
	return u.RSS, err
}

// Log is what kube-apiserver has written so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

func (s *Server) dumpLog(tb testing.TB) {
	b := s.Log()
	if len(b) > 64<<10 {
		b = "...\n" + b[len(b)-64<<10:]
	}
	tb.Logf("kube-apiserver log (%s):\n%s", s.log, b)
}

func (s *Server) waitReady(tb testing.TB, wait time.Duration) error {
	cfg := s.AdminConfig()
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(wait)
	var last string
	for {
		select {
		case <-s.exited:
			s.dumpLog(tb)
			return fmt.Errorf("exited before it was ready: %v", s.cmd.ProcessState)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/readyz", nil)
		resp, err := hc.Do(req)
		if err == nil {
			var buf [512]byte
			n, _ := resp.Body.Read(buf[:])
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				cancel()
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, buf[:n])
		} else {
			last = err.Error()
		}
		cancel()
		if time.Now().After(deadline) {
			s.dumpLog(tb)
			return fmt.Errorf("/readyz not 200 within %s: %s", wait, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// AdminConfig is a client configuration of the admin (system:masters).
func (s *Server) AdminConfig() *rest.Config { return s.config(AdminUser) }

// NodeConfig is the client configuration of node's credential (the user
// system:node:NAME in system:nodes; node must be in Options.Nodes).
func (s *Server) NodeConfig(node string) *rest.Config { return s.config("system:node:" + node) }

func (s *Server) config(user string) *rest.Config {
	tok, ok := s.tokens[user]
	if !ok {
		panic(fmt.Sprintf("realkube: no credential for %q (Options.Nodes)", user))
	}
	return &rest.Config{Host: s.URL, BearerToken: tok, TLSClientConfig: rest.TLSClientConfig{CAData: s.CA}}
}

// Kubeconfig writes a kubeconfig file of the admin's credential (for
// kubectl) into the test's directory and returns its path.
func (s *Server) Kubeconfig(tb testing.TB) string {
	tb.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["realkube"] = &clientcmdapi.Cluster{Server: s.URL, CertificateAuthorityData: s.CA}
	cfg.AuthInfos[AdminUser] = &clientcmdapi.AuthInfo{Token: s.tokens[AdminUser]}
	cfg.Contexts["realkube"] = &clientcmdapi.Context{Cluster: "realkube", AuthInfo: AdminUser}
	cfg.CurrentContext = "realkube"
	p := filepath.Join(tb.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, p); err != nil {
		tb.Fatal(err)
	}
	return p
}

// --- certificates -----------------------------------------------------------

func newCA(tb testing.TB) (*x509.Certificate, *ecdsa.PrivateKey) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(tb),
		Subject:               pkix.Name{CommonName: "realkube-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		tb.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return ca, key
}

// issue signs tmpl (subject, usages, SANs) with the CA for a day.
func issue(tb testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, tmpl x509.Certificate) ([]byte, *ecdsa.PrivateKey) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl.SerialNumber = serial(tb)
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca, key.Public(), caKey)
	if err != nil {
		tb.Fatal(err)
	}
	return der, key
}

// ClientCertificate is a client certificate of the cluster CA for user
// in groups (its CN and O), as kube-apiserver's --client-ca-file and a
// kubelet API read them.
func (s *Server) ClientCertificate(tb testing.TB, user string, groups ...string) tls.Certificate {
	tb.Helper()
	der, key := issue(tb, s.ca, s.caKey, x509.Certificate{
		Subject:     pkix.Name{CommonName: user, Organization: groups},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func serial(tb testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func pemKey(tb testing.TB, k *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

func randomHex(tb testing.TB) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

func freePort(tb testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
