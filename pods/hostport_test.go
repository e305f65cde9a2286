package pods

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/network"
	"github.com/wasmpod/wasmpod/runtime/wasi/wasisock"
	"github.com/wasmpod/wasmpod/runtime/wazero"
)

// sockEngine is a wazero engine with the socket functions, for guests on
// the pod network.
func sockEngine(t *testing.T) *wazero.Engine {
	t.Helper()
	eng, err := wazero.New(context.Background(), wazero.Config{CacheDir: testwasm.CompileCacheDir(), Extensions: wasisock.Functions()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	return eng
}

// The hostPort tests hold host ports with real sockets on 127.0.0.1 and
// run real guests behind them on a real pod network; only the clock (the
// sandbox back-off) is fake.

// holdTCP listens on a free 127.0.0.1 port, as another process would.
func holdTCP(t *testing.T) (net.Listener, int32) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, int32(ln.Addr().(*net.TCPAddr).Port)
}

// hostportPod is the hostport example (an HTTP server on :8080 that says
// its POD_NAME) with its hostPort set to port.
func hostportPod(t *testing.T, name, ip string, port int32) *corev1.Pod {
	t.Helper()
	pod := loadPod(t, "hostport")
	pod.Name, pod.UID = name, types.UID("uid-"+name)
	pod.Spec.Containers[0].Ports[0].HostPort = port
	pod.Status.PodIP = ip
	return pod
}

// hostPortHarness is a worker harness for pod on a real pod network that
// binds hostPorts, with the socket functions for its guests when guests is
// set.
func hostPortHarness(t *testing.T, pod *corev1.Pod, guests bool) (*harness, *network.Network) {
	t.Helper()
	h := newHarness(t, pod)
	n := network.New(network.Config{})
	t.Cleanup(func() { n.Close() })
	h.cfg.Network, h.cfg.HostPorts = n, n
	if guests {
		h.cfg.Engine = sockEngine(t)
	}
	return h, n
}

// sandboxEvents are the worker's FailedCreatePodSandBox events.
func (h *harness) sandboxEvents() []string {
	var out []string
	for _, e := range h.eventList() {
		if strings.HasPrefix(e, "Warning FailedCreatePodSandBox ") {
			out = append(out, e)
		}
	}
	return out
}

func (h *harness) waitSandboxEvents(n int) []string {
	h.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		if ev := h.sandboxEvents(); len(ev) >= n {
			return ev
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %d FailedCreatePodSandBox events; status: %s\nevents: %v", n, describe(h.w.Pod()), h.eventList())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// httpGetEventually GETs url until it answers 200 (the guest may not have
// reached Accept yet), returning the body.
func httpGetEventually(t *testing.T, url string) string {
	t.Helper()
	cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(waitLimit)
	for {
		resp, err := cl.Get(url)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return string(b)
			}
			err = fmt.Errorf("status %d, %v", resp.StatusCode, rerr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitingReason(p *corev1.Pod) string {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Waiting == nil {
			return "not waiting: " + describe(p)
		}
		if cs.State.Waiting.Reason != "ContainerCreating" {
			return cs.State.Waiting.Reason
		}
	}
	return "ContainerCreating"
}

// TestHostPortTakenFailsSandbox: a hostPort another process holds fails the
// pod's sandbox as upstream's hostport manager does: FailedCreatePodSandBox
// naming the port, protocol and address, the pod Pending with its container
// Waiting in ContainerCreating, nothing of it started, and the hostPort
// bound before the failing one released. The sandbox is created again every
// 10-15 s (the kubelet's pod sync back-off, on the fake clock); once the
// port is free the pod starts and a real HTTP GET through the hostPort
// reaches it. When the pod ends its hostPorts are free again.
func TestHostPortTakenFailsSandbox(t *testing.T) {
	busy, busyPort := holdTCP(t)
	free, freePort := holdTCP(t)
	free.Close() // a port nobody holds: the pod's first hostPort

	const ip = "10.244.1.5"
	pod := hostportPod(t, "web", ip, freePort)
	pod.Spec.Containers[0].Ports = append(pod.Spec.Containers[0].Ports,
		corev1.ContainerPort{ContainerPort: 8081, HostPort: busyPort, Protocol: corev1.ProtocolTCP})
	h, n := hostPortHarness(t, pod, true)
	h.run()

	ev := h.waitSandboxEvents(1)
	want := fmt.Sprintf("Warning FailedCreatePodSandBox Failed to create pod sandbox: cannot open hostport %d for pod web_default: listen tcp4 127.0.0.1:%d: bind: address already in use", busyPort, busyPort)
	if ev[0] != want {
		t.Errorf("event\n %q\nwant\n %q", ev[0], want)
	}
	p := h.waitFor("Pending, ContainerCreating", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodPending && waitingReason(p) == "ContainerCreating"
	})
	if got := p.Status.PodIP; got != ip {
		t.Errorf("podIP %q, want %q", got, ip)
	}
	if c := condOf(p.Status, corev1.PodReadyToStartContainers); c.Status != corev1.ConditionFalse {
		t.Errorf("PodReadyToStartContainers %+v without a sandbox, want False", c)
	}
	// Nothing of the pod runs: no image pulled, no container created, not
	// on the network.
	for _, e := range h.eventList() {
		if !strings.HasPrefix(e, "Warning FailedCreatePodSandBox ") {
			t.Errorf("unexpected event %q before the sandbox exists", e)
		}
	}
	if c, err := n.DialPod(context.Background(), netip.MustParseAddr(ip), 8080); err == nil {
		c.Close()
		t.Error("the pod is on the network without a sandbox")
	}
	// The hostPort bound before the failing one was released.
	if ln, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", freePort)); err != nil {
		t.Errorf("the pod's first hostPort leaked: %v", err)
	} else {
		ln.Close()
	}

	// Back-off: no retry before 10 s, one by 15 s.
	h.waitTimer()
	h.clk.Step(9 * time.Second)
	if !h.clk.HasWaiters() || len(h.sandboxEvents()) != 1 {
		t.Fatalf("sandbox retried before 10 s: %v", h.eventList())
	}
	h.clk.Step(6 * time.Second)
	ev = h.waitSandboxEvents(2)
	if ev[1] != want {
		t.Errorf("second event %q", ev[1])
	}
	h.waitFor("still Pending", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodPending })

	// The port is freed: the next attempt creates the sandbox.
	busy.Close()
	h.waitTimer()
	h.clk.Step(15 * time.Second)
	p = h.waitFor("Running", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && ctrStatus(p, "server").State.Running != nil
	})
	if c := condOf(p.Status, corev1.PodReadyToStartContainers); c.Status != corev1.ConditionTrue {
		t.Errorf("PodReadyToStartContainers %+v with the sandbox created, want True", c)
	}
	body := httpGetEventually(t, fmt.Sprintf("http://127.0.0.1:%d/through-hostport", freePort))
	if !strings.HasPrefix(body, "hello from web, a WebAssembly pod (request 1, GET /through-hostport, from 127.0.0.1:") {
		t.Errorf("GET through the hostPort answered %q", body)
	}
	if got := len(h.sandboxEvents()); got != 2 {
		t.Errorf("%d FailedCreatePodSandBox events, want 2", got)
	}

	// The pod ends: both host ports are free again.
	h.cancel()
	h.waitDone()
	for _, port := range []int32{freePort, busyPort} {
		ln, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Errorf("hostPort %d still bound after the pod ended: %v", port, err)
			continue
		}
		ln.Close()
	}
}

