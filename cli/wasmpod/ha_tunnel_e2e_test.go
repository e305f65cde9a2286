package main

// Issue 15 §1 with §4: an agent behind NAT (--reverse-tunnel, no kubelet
// port) joined to an HA control plane of two serve replicas on one
// embedded etcd keeps a tunnel to each replica it knows (the kubeconfig's
// server and its --failover-server), so that the real kubectl's logs and
// exec reach its pod through either replica, as kube-apiservers reach a
// kubelet through the konnectivity agent connected to each of them.

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/wasmpod/wasmpod/store/etcd/etcdtest"
)

func TestHAReverseTunnelToEachReplica(t *testing.T) {
	t.Parallel()
	etcd := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
	servers := strings.Join(etcd.Endpoints(), ",")
	dirA, dirB, addrA, addrB := t.TempDir(), t.TempDir(), freeAddr(t), freeAddr(t)
	a := serveControlPlane(t, dirA, addrA, "--etcd-servers", servers)
	serveControlPlane(t, dirB, addrB, "--etcd-servers", servers)

	join := strings.Fields(mustClient(t, cleanEnv(t, filepath.Join(dirA, "kubeconfig")), binPath, "token", "create", "--print-join-command"))
	ag := start(t, "", append(join[1:], "--node-name", "behind-nat", "--data-dir", filepath.Join(t.TempDir(), "nat"),
		"--cache-dir", cacheDir, "--reverse-tunnel", "--address", "127.0.0.1", "--heartbeat-interval", "1s",
		"--failover-server", "https://"+addrB)...)
	ag.waitFor(`node behind-nat: reverse tunnel to https://`+regexp.QuoteMeta(addrA)+` open`, time.Minute)
	ag.waitFor(`node behind-nat: reverse tunnel to https://`+regexp.QuoteMeta(addrB)+` open`, time.Minute)
	waitNode(t, a.client, "behind-nat", "Ready", func(n *corev1.Node) bool { return nodeReady(n) == corev1.ConditionTrue })

	kA := newKubectlUser(t, filepath.Join(dirA, "kubeconfig"))
	if out, errOut, code := runClientStdin(t, kA, tunnelPod, "apply", "-f", "-"); code != 0 {
		t.Fatalf("kubectl apply: exit %d\n%s%s", code, out, errOut)
	}
	a.waitPod(t, "natted", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	for _, r := range []struct{ name, dir string }{{"A", dirA}, {"B", dirB}} {
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
	}
}
