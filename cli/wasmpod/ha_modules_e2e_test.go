package main

// Issue 15 §4: the module store of an HA control plane is shared through
// etcd (images/shared.go). A module imported through replica A runs on
// an agent that talks only to replica B, after A was killed.

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/wasmpod/wasmpod/store/etcd/etcdtest"
)

func TestHASharedModules(t *testing.T) {
	t.Parallel()
	etcd := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
	servers := strings.Join(etcd.Endpoints(), ",")
	dirA, dirB, addrA, addrB := t.TempDir(), t.TempDir(), freeAddr(t), freeAddr(t)
	a := serveControlPlane(t, dirA, addrA, "--etcd-servers", servers)
	b := serveControlPlane(t, dirB, addrB, "--etcd-servers", servers)

	// An agent joined through B, knowing no other replica.
	join := strings.Fields(mustClient(t, cleanEnv(t, filepath.Join(dirB, "kubeconfig")), binPath, "token", "create", "--print-join-command"))
	start(t, "", append(join[1:], "--node-name", "shared-mod", "--data-dir", filepath.Join(t.TempDir(), "shared-mod"),
		"--cache-dir", cacheDir, "--kubelet-port", "0", "--address", "127.0.0.1", "--heartbeat-interval", "1s")...)
	waitNode(t, b.client, "shared-mod", "Ready", func(n *corev1.Node) bool { return nodeReady(n) == corev1.ConditionTrue })

	// The module goes to A, which then dies.
	if out := mustClient(t, buildEnv(t, filepath.Join(dirA, "kubeconfig")), binPath, "image", "import", "go://./wasm-examples/hello", "hello:v1"); out != "wasmpod.local/hello:v1\n" {
		t.Fatalf("image import through replica A: %q", out)
	}
	a.signal(syscall.SIGKILL)
	a.wait(30 * time.Second)

	if out := mustClient(t, cleanEnv(t, filepath.Join(dirB, "kubeconfig")), binPath, "image", "ls"); !strings.Contains(out, "wasmpod.local/hello") || !strings.Contains(out, "v1") {
		t.Errorf("image ls through replica B: %q", out)
	}
	k := newKubectlUser(t, filepath.Join(dirB, "kubeconfig"))
	k.must(t, "run", "hi", "--image=wasmpod.local/hello:v1", "--restart=Never",
		`--overrides={"spec":{"nodeSelector":{"kubernetes.io/hostname":"shared-mod"}}}`, "--", "x")
	// B takes the scheduler's Lease once A's has expired (15 s).
	b.waitPod(t, "hi", "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	// The agent's kubelet serving certificate comes from a CSR that the
	// leading replica's controller approves and signs: when A led and died
	// before signing it, the agent serves its self-signed certificate until
	// B has taken over and signed it (upstream's kubelet, with
	// serverTLSBootstrap, serves nothing until then). So the logs are
	// retried, for a bounded time, while B cannot verify the kubelet.
	var out, errOut string
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		var code int
		out, errOut, code = k.run(t, "logs", "hi")
		if code == 0 || !strings.Contains(errOut, "x509") || time.Now().After(deadline) {
			break
		}
	}
	if out != "hello from an unnamed pod\nargs: x\n" {
		t.Errorf("kubectl logs hi through replica B: %q %s", out, errOut)
	}
}
