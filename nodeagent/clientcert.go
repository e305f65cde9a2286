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
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
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
	"k8s.io/utils/clock"

	"github.com/wasmpod/wasmpod/nodeagent/certstore"
)

// The cert dir's files (the kubelet's --cert-dir names, certstore's).
const (
	ClientCertPrefix  = certstore.ClientPrefix
	ServingCertPrefix = certstore.ServingPrefix
)

// CurrentCertPath is the current pair of prefix in dir.
func CurrentCertPath(dir, prefix string) string { return certstore.CurrentPath(dir, prefix) }

// loadPair reads a cert dir's PEM file holding a certificate chain and its
// key.
func loadPair(path string) (*tls.Certificate, error) {
	if err := certstore.CheckLink(path); err != nil {
		return nil, err
	}
	return certstore.LoadPair(path, path)
}

// storePair writes c to dir as prefix-<time>.pem and points
// prefix-current.pem at it (certstore.Store).
func storePair(dir, prefix string, c *tls.Certificate, now time.Time) error {
	_, err := certstore.Store(dir, prefix, c, now)
	return err
}

// clientCertOf is cfg's client certificate and the file it comes from
// ("" when embedded); nil without one. Errors name the file.
func clientCertOf(cfg *rest.Config) (*tls.Certificate, string, error) {
	c := cfg.TLSClientConfig
	certPEM, keyPEM := c.CertData, c.KeyData
	var err error
	file := ""
	if len(certPEM) == 0 && c.CertFile != "" {
		if err := certstore.CheckLink(c.CertFile); err != nil && filepath.Base(c.CertFile) == ClientCertPrefix+"-current.pem" {
			return nil, c.CertFile, fmt.Errorf("the client certificate: %w", err)
		}
		if certPEM, err = certstore.ReadFile(c.CertFile); err != nil {
			return nil, c.CertFile, fmt.Errorf("the client certificate: %w", err)
		}
		file = c.CertFile
	}
	if len(keyPEM) == 0 && c.KeyFile != "" {
		if keyPEM, err = certstore.ReadFile(c.KeyFile); err != nil {
			return nil, c.KeyFile, fmt.Errorf("the client key: %w", err)
		}
	}
	if len(certPEM) == 0 || len(keyPEM) == 0 {
		return nil, "", nil
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		if file != "" {
			return nil, file, fmt.Errorf("the client certificate %s: %w", file, err)
		}
		return nil, "", fmt.Errorf("the client certificate (client-certificate-data): %w", err)
	}
	if _, err := leafOf(&pair); err != nil {
		return nil, file, fmt.Errorf("the client certificate %s: %w", file, err)
	}
	return &pair, file, nil
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
	given, file, err := clientCertOf(api)
	if err != nil {
		return nil, nil, fmt.Errorf("agent: %w", err)
	}
	if given == nil {
		return nil, api, nil
	}
	leaf := given.Leaf
	if leaf.Subject.CommonName != "system:node:"+node {
		return nil, api, nil
	}
	path := CurrentCertPath(dir, ClientCertPrefix)
	cur := given
	if stored, err := loadPair(path); err == nil {
		if sl, err := leafOf(stored); err == nil && sl.Subject.CommonName == leaf.Subject.CommonName && !sl.NotAfter.Before(leaf.NotAfter) {
			cur, file = stored, path
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		logf("node %s: ignoring its stored client certificate: %v", node, err)
	}
	if err := certstore.CheckValid(cur, file, clk.Now()); err != nil {
		return nil, nil, fmt.Errorf("agent: %w: join again with a bootstrap token (--join and --token), or give the node a valid credential", err)
	}
	if cur == given {
		if err := storePair(dir, ClientCertPrefix, cur, clk.Now()); err != nil {
			return nil, nil, fmt.Errorf("agent: the cert dir: %w", err)
		}
	}
	m := &ClientCerts{node: node, dir: dir, clock: clk, logf: logf}
	m.cur.Store(cur)
	out := rest.CopyConfig(api)
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
