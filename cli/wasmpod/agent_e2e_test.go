package main

// Issue 15 §1: `wasmpod serve --nodes 0` and two `wasmpod agent` processes
// joined to it over loopback HTTPS. The scheduler places a pod on each
// agent; the real kubectl's logs, exec (with stdin and an exit code),
// port-forward and nodes/NAME/proxy reach them through the agents' kubelet
// API; the kubelet API refuses callers without credentials; the pods keep
// running across a restart of serve; a killed agent's Node goes NotReady.

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/wasmpod/wasmpod/apiserver"
)

// serveControlPlane starts `wasmpod serve --nodes 0` and waits until its
// API answers (it has no node to wait for).
func serveControlPlane(t *testing.T, dir, addr string, extra ...string) *server {
	t.Helper()
	s := &server{dir: dir, socket: filepath.Join(dir, "wasmpod.sock")}
	s.proc = start(t, "", append([]string{"serve", "--data-dir", dir, "--socket", s.socket, "--cache-dir", cacheDir,
		"--listen", addr, "--nodes", "0", "--node-monitor-grace-period", "4s"}, extra...)...)
	cs, err := kubernetes.NewForConfig(apiserver.UnixSocketConfig(s.socket))
	if err != nil {
		t.Fatal(err)
	}
	s.client = cs
	s.waitFor(`no nodes of its own`, time.Minute)
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := cs.Discovery().ServerVersion(); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "kubeconfig")); err == nil {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not come up\nstderr:\n%s", s.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startAgent starts `wasmpod agent` with serve's kubeconfig ("": extra
// gives the server and credential).
func startAgent(t *testing.T, kubeconfig, name string, extra ...string) *proc {
	t.Helper()
	args := []string{"agent"}
	if kubeconfig != "" {
		args = append(args, "--kubeconfig", kubeconfig)
	}
	args = append(append(args, "--node-name", name, "--data-dir", filepath.Join(t.TempDir(), name),
		"--cache-dir", cacheDir, "--kubelet-port", "0", "--address", "127.0.0.1", "--heartbeat-interval", "1s"), extra...)
	p := start(t, "", args...)
	p.waitFor(`node `+name+`: kubelet API on https://`, time.Minute)
	return p
}

func nodeReady(n *corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return ""
}

// waitNode polls Node name until cond holds.
func waitNode(t *testing.T, cs kubernetes.Interface, name, what string, cond func(*corev1.Node) bool) *corev1.Node {
	t.Helper()
	var last *corev1.Node
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		n, err := cs.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			last = n
			if cond(n) {
				return n
			}
		}
	}
	t.Fatalf("node %s: not %s within a minute: %+v", name, what, last)
	return nil
}

const agentPods = `apiVersion: v1
kind: Pod
metadata:
  name: p1
spec:
  nodeSelector: {kubernetes.io/hostname: edge-1}
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "echo hello from p1; mkdir -p /www; echo served by p1 > /www/index.html; httpd -f -p 8080 -h /www"]
---
apiVersion: v1
kind: Pod
metadata:
  name: p2
spec:
  nodeSelector: {kubernetes.io/hostname: edge-2}
  tolerations: [{key: example.com/edge, operator: Exists, effect: NoSchedule}]
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "echo hello from p2; while true; do sleep 1; done"]
`

