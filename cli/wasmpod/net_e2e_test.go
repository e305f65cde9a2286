package main

// End-to-end tests of the pod network through the built CLI: Services by
// DNS name, localhost inside a pod, hostPort, port-forward, NodePort,
// endpoint removal before termination, cluster DNS, the per-pod port space
// and the egress deny switch. Real wazero, real modules; every byte of
// traffic stays on loopback (the one non-loopback address, TEST-NET
// 192.0.2.1, is only ever dialled with egress denied, which refuses it
// before any packet is sent).

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// freePort returns a TCP port on 127.0.0.1 that the OS reported free.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var (
	nodePortMu    sync.Mutex
	nodePortTaken = map[int]bool{}
)

// freeNodePort picks a port in the NodePort range (30000-32767) that is free
// on 127.0.0.1 and not yet given to another test of this process (the
// server allocates from 30000 upwards, so parallel servers would collide).
func freeNodePort(t *testing.T) int {
	t.Helper()
	nodePortMu.Lock()
	defer nodePortMu.Unlock()
	for range 500 {
		p := 30000 + rand.IntN(32767-30000+1)
		if nodePortTaken[p] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		nodePortTaken[p] = true
		return p
	}
	t.Fatal("no free port in the NodePort range")
	return 0
}

// exampleManifest reads an example's manifest for `run -` or `apply -f -`
// (which resolve go:// images against the repository root): go://./X
// becomes go://./wasm-examples/DIR/X.
func exampleManifest(t *testing.T, dir, file string) string {
	t.Helper()
	m := readFile(t, filepath.Join("wasm-examples", dir, file))
	return regexp.MustCompile(`go://\.(/\S*)?`).ReplaceAllString(m, "go://./wasm-examples/"+dir+"$1")
}

// httpGet GETs url on a new connection and returns the body of a 200.
func httpGet(url string) (string, error) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s: %s", url, resp.Status, b)
	}
	return string(b), nil
}

