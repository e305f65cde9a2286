package apiserver

// exec.go serves pods/{name}/exec over WebSocket with the Kubernetes
// channel protocols v5.channel.k8s.io and v4.channel.k8s.io, and over SPDY
// (exec_spdy.go). WebSocket: every binary
// message starts with a channel byte — 0 stdin, 1 stdout, 2 stderr,
// 3 error (a metav1.Status once the command ends), 4 resize (JSON
// {"Width":w,"Height":h}) — and v5 adds 255, the close signal, whose one
// data byte names the stream the peer has closed (0: end of stdin).
//
// The protocols themselves are in internal/streaming (shared with the node
// agent's kubelet API); this file routes and checks the request.

import (
	"context"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/wasmpod/wasmpod/internal/streaming"
)

func (h *httpHandler) serveExec(w http.ResponseWriter, req *http.Request, rq *request) {
	var opts corev1.PodExecOptions
	if err := decodeQuery(req.URL.Query(), &opts); err != nil {
		writeError(w, err)
		return
	}
	if len(opts.Command) == 0 {
		writeError(w, apierrors.NewBadRequest("you must specify at least 1 command"))
		return
	}
	if err := streaming.CheckRemoteStreams(opts.Stdin, opts.Stdout, &opts.Stderr, opts.TTY); err != nil {
		writeError(w, err)
		return
	}
	// Check the pod and its node before upgrading, so that errors are
	// plain HTTP Status responses.
	if _, _, err := h.s.podNode(req.Context(), rq.ns, rq.name, opts.Container); err != nil {
		writeError(w, err)
		return
	}
	release, ok := h.acquirePodStream(w, rq.ns, rq.name, "pods/exec") // streamlimit.go
	if !ok {
		return
	}
	defer release()
	streaming.ExecSession(w, req, &opts, "pods/exec", writeError, func(ctx context.Context, streams ExecStreams) (int, error) {
		return h.s.PodExec(ctx, rq.ns, rq.name, &opts, streams)
	})
}