// TestHostPortTakenUDP: the same for a UDP hostPort held by a real UDP
// socket; once it is freed, a datagram through the hostPort reaches the
// guest and its reply comes back.
func TestHostPortTakenUDP(t *testing.T) {
	busy, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := int32(busy.LocalAddr().(*net.UDPAddr).Port)

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "dns", Namespace: "default", UID: "uid-dns",
			Annotations: map[string]string{AnnotationManifestDir: filepath.Join(examplesDir(t), "testguests")}},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name: "udp", Image: "go://./netprobe", Args: []string{"udp-server", ":5353", "1"},
				Ports: []corev1.ContainerPort{{ContainerPort: 5353, HostPort: port, Protocol: corev1.ProtocolUDP}},
			}},
		},
		Status: corev1.PodStatus{PodIP: "10.244.1.6"},
	}
	h, _ := hostPortHarness(t, pod, true)
	h.run()

	ev := h.waitSandboxEvents(1)
	want := fmt.Sprintf("Warning FailedCreatePodSandBox Failed to create pod sandbox: cannot open hostport %d for pod dns_default: listen udp4 127.0.0.1:%d: bind: address already in use", port, port)
	if ev[0] != want {
		t.Errorf("event\n %q\nwant\n %q", ev[0], want)
	}
	h.waitFor("Pending, ContainerCreating", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodPending && waitingReason(p) == "ContainerCreating"
	})

	busy.Close()
	h.waitTimer()
	h.clk.Step(15 * time.Second)
	deadline := time.Now().Add(waitLimit)
	for !slices.ContainsFunc(h.logLines("udp"), func(l string) bool { return strings.HasPrefix(l, "listening") }) {
		if time.Now().After(deadline) {
			t.Fatalf("the guest never listened; status %s; events %v", describe(h.w.Pod()), h.eventList())
		}
		time.Sleep(5 * time.Millisecond)
	}
	c, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64)
	var got string
	for i := 0; i < 100 && got == ""; i++ {
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if k, err := c.Read(buf); err == nil {
			got = string(buf[:k])
		}
	}
	if got != "PING" {
		t.Errorf("reply through the UDP hostPort %q, want PING", got)
	}
	p := h.waitDone()
	if p.Status.Phase != corev1.PodSucceeded {
		t.Errorf("pod ended %s", describe(p))
	}
}