// httpGetRetry retries httpGet until it succeeds (listeners open
// asynchronously), failing the test after timeout.
func httpGetRetry(t *testing.T, url string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		body, err := httpGet(url)
		if err == nil {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v (retried for %s)", url, err, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// echo sends msg on a new TCP connection to addr, half-closes it and
// returns what came back.
func echo(addr, msg string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return "", err
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// podLogs returns a container's log through the API (container "" for a
// pod with one container).
func (s *server) podLogs(t *testing.T, pod, container string) string {
	t.Helper()
	b, err := s.client.CoreV1().Pods("default").GetLogs(pod, &corev1.PodLogOptions{Container: container}).DoRaw(context.Background())
	if err != nil {
		t.Fatalf("logs %s/%s: %v", pod, container, err)
	}
	return string(b)
}

// waitLogs polls a container's log until cond holds.
func (s *server) waitLogs(t *testing.T, pod, container, what string, cond func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out := s.podLogs(t, pod, container)
		if cond(out) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("log of %s/%s never showed %s:\n%s", pod, container, what, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func runningAndReady(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning && isReady(p) }

// readyEndpoints returns the addresses of the Service's EndpointSlices by
// readiness (a nil ready condition counts as ready, as upstream).
func (s *server) readyEndpoints(t *testing.T, svc string) (ready, notReady []string) {
	t.Helper()
	list, err := s.client.DiscoveryV1().EndpointSlices("default").List(context.Background(), metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		t.Fatal(err)
	}
	for _, sl := range list.Items {
		for _, ep := range sl.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				ready = append(ready, ep.Addresses...)
			} else {
				notReady = append(notReady, ep.Addresses...)
			}
		}
	}
	return ready, notReady
}

// waitEndpoints waits until every IP in ips is a ready endpoint of svc.
func (s *server) waitEndpoints(t *testing.T, svc string, ips ...string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ready, notReady := s.readyEndpoints(t, svc)
		all := true
		for _, ip := range ips {
			all = all && contains1(ready, ip)
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Service %s: want ready endpoints %v; ready %v, not ready %v", svc, ips, ready, notReady)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunWebServiceByName(t *testing.T) {
	t.Parallel()
	p := start(t, "", "run", "wasm-examples/web/pod.yaml")
	// The servers run until interrupted; the client ends on its own.
	p.waitFor(`pod/client (Completed|Error) \(phase: (Succeeded|Failed)`, 2*time.Minute)
	out := p.stdout.String()
	if !strings.Contains(out, "[client/client] 2 backends answered: hello from web-1, hello from web-2\n") {
		t.Errorf("the client did not get answers from both backends:\nstdout:\n%s\nstderr:\n%s", out, p.stderr)
	}
	for i := 1; i <= 6; i++ {
		if !regexp.MustCompile(fmt.Sprintf(`\[client/client\] request %d: hello from web-[12]\n`, i)).MatchString(out) {
			t.Errorf("stdout lacks request %d's answer:\n%s", i, out)
		}
	}
	p.interrupt(0)
	// The servers shut down on TERM.
	contains(t, "stdout", p.stdout.String(), "[web-1/server] shut down\n", "[web-2/server] shut down\n")
	contains(t, "stderr", p.stderr.String(), "service/web created", "terminating pods gracefully")
}

func TestRunSidecarOverLocalhost(t *testing.T) {
	t.Parallel()
	p := start(t, "", "run", "wasm-examples/sidecar/pod.yaml")
	if code := p.wait(runTimeout); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, p.stdout, p.stderr)
	}
	out := p.stdout.String()
	contains(t, "stdout", out, "[sidecar/helper] sidecar serving on 127.0.0.1:9000\n")
	// The app's connections come from the pod's loopback.
	for i := 1; i <= 3; i++ {
		rx := fmt.Sprintf(`\[sidecar/app\] config %d: greeting=hello from the sidecar of sidecar \(you are 127\.0\.0\.1:\d+\)\n`, i)
		if !regexp.MustCompile(rx).MatchString(out) {
			t.Errorf("stdout lacks config %d:\n%s", i, out)
		}
	}
	contains(t, "stderr", p.stderr.String(), "pod/sidecar Completed (phase: Succeeded")
}

func TestRunHostPort(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	m := exampleManifest(t, "hostport", "pod.yaml")
	if !strings.Contains(m, "hostPort: 8080") {
		t.Fatalf("the hostport example no longer has hostPort: 8080:\n%s", m)
	}
	m = strings.Replace(m, "hostPort: 8080", fmt.Sprintf("hostPort: %d", port), 1)
	p := start(t, m, "run", "-")
	p.waitFor(`\[hostport/server\] serving on`, runTimeout)
	url := fmt.Sprintf("http://127.0.0.1:%d/from-test", port)
	rx := regexp.MustCompile(`^hello from hostport, a WebAssembly pod \(request (\d), GET /from-test, from 127\.0\.0\.1:\d+, at `)
	for i := 1; i <= 2; i++ {
		body := httpGetRetry(t, url, 30*time.Second)
		if m := rx.FindStringSubmatch(body); m == nil || m[1] != strconv.Itoa(i) {
			t.Errorf("GET %d answered %q", i, body)
		}
	}
	p.interrupt(0)
	contains(t, "stdout", p.stdout.String(), "[hostport/server] bye\n")
}

func TestRunDenyEgress(t *testing.T) {
	t.Parallel()
	// 192.0.2.1 (TEST-NET-1) is refused by the deny switch before any
	// traffic: never run this pod without --deny-egress.
	manifest := `apiVersion: v1
kind: Pod
metadata: {name: deny}
spec:
  restartPolicy: Never
  containers:
  - name: probe
    image: go://./wasm-examples/testguests/netprobe
    args: [dial-once, "192.0.2.1:80"]
`
	p := start(t, manifest, "run", "--deny-egress", "-")
	code := p.wait(runTimeout)
	if code != 1 {
		t.Fatalf("exit %d, want netprobe's 1\nstdout:\n%s\nstderr:\n%s", code, p.stdout, p.stderr)
	}
	if !eaccesRx.MatchString(p.stdout.String()) {
		t.Errorf("want an EACCES dial error:\n%s", p.stdout)
	}
}

// eaccesRx matches netprobe's report of a connect refused with EACCES.
var eaccesRx = regexp.MustCompile(`dial: dial tcp 192\.0\.2\.1:80: connect: (?i:permission denied)\n`)

// TestServeHostAccess reaches pods from the host through port-forward and
// NodePort, and checks that a terminating pod leaves a NodePort Service's
// endpoints before it stops serving.
func TestServeHostAccess(t *testing.T) {
	t.Parallel()
	s := serve(t, t.TempDir())
	webNP, echoNP := freeNodePort(t), freeNodePort(t)
	webPod := func(name string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: server
    image: go://./wasm-examples/web/server
    ports: [{name: http, containerPort: 8080}]
    env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
`, name)
	}
	// netprobe's echo-server ignores TERM: it keeps accepting during its
	// pod's grace period, so only endpoint removal can keep traffic off it.
	echoPod := func(name string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, labels: {app: echo}}
spec:
  terminationGracePeriodSeconds: 60
  containers:
  - name: echo
    image: go://./wasm-examples/testguests/netprobe
    args: [echo-server, ":7000", "1000"]
    ports: [{containerPort: 7000}]
`, name)
	}
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http, nodePort: %d}]
---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  type: NodePort
  selector: {app: echo}
  ports: [{port: 7000, nodePort: %d}]
