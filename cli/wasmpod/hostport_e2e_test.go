package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// TestServeHostPortAcrossNodes: the scheduler keeps two pods with one
// hostPort off the same node (NodePorts), but `serve --nodes 2` runs both
// nodes on the host's 127.0.0.1, so the second pod's sandbox cannot bind the
// port: FailedCreatePodSandBox, Pending, and the first keeps the traffic.
// Deleting the first frees the port and the second starts behind it.
func TestServeHostPortAcrossNodes(t *testing.T) {
	t.Parallel()
	s := serve(t, t.TempDir(), "--nodes", "2")
	port := freePort(t)
	pod := func(name string) string {
		return strings.Replace(hostportManifest(t, port), "name: hostport", "name: "+name, 1)
	}
	s.mustCtl(t, pod("first"), "apply", "-f", "-")
	first := s.waitPod(t, "first", "Running", phaseIs(corev1.PodRunning))
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if body := httpGetRetry(t, url, 30*time.Second); !strings.HasPrefix(body, "hello from first,") {
		t.Fatalf("GET answered %q", body)
	}

	s.mustCtl(t, pod("second"), "apply", "-f", "-")
	second := s.waitPod(t, "second", "scheduled", func(p *corev1.Pod) bool { return p.Spec.NodeName != "" })
	if second.Spec.NodeName == first.Spec.NodeName {
		t.Fatalf("both pods with hostPort %d on %s", port, first.Spec.NodeName)
	}
	want := fmt.Sprintf("Failed to create pod sandbox: cannot open hostport %d for pod second_default: listen tcp4 127.0.0.1:%d: bind: address already in use", port, port)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		evs, err := s.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=second"})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range evs.Items {
			found = found || e.Type == corev1.EventTypeWarning && e.Reason == "FailedCreatePodSandBox" && e.Message == want && e.Source.Host == second.Spec.NodeName
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no FailedCreatePodSandBox %q; events %v", want, podEvents(t, s.client, "second"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The Event may be stored before the agent's status write: wait for the
	// status, which must be Pending with the container waiting.
	s.waitPod(t, "second", "Pending, ContainerCreating", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodPending && len(p.Status.ContainerStatuses) == 1 &&
			p.Status.ContainerStatuses[0].State.Waiting != nil && p.Status.ContainerStatuses[0].State.Waiting.Reason == "ContainerCreating"
	})
	if body := httpGetRetry(t, url, 30*time.Second); !strings.HasPrefix(body, "hello from first,") {
		t.Errorf("with the second pod Pending, GET answered %q", body)
	}

	s.mustCtl(t, "", "delete", "pod", "first")
	s.waitPod(t, "second", "Running", phaseIs(corev1.PodRunning))
	if body := httpGetRetry(t, url, 30*time.Second); !strings.HasPrefix(body, "hello from second,") {
		t.Errorf("after the first pod's deletion, GET answered %q", body)
	}
}
