package apiserver

// portforward.go serves pods/{name}/portforward?ports=P1[,P2...] over
// WebSocket with the Kubernetes channel framing (kubelet's websocket
// port-forward): every binary message starts with a channel byte; port i
// of the request has data channel 2i and error channel 2i+1. When the
// connection opens, the server sends on each of those channels one
// message holding the port as 2 bytes little-endian. Data written by the
// client on a data channel goes to the pod's port; what the pod sends
// comes back on the same channel; a failure (connection refused, no pod
// network) is sent as text on the error channel. One WebSocket carries one
// connection per port; the server closes it when every port's connection
// has ended.
//
// (kubectl's SPDY protocol, plain or tunnelled in WebSocket, is in
// portforward_spdy.go.)
//
// Subprotocols: "v4.channel.k8s.io" (upstream's); "v5.channel.k8s.io"
// adds the close signal of exec's v5: a message {255, c} from the client
// says it has no more data for data channel c, which the server passes to
// the pod as a half-close (v4 clients cannot half-close).
//
// The protocols themselves are in internal/streaming (shared with the node
// agent's kubelet API); this file routes and checks the request.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/wasmpod/wasmpod/internal/streaming"
)

// PortForwardProtocols are the WebSocket subprotocols of port-forward,
// most preferred first.
var PortForwardProtocols = streaming.PortForwardProtocols

// PodPortForward forwards conn to port of a pod (pods/NAME/portforward):
// see PortForwarder.PortForward.
func (s *Server) PodPortForward(ctx context.Context, ns, name string, port int32, conn io.ReadWriteCloser) error {
	pod, c, err := s.portForwardTarget(ctx, ns, name, port)
	if err != nil {
		return err
	}
	return c.(PortForwarder).PortForward(ctx, pod, port, conn)
}

func (s *Server) portForwardTarget(ctx context.Context, ns, name string, port int32) (*corev1.Pod, NodeConnector, error) {
	if port < 1 || port > 65535 {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("port %d must be between 1 and 65535", port))
	}
	pod, c, err := s.podNode(ctx, ns, name, "")
	if apierrors.IsBadRequest(err) && strings.Contains(err.Error(), "a container name must be specified") {
		// Port-forward is per pod, not per container.
		obj, gerr := s.Get(ctx, s.resources["/pods"], ns, name)
		if gerr != nil {
			return nil, nil, gerr
		}
		pod = obj.(*corev1.Pod)
		if pod.Spec.NodeName == "" {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", name))
		}
		c, err = s.nodeConnector(ctx, pod.Spec.NodeName) // remotenode.go
	}
	if err != nil {
		return nil, nil, err
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("cannot port-forward to a completed pod; current phase is %s", pod.Status.Phase))
	}
	if _, ok := c.(PortForwarder); !ok {
		return nil, nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %s does not support port-forward", pod.Spec.NodeName))
	}
	return pod, c, nil
}

func (h *httpHandler) servePortForward(w http.ResponseWriter, req *http.Request, rq *request) {
	release, ok := h.acquirePodStream(w, rq.ns, rq.name, "pods/portforward") // streamlimit.go
	if !ok {
		return
	}
	defer release()
	streaming.PortForwardStreams(w, req, writeError,
		func(ctx context.Context, port int32) error {
			_, _, err := h.s.portForwardTarget(ctx, rq.ns, rq.name, port)
			return err
		},
		func(ctx context.Context, port int32, conn io.ReadWriteCloser) error {
			return h.s.PodPortForward(ctx, rq.ns, rq.name, port, conn)
		})
}
