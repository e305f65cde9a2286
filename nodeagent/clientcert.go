package nodeagent

// clientcert.go: rotation of the agent's node credential, as the kubelet's
// --rotate-certificates (client-go's util/certificate manager, which the
// agent does not link: it takes the full clientset, whose scheme registers
// every API group). The agent's client certificate (CN
// system:node:NAME, O system:nodes, from joining or the kubeconfig) is kept
// in the cert dir as kubelet-client-current.pem (certificate and key in
// one file, a symlink to kubelet-client-<time>.pem, swapped atomically as
// the kubelet's file store); once 70–90% of its lifetime has passed
// (jittered, RotationDeadline) the agent creates a CertificateSigningRequest
// for the signer kubernetes.io/kube-apiserver-client-kubelet, authenticated
// by the current certificate, which serve's controller approves for a node
// asking for itself (apiserver/csr.go). The new pair is written to the cert
// dir, and new connections use it: the API client reads the file (client-go
// reloads a client certificate given as files at most once a second) and
// its open connections are closed, the reverse tunnels are re-opened and
// the pod network's tunnels present it on their next handshakes. Pods keep
// running. The old certificate stays valid until it expires.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/keyutil"
	"k8s.io/utils/clock"
)

// The cert dir's files (the kubelet's --cert-dir names).
const (
	ClientCertPrefix  = "kubelet-client"
	ServingCertPrefix = "kubelet-server"
)

// CurrentCertPath is the current pair of prefix in dir.
func CurrentCertPath(dir, prefix string) string {
	return filepath.Join(dir, prefix+"-current.pem")
}

