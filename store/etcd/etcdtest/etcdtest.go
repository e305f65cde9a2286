// Package etcdtest starts a real, embedded single-member etcd server
// (go.etcd.io/etcd/server/v3/embed) on loopback for tests, with its data in
// a directory of the test's, and can stop and restart it on the same ports
// and data. It is imported by tests only, so that the wasmpod binary links
// the etcd client and not the server.
package etcdtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Options tune Start; the zero value is a plain-http server.
type Options struct {
	// TLS, when set, serves https on the client port with this
	// certificate, and, with ClientCertAuth, requires client
	// certificates signed by TrustedCAFile.
	TLS *transport.TLSInfo
	// Fsync keeps etcd's fsyncs; by default they are off, which is safe
	// for everything but a machine crash and makes tests faster.
	Fsync bool
}

// Server is a running (or stopped) embedded etcd.
type Server struct {
	t    testing.TB
	dir  string
	opts Options
	peer url.URL
	cli  url.URL
	e    *embed.Etcd
}

// Start starts an etcd with its data in dir on two free loopback ports and
// waits until it serves. It is stopped when the test ends.
func Start(t testing.TB, dir string, opts Options) *Server {
	t.Helper()
	scheme := "http"
	if opts.TLS != nil {
		scheme = "https"
	}
	var lastErr error
	for range 5 { // a free port may be taken between probe and listen
		s := &Server{t: t, dir: dir, opts: opts,
			peer: url.URL{Scheme: "http", Host: freeAddr(t)},
			cli:  url.URL{Scheme: scheme, Host: freeAddr(t)}}
		if lastErr = s.start(); lastErr == nil {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatalf("embedded etcd in %s: %v", dir, lastErr)
	return nil
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (s *Server) start() error {
	cfg := embed.NewConfig()
	cfg.Name = "etcdtest"
	cfg.Dir = s.dir
	cfg.ListenPeerUrls = []url.URL{s.peer}
	cfg.AdvertisePeerUrls = []url.URL{s.peer}
	cfg.ListenClientUrls = []url.URL{s.cli}
	cfg.AdvertiseClientUrls = []url.URL{s.cli}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.SnapshotCount = 5000
	cfg.UnsafeNoFsync = !s.opts.Fsync
	cfg.Logger = "zap"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	if s.opts.TLS != nil {
		cfg.ClientTLSInfo = *s.opts.TLS
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return err
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return err
	case <-time.After(30 * time.Second):
		e.Close()
		return fmt.Errorf("not ready within 30s")
	}
	s.e = e
	return nil
}

// Endpoints are the client URLs.
func (s *Server) Endpoints() []string { return []string{s.cli.String()} }

// Dir is the data directory.
func (s *Server) Dir() string { return s.dir }

// Stop stops the server (a graceful shutdown: clients see the connection
// close). Stopping a stopped server does nothing.
func (s *Server) Stop() {
	if s.e != nil {
		s.e.Close()
		s.e = nil
	}
}

// Restart starts a stopped server again on the same ports and data.
func (s *Server) Restart() {
	s.t.Helper()
	if s.e != nil {
		s.t.Fatal("etcdtest: Restart of a running server")
	}
	var err error
	for range 50 { // the old listeners' ports may take a moment to free
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("restarting embedded etcd in %s: %v", s.dir, err)
}

// TLSFiles are the PEM files WriteTLS makes: a CA, a server certificate
// for 127.0.0.1 and a client certificate, both signed by the CA.
type TLSFiles struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
}

// ServerTLS is the server side for Options.TLS: https with client
// certificates required (etcd's --client-cert-auth).
func (f TLSFiles) ServerTLS() *transport.TLSInfo {
	return &transport.TLSInfo{CertFile: f.ServerCert, KeyFile: f.ServerKey, TrustedCAFile: f.CA, ClientCertAuth: true}
}

// WriteTLS writes a fresh CA and certificates into dir.
func WriteTLS(t testing.TB, dir string) TLSFiles {
	t.Helper()
	f := TLSFiles{CA: filepath.Join(dir, "ca.pem"), ServerCert: filepath.Join(dir, "server.pem"), ServerKey: filepath.Join(dir, "server-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client-key.pem")}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "etcdtest CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	writePEM(t, f.CA, "CERTIFICATE", caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, certFile, keyFile string) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, certFile, "CERTIFICATE", der)
		writePEM(t, keyFile, "EC PRIVATE KEY", kder)
	}
	leaf(2, "etcd-server", x509.ExtKeyUsageServerAuth, f.ServerCert, f.ServerKey)
	leaf(3, "wasmpod", x509.ExtKeyUsageClientAuth, f.ClientCert, f.ClientKey)
	return f
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