---
`, webNP, echoNP) + strings.Join([]string{webPod("web-1"), webPod("web-2"), echoPod("echo-1"), echoPod("echo-2")}, "---\n")
	s.mustCtl(t, manifest, "apply", "-f", "-")
	ip := map[string]string{}
	for _, name := range []string{"web-1", "web-2", "echo-1", "echo-2"} {
		ip[name] = s.waitPod(t, name, "Running and Ready", runningAndReady).Status.PodIP
	}
	s.waitEndpoints(t, "web", ip["web-1"], ip["web-2"])
	s.waitEndpoints(t, "echo", ip["echo-1"], ip["echo-2"])
	s.waitLogs(t, "web-1", "", "listening", func(l string) bool { return strings.Contains(l, "web-1 listening") })
	s.waitLogs(t, "web-2", "", "listening", func(l string) bool { return strings.Contains(l, "web-2 listening") })

	t.Run("port-forward", func(t *testing.T) {
		t.Parallel()
		local := freePort(t)
		pf := start(t, "", "--server", "unix://"+s.socket, "port-forward", "pod/web-1", fmt.Sprintf("%d:8080", local))
		pf.waitFor(fmt.Sprintf(`Forwarding from 127\.0\.0\.1:%d -> 8080`, local), time.Minute)
		for range 2 {
			if body := httpGetRetry(t, fmt.Sprintf("http://127.0.0.1:%d/", local), 10*time.Second); body != "hello from web-1\n" {
				t.Errorf("pod/web-1 answered %q", body)
			}
		}
		// svc/web's port 80 is translated to the named target port 8080;
		// ":80" picks a free local port.
		spf := start(t, "", "--server", "unix://"+s.socket, "port-forward", "svc/web", ":80")
		spf.waitFor(`Forwarding from 127\.0\.0\.1:\d+ -> 8080`, time.Minute)
		svcPort := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> 8080`).FindStringSubmatch(spf.stdout.String())[1]
		if body := httpGetRetry(t, "http://127.0.0.1:"+svcPort+"/", 10*time.Second); body != "hello from web-1\n" && body != "hello from web-2\n" {
			t.Errorf("svc/web answered %q", body)
		}
		for _, p := range []*proc{pf, spf} {
			p.interrupt(0)
			contains(t, "port-forward stdout", p.stdout.String(), "Handling connection for ")
		}
	})

	t.Run("nodeport", func(t *testing.T) {
		t.Parallel()
		url := fmt.Sprintf("http://127.0.0.1:%d/", webNP)
		// The listener opens, and the proxy learns the endpoints, through
		// the proxy's watch: wait until both backends have answered once.
		deadline := time.Now().Add(30 * time.Second)
		for warm := map[string]bool{}; len(warm) < 2; {
			if time.Now().After(deadline) {
				t.Fatalf("NodePort %d: answers so far %v", webNP, warm)
			}
			if body, err := httpGet(url); err == nil {
				warm[body] = true
			} else {
				time.Sleep(50 * time.Millisecond)
			}
		}
		seen := map[string]int{}
		for i := range 6 {
			body, err := httpGet(url)
			if err != nil {
				t.Fatalf("request %d through NodePort %d: %v", i, webNP, err)
			}
			seen[body]++
		}
		// Balanced per connection, round robin.
		if seen["hello from web-1\n"] < 2 || seen["hello from web-2\n"] < 2 || len(seen) != 2 {
			t.Errorf("answers over 6 connections: %v", seen)
		}
		svc, err := s.client.CoreV1().Services("default").Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil || svc.Spec.Ports[0].NodePort != int32(webNP) {
			t.Errorf("Service web: %v %+v", err, svc)
		}
	})

	t.Run("endpoint-removal", func(t *testing.T) {
		t.Parallel()
		addr := fmt.Sprintf("127.0.0.1:%d", echoNP)
		accepted := func(pod string) int { return strings.Count(s.podLogs(t, pod, ""), "accepted from ") }
		waitAccepted := func(pod string, n int) {
			s.waitLogs(t, pod, "", fmt.Sprintf("%d accepted connections", n), func(l string) bool { return strings.Count(l, "accepted from ") >= n })
		}
		s.waitLogs(t, "echo-1", "", "listening", func(l string) bool { return strings.Contains(l, "listening") })
		s.waitLogs(t, "echo-2", "", "listening", func(l string) bool { return strings.Contains(l, "listening") })
		// Before: both backends take connections through the NodePort.
		deadline := time.Now().Add(30 * time.Second)
		for accepted("echo-1") == 0 || accepted("echo-2") == 0 {
			got, err := echo(addr, "ping")
			if time.Now().After(deadline) {
				t.Fatalf("echo through NodePort %d: %q %v; accepted: echo-1 %d, echo-2 %d", echoNP, got, err, accepted("echo-1"), accepted("echo-2"))
			}
			time.Sleep(50 * time.Millisecond)
		}
		e1, e2 := s.waitPod(t, "echo-1", "Running", runningAndReady), s.waitPod(t, "echo-2", "Running", runningAndReady)

		s.mustCtl(t, "", "delete", "pod", "echo-1", "--grace-period", "30", "--wait=false")
		deadline = time.Now().Add(time.Minute)
		for {
			ready, notReady := s.readyEndpoints(t, "echo")
			if !contains1(ready, e1.Status.PodIP) && contains1(ready, e2.Status.PodIP) {
				t.Logf("echo-1 left the endpoints (listed not-ready: %v)", contains1(notReady, e1.Status.PodIP))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("echo-1 (%s) never left Service echo's ready endpoints: ready %v, not ready %v", e1.Status.PodIP, ready, notReady)
			}
			time.Sleep(20 * time.Millisecond)
		}
		// The service proxy follows the EndpointSlice through its own
		// watch; allow it that propagation.
		time.Sleep(500 * time.Millisecond)
		before1, before2 := accepted("echo-1"), accepted("echo-2")
		const n = 6
		for i := range n {
			if got, err := echo(addr, fmt.Sprintf("after-%d", i)); got != fmt.Sprintf("after-%d", i) {
				t.Fatalf("echo %d after endpoint removal: %q %v", i, got, err)
			}
		}
		// Every connection was accepted by one of them; wait for both logs.
		deadline = time.Now().Add(time.Minute)
		for accepted("echo-1")+accepted("echo-2") < before1+before2+n {
			if time.Now().After(deadline) {
				t.Fatalf("accepted after removal: echo-1 %d, echo-2 %d, want %d in all", accepted("echo-1")-before1, accepted("echo-2")-before2, n)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if a1, a2 := accepted("echo-1")-before1, accepted("echo-2")-before2; a1 != 0 || a2 != n {
			t.Errorf("after echo-1 left the endpoints, NodePort connections went to echo-1 %d times, echo-2 %d times; want 0 and %d", a1, a2, n)
		}
		// echo-1 is still alive and serving (it ignores TERM): a connection
		// forwarded straight to it is accepted. Had any NodePort connection
		// reached it, its count would now be above before1+1.
		p, err := s.client.CoreV1().Pods("default").Get(context.Background(), "echo-1", metav1.GetOptions{})
		if err != nil || p.DeletionTimestamp == nil || p.Status.Phase != corev1.PodRunning {
			t.Fatalf("echo-1 should be terminating and running: %v %+v", err, p)
		}
		pf := start(t, "", "--server", "unix://"+s.socket, "port-forward", "pod/echo-1", ":7000")
		pf.waitFor(`Forwarding from 127\.0\.0\.1:\d+ -> 7000`, time.Minute)
		local := regexp.MustCompile(`Forwarding from (127\.0\.0\.1:\d+) -> 7000`).FindStringSubmatch(pf.stdout.String())[1]
		if got, err := echo(local, "direct"); got != "direct" {
			t.Fatalf("echo straight to echo-1: %q %v\nport-forward stderr:\n%s", got, err, pf.stderr)
		}
		waitAccepted("echo-1", before1+1)
		if got := accepted("echo-1"); got != before1+1 {
			t.Errorf("echo-1 accepted %d connections after leaving the endpoints, want only the forwarded one:\n%s", got-before1, s.podLogs(t, "echo-1", ""))
		}
		pf.signal(syscall.SIGINT)
		pf.wait(time.Minute)
	})
}

func contains1(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestServePodDNSAndPortSpace resolves Services and a pod's
// hostname.subdomain through getaddrinfo inside a pod, binds one port from
// two containers of a pod, and checks the config file's denyEgress.
func TestServePodDNSAndPortSpace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte("denyEgress: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := serve(t, dir, "--config", cfg)
	ctx := context.Background()
	// Service web has no endpoints: its name still resolves to its
	// ClusterIP. The headless Service sub gives the pod named host1.sub a
	// name once the pod is one of its ready endpoints.
	s.mustCtl(t, `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: sub}
spec:
  clusterIP: None
  selector: {app: named}
  ports: [{name: p, port: 7000}]
---
apiVersion: v1
kind: Pod
metadata: {name: named, labels: {app: named}}
spec:
  hostname: host1
  subdomain: sub
  terminationGracePeriodSeconds: 1
  containers:
  - name: hold
    image: go://./wasm-examples/testguests/netprobe
    args: [listen-hold, ":7000"]
    ports: [{containerPort: 7000}]
`, "apply", "-f", "-")
	named := s.waitPod(t, "named", "Running and Ready", runningAndReady)
	deadline := time.Now().Add(time.Minute)
	for {
		if ready, _ := s.readyEndpoints(t, "sub"); contains1(ready, named.Status.PodIP) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod named (%s) never became a ready endpoint of sub", named.Status.PodIP)
		}
		time.Sleep(20 * time.Millisecond)
	}
	web, err := s.client.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	type ctr struct{ name, args string }
	podOf := func(name, restart string, cs []ctr) string {
		var b strings.Builder
		fmt.Fprintf(&b, "apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n  restartPolicy: %s\n  terminationGracePeriodSeconds: 1\n  containers:\n", name, restart)
		for _, c := range cs {
			fmt.Fprintf(&b, "  - name: %s\n    image: go://./wasm-examples/testguests/netprobe\n    args: %s\n", c.name, c.args)
		}
		return b.String()
	}
	// The lookups restart on failure: the service proxy learns of sub's
	// endpoints through its own watch, a moment after the EndpointSlice.
	lookups := []ctr{
		{"web", "[lookup, web]"},
		{"web-ns", "[lookup, web.default]"},
		{"web-fqdn", "[lookup, web.default.svc.cluster.local]"},
		{"pod", "[lookup, host1.sub]"},
		{"pod-fqdn", "[lookup, host1.sub.default.svc.cluster.local]"},
	}
	probes := []ctr{
		// With egress denied, names outside the cluster are not sent to
		// the host's resolver: they do not exist.
		{"missing", "[lookup, nope]"},
		{"egress", `[dial-once, "192.0.2.1:80"]`},
		// One port space per pod: named holds :7000 in its own pod, and
		// exactly one of these two gets it here.
		{"bind-a", `[listen-hold, ":7000"]`},
		{"bind-b", `[listen-hold, ":7000"]`},
	}
	s.mustCtl(t, podOf("resolver", "OnFailure", lookups)+"---\n"+podOf("probe", "Never", probes), "apply", "-f", "-")
	exit := map[string]int32{}
	record := func(p *corev1.Pod) {
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Terminated != nil {
				exit[cs.Name] = cs.State.Terminated.ExitCode
			} else {
				exit[cs.Name] = -1
			}
		}
	}
	record(s.waitPod(t, "resolver", "Succeeded", func(p *corev1.Pod) bool {
		return p.Status.Phase != corev1.PodRunning && p.Status.Phase != corev1.PodPending
	}))
	record(s.waitPod(t, "probe", "done probing", func(p *corev1.Pod) bool {
		done := 0
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Terminated != nil {
				done++
			}
		}
		return done == len(probes)-1 // one binder holds the port
	}))
	logs := func(c string) string {
		for _, l := range lookups {
			if l.name == c {
				return s.podLogs(t, "resolver", c)
			}
		}
		return s.podLogs(t, "probe", c)
	}
	for _, c := range []string{"web", "web-ns", "web-fqdn"} {
		if got := logs(c); exit[c] != 0 || got != web.Spec.ClusterIP+"\n" {
			t.Errorf("lookup %s: exit %d, printed %q, want Service web's ClusterIP %s", c, exit[c], got, web.Spec.ClusterIP)
		}
	}
	for _, c := range []string{"pod", "pod-fqdn"} {
		if got := logs(c); exit[c] != 0 || got != named.Status.PodIP+"\n" {
			t.Errorf("lookup %s: exit %d, printed %q, want pod named's IP %s", c, exit[c], got, named.Status.PodIP)
		}
	}
	if got := logs("missing"); exit["missing"] != 1 || !strings.HasPrefix(got, "lookup: ") {
		t.Errorf("lookup nope: exit %d, printed %q", exit["missing"], got)
	}
	if got := logs("egress"); exit["egress"] != 1 || !eaccesRx.MatchString(got) {
		t.Errorf("egress with denyEgress: exit %d, printed %q, want EACCES", exit["egress"], got)
	}
	winner, loser := "bind-a", "bind-b"
	if exit["bind-a"] != -1 {
		winner, loser = loser, winner
	}
	if exit[winner] != -1 {
		t.Fatalf("both binders ended: %v\n%s\n%s", exit, logs("bind-a"), logs("bind-b"))
	}
	s.waitLogs(t, "probe", winner, "listening", func(l string) bool { return l == "listening 0.0.0.0:7000\n" })
	if got := logs(loser); exit[loser] != 1 || !regexp.MustCompile(`^listen: .*(?i:address already in use)\n$`).MatchString(got) {
		t.Errorf("second bind of :7000 in the pod: exit %d, printed %q, want EADDRINUSE", exit[loser], got)
	}
}
