package main

import (
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// holdHostPort serves HTTP on a free 127.0.0.1 port, as another process on
// the host would, until the returned func closes it.
func holdHostPort(t *testing.T) (port int, release func()) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "the other process")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port, func() { srv.Close() }
}

func hostportManifest(t *testing.T, port int) string {
	t.Helper()
	m := exampleManifest(t, "hostport", "pod.yaml")
	if !strings.Contains(m, "hostPort: 8080") {
		t.Fatalf("the hostport example no longer has hostPort: 8080:\n%s", m)
	}
	return strings.Replace(m, "hostPort: 8080", fmt.Sprintf("hostPort: %d", port), 1)
}

// TestRunHostPortTaken: `run` of a pod whose hostPort another process holds
// shows upstream's FailedCreatePodSandBox warning and the pod Pending in
// ContainerCreating, and keeps waiting while the port's traffic still
// reaches its holder; once the holder lets go, the kubelet-style retry
// (10-15 s) starts the pod and the hostPort reaches it; Ctrl-C ends it
// cleanly.
func TestRunHostPortTaken(t *testing.T) {
	t.Parallel()
	port, release := holdHostPort(t)
	p := start(t, hostportManifest(t, port), "run", "-")
	p.waitFor(regexp.QuoteMeta(fmt.Sprintf("Warning FailedCreatePodSandBox pod/hostport: Failed to create pod sandbox: cannot open hostport %d for pod hostport_default: listen tcp4 127.0.0.1:%d: bind: address already in use\n", port, port)), runTimeout)
	p.waitFor(`pod/hostport ContainerCreating \(phase: Pending, ready: 0/1, restarts: 0\)`, runTimeout)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if body := httpGetRetry(t, url, 30*time.Second); body != "the other process" {
		t.Errorf("with the pod Pending, GET answered %q", body)
	}
	if strings.Contains(p.stdout.String(), "[hostport/server]") {
		t.Errorf("the container ran without its hostPort:\n%s", p.stdout)
	}

	release()
	p.waitFor(`\[hostport/server\] serving on`, runTimeout)
	p.waitFor(`pod/hostport Running \(phase: Running, ready: 1/1`, runTimeout)
	body := httpGetRetry(t, url+"after-retry", 30*time.Second)
	if !strings.HasPrefix(body, "hello from hostport, a WebAssembly pod (request 1, GET /after-retry,") {
		t.Errorf("after the port was freed, GET answered %q", body)
	}
	p.interrupt(0)
	contains(t, "stdout", p.stdout.String(), "[hostport/server] bye\n")
}

// TestRunHostPortTakenInterrupted: Ctrl-C while the pod waits for its
// hostPort ends `run` at once: the pod never ran, so it failed (exit 1),
// and the other process keeps its port.
func TestRunHostPortTakenInterrupted(t *testing.T) {
	t.Parallel()
	port, _ := holdHostPort(t)
	p := start(t, hostportManifest(t, port), "run", "-")
	p.waitFor(`Warning FailedCreatePodSandBox pod/hostport: `, runTimeout)
	p.interrupt(1)
	contains(t, "stderr", p.stderr.String(), "pod/hostport ContainerCreating (phase: Failed")
	if body := httpGetRetry(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 30*time.Second); body != "the other process" {
		t.Errorf("after run ended, GET answered %q", body)
	}
}
