package apiserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
)

// attachNode attaches by greeting on stdout, a note on stderr, then
// echoing stdin to stdout.
type attachNode struct{ *fakeNode }

func (a *attachNode) Attach(ctx context.Context, pod *corev1.Pod, opts *corev1.PodAttachOptions, st ExecStreams) error {
	if opts.Container == "broken" {
		return errors.New("container broken is not running")
	}
	if st.Stdout != nil {
		fmt.Fprintf(st.Stdout, "attached to %s/%s\n", pod.Name, opts.Container)
	}
	if st.Stderr != nil {
		fmt.Fprint(st.Stderr, "note\n")
	}
	if st.Stdin != nil && st.Stdout != nil {
		_, err := io.Copy(st.Stdout, st.Stdin)
		return err
	}
	return nil
}

func attachIn(t *testing.T, cfg *rest.Config, cs *kubernetes.Clientset, opts *corev1.PodAttachOptions, stdin string, spdyTransport bool) (string, string, error) {
	t.Helper()
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("p").SubResource("attach").
		VersionedParams(opts, scheme.ParameterCodec)
	var ex remotecommand.Executor
	var err error
	if spdyTransport {
		ex, err = remotecommand.NewSPDYExecutor(cfg, "POST", req.URL())
	} else {
		ex, err = remotecommand.NewWebSocketExecutor(cfg, "GET", req.URL().String())
	}
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	so := remotecommand.StreamOptions{Stdout: &stdout}
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

// TestClientGoAttach: pods/NAME/attach over WebSocket and SPDY with
// client-go's executors, and its refusals.
func TestClientGoAttach(t *testing.T) {
	e := newEnv(t, HandlerOptions{Token: "secret"})
	cfg := e.modes["http"]
	cs := e.client(t, "http")
	startBoundPod(t, cs)

	// A node that cannot attach: 503 before any upgrade.
	_, _, err := attachIn(t, cfg, cs, &corev1.PodAttachOptions{Stdout: true}, "", false)
	if err == nil || !strings.Contains(err.Error(), "node node-1 does not support attach") {
		t.Fatalf("node without attach: %v", err)
	}
	e.s.RegisterNode("node-1", &attachNode{e.node})
	for _, spdy := range []bool{false, true} {
		out, errOut, err := attachIn(t, cfg, cs, &corev1.PodAttachOptions{Stdin: true, Stdout: true, Stderr: true}, "typed", spdy)
		if err != nil || out != "attached to p/main\ntyped" || errOut != "note\n" {
			t.Errorf("spdy=%v: out %q err %q %v", spdy, out, errOut, err)
		}
		// The node's failure is the error stream's Status.
		_, _, err = attachIn(t, cfg, cs, &corev1.PodAttachOptions{Stdout: true, Container: "main"}, "", spdy)
		if err != nil {
			t.Errorf("spdy=%v: stdout only: %v", spdy, err)
		}
	}
	if _, _, err := attachIn(t, cfg, cs, &corev1.PodAttachOptions{Container: "main"}, "", false); err == nil ||
		!strings.Contains(err.Error(), "you must specify at least one of stdin, stdout, stderr") {
		t.Errorf("no streams: %v", err)
	}
	if _, _, err := attachIn(t, cfg, cs, &corev1.PodAttachOptions{Stdout: true, Container: "nope"}, "", false); err == nil ||
		!strings.Contains(err.Error(), "container nope is not valid for pod p") {
		t.Errorf("bad container: %v", err)
	}
	// A completed pod is refused as upstream.
	p, err := cs.CoreV1().Pods("default").Get(context.Background(), "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodSucceeded
	if _, err := cs.CoreV1().Pods("default").UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := attachIn(t, cfg, cs, &corev1.PodAttachOptions{Stdout: true}, "", true); err == nil ||
		!strings.Contains(err.Error(), "cannot attach to a container in a completed pod; current phase is Succeeded") {
		t.Errorf("completed pod: %v", err)
	}
}

// TestAttachRealKubectl: kubectl attach -i over WebSocket (its default)
// and over SPDY (KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false).
func TestAttachRealKubectl(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	startBoundPod(t, e.client(t, "http"))
	e.s.RegisterNode("node-1", &attachNode{e.node})
	k := newKubectl(t, e.srv.URL)
	for _, ws := range []string{"true", "false"} {
		c := k.cmd("attach", "-i", "p")
		c.Env = append(c.Env, "KUBECTL_REMOTE_COMMAND_WEBSOCKETS="+ws)
		c.Stdin = strings.NewReader("from kubectl\n")
		var stdout, stderr bytes.Buffer
		c.Stdout, c.Stderr = &stdout, &stderr
		err := c.Run()
		if err != nil || stdout.String() != "attached to p/main\nfrom kubectl\n" || !strings.Contains(stderr.String(), "note\n") {
			t.Errorf("websockets=%s: %v stdout %q stderr %q", ws, err, stdout.String(), stderr.String())
		}
	}
	reqs := e.requests()
	if !strings.Contains(reqs, "GET /api/v1/namespaces/default/pods/p/attach?") || !strings.Contains(reqs, "POST /api/v1/namespaces/default/pods/p/attach?") {
		t.Errorf("want a WebSocket (GET) and a SPDY (POST) attach:\n%s", reqs)
	}
}
