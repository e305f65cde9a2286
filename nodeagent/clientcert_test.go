package nodeagent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/keyutil"
	clocktesting "k8s.io/utils/clock/testing"
)

// nodePairPEM is a self-signed certificate of system:node:name valid
// until notAfter, and its key, in one PEM.
func nodePairPEM(t *testing.T, name string, notAfter time.Time) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "system:node:" + name, Organization: []string{"system:nodes"}},
		NotBefore: notAfter.Add(-48 * time.Hour), NotAfter: notAfter, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, &x509.Certificate{SerialNumber: big.NewInt(1)}, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := keyutil.MarshalPrivateKeyToPEM(key)
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), k...)
}

// TestClientCertsRefuseBadFiles: the agent's credential naming a cert
// dir pair that is a link out of the dir, a FIFO, garbage or an expired
// certificate is refused at start with an error naming the file (and the
// expiry), never a hang; an expired credential beside a valid renewed
// pair in the cert dir starts on that one.
func TestClientCertsRefuseBadFiles(t *testing.T) {
	now := time.Now()
	clk := clocktesting.NewFakeClock(now)
	dir := t.TempDir()
	cur := CurrentCertPath(dir, ClientCertPrefix)
	cfg := &rest.Config{Host: "https://127.0.0.1:1", TLSClientConfig: rest.TLSClientConfig{CertFile: cur, KeyFile: cur}}
	logf := func(string, ...any) {}
	elsewhere := filepath.Join(t.TempDir(), "x.pem")
	os.WriteFile(elsewhere, nodePairPEM(t, "n", now.Add(time.Hour)), 0o600)
	expired := now.Add(-time.Hour)
	for _, tc := range []struct {
		name  string
		setup func() error
		want  string
	}{
		{"a link out of the cert dir", func() error { return os.Symlink(elsewhere, cur) }, "outside its cert dir"},
		{"a FIFO", func() error { return syscall.Mkfifo(cur, 0o600) }, "not a regular file"},
		{"garbage", func() error { return os.WriteFile(cur, []byte("garbage"), 0o600) }, "PEM"},
		{"expired", func() error { return os.WriteFile(cur, nodePairPEM(t, "n", expired), 0o600) }, "expired at " + expired.UTC().Format(time.RFC3339)},
	} {
		os.RemoveAll(dir)
		os.MkdirAll(dir, 0o700)
		if err := tc.setup(); err != nil {
			t.Fatal(err)
		}
		_, _, err := NewClientCerts(cfg, "n", dir, clk, logf)
		if err == nil || !strings.Contains(err.Error(), cur) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s with %q", tc.name, err, cur, tc.want)
		}
	}
	// An expired embedded credential beside a valid renewed pair.
	os.RemoveAll(dir)
	valid := nodePairPEM(t, "n", now.Add(time.Hour))
	if _, err := storePairPEM(dir, valid, now); err != nil {
		t.Fatal(err)
	}
	old := nodePairPEM(t, "n", expired)
	m, out, err := NewClientCerts(&rest.Config{Host: "https://127.0.0.1:1", TLSClientConfig: rest.TLSClientConfig{CertData: old, KeyData: old}}, "n", dir, clk, logf)
	if err != nil || m == nil || out.CertFile != cur {
		t.Fatalf("an expired credential beside a renewed pair: %v", err)
	}
	want, _ := tls.X509KeyPair(valid, valid)
	if got := m.Current(); string(got.Certificate[0]) != string(want.Certificate[0]) {
		t.Error("not started on the renewed pair")
	}
}

func storePairPEM(dir string, pairPEM []byte, now time.Time) (string, error) {
	c, err := tls.X509KeyPair(pairPEM, pairPEM)
	if err != nil {
		return "", err
	}
	return CurrentCertPath(dir, ClientCertPrefix), storePair(dir, ClientCertPrefix, &c, now)
}
