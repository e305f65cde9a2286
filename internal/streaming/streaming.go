// Package streaming serves the stream protocols of exec, attach and
// port-forward: WebSocket v5/v4.channel.k8s.io (exec.go, portforward.go),
// SPDY/3.1 with remotecommand v4/v3/v2 and portforward.k8s.io (spdy.go,
// exec_spdy.go, portforward_spdy.go), and SPDY tunnelled in WebSocket. The
// API server (apiserver: pods/NAME/exec, attach, portforward) and the node
// agent's kubelet API (pods/kubeletapi.go) both answer with it: the same
// upgrades, channels and final Status, with what the streams reach given
// as functions. It imports no part of the control plane, so that the node
// agent's binary (cmd/wasmpod-agent) links none.
package streaming

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ExecStreams are the attached streams of an exec or attach.
type ExecStreams struct {
	Stdin          io.Reader // nil unless opts.Stdin
	Stdout, Stderr io.Writer // nil unless requested
	// Resize delivers terminal size changes when opts.TTY (may be nil).
	Resize <-chan TerminalSize
}

// TerminalSize is a tty size in characters.
type TerminalSize struct{ Width, Height uint16 }

// ErrorWriter answers a request that is refused before any upgrade with
// err as a Status. The API server passes its own (which negotiates
// protobuf); nil means WriteError.
type ErrorWriter func(w http.ResponseWriter, err error)

func (e ErrorWriter) write(w http.ResponseWriter, err error) {
	if e == nil {
		WriteError(w, err)
		return
	}
	e(w, err)
}

// ServeExec answers an exec request (already routed and authorized) with
// opts (Stdin, Stdout, Stderr, TTY and Command): it upgrades the
// connection, runs run with the attached streams and sends its exit code
// (non-zero: NonZeroExitCode with an ExitCode cause) or error as the final
// Status. A request without a usable upgrade, or options asking for no
// stream or no command, is answered with a plain HTTP Status error.
func ServeExec(w http.ResponseWriter, req *http.Request, opts *corev1.PodExecOptions, run func(ctx context.Context, streams ExecStreams) (int, error)) {
	if len(opts.Command) == 0 {
		WriteError(w, apierrors.NewBadRequest("you must specify at least 1 command"))
		return
	}
	if err := CheckRemoteStreams(opts.Stdin, opts.Stdout, &opts.Stderr, opts.TTY); err != nil {
		WriteError(w, err)
		return
	}
	ExecSession(w, req, opts, "exec", nil, run)
}

// ServeAttach answers an attach request as ServeExec an exec: the final
// Status is Success, or run's error.
func ServeAttach(w http.ResponseWriter, req *http.Request, opts *corev1.PodAttachOptions, run func(ctx context.Context, streams ExecStreams) error) {
	if err := CheckRemoteStreams(opts.Stdin, opts.Stdout, &opts.Stderr, opts.TTY); err != nil {
		WriteError(w, err)
		return
	}
	AttachSession(w, req, opts, "attach", nil, run)
}

// ServePortForward answers a port-forward request (SPDY with the ports in
// stream headers, or WebSocket with the ports in the "port"/"ports"
// query): check is asked about each port before the upgrade (its error is
// the plain HTTP answer), and forward carries each connection (see
// apiserver.PortForwarder).
func ServePortForward(w http.ResponseWriter, req *http.Request, check func(ctx context.Context, port int32) error,
	forward func(ctx context.Context, port int32, conn io.ReadWriteCloser) error) {
	PortForwardStreams(w, req, nil, check, forward)
}

// ExecSession upgrades an exec request whose options are checked
// (CheckRemoteStreams, a command), runs the command with run and sends its
// outcome on the error stream. what names the request in errors; errw
// answers a request that cannot be upgraded.
func ExecSession(w http.ResponseWriter, req *http.Request, opts *corev1.PodExecOptions, what string, errw ErrorWriter, run func(context.Context, ExecStreams) (int, error)) {
	sess := upgradeRemoteCommand(w, req, remoteOpts{stdin: opts.Stdin, stdout: opts.Stdout, stderr: opts.Stderr, tty: opts.TTY, errw: errw}, what)
	if sess == nil {
		return
	}
	defer sess.close()
	code, err := run(sess.ctx, sess.streams)
	var st metav1.Status
	switch {
	case err != nil:
		st = *StatusOf(err)
	case code != 0:
		st = metav1.Status{Status: metav1.StatusFailure, Reason: "NonZeroExitCode",
			Message: fmt.Sprintf("command terminated with non-zero exit code: error executing command [%s], exit code %d", joinArgs(opts.Command), code),
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: "ExitCode", Message: strconv.Itoa(code)}}}}
	default:
		st = metav1.Status{Status: metav1.StatusSuccess}
	}
	sess.writeStatus(&st)
}

// AttachSession upgrades an attach request whose options are checked,
// attaches with run and sends the outcome on the error stream (Success,
// or run's error), as ExecSession.
func AttachSession(w http.ResponseWriter, req *http.Request, opts *corev1.PodAttachOptions, what string, errw ErrorWriter, run func(context.Context, ExecStreams) error) {
	sess := upgradeRemoteCommand(w, req, remoteOpts{stdin: opts.Stdin, stdout: opts.Stdout, stderr: opts.Stderr, tty: opts.TTY, errw: errw}, what)
	if sess == nil {
		return
	}
	defer sess.close()
	st := metav1.Status{Status: metav1.StatusSuccess}
	if err := run(sess.ctx, sess.streams); err != nil {
		st = *StatusOf(err)
	}
	sess.writeStatus(&st)
}

// PortForwardStreams is the protocol part of port-forward (SPDY, tunnelled
// SPDY and WebSocket) as ServePortForward, errw answering a request that
// cannot be upgraded.
func PortForwardStreams(w http.ResponseWriter, req *http.Request, errw ErrorWriter, check func(ctx context.Context, port int32) error,
	forward func(ctx context.Context, port int32, conn io.ReadWriteCloser) error) {
	servePortForwardStreams(w, req, pfTarget{check: check, forward: forward, errw: errw})
}

// CheckRemoteStreams is the check exec and attach make of their streams:
// at least one, and with a TTY no stderr (a terminal merges it into
// stdout, as upstream): it clears *stderr then.
func CheckRemoteStreams(stdin, stdout bool, stderr *bool, tty bool) error {
	if !stdin && !stdout && !*stderr {
		return apierrors.NewBadRequest("you must specify at least one of stdin, stdout, stderr")
	}
	if tty {
		*stderr = false
	}
	return nil
}

// WriteError answers w with err as a JSON Status (its code, reason and
// message; an error that is no API status is an InternalError).
func WriteError(w http.ResponseWriter, err error) {
	st := StatusOf(err)
	b, _ := json.Marshal(st)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(int(st.Code))
	w.Write(append(b, '\n'))
}

// StatusOf turns any error into the Status kube-apiserver would send.
func StatusOf(err error) *metav1.Status {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		st := se.Status()
		st.Kind, st.APIVersion = "Status", "v1"
		if st.Status == "" {
			st.Status = metav1.StatusFailure
		}
		if st.Code == 0 {
			st.Code = http.StatusInternalServerError
		}
		return &st
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return StatusOf(apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", mbe.Limit)))
	}
	return StatusOf(apierrors.NewInternalError(err))
}

func statusErr(code int32, reason metav1.StatusReason, msg string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: reason, Message: msg}}
}
