package main

// Issue 15 §2: the `wasmpod agent` process joined to an unmodified
// kube-apiserver (internal/realkube) with a node credential, by the
// Krustlet convention given on its command line.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/realkube"
)

// TestAgentProcessJoinsRealAPIServer: `wasmpod agent --server --token
// --certificate-authority --pod-cidr --node-labels --register-with-taints`
// registers its Node with kube-apiserver v1.37.2 under Node,RBAC and
// NodeRestriction, runs a pod bound to it, whose logs come back through
// kube-apiserver's kubelet client; a label a kubelet may not set on itself
// is refused before the agent registers anything; restarted with another
// taint, it registers again and leaves the Node's taints alone.
func TestAgentProcessJoinsRealAPIServer(t *testing.T) {
	srv := realkube.Start(t, realkube.Options{Nodes: []string{"wasm-p"}})
	ctx := context.Background()
	admin, err := kubernetes.NewForConfig(srv.AdminConfig())
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(ca, srv.CA, 0o600); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--server", srv.URL, "--token", srv.NodeConfig("wasm-p").BearerToken, "--certificate-authority", ca, "--pod-cidr", "10.244.9.0/24"}

	bad := start(t, "", append([]string{"agent", "--node-name", "wasm-p", "--data-dir", t.TempDir(), "--kubelet-port", "0", "--address", "127.0.0.1",
		"--node-labels", "node-role.kubernetes.io/edge="}, flags...)...)
	if code := bad.wait(time.Minute); code == 0 || !strings.Contains(bad.stderr.String(), "unknown 'kubernetes.io' or 'k8s.io' labels node-role.kubernetes.io/edge") {
		t.Errorf("agent with --node-labels node-role.kubernetes.io/edge: exit %d\n%s", code, bad.stderr)
	}
	if _, err := admin.CoreV1().Nodes().Get(ctx, "wasm-p", metav1.GetOptions{}); err == nil {
		t.Errorf("the refused agent registered its Node")
	}

	var taints []string
	for _, tn := range wasmpod.WasmArchTaints() {
		taints = append(taints, tn.ToString())
	}
	agent := startAgent(t, "", "wasm-p", append(flags, "--node-labels", "kubernetes.io/arch="+wasmpod.WasmArch,
		"--register-with-taints", strings.Join(taints, ","))...)
	n := waitNode(t, admin, "wasm-p", "Ready", func(n *corev1.Node) bool { return nodeReady(n) == corev1.ConditionTrue })
	for _, want := range wasmpod.WasmArchTaints() {
		if !slices.ContainsFunc(n.Spec.Taints, func(x corev1.Taint) bool { return x.MatchTaint(&want) && x.Value == want.Value }) {
			t.Errorf("node taints %v lack %v", n.Spec.Taints, want)
		}
	}
	if n.Labels["kubernetes.io/arch"] != wasmpod.WasmArch || n.Spec.PodCIDR != "10.244.9.0/24" {
		t.Errorf("node labels %v, podCIDR %q", n.Labels, n.Spec.PodCIDR)
	}

	// Nothing creates ServiceAccounts here (no kube-controller-manager).
	if _, err := admin.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hello"}, Spec: corev1.PodSpec{
		NodeName:                     "wasm-p",
		RestartPolicy:                corev1.RestartPolicyNever,
		AutomountServiceAccountToken: new(bool),
		Containers:                   []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sh", "-c", "echo hello from wasm-p"}}},
	}}
	for _, tn := range wasmpod.WasmArchTaints() {
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{Key: tn.Key, Operator: corev1.TolerationOpEqual, Value: tn.Value, Effect: tn.Effect})
	}
	if _, err := admin.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var p *corev1.Pod
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if p, err = admin.CoreV1().Pods("default").Get(ctx, "hello", metav1.GetOptions{}); err == nil && p.Status.Phase == corev1.PodSucceeded {
			break
		}
	}
	if p == nil || p.Status.Phase != corev1.PodSucceeded || p.Status.PodIP == "" {
		t.Fatalf("pod hello: %+v", p)
	}
	logs, err := admin.CoreV1().Pods("default").GetLogs("hello", &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil || string(logs) != "hello from wasm-p\n" {
		t.Errorf("logs of hello through kube-apiserver: %q, %v", logs, err)
	}

	// Restarted with another taint, the agent registers again and keeps
	// the Node's taints, as the kubelet's --register-with-taints
	// (NodeRestriction refuses a node's own taint changes).
	agent.interrupt(0)
	restarted := time.Now()
	agent = startAgent(t, "", "wasm-p", append(flags, "--node-labels", "kubernetes.io/arch="+wasmpod.WasmArch,
		"--register-with-taints", strings.Join(append(taints, "example.com/extra=x:NoSchedule"), ","))...)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		l, err := admin.CoordinationV1().Leases("kube-node-lease").Get(ctx, "wasm-p", metav1.GetOptions{})
		if err == nil && l.Spec.RenewTime != nil && l.Spec.RenewTime.After(restarted.Add(time.Second)) {
			break
		}
		select {
		case <-agent.done:
			t.Fatalf("the restarted agent exited\n%s", agent.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted agent renewed no Lease: %v %v\n%s", l, err, agent.stderr)
		}
	}
	if n2, err := admin.CoreV1().Nodes().Get(ctx, "wasm-p", metav1.GetOptions{}); err != nil || fmt.Sprint(n2.Spec.Taints) != fmt.Sprint(n.Spec.Taints) {
		t.Errorf("taints after the restart: %v (%v), want %v", n2.Spec.Taints, err, n.Spec.Taints)
	}
}