func TestAgentsJoinServe(t *testing.T) {
	t.Parallel()
	dir, addr := t.TempDir(), freeAddr(t)
	users := filepath.Join(t.TempDir(), "tokens.csv")
	const viewerToken = "viewer-0123456789abcdef"
	if err := os.WriteFile(users, []byte(viewerToken+",viewer,1002,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := serveControlPlane(t, dir, addr, "--token-auth-file", users)
	kc := filepath.Join(dir, "kubeconfig")
	a1 := startAgent(t, kc, "edge-1")
	// edge-2 joins with --server, --token and --certificate-authority.
	token, err := os.ReadFile(filepath.Join(dir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	serverFlags := []string{"--server", "https://" + addr, "--certificate-authority", filepath.Join(dir, "pki", "ca.crt")}
	a2 := startAgent(t, "", "edge-2", append(serverFlags, "--token", strings.TrimSpace(string(token)),
		"--node-labels", "example.com/zone=b", "--register-with-taints", "example.com/edge=true:NoSchedule")...)
	k := newKubectlUser(t, kc)

	// Bad input: a wrong token, a plain-HTTP server.
	bad := start(t, "", append([]string{"agent", "--node-name", "bad", "--data-dir", t.TempDir(), "--kubelet-port", "0", "--address", "127.0.0.1",
		"--token", "0123456789abcdef0123456789abcdef"}, serverFlags...)...)
	if code := bad.wait(time.Minute); code != 1 || !strings.Contains(bad.stderr.String(), "the API server refuses the agent's credential (401 Unauthorized)") {
		t.Errorf("agent with a wrong token: exit %d\n%s", code, bad.stderr)
	}
	// An API server not up yet: the agent waits for it (and stops on
	// SIGINT meanwhile).
	early := start(t, "", "agent", "--server", "https://"+freeAddr(t), "--certificate-authority", filepath.Join(dir, "pki", "ca.crt"),
		"--token", strings.TrimSpace(string(token)), "--node-name", "early", "--data-dir", t.TempDir(), "--kubelet-port", "0", "--address", "127.0.0.1")
	early.waitFor(`wasmpod agent: waiting for the API server: .*connection refused`, time.Minute)
	early.interrupt(0)
	bad = start(t, "", "agent", "--server", "http://"+addr, "--token", "x", "--node-name", "bad", "--data-dir", t.TempDir())
	if code := bad.wait(time.Minute); code != 2 || !strings.Contains(bad.stderr.String(), "an agent joins over HTTPS") {
		t.Errorf("agent with an http:// server: exit %d\n%s", code, bad.stderr)
	}

	// The Nodes, as the kubelet registers them.
	ports := map[string]int32{}
	for _, name := range []string{"edge-1", "edge-2"} {
		n := waitNode(t, s.client, name, "Ready", func(n *corev1.Node) bool { return nodeReady(n) == corev1.ConditionTrue })
		if n.Labels["kubernetes.io/hostname"] != name || n.Labels["kubernetes.io/os"] == "" || n.Labels["kubernetes.io/arch"] == "" {
			t.Errorf("node %s labels: %v", name, n.Labels)
		}
		if len(n.Status.Addresses) == 0 || n.Status.Addresses[0].Type != corev1.NodeInternalIP || n.Status.Addresses[0].Address != "127.0.0.1" {
			t.Errorf("node %s addresses: %+v", name, n.Status.Addresses)
		}
		ports[name] = n.Status.DaemonEndpoints.KubeletEndpoint.Port
		if ports[name] == 0 {
			t.Errorf("node %s reports no kubelet port", name)
		}
		if !strings.HasPrefix(n.Status.NodeInfo.ContainerRuntimeVersion, "wazero://") || n.Spec.PodCIDR == "" {
			t.Errorf("node %s: runtime %q, podCIDR %q", name, n.Status.NodeInfo.ContainerRuntimeVersion, n.Spec.PodCIDR)
		}
	}
	n2, _ := s.client.CoreV1().Nodes().Get(context.Background(), "edge-2", metav1.GetOptions{})
	if n2.Labels["example.com/zone"] != "b" || len(n2.Spec.Taints) != 1 || n2.Spec.Taints[0].Key != "example.com/edge" {
		t.Errorf("edge-2: labels %v, taints %v", n2.Labels, n2.Spec.Taints)
	}
	n1, _ := s.client.CoreV1().Nodes().Get(context.Background(), "edge-1", metav1.GetOptions{})
	if n1.Spec.PodCIDR == n2.Spec.PodCIDR {
		t.Errorf("both nodes have pod CIDR %s", n1.Spec.PodCIDR)
	}

	if out, errOut, code := runClientStdin(t, k, agentPods, "apply", "-f", "-"); code != 0 {
		t.Fatalf("kubectl apply: exit %d\n%s%s", code, out, errOut)
	}
	started := map[string]metav1.Time{}
	for _, p := range []struct{ pod, node string }{{"p1", "edge-1"}, {"p2", "edge-2"}} {
		pod := s.waitPod(t, p.pod, "Running", func(p *corev1.Pod) bool {
			return p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].Ready
		})
		if pod.Spec.NodeName != p.node || pod.Status.HostIP != "127.0.0.1" || pod.Status.PodIP == "" {
			t.Errorf("pod %s: node %s (want %s), hostIP %s, podIP %s", p.pod, pod.Spec.NodeName, p.node, pod.Status.HostIP, pod.Status.PodIP)
		}
		started[p.pod] = pod.Status.ContainerStatuses[0].State.Running.StartedAt
	}

	// logs, exec, port-forward and node proxy through the kubelet API.
	check := func(when string) {
		t.Helper()
		for _, p := range []string{"p1", "p2"} {
			if out := k.must(t, "logs", p); !strings.HasPrefix(out, "hello from "+p+"\n") {
				t.Errorf("%s: kubectl logs %s: %q", when, p, out)
			}
		}
		out, errOut, code := k.run(t, "exec", "p2", "--", "sh", "-c", "echo exec on p2; echo to stderr >&2; exit 3")
		if out != "exec on p2\n" || !strings.Contains(errOut, "to stderr") || code != 3 {
			t.Errorf("%s: kubectl exec p2: exit %d, stdout %q, stderr %q", when, code, out, errOut)
		}
		if out, errOut, code := runClientStdin(t, k, "through stdin\n", "exec", "-i", "p1", "--", "cat"); out != "through stdin\n" || code != 0 {
			t.Errorf("%s: kubectl exec -i p1 cat: exit %d, %q %q", when, code, out, errOut)
		}
		for _, name := range []string{"edge-1", "edge-2"} {
			if out := k.must(t, "get", "--raw", "/api/v1/nodes/"+name+"/proxy/healthz"); out != "ok" {
				t.Errorf("%s: nodes/%s/proxy/healthz: %q", when, name, out)
			}
		}
	}
	check("before the restart")
	// attach, through kubectl run -i --rm (edge-2's taint leaves edge-1).
	if out, errOut, code := runClientStdin(t, k, "typed input\n", "run", "att", "--image=busybox", "--restart=Never", "-i", "--rm", "--",
		"sh", "-c", "read x; echo got: $x; exit 0"); code != 0 || !strings.Contains(out, "got: typed input\n") {
		t.Errorf("kubectl run -i --rm: exit %d\n%s%s", code, out, errOut)
	}

	local := freeAddr(t)
	_, lport, _ := net.SplitHostPort(local)
	ctx, cancel := context.WithCancel(context.Background())
	pf, _, pfErr := k.start(t, ctx, "port-forward", "pod/p1", lport+":8080")
	var body string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && body != "served by p1\n"; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + local + "/"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
		}
	}
	cancel()
	<-pf.exited
	if body != "served by p1\n" {
		t.Errorf("kubectl port-forward to p1: %q\n%s", body, pfErr)
	}

	// The kubelet API itself: no credentials, 401; the admin's token
	// (reviewed by the API server), its pods.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 30 * time.Second}
	kubelet := fmt.Sprintf("https://127.0.0.1:%d", ports["edge-1"])
	if resp, err := hc.Get(kubelet + "/pods"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("kubelet API without credentials: %v %v, want 401", resp, err)
	}
	for _, tc := range []struct {
		token string
		want  int
	}{{strings.TrimSpace(string(token)), http.StatusOK}, {"0123456789abcdef0123456789abcdef", http.StatusUnauthorized}} {
		req, _ := http.NewRequest(http.MethodGet, kubelet+"/pods", nil)
		req.Header.Set("Authorization", "Bearer "+tc.token)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || tc.want == http.StatusOK && !strings.Contains(string(b), `"name":"p1"`) {
			t.Errorf("kubelet /pods with a token: %d %.200s, want %d", resp.StatusCode, b, tc.want)
		}
	}

	// Another user's token: the agent asks the API server whether it may
	// get nodes/proxy (403, then 200 once RBAC allows it).
	kubeletGet := func(token, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, kubelet+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := kubeletGet(viewerToken, "/pods"); code != http.StatusForbidden || !strings.Contains(body, "user=viewer, verb=get, resource=nodes, subresource=proxy") {
		t.Errorf("kubelet /pods as viewer without RBAC: %d %q, want 403", code, body)
	}
	if code, _ := kubeletGet(viewerToken, "/stats/summary"); code != http.StatusForbidden {
		t.Errorf("kubelet /stats/summary as viewer without RBAC: %d, want 403", code)
	}
	k.must(t, "create", "clusterrole", "node-stats", "--verb=get", "--resource=nodes/stats")
	k.must(t, "create", "clusterrolebinding", "viewer-node-stats", "--clusterrole=node-stats", "--user=viewer")
	code := 0
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && code != http.StatusOK; time.Sleep(500 * time.Millisecond) {
		code, _ = kubeletGet(viewerToken, "/stats/summary") // a denial is cached for 10 s
	}
	if code != http.StatusOK {
		t.Errorf("kubelet /stats/summary as viewer with get nodes/stats: %d, want 200", code)
	}
	if code, _ := kubeletGet(viewerToken, "/pods"); code != http.StatusForbidden {
		t.Errorf("kubelet /pods as viewer with only nodes/stats: %d, want 403", code)
	}

	// A restart of serve: the agents' pods keep running (same container
	// start, no restart), and the agents reconnect.
	s.interrupt(0)
	time.Sleep(2 * time.Second) // the agents see the API gone
	s = serveControlPlane(t, dir, addr, "--token-auth-file", users)
	for _, p := range []string{"p1", "p2"} {
		pod, err := s.client.CoreV1().Pods("default").Get(context.Background(), p, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cs := pod.Status.ContainerStatuses
		if pod.Status.Phase != corev1.PodRunning || len(cs) != 1 || cs[0].RestartCount != 0 || cs[0].State.Running == nil || !cs[0].State.Running.StartedAt.Equal(&metav1.Time{Time: started[p].Time}) {
			t.Errorf("pod %s after serve's restart: %s %+v", p, pod.Status.Phase, cs)
		}
	}
	waitNode(t, s.client, "edge-1", "Ready after the restart", func(n *corev1.Node) bool { return nodeReady(n) == corev1.ConditionTrue })
	check("after the restart")

	// A partitioned agent reconciles when it is back: edge-1 is stopped
	// while serve restarts (its watches break) and p1 is force-deleted;
	// resumed, it relists, kills p1 and runs p3, bound meanwhile.
	a1.signal(syscall.SIGSTOP)
	s.interrupt(0)
	s = serveControlPlane(t, dir, addr, "--token-auth-file", users)
	k.must(t, "delete", "pod", "p1", "--grace-period=0", "--force")
	p3 := strings.ReplaceAll(strings.Split(agentPods, "---\n")[0], "p1", "p3")
	if out, errOut, code := runClientStdin(t, k, p3, "apply", "-f", "-"); code != 0 {
		t.Fatalf("kubectl apply p3: exit %d\n%s%s", code, out, errOut)
	}
	a1.signal(syscall.SIGCONT)
	s.waitPod(t, "p3", "Running", phaseIs(corev1.PodRunning))
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		_, body := kubeletGet(strings.TrimSpace(string(token)), "/pods")
		if !strings.Contains(body, `"name":"p1"`) && strings.Contains(body, `"name":"p3"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("edge-1 still runs p1, or not p3, a minute after it resumed: %.400s", body)
		}
	}
	if out := k.must(t, "logs", "p3"); !strings.HasPrefix(out, "hello from p3\n") {
		t.Errorf("kubectl logs p3: %q", out)
	}

	// A killed agent: its Node goes NotReady (Unknown) once its Lease is
	// older than the grace period.
	a2.signal(syscall.SIGKILL)
	a2.wait(time.Minute)
	waitNode(t, s.client, "edge-2", "NotReady", func(n *corev1.Node) bool { return nodeReady(n) == corev1.ConditionUnknown })
	if out := k.must(t, "get", "nodes"); !strings.Contains(out, "edge-2   NotReady") || !strings.Contains(out, "edge-1   Ready") {
		t.Errorf("kubectl get nodes:\n%s", out)
	}
	if _, errOut, code := k.run(t, "logs", "p2"); code == 0 || !strings.Contains(errOut, "error dialing backend") {
		t.Errorf("kubectl logs of a pod on a dead agent: exit %d, %q", code, errOut)
	}
}
