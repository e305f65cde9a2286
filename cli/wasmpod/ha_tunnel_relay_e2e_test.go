package main

// Issue 15 §1 with §4 behind a load balancer: an agent behind NAT
// (--reverse-tunnel, no kubelet port) that knows one address of an HA
// control plane of three serve replicas on one embedded etcd has its
// tunnel on that replica only; the others relay to it
// (apiserver/tunnelrelay.go), so the real kubectl's logs, exec and
// port-forward reach its pod through every replica.

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/wasmpod/wasmpod/store/etcd/etcdtest"
)

func TestHATunnelRelayedThroughEachReplica(t *testing.T) {
	t.Parallel()
	etcd := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
	servers := strings.Join(etcd.Endpoints(), ",")
	type replica struct{ name, dir, addr string }
	var rs []replica
	var first *server
	for _, n := range []string{"A", "B", "C"} {
		r := replica{n, t.TempDir(), freeAddr(t)}
		s := serveControlPlane(t, r.dir, r.addr, "--etcd-servers", servers)
		if first == nil {
			first = s
		}
		rs = append(rs, r)
	}

	// The agent knows replica A only (a load-balanced address that picked A).
	join := strings.Fields(mustClient(t, cleanEnv(t, filepath.Join(rs[0].dir, "kubeconfig")), binPath, "token", "create", "--print-join-command"))
	natDir := filepath.Join(t.TempDir(), "nat")
	ag := start(t, "", append(join[1:], "--node-name", "behind-nat", "--data-dir", natDir,
		"--cache-dir", cacheDir, "--reverse-tunnel", "--address", "127.0.0.1", "--heartbeat-interval", "1s")...)
	ag.waitFor(`node behind-nat: reverse tunnel to https://`+regexp.QuoteMeta(rs[0].addr)+` open`, time.Minute)
	waitNode(t, first.client, "behind-nat", "Ready", func(n *corev1.Node) bool { return nodeReady(n) == corev1.ConditionTrue })

	// Only the API servers (system:masters) relay: the node's own
	// credential, which may open its tunnel, may not relay through it.
	ncfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(natDir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	ncfg.Host = "https://" + rs[0].addr
	ncfg.TLSClientConfig.NextProtos = []string{"http/1.1"} // an upgrade
	hc, err := rest.HTTPClientFor(ncfg)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, ncfg.Host+"/wasmpod/tunnel/behind-nat", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "wasmpod-relay")
	if resp, err := hc.Do(req); err != nil {
		t.Errorf("a relay asked with the node's credential: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("a relay asked with the node's credential: %s, want 403", resp.Status)
		}
	}

	kA := newKubectlUser(t, filepath.Join(rs[0].dir, "kubeconfig"))
	if out, errOut, code := runClientStdin(t, kA, tunnelPod, "apply", "-f", "-"); code != 0 {
		t.Fatalf("kubectl apply: exit %d\n%s%s", code, out, errOut)
	}
	first.waitPod(t, "natted", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	for _, r := range rs {
		k := newKubectlUser(t, filepath.Join(r.dir, "kubeconfig"))
		var out, errOut string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if out, errOut, _ = k.run(t, "logs", "natted"); strings.HasPrefix(out, "hello through the tunnel\n") {
				break
			}
		}
		if !strings.HasPrefix(out, "hello through the tunnel\n") {
			t.Errorf("kubectl logs natted through replica %s: %q %q", r.name, out, errOut)
		}
		if out, errOut, code := k.run(t, "exec", "natted", "--", "sh", "-c", "echo exec through replica "+r.name+"; exit 3"); out != "exec through replica "+r.name+"\n" || code != 3 {
			t.Errorf("kubectl exec through replica %s: exit %d, %q %q", r.name, code, out, errOut)
		}
		if out, errOut, code := runClientStdin(t, k, "stdin through "+r.name+"\n", "exec", "-i", "natted", "--", "cat"); out != "stdin through "+r.name+"\n" || code != 0 {
			t.Errorf("kubectl exec -i through replica %s: exit %d, %q %q", r.name, code, out, errOut)
		}
		// port-forward, and one request through it.
		local := freeAddr(t)
		_, port, _ := strings.Cut(local, ":")
		ctx, cancel := context.WithCancel(context.Background())
		_, _, pfErr := k.start(t, ctx, "port-forward", "pod/natted", port+":8080")
		var body string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && body == ""; time.Sleep(200 * time.Millisecond) {
			if resp, err := http.Get("http://" + local + "/"); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				body = string(b)
			}
		}
		cancel()
		if body != "served through the tunnel\n" {
			t.Errorf("kubectl port-forward through replica %s: %q\n%s", r.name, body, pfErr)
		}
	}
}
