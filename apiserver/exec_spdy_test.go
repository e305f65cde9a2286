package apiserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	clienthttpstream "k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/wasmpod/wasmpod/internal/streaming"
)

// spdyExecIn runs opts through client-go's SPDY executor, offering only
// protocols (client-go's whole list when none).
func spdyExecIn(t *testing.T, cfg *rest.Config, cs *kubernetes.Clientset, opts *corev1.PodExecOptions, stdin string, protocols ...string) (string, string, error) {
	t.Helper()
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("p").SubResource("exec").
		VersionedParams(opts, scheme.ParameterCodec)
	var ex remotecommand.Executor
	var err error
	if len(protocols) == 0 {
		ex, err = remotecommand.NewSPDYExecutor(cfg, "POST", req.URL())
	} else {
		ex, err = newSPDYExecutorFor(cfg, req, protocols...)
	}
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	so := remotecommand.StreamOptions{Stdout: &stdout, Tty: opts.TTY}
	if opts.Stdin {
		so.Stdin = strings.NewReader(stdin)
	}
	if opts.Stderr {
		so.Stderr = &stderr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = ex.StreamWithContext(ctx, so)
	return stdout.String(), stderr.String(), err
}

func newSPDYExecutorFor(cfg *rest.Config, req *rest.Request, protocols ...string) (remotecommand.Executor, error) {
	rt, up, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, err
	}
	return remotecommand.NewSPDYExecutorForProtocols(rt, up, "POST", req.URL(), protocols...)
}

// TestClientGoExecSPDY: client-go's SPDY executor (older kubectls, and
// kubectl's fallback) gets stdin, stdout, stderr and the exit code over
// each remotecommand protocol.
func TestClientGoExecSPDY(t *testing.T) {
	e := newEnv(t, HandlerOptions{Token: "secret"})
	cfg := e.modes["http"]
	cs := e.client(t, "http")
	startBoundPod(t, cs)
	for _, proto := range []string{"", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io"} {
		t.Run("protocol="+proto, func(t *testing.T) {
			var ps []string
			if proto != "" {
				ps = []string{proto}
			}
			out, errOut, err := spdyExecIn(t, cfg, cs, &corev1.PodExecOptions{Command: []string{"cat", "exit=0"}, Stdin: true, Stdout: true, Stderr: true}, "hello over spdy", ps...)
			if err != nil || out != "hello over spdy" || errOut != "ran cat exit=0" {
				t.Fatalf("exec: out=%q err=%q %v", out, errOut, err)
			}
			_, _, err = spdyExecIn(t, cfg, cs, &corev1.PodExecOptions{Command: []string{"cat", "exit=3"}, Stdin: true, Stdout: true}, "x", ps...)
			if proto == "v2.channel.k8s.io" || proto == "v3.channel.k8s.io" {
				// Before v4 the error stream is text: no exit code.
				if err == nil || !strings.Contains(err.Error(), "exit code 3") {
					t.Fatalf("want the exit message, got %v", err)
				}
				return
			}
			var ce utilexec.CodeExitError
			if !errors.As(err, &ce) || ce.Code != 3 {
				t.Fatalf("want CodeExitError 3, got %T %v", err, err)
			}
		})
	}
	// A TTY: no stderr stream; the resize stream is accepted (v3 on).
	out, _, err := spdyExecIn(t, cfg, cs, &corev1.PodExecOptions{Command: []string{"cat"}, Stdin: true, Stdout: true, TTY: true}, "tty in", "v4.channel.k8s.io")
	if err != nil || out != "tty in" {
		t.Fatalf("tty exec: %q %v", out, err)
	}
	// A bad container is refused before the upgrade, as a Status.
	_, _, err = spdyExecIn(t, cfg, cs, &corev1.PodExecOptions{Command: []string{"x"}, Container: "nope", Stdout: true}, "")
	if err == nil || !strings.Contains(err.Error(), "container nope is not valid for pod p") {
		t.Fatalf("bad container: %v", err)
	}
}

// TestExecSPDYRealKubectl: kubectl exec with its WebSocket executor turned
// off (KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false: SPDY, as kubectls before
// 1.30 always did) streams and exits with the command's code.
func TestExecSPDYRealKubectl(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	startBoundPod(t, e.client(t, "http"))
	k := newKubectl(t, e.srv.URL)
	for _, ws := range []string{"false", "true"} {
		c := k.cmd("exec", "-i", "p", "--", "cat", "exit=3")
		c.Env = append(c.Env, "KUBECTL_REMOTE_COMMAND_WEBSOCKETS="+ws)
		c.Stdin = strings.NewReader("piped in")
		var stdout, stderr bytes.Buffer
		c.Stdout, c.Stderr = &stdout, &stderr
		err := c.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 || stdout.String() != "piped in" ||
			stderr.String() != "ran cat exit=3command terminated with exit code 3\n" {
			t.Errorf("websockets=%s: %v stdout %q stderr %q", ws, err, stdout.String(), stderr.String())
		}
	}
	if got := e.requests(); !strings.Contains(got, "POST /api/v1/namespaces/default/pods/p/exec") {
		t.Errorf("no SPDY (POST) exec among the requests:\n%s", got)
	}
}

// TestExecSPDYHostile: a client that upgrades and then opens only some of
// the streams it asked for is given up after streaming.StreamCreationTimeout (its
// error stream says so); one that opens none, or sends garbage, is closed
// by then or by the idle timeout. Nothing is left running.
func TestExecSPDYHostile(t *testing.T) {
	defer func(c, i time.Duration) { streaming.StreamCreationTimeout, streaming.StreamIdleTimeout = c, i }(streaming.StreamCreationTimeout, streaming.StreamIdleTimeout)
	streaming.StreamCreationTimeout, streaming.StreamIdleTimeout = 300*time.Millisecond, 600*time.Millisecond
	e := newEnv(t, HandlerOptions{})
	cs := e.client(t, "http")
	startBoundPod(t, cs)
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("p").SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Command: []string{"cat"}, Stdin: true, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	u := req.URL()
	rt, up, err := spdy.RoundTripperFor(e.modes["http"])
	if err != nil {
		t.Fatal(err)
	}
	dial := func() clienthttpstream.Connection {
		conn, _, err := spdy.NewDialer(up, &http.Client{Transport: rt}, "POST", u).Dial("v4.channel.k8s.io")
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	warm := dial()
	warm.Close()
	time.Sleep(200 * time.Millisecond)
	base := runtime.NumGoroutine()

	// Only the error stream of four.
	conn := dial()
	h := http.Header{}
	h.Set(corev1.StreamType, corev1.StreamTypeError)
	es, err := conn.CreateStream(h)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(es)
	if string(msg) != "timed out waiting for client to create streams" {
		t.Errorf("error stream: %q", msg)
	}
	select {
	case <-conn.CloseChan():
	case <-time.After(5 * time.Second):
		t.Error("connection not closed after the stream timeout")
	}
	conn.Close()
	// No stream at all: the server gives up too.
	conn = dial()
	select {
	case <-conn.CloseChan():
	case <-time.After(5 * time.Second):
		t.Error("idle connection not closed")
	}
	conn.Close()

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines, %d before\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}
