package pods

// The grpc probe handler, as the kubelet's (pkg/probe/grpc): one
// grpc.health.v1.Health/Check call with the probe's service (default ""),
// a success only when the answer is SERVING, every other outcome a probe
// failure (never an agent error) with upstream's message, which the
// Unhealthy event carries:
//
//	timeout: failed to connect service "10.88.0.5:9000" within 1s: context deadline exceeded
//	service unhealthy (responded with "NOT_SERVING")
//	error: this server does not implement the grpc health protocol (grpc.health.v1.Health): ...
//	error: health rpc probe failed: rpc error: code = NotFound desc = unknown service
//
// The connection goes to the pod's IP and the probe's port through the pod
// network only (dialPod, as httpGet and tcpSocket probes), plaintext unless
// the probe's mode is TLS (no certificate verification, as the alpha
// GRPCContainerProbeTLS). As upstream, the dial blocks until the connection
// is up, so a closed port fails with the connect timeout.

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
)

// grpcProbeMaxMessage bounds what a container may send the prober: the
// health answer (a few bytes) and the status headers.
const grpcProbeMaxMessage = 16 * 1024

// grpcProbe runs one gRPC health check within ctx (which carries the
// probe's timeout; timeout is only for the message).
func (w *Worker) grpcProbe(ctx context.Context, g *corev1.GRPCAction, timeout time.Duration) (ok, unknown bool, out string) {
	ok, out = w.grpcCheck(ctx, g, timeout)
	if len(out) > maxProbeOutput {
		out = out[:maxProbeOutput]
	}
	return ok, false, out
}

func (w *Worker) grpcCheck(ctx context.Context, g *corev1.GRPCAction, timeout time.Duration) (bool, string) {
	port := int(g.Port)
	service := ""
	if g.Service != nil {
		service = *g.Service
	}
	addr := net.JoinHostPort(w.podIP.String(), strconv.Itoa(port))
	if _, ok := w.cfg.Network.(PodDialer); !ok || w.podNet == nil {
		return false, fmt.Sprintf("error: failed to connect service at %q: the pod has no network", ":"+strconv.Itoa(port))
	}
	creds := insecure.NewCredentials()
	if g.Mode != nil && *g.Mode == corev1.GRPCProbeModeTLS {
		creds = credentials.NewTLS(&tls.Config{InsecureSkipVerify: true}) // as upstream's TLS mode
	}
	conn, err := grpc.DialContext(ctx, addr, //nolint:staticcheck // upstream's blocking dial and its messages
		grpc.WithUserAgent("kube-probe/1.37"),
		grpc.WithBlock(), //nolint:staticcheck
		grpc.WithTransportCredentials(creds),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return w.dialPod(ctx, "", port)
		}),
		grpc.WithMaxHeaderListSize(grpcProbeMaxMessage),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(grpcProbeMaxMessage)),
	)
	if err != nil {
		if err == context.DeadlineExceeded {
			return false, fmt.Sprintf("timeout: failed to connect service %q within %v: %+v", addr, timeout, err)
		}
		return false, fmt.Sprintf("error: failed to connect service at %q: %+v", addr, err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(metadata.NewOutgoingContext(ctx, metadata.MD{}),
		&healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		if st, ok := status.FromError(err); ok {
			switch st.Code() {
			case codes.Unimplemented:
				return false, "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): " + st.Message()
			case codes.DeadlineExceeded:
				return false, fmt.Sprintf("timeout: health rpc did not complete within %v", timeout)
			}
		}
		return false, fmt.Sprintf("error: health rpc probe failed: %+v", err)
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return false, fmt.Sprintf("service unhealthy (responded with %q)", s.String())
	}
	return true, "service healthy"
}
