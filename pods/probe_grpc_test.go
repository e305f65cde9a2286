package pods

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	corev1 "k8s.io/api/core/v1"

	"github.com/wasmpod/wasmpod/network"
)

// loopNet is a pod network whose pod ports are loopback listeners of the
// test; it records every dial.
type loopNet struct {
	Network
	mu    sync.Mutex
	ports map[int]string // pod port -> loopback address
	dials []string
}

func (n *loopNet) DialPod(ctx context.Context, ip netip.Addr, port int) (net.Conn, error) {
	n.mu.Lock()
	n.dials = append(n.dials, netip.AddrPortFrom(ip, uint16(port)).String())
	addr, ok := n.ports[port]
	n.mu.Unlock()
	if !ok {
		return nil, errors.New("connect: connection refused")
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

type fakePodNet struct{ network.PodNet }

// slowHealth answers Check only when the call's context ends.
type slowHealth struct {
	healthpb.UnimplementedHealthServer
}

func (slowHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// uaHealth records the caller's user agent.
type uaHealth struct {
	healthpb.UnimplementedHealthServer
	ua chan string
}

func (h uaHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	h.ua <- strings.Join(md.Get("user-agent"), ",")
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func serveGRPC(t *testing.T, srv *grpc.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

func selfSignedCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"pod"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestGRPCProbe runs the grpc handler against grpc-go's own health server
// (google.golang.org/grpc/health) and servers that misbehave, and checks
// upstream's outcome and message for each.
func TestGRPCProbe(t *testing.T) {
	t.Parallel()
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("down", healthpb.HealthCheckResponse_NOT_SERVING)
	hs.SetServingStatus("up", healthpb.HealthCheckResponse_SERVING)
	withHealth := grpc.NewServer()
	healthpb.RegisterHealthServer(withHealth, hs)
	slow := grpc.NewServer()
	healthpb.RegisterHealthServer(slow, slowHealth{})
	ua := uaHealth{ua: make(chan string, 1)}
	agent := grpc.NewServer()
	healthpb.RegisterHealthServer(agent, ua)
	tlsSrv := grpc.NewServer(grpc.Creds(credentials.NewServerTLSFromCert(ptrTo(selfSignedCert(t)))))
	healthpb.RegisterHealthServer(tlsSrv, hs)
	nt := &loopNet{ports: map[int]string{
		9000: serveGRPC(t, withHealth),
		9001: serveGRPC(t, grpc.NewServer()), // no health service
		9002: serveGRPC(t, slow),
		9003: serveGRPC(t, agent),
		9443: serveGRPC(t, tlsSrv),
	}}
	podIP := netip.MustParseAddr("10.88.0.7")
	w := &Worker{cfg: &Config{Network: nt}, podNet: fakePodNet{}, podIP: podIP}
	svc := func(s string) *string { return &s }
	tlsMode := corev1.GRPCProbeModeTLS
	for _, tc := range []struct {
		name    string
		g       corev1.GRPCAction
		timeout time.Duration
		ok      bool
		out     string
	}{
		{"serving", corev1.GRPCAction{Port: 9000}, time.Second, true, "service healthy"},
		{"service serving", corev1.GRPCAction{Port: 9000, Service: svc("up")}, time.Second, true, "service healthy"},
		{"service not serving", corev1.GRPCAction{Port: 9000, Service: svc("down")}, time.Second, false, `service unhealthy (responded with "NOT_SERVING")`},
		{"unknown service", corev1.GRPCAction{Port: 9000, Service: svc("nope")}, time.Second, false, "error: health rpc probe failed: rpc error: code = NotFound desc = unknown service"},
		{"no health service", corev1.GRPCAction{Port: 9001}, time.Second, false, "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): unknown service grpc.health.v1.Health"},
		{"rpc timeout", corev1.GRPCAction{Port: 9002}, 300 * time.Millisecond, false, "timeout: health rpc did not complete within 300ms"},
		{"closed port", corev1.GRPCAction{Port: 9999}, 300 * time.Millisecond, false, `timeout: failed to connect service "10.88.0.7:9999" within 300ms: context deadline exceeded`},
		{"tls", corev1.GRPCAction{Port: 9443, Mode: &tlsMode}, time.Second, true, "service healthy"},
		{"plaintext to tls", corev1.GRPCAction{Port: 9443}, 300 * time.Millisecond, false, `timeout: failed to connect service "10.88.0.7:9443" within 300ms: context deadline exceeded`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			ok, unknown, out := w.grpcProbe(ctx, &tc.g, tc.timeout)
			if ok != tc.ok || unknown || out != tc.out {
				t.Errorf("got ok=%v unknown=%v %q; want ok=%v %q", ok, unknown, out, tc.ok, tc.out)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if ok, _, out := w.grpcProbe(ctx, &corev1.GRPCAction{Port: 9003}, time.Second); !ok {
		t.Fatalf("user agent probe: %s", out)
	}
	if got := <-ua.ua; !strings.HasPrefix(got, "kube-probe/1.37 grpc-go/") {
		t.Errorf("user-agent %q; want kube-probe/1.37 as upstream", got)
	}
	nt.mu.Lock()
	for _, d := range nt.dials {
		if !strings.HasPrefix(d, "10.88.0.7:") {
			t.Errorf("dialled %s; probes go to the pod's IP through the pod network only", d)
		}
	}
	nt.mu.Unlock()

	// A pod without a network: a probe failure, at once.
	bare := &Worker{cfg: &Config{}}
	ok, unknown, out := bare.grpcProbe(context.Background(), &corev1.GRPCAction{Port: 9000}, time.Second)
	if ok || unknown || out != `error: failed to connect service at ":9000": the pod has no network` {
		t.Errorf("no network: ok=%v unknown=%v %q", ok, unknown, out)
	}
}
