package apiserver

// streaming.go: the stream protocols of exec, attach and port-forward
// (exec.go, exec_spdy.go, attach.go, portforward.go, portforward_spdy.go)
// for another server to use, the node agent's kubelet API
// (pods/kubeletapi.go): the same upgrades (WebSocket v5/v4, SPDY/3.1 and
// SPDY tunnelled in WebSocket), channels and final Status, with what the
// streams reach given as functions instead of a pod of this server.

import (
	"context"
	"io"
	"net/http"

	corev1 "k8s.io/api/core/v1"
)

// ServeExec answers an exec request (already routed and authorized) with
// opts (Stdin, Stdout, Stderr, TTY and Command): it upgrades the
// connection, runs run with the attached streams and sends its exit code
// (non-zero: NonZeroExitCode with an ExitCode cause) or error as the final
// Status. A request without a usable upgrade, or options asking for no
// stream or no command, is answered with a plain HTTP Status error.
func ServeExec(w http.ResponseWriter, req *http.Request, opts *corev1.PodExecOptions, run func(ctx context.Context, streams ExecStreams) (int, error)) {
	if len(opts.Command) == 0 {
		WriteError(w, badRequest("you must specify at least 1 command"))
		return
	}
	if err := checkRemoteStreams(opts.Stdin, opts.Stdout, &opts.Stderr, opts.TTY); err != nil {
		WriteError(w, err)
		return
	}
	serveExecSession(w, req, opts, "exec", run)
}

// ServeAttach answers an attach request as ServeExec an exec: the final
// Status is Success, or run's error.
func ServeAttach(w http.ResponseWriter, req *http.Request, opts *corev1.PodAttachOptions, run func(ctx context.Context, streams ExecStreams) error) {
	if err := checkRemoteStreams(opts.Stdin, opts.Stdout, &opts.Stderr, opts.TTY); err != nil {
		WriteError(w, err)
		return
	}
	serveAttachSession(w, req, opts, "attach", run)
}

// ServePortForward answers a port-forward request (SPDY with the ports in
// stream headers, or WebSocket with the ports in the "port"/"ports"
// query): check is asked about each port before the upgrade (its error is
// the plain HTTP answer), and forward, as PortForwarder.PortForward,
// carries each connection.
func ServePortForward(w http.ResponseWriter, req *http.Request, check func(ctx context.Context, port int32) error,
	forward func(ctx context.Context, port int32, conn io.ReadWriteCloser) error) {
	servePortForwardStreams(w, req, pfTarget{check: check, forward: forward})
}

// WriteError answers w with err as a Status (its code, reason and
// message; an error that is no API status is an InternalError).
func WriteError(w http.ResponseWriter, err error) { writeError(w, err) }