// loadPair reads a PEM file holding a certificate chain and its key.
func loadPair(path string) (*tls.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := tls.X509KeyPair(b, b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// pairPEM is c's chain and key in PEM.
func pairPEM(c *tls.Certificate) ([]byte, error) {
	var b bytes.Buffer
	for _, der := range c.Certificate {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	k, err := keyutil.MarshalPrivateKeyToPEM(c.PrivateKey)
	if err != nil {
		return nil, err
	}
	b.Write(k)
	return b.Bytes(), nil
}

// storePair writes c to dir as prefix-<time>.pem (0600) and points
// prefix-current.pem at it, replacing the link atomically.
func storePair(dir, prefix string, c *tls.Certificate, now time.Time) error {
	b, err := pairPEM(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	name := prefix + "-" + now.UTC().Format("2006-01-02-15-04-05.000000000") + ".pem"
	f, err := os.CreateTemp(dir, "."+name+".*") // 0600, created anew (O_EXCL): never through a planted link
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	link := filepath.Join(dir, prefix+"-updated.pem")
	os.Remove(link)
	if err := os.Symlink(name, link); err != nil {
		return err
	}
	return os.Rename(link, CurrentCertPath(dir, prefix))
}

// leafOf is c's parsed leaf.
func leafOf(c *tls.Certificate) (*x509.Certificate, error) {
	if c.Leaf != nil {
		return c.Leaf, nil
	}
	if len(c.Certificate) == 0 {
		return nil, errors.New("no certificate")
	}
	l, err := x509.ParseCertificate(c.Certificate[0])
	if err == nil {
		c.Leaf = l
	}
	return l, err
}

// jitteredDeadline is leaf's rotation deadline with a random jitter.
func jitteredDeadline(leaf *x509.Certificate) time.Time {
	j, _ := rand.Int(rand.Reader, big.NewInt(1<<20))
	return RotationDeadline(leaf, float64(j.Int64())/(1<<20))
}

// ClientCerts rotates a node's client certificate (see the top of this
// file).
type ClientCerts struct {
	cfg   *rest.Config // the API configuration that reads the cert dir
	node  string
	dir   string
	clock clock.Clock
	logf  func(string, ...any)
	conns *connTracker
	cur   atomic.Pointer[tls.Certificate]

	mu        sync.Mutex
	onRotate  []func()
	rotations int
}

// NewClientCerts sets up rotation of api's client certificate for node,
// kept in dir, when that certificate is the node's own (CN
// system:node:node); it returns nil and api unchanged otherwise. The
// certificate in use is the later-expiring of api's and the one already in
// dir (a restarted agent's renewed one). The returned configuration is
// api's reading the certificate from dir; use it for every connection.
func NewClientCerts(api *rest.Config, node, dir string, clk clock.Clock, logf func(string, ...any)) (*ClientCerts, *rest.Config, error) {
	c := api.TLSClientConfig
	certPEM, keyPEM := c.CertData, c.KeyData
	var err error
	if len(certPEM) == 0 && c.CertFile != "" {
		if certPEM, err = os.ReadFile(c.CertFile); err != nil {
			return nil, nil, err
		}
	}
	if len(keyPEM) == 0 && c.KeyFile != "" {
		if keyPEM, err = os.ReadFile(c.KeyFile); err != nil {
			return nil, nil, err
		}
	}
	if len(certPEM) == 0 || len(keyPEM) == 0 {
		return nil, api, nil
	}
	given, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("agent: the client certificate: %w", err)
	}
	leaf, err := leafOf(&given)
	if err != nil || leaf.Subject.CommonName != "system:node:"+node {
		return nil, api, nil
	}
	cur := &given
	if stored, err := loadPair(CurrentCertPath(dir, ClientCertPrefix)); err == nil {
		if sl, err := leafOf(stored); err == nil && sl.Subject.CommonName == leaf.Subject.CommonName && sl.NotAfter.After(leaf.NotAfter) {
			cur = stored
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		logf("node %s: ignoring its stored client certificate: %v", node, err)
	}
	if cur == &given {
		if err := storePair(dir, ClientCertPrefix, cur, clk.Now()); err != nil {
			return nil, nil, fmt.Errorf("agent: the cert dir: %w", err)
		}
	}
	m := &ClientCerts{node: node, dir: dir, clock: clk, logf: logf}
	m.cur.Store(cur)
	out := rest.CopyConfig(api)
	path := CurrentCertPath(dir, ClientCertPrefix)
	out.CertData, out.KeyData, out.CertFile, out.KeyFile = nil, nil, path, path
	m.conns = &connTracker{dial: out.Dial, conns: map[*trackedConn]struct{}{}}
	if m.conns.dial == nil {
		d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
		m.conns.dial = d.DialContext
	}
	out.Dial = m.conns.DialContext
	m.cfg = out
	return m, out, nil
}

// Current is the client certificate in use.
func (m *ClientCerts) Current() *tls.Certificate { return m.cur.Load() }

// Rotations is how many times the certificate was renewed.
func (m *ClientCerts) Rotations() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rotations
}

// OnRotate calls f after each renewal, once new connections use the new
// certificate.
func (m *ClientCerts) OnRotate(f func()) {
	m.mu.Lock()
	m.onRotate = append(m.onRotate, f)
	m.mu.Unlock()
}

// Run renews the certificate at each rotation deadline until ctx ends,
// through client (a REST client of the configuration NewClientCerts
// returned, e.g. the clientset's CoreV1().RESTClient(): paths are
// absolute).
func (m *ClientCerts) Run(ctx context.Context, client rest.Interface) {
	for {
		leaf, _ := leafOf(m.cur.Load())
		deadline := jitteredDeadline(leaf)
		m.logf("node %s: client certificate valid until %s, renewed at %s", m.node,
			leaf.NotAfter.UTC().Format(time.RFC3339), deadline.UTC().Format(time.RFC3339))
		if !waitUntil(ctx, m.clock, deadline) {
			return
		}
		if !retry(ctx, func() error { return m.renew(ctx, client) }, func(err error) {
			if m.clock.Now().After(leaf.NotAfter) {
				err = fmt.Errorf("%w (its certificate expired at %s: join again with a new token, or give it a valid credential)", err, leaf.NotAfter.UTC().Format(time.RFC3339))
			}
			m.logf("node %s: renewing its client certificate: %v (retrying)", m.node, err)
		}) {
			return
		}
	}
}

// waitUntil waits on clk until t; false when ctx ends first.
func waitUntil(ctx context.Context, clk clock.Clock, t time.Time) bool {
	d := t.Sub(clk.Now())
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := clk.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C():
		return true
	}
}

// retry calls try until it succeeds, 1 s apart doubling to a minute,
// giving each new error to logErr; false when ctx ends first.
func retry(ctx context.Context, try func() error, logErr func(error)) bool {
	delay, last := time.Second, ""
	for {
		err := try()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if err.Error() != last {
			logErr(err)
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Minute)
	}
}

// renew requests the next certificate and puts it in use.
func (m *ClientCerts) renew(ctx context.Context, client rest.Interface) error {
	c, err := requestCert(ctx, client, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "system:node:" + m.node, Organization: []string{"system:nodes"}},
	}, "kubernetes.io/kube-apiserver-client-kubelet", []string{"digital signature", "client auth"}, func(name string) {
		m.logf("node %s: waiting for CertificateSigningRequest %s to be approved (kubectl certificate approve %s)", m.node, name, name)
	})
	if err != nil {
		return err
	}
	if err := storePair(m.dir, ClientCertPrefix, c, m.clock.Now()); err != nil {
		return fmt.Errorf("writing it to %s: %w", m.dir, err)
	}
	m.cur.Store(c)
	// client-go reads the files at most once a second: after that, every
	// new connection presents the new certificate; close the others.
	select {
	case <-ctx.Done():
	case <-time.After(1100 * time.Millisecond):
	}
	m.conns.closeAll()
	m.mu.Lock()
	m.rotations++
	hooks := append([]func(){}, m.onRotate...)
	m.mu.Unlock()
	for _, f := range hooks {
		f()
	}
	m.logf("node %s: client certificate renewed (%s); new connections use it", m.node, CurrentCertPath(m.dir, ClientCertPrefix))
	return nil
}

// connTracker dials through dial and closes every open connection on
// closeAll, as the kubelet does when its certificate rotates.
type connTracker struct {
	dial  func(ctx context.Context, network, addr string) (net.Conn, error)
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

type trackedConn struct {
	net.Conn
	t    *connTracker
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.t.mu.Lock()
		delete(c.t.conns, c)
		c.t.mu.Unlock()
	})
	return c.Conn.Close()
}

func (t *connTracker) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := t.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, t: t}
	t.mu.Lock()
	t.conns[tc] = struct{}{}
	t.mu.Unlock()
	return tc, nil
}

func (t *connTracker) closeAll() {
	t.mu.Lock()
	all := make([]*trackedConn, 0, len(t.conns))
	for c := range t.conns {
		all = append(all, c)
	}
	t.mu.Unlock()
	for _, c := range all {
		c.Close()
	}
}
