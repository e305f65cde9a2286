package main

// Issue 15 §4: an HA control plane. Two `wasmpod serve --nodes 0`
// processes on one embedded etcd, one `wasmpod agent` joined to the second;
// the first leads the scheduler's and the controller manager's Leases. A
// Deployment rolls out under real kubectl; the leader is killed with
// SIGKILL mid-rollout; the other serve takes both Leases over once the
// killed one's lease expires (upstream's 15 s lease duration), and the
// rollout completes: every pod has status, none was scheduled twice, and
// the Deployment has exactly its replicas. A second agent joining after the
// takeover gets a pod range of its own from the new leader's node IPAM
// controller.

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/store/etcd/etcdtest"
)

const haDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  minReadySeconds: 2
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", "while true; do sleep 1; done"]
`

// leaseHolder is the holderIdentity of kube-system/name ("" if none).
func leaseHolder(cs kubernetes.Interface, name string) string {
	l, err := cs.CoordinationV1().Leases("kube-system").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func TestHAServeKill9Leader(t *testing.T) {
	t.Parallel()
	etcd := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
	servers := strings.Join(etcd.Endpoints(), ",")
	leases := []string{wasmpod.SchedulerLease, wasmpod.ControllerManagerLease}

	dirA, dirB := t.TempDir(), t.TempDir()
	a := serveControlPlane(t, dirA, freeAddr(t), "--etcd-servers", servers)
	var leader string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		h0, h1 := leaseHolder(a.client, leases[0]), leaseHolder(a.client, leases[1])
		if h0 != "" && h0 == h1 && strings.Count(a.stderr.String(), "leader election: "+h0+" acquired lease") == 2 {
			leader = h0
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first serve does not lead both leases (%q, %q)\nstderr:\n%s", h0, h1, a.stderr)
		}
	}
	addrB := freeAddr(t)
	b := serveControlPlane(t, dirB, addrB, "--etcd-servers", servers)
	// One cluster: the second serve's kubeconfig has the first's CA and
	// token (the cluster's secrets, shared through etcd).
	kcA, err := clientcmd.LoadFromFile(filepath.Join(dirA, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	kcB, err := clientcmd.LoadFromFile(filepath.Join(dirB, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(kcA.Clusters["wasmpod"].CertificateAuthorityData, kcB.Clusters["wasmpod"].CertificateAuthorityData) ||
		kcA.AuthInfos["wasmpod-admin"].Token != kcB.AuthInfos["wasmpod-admin"].Token {
		t.Fatal("the two serves' kubeconfigs have different CAs or tokens")
	}
	agent := startAgent(t, filepath.Join(dirB, "kubeconfig"), "edge-1")
	defer agent.signal(syscall.SIGKILL)
	waitNode(t, b.client, "edge-1", "Ready", func(n *corev1.Node) bool { return nodeReady(n) == corev1.ConditionTrue && n.Spec.PodCIDR != "" })

	k := newKubectlUser(t, filepath.Join(dirB, "kubeconfig"))
	if out, errOut, code := runClientStdin(t, k, haDeployment, "apply", "-f", "-"); code != 0 {
		t.Fatalf("kubectl apply: exit %d\n%s%s", code, out, errOut)
	}
	k.must(t, "rollout", "status", "deployment/web", "--timeout=3m")
	if strings.Contains(b.stderr.String(), "leader election: ") {
		t.Fatalf("the second serve led while the first held the leases:\n%s", b.stderr)
	}

	// A new revision rolls out; once its first pod is scheduled, the
	// leader dies.
	k.must(t, "set", "env", "deployment/web", "REVISION=2")
	newPods := func() int {
		pl, err := b.client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return 0
		}
		n := 0
		for _, p := range pl.Items {
			if len(p.Spec.Containers[0].Env) == 1 && p.Spec.NodeName != "" {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(2 * time.Minute); newPods() == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the rollout made no new pod")
		}
	}
	a.cmd.Process.Signal(syscall.SIGKILL)
	killed := time.Now()
	a.wait(time.Minute)
	if n := newPods(); n >= 4 {
		t.Fatalf("the rollout was over (%d new pods) before the kill", n)
	}
	// Each lease is taken over once the follower sees it expire.
	takeover := map[string]time.Duration{}
	for deadline := killed.Add(time.Minute); len(takeover) < len(leases); time.Sleep(100 * time.Millisecond) {
		for _, l := range leases {
			if h := leaseHolder(b.client, l); h != "" && h != leader && takeover[l] == 0 {
				takeover[l] = time.Since(killed)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no takeover a minute after the leader's kill -9 (%v)\nstderr:\n%s", takeover, b.stderr)
		}
	}
	// The follower counts the lease duration from when it saw the
	// leader's last renewal (up to one jittered retry period after it,
	// which was up to one retry period before the kill), and takes the
	// lease on its next retry: with upstream's defaults (15 s, 2 s x
	// 1.2), 11-20 s after the kill; 3 s more for a loaded machine.
	for _, l := range leases {
		t.Logf("%s taken over %v after kill -9 (lease duration %v, retry period %v)", l, takeover[l].Round(10*time.Millisecond), wasmpod.DefaultLeaseDuration, wasmpod.DefaultRetryPeriod)
		if max := wasmpod.DefaultLeaseDuration + 4*wasmpod.DefaultRetryPeriod; takeover[l] > max {
			t.Errorf("%s: takeover took %v, more than %v", l, takeover[l], max)
		}
	}
	if n := strings.Count(b.stderr.String(), "leader election: "); n != 2 {
		t.Errorf("the second serve acquired %d leases, want 2\n%s", n, b.stderr)
	}

	// The new leader's node IPAM controller rebuilt its allocations from
	// the Nodes: an agent joining now gets another range than edge-1's.
	agent2 := startAgent(t, filepath.Join(dirB, "kubeconfig"), "edge-2")
	defer agent2.signal(syscall.SIGKILL)
	n1, err := b.client.CoreV1().Nodes().Get(context.Background(), "edge-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n2 := waitNode(t, b.client, "edge-2", "Ready with a pod range", func(n *corev1.Node) bool {
		return nodeReady(n) == corev1.ConditionTrue && n.Spec.PodCIDR != ""
	})
	if n2.Spec.PodCIDR == n1.Spec.PodCIDR {
		t.Errorf("edge-2 got edge-1's pod range %s", n1.Spec.PodCIDR)
	}

	k.must(t, "rollout", "status", "deployment/web", "--timeout=3m")
	// The old revision's pods terminate; then exactly 4 pods, all new,
	// Running with status.
	var pods []corev1.Pod
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		pl, err := b.client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: labels.Set{"app": "web"}.String()})
		if err == nil && len(pl.Items) == 4 {
			pods = pl.Items
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pods after the rollout: %v", pl)
		}
	}
	for _, p := range pods {
		if (p.Spec.NodeName != "edge-1" && p.Spec.NodeName != "edge-2") || p.Status.Phase != corev1.PodRunning || len(p.Spec.Containers[0].Env) != 1 ||
			len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].State.Running == nil || p.Status.PodIP == "" {
			t.Errorf("pod %s: node %q, env %v, status %+v", p.Name, p.Spec.NodeName, p.Spec.Containers[0].Env, p.Status)
		}
	}
	// Each pod the rollouts made was scheduled once: one Scheduled event
	// a pod UID, counted once, including the pods deleted since.
	evs, err := b.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{FieldSelector: "reason=Scheduled"})
	if err != nil {
		t.Fatal(err)
	}
	scheduled := map[string]int32{}
	for _, e := range evs.Items {
		scheduled[string(e.InvolvedObject.UID)] += e.Count
	}
	for uid, n := range scheduled {
		if n != 1 {
			t.Errorf("pod %s scheduled %d times", uid, n)
		}
	}
	// Events are best effort, as upstream's: the leader killed with -9 may
	// have bound a pod and died before its recorder wrote the Scheduled
	// event (seen once in CI: a running pod with none). At most the few
	// in flight at the kill may lack one; none may have two.
	lost := 0
	for _, p := range pods {
		switch n := scheduled[string(p.UID)]; {
		case n == 0:
			lost++
			t.Logf("pod %s: no Scheduled event (bound by the killed leader?)", p.Name)
		case n != 1:
			t.Errorf("pod %s: %d Scheduled events", p.Name, n)
		}
	}
	if lost > 2 {
		t.Errorf("%d running pods have no Scheduled event, want at most the 2 a killed leader can leave unwritten", lost)
	}
	if len(scheduled)+lost < 8 {
		t.Errorf("%d pods scheduled (%d more without their event), want at least 8 (4 a revision)", len(scheduled), lost)
	}
	// The kubernetes Service now leads to the surviving API server (the
	// new controller manager's replica).
	_, portB, _ := net.SplitHostPort(addrB)
	var ep string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if ep = k.must(t, "get", "endpoints", "kubernetes", "-o", "jsonpath={.subsets[0].addresses[0].ip}:{.subsets[0].ports[0].port}"); ep == "127.0.0.1:"+portB {
			break
		}
	}
	if ep != "127.0.0.1:"+portB {
		t.Errorf("endpoints kubernetes: %q, want 127.0.0.1:%s", ep, portB)
	}
	if regexp.MustCompile(`(?i)panic|fatal`).MatchString(b.stderr.String()) {
		t.Errorf("the surviving serve's stderr:\n%s", b.stderr)
	}
}