// TestHostPortTakenPodDeleted: a pod deleted while its sandbox waits for a
// hostPort ends at once (nothing of it ran), and releases nothing it did not
// hold: the other process keeps its port.
func TestHostPortTakenPodDeleted(t *testing.T) {
	busy, port := holdTCP(t)
	h, _ := hostPortHarness(t, hostportPod(t, "web", "10.244.1.7", port), true)
	h.run()
	h.waitSandboxEvents(1)
	h.w.Terminate(30 * time.Second)
	p := h.waitDone()
	if p.Status.Phase != corev1.PodFailed || waitingReason(p) != "ContainerCreating" {
		t.Errorf("deleted while its sandbox waited: %s", describe(p))
	}
	if h.runErr != nil {
		t.Errorf("Run: %v", h.runErr)
	}
	// The holder's listener still works.
	go func() {
		if c, err := busy.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := net.Dial("tcp4", busy.Addr().String())
	if err != nil {
		t.Fatalf("the other process lost its port: %v", err)
	}
	c.Close()
}

// TestHostPortPodsOnTwoNodes: two node agents of one process share the
// host's 127.0.0.1, as `serve --nodes 3` does, so the scheduler's per-node
// NodePorts filter cannot keep their pods apart. The second pod with the
// same hostPort gets FailedCreatePodSandBox through the API and stays
// Pending, while traffic keeps reaching the first; deleting the first frees
// the port and the second starts and gets the traffic.
func TestHostPortPodsOnTwoNodes(t *testing.T) {
	h := newAgentHarness(t)
	n := network.New(network.Config{})
	t.Cleanup(func() { n.Close() })
	h.pcfg.Network, h.pcfg.Engine = n, sockEngine(t)
	free, port := holdTCP(t)
	free.Close()

	ctx, cancel := context.WithCancel(context.Background())
	var stopped []chan error
	for i := 1; i <= 2; i++ {
		a := NewAgent(AgentConfig{Client: h.client, NodeName: fmt.Sprintf("node-%d", i), PodCIDR: fmt.Sprintf("10.244.%d.0/24", i),
			Pods: h.pcfg, Clock: h.clk, Network: n})
		done := make(chan error, 1)
		stopped = append(stopped, done)
		go func() { done <- a.Run(ctx) }()
	}
	t.Cleanup(func() {
		cancel()
		for _, s := range stopped {
			<-s
		}
	})

	first := hostportPod(t, "first", "", port)
	h.createPod(first) // node-1
	h.waitPod("first", "Running", func(p *corev1.Pod) bool { return ctrStatus(p, "server").State.Running != nil })
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if body := httpGetEventually(t, url); !strings.HasPrefix(body, "hello from first,") {
		t.Fatalf("GET answered %q", body)
	}

	second := hostportPod(t, "second", "", port)
	second.Spec.NodeName = "node-2"
	if _, err := h.client.CoreV1().Pods("default").Create(context.Background(), second, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wantMsg := fmt.Sprintf("Failed to create pod sandbox: cannot open hostport %d for pod second_default: listen tcp4 127.0.0.1:%d: bind: address already in use", port, port)
	h.eventually("FailedCreatePodSandBox of the second pod", func() (bool, string) {
		list, err := h.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range list.Items {
			if e.InvolvedObject.Name == "second" {
				if e.Type == corev1.EventTypeWarning && e.Reason == "FailedCreatePodSandBox" && e.Message == wantMsg &&
					e.Source.Component == "kubelet" && e.Source.Host == "node-2" {
					return true, ""
				}
				seen = append(seen, e.Type+" "+e.Reason+" "+e.Message)
			}
		}
		return false, fmt.Sprint(seen)
	})
	h.waitPod("second", "Pending, ContainerCreating", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodPending && waitingReason(p) == "ContainerCreating"
	})
	if body := httpGetEventually(t, url); !strings.HasPrefix(body, "hello from first,") {
		t.Errorf("with the second pod Pending, GET answered %q", body)
	}

	zero := int64(0)
	if err := h.client.CoreV1().Pods("default").Delete(context.Background(), "first", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	// The second pod's next sandbox attempt binds the freed port: step the
	// fake clock past the back-off until it runs.
	h.eventually("second Running", func() (bool, string) {
		p := h.getPod("second")
		if p != nil && ctrStatus(p, "server").State.Running != nil {
			return true, ""
		}
		h.clk.Step(5 * time.Second)
		if p == nil {
			return false, "gone"
		}
		return false, describe(p)
	})
	if body := httpGetEventually(t, url); !strings.HasPrefix(body, "hello from second,") {
		t.Errorf("after the first pod's deletion, GET answered %q", body)
	}
}

// TestSandboxNetworkFailureRetried: any failure to create the sandbox is
// retried the same way, not only a hostPort's: a pod whose IP another pod
// of the network still holds (the network refuses it) waits Pending, and
// starts once the IP is free.
func TestSandboxNetworkFailureRetried(t *testing.T) {
	const ip = "10.244.1.9"
	pod := loadPod(t, "spin")
	pod.Status.PodIP = ip
	h, n := hostPortHarness(t, pod, false)
	if _, err := n.AddPod(network.PodInfo{Namespace: "default", Name: "squatter", IP: netip.MustParseAddr(ip)}); err != nil {
		t.Fatal(err)
	}
	h.run()
	ev := h.waitSandboxEvents(1)
	if want := "Warning FailedCreatePodSandBox Failed to create pod sandbox: network: pod default/spin: IP 10.244.1.9 is already used by pod default/squatter"; ev[0] != want {
		t.Errorf("event %q, want %q", ev[0], want)
	}
	h.waitFor("Pending, ContainerCreating", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodPending && waitingReason(p) == "ContainerCreating"
	})
	n.RemovePod(netip.MustParseAddr(ip))
	h.waitTimer()
	h.clk.Step(15 * time.Second)
	h.waitFor("Running", func(p *corev1.Pod) bool { return ctrStatus(p, "spin").State.Running != nil })
}

// TestHostPortTakenPastActiveDeadline: a pod whose sandbox still waits for
// its hostPort when activeDeadlineSeconds runs out fails with
// DeadlineExceeded, as the kubelet's active deadline handler fails it
// whether or not its sandbox exists.
func TestHostPortTakenPastActiveDeadline(t *testing.T) {
	_, port := holdTCP(t)
	pod := hostportPod(t, "web", "10.244.1.8", port)
	d := int64(20)
	pod.Spec.ActiveDeadlineSeconds = &d
	h, _ := hostPortHarness(t, pod, false)
	h.run()
	h.waitSandboxEvents(1)
	h.waitTimer()
	h.clk.Step(20 * time.Second)
	p := h.waitDone()
	if p.Status.Phase != corev1.PodFailed || p.Status.Reason != "DeadlineExceeded" || waitingReason(p) != "ContainerCreating" {
		t.Errorf("past its deadline: %s", describe(p))
	}
}

// TestHostPortSameNumberTwice: one port number as a TCP and a UDP hostPort
// binds both; the same host port, protocol and address listed twice in a
// pod is bound once (upstream's validation refuses the duplicate; here it
// must not block the pod's sandbox forever on itself).
func TestHostPortSameNumberTwice(t *testing.T) {
	free, port := holdTCP(t)
	free.Close()
	pod := hostportPod(t, "web", "10.244.1.10", port)
	pod.Spec.Containers[0].Ports = append(pod.Spec.Containers[0].Ports,
		corev1.ContainerPort{ContainerPort: 8080, HostPort: port, Protocol: corev1.ProtocolTCP},
		corev1.ContainerPort{ContainerPort: 5353, HostPort: port, Protocol: corev1.ProtocolUDP})
	h, _ := hostPortHarness(t, pod, true)
	h.run()
	h.waitFor("Running", func(p *corev1.Pod) bool { return ctrStatus(p, "server").State.Running != nil })
	if ev := h.sandboxEvents(); len(ev) != 0 {
		t.Errorf("sandbox failed: %v", ev)
	}
	if body := httpGetEventually(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); !strings.HasPrefix(body, "hello from web,") {
		t.Errorf("GET answered %q", body)
	}
	if c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)}); err == nil {
		c.Close()
		t.Errorf("UDP hostPort %d is not bound", port)
	}
}
