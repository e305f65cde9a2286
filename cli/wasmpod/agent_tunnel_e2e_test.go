package main

// Issue 15 §1, agents behind NAT: `wasmpod agent --reverse-tunnel` opens no
// TCP port; it keeps a yamux tunnel open to serve, through which the real
// kubectl's logs, exec and port-forward reach its pods, and it re-opens the
// tunnel after a restart of serve. The agent joins with a bootstrap token,
// so the tunnel is opened with its own node credential.

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const tunnelPod = `apiVersion: v1
kind: Pod
metadata:
  name: natted
spec:
  nodeSelector: {kubernetes.io/hostname: behind-nat}
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "echo hello through the tunnel; mkdir -p /www; echo served through the tunnel > /www/index.html; httpd -f -p 8080 -h /www"]
`

func TestAgentReverseTunnelProcess(t *testing.T) {
	t.Parallel()
	dir, addr := t.TempDir(), freeAddr(t)
	s := serveControlPlane(t, dir, addr)
	kc := filepath.Join(dir, "kubeconfig")
	join := strings.Fields(mustClient(t, cleanEnv(t, kc), binPath, "token", "create", "--print-join-command"))
	a := start(t, "", append(join[1:], "--node-name", "behind-nat", "--data-dir", filepath.Join(t.TempDir(), "nat"),
		"--cache-dir", cacheDir, "--reverse-tunnel", "--address", "127.0.0.1", "--heartbeat-interval", "1s")...)
	a.waitFor(`node behind-nat: kubelet API on the reverse tunnel`, time.Minute)
	a.waitFor(`node behind-nat: reverse tunnel to .* open`, time.Minute)
	n := waitNode(t, s.client, "behind-nat", "Ready", func(n *corev1.Node) bool { return nodeReady(n) == corev1.ConditionTrue })
	if p := n.Status.DaemonEndpoints.KubeletEndpoint.Port; p != 0 {
		t.Errorf("the tunnelled node reports kubelet port %d, want 0 (no port is open)", p)
	}
	k := newKubectlUser(t, kc)
	if out, errOut, code := runClientStdin(t, k, tunnelPod, "apply", "-f", "-"); code != 0 {
		t.Fatalf("kubectl apply: exit %d\n%s%s", code, out, errOut)
	}
	s.waitPod(t, "natted", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	check := func(when string) {
		t.Helper()
		var out string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if out, _, _ = k.run(t, "logs", "natted"); strings.HasPrefix(out, "hello through the tunnel\n") {
				break
			}
		}
		if !strings.HasPrefix(out, "hello through the tunnel\n") {
			t.Errorf("%s: kubectl logs natted: %q", when, out)
		}
		if out, errOut, code := k.run(t, "exec", "natted", "--", "sh", "-c", "echo exec through the tunnel; exit 4"); out != "exec through the tunnel\n" || code != 4 {
			t.Errorf("%s: kubectl exec: exit %d, %q %q", when, code, out, errOut)
		}
		if out, errOut, code := runClientStdin(t, k, "stdin through the tunnel\n", "exec", "-i", "natted", "--", "cat"); out != "stdin through the tunnel\n" || code != 0 {
			t.Errorf("%s: kubectl exec -i cat: exit %d, %q %q", when, code, out, errOut)
		}
		if out := k.must(t, "get", "--raw", "/api/v1/nodes/behind-nat/proxy/healthz"); out != "ok" {
			t.Errorf("%s: nodes/behind-nat/proxy/healthz: %q", when, out)
		}
		local := freeAddr(t)
		_, lport, _ := net.SplitHostPort(local)
		ctx, cancel := context.WithCancel(context.Background())
		pf, _, pfErr := k.start(t, ctx, "port-forward", "pod/natted", lport+":8080")
		var body string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && body != "served through the tunnel\n"; time.Sleep(100 * time.Millisecond) {
			if resp, err := http.Get("http://" + local + "/"); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				body = string(b)
			}
		}
		cancel()
		<-pf.exited
		if body != "served through the tunnel\n" {
			t.Errorf("%s: kubectl port-forward to natted: %q\n%s", when, body, pfErr)
		}
	}
	check("first tunnel")

	// serve restarts: the agent opens its tunnel again.
	s.interrupt(0)
	s = serveControlPlane(t, dir, addr)
	a.waitFor(`(?s)reverse tunnel to .* open.*reverse tunnel to .* open`, time.Minute)
	if _, err := s.client.CoreV1().Pods("default").Get(context.Background(), "natted", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	check("after serve's restart")
}
