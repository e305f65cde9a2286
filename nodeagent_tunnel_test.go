package wasmpod

// Issue 15 §1, agents behind NAT: an agent with ReverseTunnel and no
// kubelet listener is reached by the API server only through the yamux
// tunnel it opened (apiserver/tunnel.go): logs, exec (a SPDY upgrade) and
// nodes/proxy.

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
	"io"
	"math/big"
	"net"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// testCA is a cluster CA for in-process TLS control planes.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cert.NewSelfSignedCACert(cert.Config{CommonName: "test-ca"}, key)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := cert.EncodeCertificates(c)
	return &testCA{cert: c, key: key, pem: p}
}

// leaf signs a certificate: a server's for ip, or a client's for cn and org.
func (ca *testCA) leaf(t *testing.T, cn string, org []string, ip net.IP) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, Organization: org},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if ip != nil {
		tmpl.IPAddresses, tmpl.ExtKeyUsage = []net.IP{ip}, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	certPEM, _ = cert.EncodeCertificates(c)
	keyPEM, _ = keyutil.MarshalPrivateKeyToPEM(key)
	return certPEM, keyPEM
}

// tlsControlPlane is a control plane without nodes served over TLS with
// the admin token, with the kubelet client certificate that reaches
// remote agents, as `serve --listen --nodes 0`.
func tlsControlPlane(t *testing.T, ca *testCA, opts apiserver.HandlerOptions) (*Cluster, *httptest.Server) {
	t.Helper()
	cl, err := New(context.Background(), Config{NoLocalNodes: true, DataDir: t.TempDir(), CacheDir: testwasm.CacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	cl.SetRootCA(ca.pem)
	kc, kk := ca.leaf(t, "kube-apiserver-kubelet-client", []string{"system:masters"}, nil)
	if err := cl.Server().SetKubeletClient(kc, kk); err != nil {
		t.Fatal(err)
	}
	sc, sk := ca.leaf(t, "apiserver", nil, net.IPv4(127, 0, 0, 1))
	pair, err := tls.X509KeyPair(sc, sk)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(cl.Server().Handler(opts))
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequestClientCert}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return cl, ts
}

// lockedBuffer collects an agent's log lines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startAgent runs RunAgent until the test ends.
func startAgent(t *testing.T, o AgentOptions) *lockedBuffer {
	t.Helper()
	logs := &lockedBuffer{}
	o.Progress = logs
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	o.CacheDir = testwasm.CacheDir()
	o.NodeIP = netip.MustParseAddr("127.0.0.1")
	o.HeartbeatInterval = time.Second
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunAgent(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			t.Errorf("agent %s: %v", o.NodeName, err)
		}
	})
	return logs
}

const tunnelPodYAML = `apiVersion: v1
kind: Pod
metadata:
  name: natted
spec:
  nodeName: behind-nat
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "echo hello through the tunnel; while true; do sleep 1; done"]
`

func TestAgentReverseTunnel(t *testing.T) {
	ca := newTestCA(t)
	const token = "tunnel-test-admin-token-0123456789"
	cl, ts := tlsControlPlane(t, ca, apiserver.HandlerOptions{Token: token})
	// The agent reaches serve through a TCP relay, as through a NAT, which
	// the test cuts later.
	relay := newRelay(t, strings.TrimPrefix(ts.URL, "https://"))
	apiURL := "https://" + relay.addr
	logs := startAgent(t, AgentOptions{API: &rest.Config{Host: apiURL, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: ca.pem}},
		NodeName: "behind-nat", ReverseTunnel: true, PodCIDR: "10.244.9.0/24"})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cs := cl.Client()
	if err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		return strings.Count(logs.String(), "reverse tunnel to "+apiURL+" open") == 1, nil
	}); err != nil {
		t.Fatalf("no tunnel: %v\nagent log:\n%s", err, logs)
	}
	n, err := cs.CoreV1().Nodes().Get(ctx, "behind-nat", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p := n.Status.DaemonEndpoints.KubeletEndpoint.Port; p != 0 {
		t.Errorf("the tunnelled node reports kubelet port %d, want 0 (no port is open)", p)
	}
	objs, err := LoadBytes([]byte(tunnelPodYAML), "pod.yaml", ".", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Apply(ctx, objs[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.WaitPod(ctx, "default", "natted", PodRunning); err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, logs)
	}
	var out bytes.Buffer
	if err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		out.Reset()
		err := cl.Logs(ctx, "default", "natted", &corev1.PodLogOptions{}, &out)
		return err == nil && strings.HasPrefix(out.String(), "hello through the tunnel\n"), nil
	}); err != nil {
		t.Fatalf("logs through the tunnel: %q, %v", out.String(), err)
	}
	execs := func(when string) {
		t.Helper()
		for i := range 5 { // SPDY upgrades through the tunnel (they used to fail at random)
			out.Reset()
			code, err := cl.Exec(ctx, "default", "natted", &corev1.PodExecOptions{Command: []string{"sh", "-c", "echo exec through the tunnel; exit 4"}, Stdout: true},
				ExecStreams{Stdout: &out})
			if err != nil || code != 4 || out.String() != "exec through the tunnel\n" {
				t.Fatalf("%s: exec %d through the tunnel: exit %d, %v, %q", when, i, code, err, out.String())
			}
		}
	}
	execs("first tunnel")
	// The network drops every connection: the agent opens its tunnel again
	// and the API server uses the new one.
	relay.cut()
	if err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		return strings.Count(logs.String(), "reverse tunnel to "+apiURL+" open") == 2, nil
	}); err != nil {
		t.Fatalf("the tunnel was not re-opened: %v\nagent log:\n%s", err, logs)
	}
	if err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		out.Reset()
		code, err := cl.Exec(ctx, "default", "natted", &corev1.PodExecOptions{Command: []string{"sh", "-c", "exit 4"}, Stdout: true}, ExecStreams{Stdout: &out})
		return err == nil && code == 4, nil
	}); err != nil {
		t.Fatalf("no exec after the tunnel was re-opened: %v", err)
	}
	execs("second tunnel")
	b, err := cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/behind-nat/proxy/healthz").DoRaw(ctx)
	if err != nil || string(b) != "ok" {
		t.Errorf("nodes/behind-nat/proxy/healthz: %q, %v", b, err)
	}
}

// relay forwards TCP connections to a target until cut, which closes them
// all (the listener stays).
type relay struct {
	addr  string
	mu    sync.Mutex
	conns []net.Conn
}

func newRelay(t *testing.T, target string) *relay {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{addr: l.Addr().String()}
	t.Cleanup(func() { l.Close(); r.cut() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			r.mu.Lock()
			r.conns = append(r.conns, c, u)
			r.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
	return r
}

func (r *relay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}
