package pods

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fakeNet records host port mappings and echoes dialed connections.
type fakeNet struct {
	mu     sync.Mutex
	maps   []string
	closed []string
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

func (f *fakeNet) ListenHostPort(host netip.AddrPort, proto string, podIP netip.Addr, port int) (io.Closer, error) {
	m := fmt.Sprintf("%s/%s->%s:%d", host, proto, podIP, port)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.maps = append(f.maps, m)
	return closerFunc(func() error { f.mu.Lock(); f.closed = append(f.closed, m); f.mu.Unlock(); return nil }), nil
}

func (f *fakeNet) DialPod(ctx context.Context, ip netip.Addr, port int) (net.Conn, error) {
	a, b := net.Pipe()
	go func() {
		// net.Pipe cannot half-close: echo the 4-byte request and close.
		fmt.Fprintf(b, "%s:%d:", ip, port)
		io.CopyN(b, b, 4)
		b.Close()
	}()
	return a, nil
}

type rwc struct {
	io.Reader
	io.Writer
}

func (rwc) Close() error { return nil }

func TestAgentHostPortAndPortForward(t *testing.T) {
	h := newAgentHarness(t)
	fn := &fakeNet{}
	h.a = NewAgent(AgentConfig{Client: h.client, NodeName: "node-1", PodCIDR: "10.244.1.0/24", Pods: h.pcfg, Clock: h.clk, Network: fn})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- h.a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-stopped })

	pod := loadPod(t, "spin")
	pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 18080}, {ContainerPort: 53, HostPort: 18053, Protocol: corev1.ProtocolUDP}}
	h.createPod(pod)
	p := h.waitPod("spin", "Running", func(p *corev1.Pod) bool { return ctrStatus(p, "spin").State.Running != nil })
	fn.mu.Lock()
	maps := fmt.Sprint(fn.maps)
	fn.mu.Unlock()
	if want := fmt.Sprintf("[127.0.0.1:18080/TCP->%s:8080 127.0.0.1:18053/UDP->%s:53]", p.Status.PodIP, p.Status.PodIP); maps != want {
		t.Errorf("host ports %s, want %s", maps, want)
	}

	var out bytes.Buffer
	pfCtx, pfCancel := context.WithTimeout(context.Background(), waitLimit)
	defer pfCancel()
	if err := h.a.PortForward(pfCtx, p, 8080, rwc{bytes.NewBufferString("ping"), &out}); err != nil {
		t.Fatal(err)
	}
	if want := p.Status.PodIP + ":8080:ping"; out.String() != want {
		t.Errorf("port-forward got %q, want %q", out.String(), want)
	}

	zero := int64(0)
	if err := h.client.CoreV1().Pods("default").Delete(context.Background(), "spin", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	h.eventually("host port closed", func() (bool, string) {
		fn.mu.Lock()
		defer fn.mu.Unlock()
		return len(fn.closed) == 2, fmt.Sprint(fn.closed)
	})
}

func TestAgentPortForwardWithoutNetwork(t *testing.T) {
	h := newAgentHarness(t)
	h.start()
	h.createPod(loadPod(t, "spin"))
	p := h.waitPod("spin", "Running", func(p *corev1.Pod) bool { return ctrStatus(p, "spin").State.Running != nil })
	err := h.a.PortForward(context.Background(), p, 8080, rwc{&bytes.Buffer{}, io.Discard})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("port-forward needs the pod network")) {
		t.Errorf("got %v", err)
	}
}
