package main

// Joining an HA control plane: a token created through one serve replica
// joins a node through another (the tokens live in the shared etcd, and
// every replica signs with the cluster CA), and the node's credential is
// accepted by both; with the replica it joined through killed, the agent
// carries on through the other (--failover-server).

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/store/etcd/etcdtest"
)

func TestHAJoinThroughAnotherReplica(t *testing.T) {
	t.Parallel()
	etcd := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
	servers := strings.Join(etcd.Endpoints(), ",")
	dirA, dirB, addrA, addrB := t.TempDir(), t.TempDir(), freeAddr(t), freeAddr(t)
	a := serveControlPlane(t, dirA, addrA, "--etcd-servers", servers)
	b := serveControlPlane(t, dirB, addrB, "--etcd-servers", servers)

	out := mustClient(t, cleanEnv(t, filepath.Join(dirA, "kubeconfig")), binPath, "token", "create", "--print-join-command")
	join := strings.Fields(out)
	if len(join) != 8 || join[3] != "https://"+addrA {
		t.Fatalf("token create --print-join-command through replica A: %q", out)
	}
	join[3] = "https://" + addrB // the other replica
	data := filepath.Join(t.TempDir(), "ha-1")
	ag := start(t, "", append(join[1:], "--node-name", "ha-1", "--data-dir", data, "--cache-dir", cacheDir, "--kubelet-port", "0",
		"--address", "127.0.0.1", "--heartbeat-interval", "1s", "--failover-server", "https://"+addrA)...)
	ag.waitFor(`node ha-1: kubelet API on https://.*API server https://`+regexp.QuoteMeta(addrB), time.Minute)
	waitNode(t, a.client, "ha-1", "Ready", func(n *corev1.Node) bool { return nodeReady(n) == corev1.ConditionTrue })

	// The node's credential, signed through B, is accepted by A.
	cred := filepath.Join(data, "kubeconfig")
	if out, errOut, code := newKubectlUser(t, cred).run(t, "--server", "https://"+addrA, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); out != "system:node:ha-1" {
		t.Errorf("the joined node's credential against replica A: exit %d, %q %q", code, out, errOut)
	}
	// A pod on it, its logs through replica A.
	k := newKubectlUser(t, filepath.Join(dirA, "kubeconfig"))
	if out, errOut, code := k.run(t, "run", "hi", "--image=busybox", "--restart=Never", "--overrides",
		`{"spec":{"nodeSelector":{"kubernetes.io/hostname":"ha-1"}}}`, "--", "sh", "-c", "echo hello from ha-1; sleep 3600"); code != 0 {
		t.Fatalf("kubectl run: exit %d\n%s%s", code, out, errOut)
	}
	var logs string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && logs != "hello from ha-1\n"; time.Sleep(200 * time.Millisecond) {
		logs, _, _ = k.run(t, "logs", "hi")
	}
	if logs != "hello from ha-1\n" {
		t.Errorf("kubectl logs hi through replica A: %q\nagent:\n%s", logs, ag.stderr)
	}

	// --failover-server: with replica B (the one it joined through) gone,
	// the agent's Lease renewals go to A.
	b.signal(syscall.SIGKILL)
	b.wait(30 * time.Second)
	killed := time.Now()
	for deadline := killed.Add(45 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		l, err := a.client.CoordinationV1().Leases("kube-node-lease").Get(context.Background(), "ha-1", metav1.GetOptions{})
		if err == nil && l.Spec.RenewTime != nil && l.Spec.RenewTime.After(killed.Add(2*time.Second)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ha-1's Lease not renewed through replica A after B was killed (%v)\nagent:\n%s", err, ag.stderr)
		}
	}
}
