package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// echoNode is a fakeNode whose PortForward echoes, prefixed with the pod
// and port it was asked for; port 9 refuses.
type echoNode struct{ fakeNode }

func (f *echoNode) PortForward(ctx context.Context, pod *corev1.Pod, port int32, conn io.ReadWriteCloser) error {
	if port == 9 {
		return fmt.Errorf("error forwarding port %d to pod %s: connection refused", port, pod.Name)
	}
	fmt.Fprintf(conn, "%s:%d:", pod.Name, port)
	_, err := io.Copy(conn, conn)
	return err
}

func runningPod(t *testing.T, e *env, name string, labels map[string]string, ready bool) {
	t.Helper()
	ctx := context.Background()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.PodSpec{NodeName: "node-1",
		Containers: []corev1.Container{{Name: "c", Image: "a.wasm", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}}}
	p, err := e.cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.1.5", Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}
	if _, err := e.cs.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// startForward runs port-forward in the background and returns the local
// address of each "Forwarding from" line, and the output buffers.
func startForward(t *testing.T, e *env, n int, args ...string) ([]string, *syncBuffer, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	app := App(&out, &errb)
	full := append([]string{"wasmpod", "port-forward", "--server", e.server}, args...)
	done := make(chan int, 1)
	go func() { done <- runAppContext(ctx, app, full) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("port-forward did not stop")
		}
	})
	re := regexp.MustCompile(`Forwarding from (127\.0\.0\.1:\d+) -> (\d+)`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := re.FindAllStringSubmatch(out.String(), -1); len(m) == n {
			var addrs []string
			for _, x := range m {
				addrs = append(addrs, x[1])
			}
			return addrs, &out, &errb
		}
		select {
		case code := <-done:
			t.Fatalf("port-forward exited %d: %s%s", code, out.String(), errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Forwarding lines: %q %q", out.String(), errb.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func roundTrip(t *testing.T, addr, msg string) string {
	t.Helper()
	got, err := tryRoundTrip(addr, msg)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func tryRoundTrip(addr, msg string) (string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return "", err
	}
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	return string(b), err
}

func TestPortForwardPod(t *testing.T) {
	e := newEnv(t)
	e.s.RegisterNode("node-1", &echoNode{})
	runningPod(t, e, "web-1", map[string]string{"app": "web"}, true)

	addrs, out, _ := startForward(t, e, 2, "pod/web-1", ":8080", "0:9090")
	if got := roundTrip(t, addrs[0], "hello"); got != "web-1:8080:hello" {
		t.Errorf("through %s: %q", addrs[0], got)
	}
	big := strings.Repeat("x", 200_000)
	if got := roundTrip(t, addrs[1], big); got != "web-1:9090:"+big {
		t.Errorf("big payload: %d bytes back", len(got))
	}
	if !strings.Contains(out.String(), "Handling connection for ") || !strings.Contains(out.String(), "-> 8080\n") {
		t.Errorf("output: %q", out.String())
	}

	// A refused connection is reported and the local connection closed.
	addrs, _, errb := startForward(t, e, 1, "web-1", ":9")
	// (The local connection may be reset: it is closed with "x" unread.)
	if got, _ := tryRoundTrip(addrs[0], "x"); got != "" {
		t.Errorf("refused port answered %q", got)
	}
	waitFor(t, func() bool { return strings.Contains(errb.String(), "connection refused") })
}

func TestPortForwardService(t *testing.T) {
	e := newEnv(t)
	e.s.RegisterNode("node-1", &echoNode{})
	runningPod(t, e, "a-unready", map[string]string{"app": "web"}, false)
	runningPod(t, e, "b-ready", map[string]string{"app": "web"}, true)
	ctx := context.Background()
	if _, err := e.cs.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromString("http")},
			{Name: "alt", Port: 81, TargetPort: intstr.FromInt32(7070)},
		}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	addrs, out, _ := startForward(t, e, 2, "svc/web", ":80", ":81")
	if got := roundTrip(t, addrs[0], "hi"); got != "b-ready:8080:hi" {
		t.Errorf("svc port 80: %q", got)
	}
	if got := roundTrip(t, addrs[1], "hi"); got != "b-ready:7070:hi" {
		t.Errorf("svc port 81: %q", got)
	}
	if !strings.Contains(out.String(), "-> 8080\n") {
		t.Errorf("output: %q", out.String())
	}
	if got := e.fail(1, "port-forward", "svc/web", "8080"); got != "error: Service web does not have a service port 8080\n" {
		t.Errorf("unknown service port: %q", got)
	}
	if got := e.fail(1, "port-forward", "svc/nope", "80"); got != "Error from server (NotFound): services \"nope\" not found\n" {
		t.Errorf("missing service: %q", got)
	}
	if got := e.fail(1, "port-forward", "pod/b-ready"); got != "error: TYPE/NAME and list of ports are required for port-forward\n" {
		t.Errorf("no ports: %q", got)
	}
	if got := e.fail(1, "port-forward", "pod/b-ready", "70000"); !strings.Contains(got, "error parsing remote port '70000'") {
		t.Errorf("bad port: %q", got)
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pending"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "a.wasm"}}}}
	if _, err := e.cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := e.fail(1, "port-forward", "pod/pending", "80"); got != "error: unable to forward port because pod is not running. Current status=Pending\n" {
		t.Errorf("pending pod: %q", got)
	}
}
