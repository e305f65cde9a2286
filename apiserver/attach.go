package apiserver

// attach.go serves pods/{name}/attach (GET or POST; kubectl attach, and
// kubectl run -i/--attach): the same upgrades and stream protocols as exec
// (WebSocket v5/v4, SPDY v4/v3/v2), connected to the running container's
// own stdio by the node (Attacher). The error stream carries Success when
// the container has exited (its exit code is in the pod's status, where
// kubectl run reads it) or the failure.

import (
	"context"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/wasmpod/wasmpod/internal/streaming"
)

func (h *httpHandler) serveAttach(w http.ResponseWriter, req *http.Request, rq *request) {
	var opts corev1.PodAttachOptions
	if err := decodeQuery(req.URL.Query(), &opts); err != nil {
		writeError(w, err)
		return
	}
	if err := streaming.CheckRemoteStreams(opts.Stdin, opts.Stdout, &opts.Stderr, opts.TTY); err != nil { // exec.go
		writeError(w, err)
		return
	}
	// Check the pod, its phase and its node before upgrading, so that
	// errors are plain HTTP Status responses.
	if _, _, err := h.s.attachTarget(req.Context(), rq.ns, rq.name, opts.Container); err != nil {
		writeError(w, err)
		return
	}
	release, ok := h.acquirePodStream(w, rq.ns, rq.name, "pods/attach") // streamlimit.go
	if !ok {
		return
	}
	defer release()
	streaming.AttachSession(w, req, &opts, "pods/attach", writeError, func(ctx context.Context, streams ExecStreams) error {
		return h.s.PodAttach(ctx, rq.ns, rq.name, &opts, streams)
	})
}

func (s *Server) attachTarget(ctx context.Context, ns, name, container string) (*corev1.Pod, Attacher, error) {
	pod, c, err := s.podNode(ctx, ns, name, container)
	if err != nil {
		return nil, nil, err
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("cannot attach to a container in a completed pod; current phase is %s", pod.Status.Phase))
	}
	a, ok := c.(Attacher)
	if !ok {
		return nil, nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %s does not support attach", pod.Spec.NodeName))
	}
	return pod, a, nil
}

// PodAttach attaches streams to a pod's running container
// (pods/NAME/attach): see Attacher.Attach.
func (s *Server) PodAttach(ctx context.Context, ns, name string, opts *corev1.PodAttachOptions, streams ExecStreams) error {
	pod, a, err := s.attachTarget(ctx, ns, name, opts.Container)
	if err != nil {
		return err
	}
	o := *opts
	o.Container = defaultContainer(pod, o.Container)
	return a.Attach(ctx, pod, &o, streams)
}
