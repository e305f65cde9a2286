package main

// End-to-end tests of `wasmpod serve` driven by the CLI (and by client-go,
// as any Kubernetes client would), with real wazero and real modules.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"github.com/wasmpod/wasmpod/apiserver"
)

type server struct {
	*proc
	dir, socket string
	client      kubernetes.Interface
}

// serve starts `wasmpod serve` on a socket in dir and waits until it answers.
func serve(t *testing.T, dir string, args ...string) *server {
	t.Helper()
	s := &server{dir: dir, socket: filepath.Join(dir, "wasmpod.sock")}
	full := append([]string{"serve", "--data-dir", dir, "--socket", s.socket, "--cache-dir", cacheDir, "--heartbeat-interval", "1s"}, args...)
	s.proc = start(t, "", full...)
	cs, err := kubernetes.NewForConfig(apiserver.UnixSocketConfig(s.socket))
	if err != nil {
		t.Fatal(err)
	}
	s.client = cs
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := cs.Discovery().ServerVersion(); err == nil {
			if nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{}); err == nil && len(nodes.Items) > 0 {
				return s
			}
		}
		select {
		case <-s.done:
			t.Fatalf("serve exited\nstderr:\n%s", s.stderr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not come up\nstderr:\n%s", s.stderr)
		}
	}
}

// ctl runs a CLI command against the server and returns stdout, stderr
// and the exit code.
func (s *server) ctl(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	p := start(t, stdin, append([]string{"--server", "unix://" + s.socket}, args...)...)
	code := p.wait(2 * time.Minute)
	return p.stdout.String(), p.stderr.String(), code
}

func (s *server) mustCtl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, code := s.ctl(t, stdin, args...)
	if code != 0 {
		t.Fatalf("wasmpod %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// waitPod polls the pod until cond holds.
func (s *server) waitPod(t *testing.T, name string, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var last *corev1.Pod
	for time.Now().Before(deadline) {
		p, err := s.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			last = p
			if cond(p) {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := json.MarshalIndent(last, "", "  ")
	t.Fatalf("pod %s never became %s; last:\n%s\nserver stderr:\n%s", name, what, b, s.stderr)
	return nil
}

func phaseIs(ph corev1.PodPhase) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool { return p.Status.Phase == ph }
}

func podEvents(t *testing.T, cs kubernetes.Interface, name string) []string {
	t.Helper()
	evs, err := cs.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	sort.SliceStable(evs.Items, func(i, j int) bool {
		a, b := evs.Items[i], evs.Items[j]
		ta, tb := a.FirstTimestamp.Time, b.FirstTimestamp.Time
		if a.EventTime.Time.After(ta) {
			ta = a.EventTime.Time
		}
		if b.EventTime.Time.After(tb) {
			tb = b.EventTime.Time
		}
		// FirstTimestamp has whole seconds, EventTime microseconds:
		// compared at the coarser one, then in the order the server
		// stored them.
		if ta, tb = ta.Truncate(time.Second), tb.Truncate(time.Second); !ta.Equal(tb) {
			return ta.Before(tb)
		}
		ra, _ := strconv.ParseInt(a.ResourceVersion, 10, 64)
		rb, _ := strconv.ParseInt(b.ResourceVersion, 10, 64)
		return ra < rb
	})
	var out []string
	for _, e := range evs.Items {
		out = append(out, e.Reason)
	}
	return out
}

func TestServeCreationFlow(t *testing.T) {
	t.Parallel()
	s := serve(t, t.TempDir())
	out := s.mustCtl(t, "", "apply", "-f", "wasm-examples/hello/pod.yaml")
	if !strings.Contains(out, "pod/hello created") {
		t.Fatalf("apply printed %q", out)
	}
	p := s.waitPod(t, "hello", "Succeeded", phaseIs(corev1.PodSucceeded))
	if p.Spec.NodeName != "node-1" || p.Status.PodIP == "" {
		t.Fatalf("nodeName %q podIP %q", p.Spec.NodeName, p.Status.PodIP)
	}
	var scheduled bool
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue {
			scheduled = true
		}
	}
	if !scheduled {
		t.Errorf("no PodScheduled=True condition: %+v", p.Status.Conditions)
	}
	// The creation flow's events, in order. apply uploaded the go://
	// module to the module store, so the image is already on the node:
	// one Pulled "already present on machine", no Pulling, as the
	// kubelet's IfNotPresent with the image present.
	want := []string{"Scheduled", "Pulled", "Created", "Started"}
	deadline := time.Now().Add(30 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		if got = podEvents(t, s.client, "hello"); len(got) >= len(want) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("events %v, want %v", got, want)
	}
	logs := s.mustCtl(t, "", "logs", "hello")
	if logs != "hello from hello\nargs: a b\n" {
		t.Errorf("logs %q", logs)
	}
	getOut := s.mustCtl(t, "", "get", "pods")
	if !strings.Contains(getOut, "hello") || !strings.Contains(getOut, "Completed") {
		t.Errorf("get pods:\n%s", getOut)
	}
	desc := s.mustCtl(t, "", "describe", "pod", "hello")
	for _, w := range []string{"Name:", "hello", "Node:", "node-1", "Successfully assigned default/hello to node-1", "already present on machine", "Started"} {
		if !strings.Contains(desc, w) {
			t.Errorf("describe lacks %q:\n%s", w, desc)
		}
	}
}

const placementConfig = `nodes:
- name: small
  capacity: {cpu: "1", memory: 256Mi, pods: "10"}
- name: big
  capacity: {cpu: "4", memory: 8Gi, pods: "20"}
  labels: {disk: ssd}
- name: tainted
  capacity: {cpu: "4", memory: 8Gi, pods: "20"}
  taints: [{key: dedicated, value: edge, effect: NoSchedule}]
`

func waitingPod(name, extra string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: go://./wasm-examples/graceful
%s`, name, extra)
}

func TestServePlacementAndUnschedulable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(placementConfig), 0o644)
	s := serve(t, dir, "--config", cfg)
	nodes := s.mustCtl(t, "", "get", "nodes")
	for _, n := range []string{"small", "big", "tainted"} {
		if !strings.Contains(nodes, n) {
			t.Fatalf("get nodes lacks %s:\n%s", n, nodes)
		}
	}
	manifests := waitingPod("wants-ssd", "    resources: {requests: {memory: 64Mi}}\n  nodeSelector: {disk: ssd}\n") + "---\n" +
		waitingPod("tolerates", "  tolerations: [{key: dedicated, operator: Equal, value: edge, effect: NoSchedule}]\n  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n        - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [tainted]}]\n") + "---\n" +
		waitingPod("needs-1gi", "    resources: {requests: {memory: 1Gi}}\n  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n        - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [small, big]}]\n") + "---\n" +
		waitingPod("too-big", "    resources: {requests: {memory: 100Gi}}\n")
	s.mustCtl(t, manifests, "apply", "-f", "-")
	for pod, node := range map[string]string{"wants-ssd": "big", "tolerates": "tainted", "needs-1gi": "big"} {
		p := s.waitPod(t, pod, "Running", phaseIs(corev1.PodRunning))
		if p.Spec.NodeName != node {
			t.Errorf("pod %s on %q, want %q", pod, p.Spec.NodeName, node)
		}
	}
	// Upstream's message: reasons counted per node, sorted, and a period.
	// (The taint filter runs before the resource filter, so the tainted
	// node reports its taint.)
	want := "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: edge}, 2 Insufficient memory."
	p := s.waitPod(t, "too-big", "Unschedulable", func(p *corev1.Pod) bool {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == "Unschedulable" {
				return true
			}
		}
		return false
	})
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Message != want {
			t.Errorf("message %q, want %q", c.Message, want)
		}
	}
	if evs := podEvents(t, s.client, "too-big"); len(evs) == 0 || evs[0] != "FailedScheduling" {
		t.Errorf("events %v", evs)
	}
	// A node that fits joins: the pod is scheduled onto it.
	node := `apiVersion: v1
kind: Node
metadata:
  name: huge
  labels: {kubernetes.io/hostname: huge}
status:
  capacity: {cpu: "64", memory: 256Gi, pods: "110"}
  allocatable: {cpu: "64", memory: 256Gi, pods: "110"}
  conditions: [{type: Ready, status: "True", reason: KubeletReady}]
`
	s.mustCtl(t, node, "apply", "-f", "-")
	// apply does not write status; set it as a node agent would.
	// (retrying on a conflict: the node IPAM controller writes its range)
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := s.client.CoreV1().Nodes().Get(context.Background(), "huge", metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Status.Capacity = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64"), corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("110")}
		n.Status.Allocatable = n.Status.Capacity
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now()}}
		_, err = s.client.CoreV1().Nodes().UpdateStatus(context.Background(), n, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	s.waitPod(t, "too-big", "scheduled onto huge", func(p *corev1.Pod) bool { return p.Spec.NodeName == "huge" })
}

func TestServeLogsFollowAndExec(t *testing.T) {
	t.Parallel()
	s := serve(t, t.TempDir())
	manifest := `apiVersion: v1
kind: Pod
metadata: {name: box}
spec:
  volumes: [{name: data, emptyDir: {}}]
  containers:
  - name: main
    image: go://./wasm-examples/testguests/probe
    args: [waitterm]
    env: [{name: GREETING, value: hi}]
    volumeMounts: [{name: data, mountPath: /data}]
---
apiVersion: v1
kind: Pod
metadata: {name: ticker}
spec:
  containers:
  - name: graceful
    image: go://./wasm-examples/graceful
`
	s.mustCtl(t, manifest, "apply", "-f", "-")
	s.waitPod(t, "box", "Running", phaseIs(corev1.PodRunning))
	s.waitPod(t, "ticker", "Running", phaseIs(corev1.PodRunning))

	// logs -f follows live output: "working" lines keep arriving.
	f := start(t, "", "--server", "unix://"+s.socket, "logs", "-f", "ticker")
	f.waitFor(`ready\n`, time.Minute)
	f.waitFor(`working\n(.|\n)*working\n`, time.Minute)
	f.signal(syscall.SIGINT)
	f.wait(time.Minute)

	// exec: a new instance of the container's module in the pod's sandbox.
	s.mustCtl(t, "", "exec", "box", "--", "probe", "write", "/data/f", "from exec")
	if out := s.mustCtl(t, "", "exec", "box", "--", "probe", "cat", "/data/f"); out != "from exec" {
		t.Errorf("exec cat: %q", out)
	}
	if out := s.mustCtl(t, "", "exec", "box", "--", "probe", "env"); !strings.Contains(out, "GREETING=hi") {
		t.Errorf("exec env lacks GREETING:\n%s", out)
	}
	if out := s.mustCtl(t, "piped input", "exec", "-i", "box", "--", "probe", "readstdin"); out != "piped input" {
		t.Errorf("exec -i: %q", out)
	}
	_, errOut, code := s.ctl(t, "", "exec", "box", "--", "probe", "exit", "7")
	if code != 7 || !strings.Contains(errOut, "command terminated with exit code 7") {
		t.Errorf("exec exit: code %d stderr %q", code, errOut)
	}
}

func TestServeGracefulDelete(t *testing.T) {
	t.Parallel()
	s := serve(t, t.TempDir())
	s.mustCtl(t, "", "apply", "-f", "wasm-examples/graceful/pod.yaml")
	s.mustCtl(t, "", "apply", "-f", "wasm-examples/spin/pod.yaml")
	s.waitPod(t, "graceful", "Running", phaseIs(corev1.PodRunning))
	s.waitPod(t, "spin", "Running", phaseIs(corev1.PodRunning))

	// Watch both pods to see their final status before they are removed.
	w, err := s.client.CoreV1().Pods("default").Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	t0 := time.Now()
	out := s.mustCtl(t, "", "delete", "pod", "graceful", "spin")
	for _, w := range []string{`pod "graceful" deleted`, `pod "spin" deleted`} {
		if !strings.Contains(out, w) {
			t.Errorf("delete printed %q", out)
		}
	}
	// delete waits for the pods to go: spin is killed at its 2 s deadline.
	if el := time.Since(t0); el < 2*time.Second {
		t.Errorf("delete returned after %s, before spin's grace period", el)
	}
	final := map[string]*corev1.Pod{}
	for ev := range w.ResultChan() {
		p := ev.Object.(*corev1.Pod)
		if ev.Type == "DELETED" {
			final[p.Name] = p
			if len(final) == 2 {
				break
			}
		}
	}
	term := func(name string) *corev1.ContainerStateTerminated {
		p := final[name]
		if p == nil || len(p.Status.ContainerStatuses) == 0 {
			t.Fatalf("no final status for %s", name)
		}
		return p.Status.ContainerStatuses[0].State.Terminated
	}
	if tm := term("graceful"); tm == nil || tm.ExitCode != 0 {
		t.Errorf("graceful ended %+v, want exit 0", tm)
	}
	if tm := term("spin"); tm == nil || tm.ExitCode != 137 {
		t.Errorf("spin ended %+v, want exit 137", tm)
	}
}

func TestServeKill9AndRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := serve(t, dir)
	s.mustCtl(t, "", "apply", "-f", "wasm-examples/hello/pod.yaml")
	s.mustCtl(t, "", "apply", "-f", "wasm-examples/graceful/pod.yaml")
	s.mustCtl(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: kept}\n", "apply", "-f", "-")
	s.waitPod(t, "hello", "Succeeded", phaseIs(corev1.PodSucceeded))
	before := s.waitPod(t, "graceful", "Running", phaseIs(corev1.PodRunning))

	s.cmd.Process.Signal(syscall.SIGKILL)
	s.wait(time.Minute)

	s2 := serve(t, dir)
	hello, err := s2.client.CoreV1().Pods("default").Get(context.Background(), "hello", metav1.GetOptions{})
	if err != nil || hello.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("hello after restart: %v %v", err, hello)
	}
	if _, err := s2.client.CoreV1().Namespaces().Get(context.Background(), "kept", metav1.GetOptions{}); err != nil {
		t.Fatalf("namespace after restart: %v", err)
	}
	after := s2.waitPod(t, "graceful", "restarted", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1 &&
			p.Status.ContainerStatuses[0].RestartCount == before.Status.ContainerStatuses[0].RestartCount+1 &&
			p.Status.ContainerStatuses[0].State.Running != nil
	})
	if after.UID != before.UID {
		t.Errorf("pod UID changed across restart")
	}
}

func TestServeHeartbeatLoss(t *testing.T) {
	t.Parallel()
	s := serve(t, t.TempDir(), "--node-monitor-grace-period", "3s")
	ctx := context.Background()
	// A node whose agent runs elsewhere and stops heartbeating.
	now := metav1.NowMicro()
	_, err := s.client.CoreV1().Nodes().Create(ctx, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "remote", Labels: map[string]string{"kubernetes.io/hostname": "remote"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The node IPAM controller writes the Node too (its pod range): retry
	// on a conflict, as a kubelet does.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := s.client.CoreV1().Nodes().Get(ctx, "remote", metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now()}}
		n.Status.Allocatable = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10"), corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("1Gi")}
		_, err = s.client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	dur := int32(3)
	holder := "remote"
	if _, err := s.client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "remote"},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &dur, RenewTime: &now},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "on-remote"}, Spec: corev1.PodSpec{NodeName: "remote", Containers: []corev1.Container{{Name: "c", Image: "wasmpod.local/x"}}}}
	if _, err := s.client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p, _ := s.client.CoreV1().Pods("default").Get(ctx, "on-remote", metav1.GetOptions{})
	p.Status.Phase = corev1.PodRunning
	if _, err := s.client.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		n, _ := s.client.CoreV1().Nodes().Get(ctx, "remote", metav1.GetOptions{})
		ready := corev1.ConditionStatus("")
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				ready = c.Status
			}
		}
		if ready == corev1.ConditionUnknown {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node never became Unknown: %+v", n.Status.Conditions)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.waitPod(t, "on-remote", "Unknown with Ready=False", func(p *corev1.Pod) bool {
		if p.Status.Phase != corev1.PodUnknown {
			return false
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionFalse {
				return true
			}
		}
		return false
	})
	// The local node keeps heartbeating and stays Ready.
	n1, _ := s.client.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
	for _, c := range n1.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
			t.Errorf("node-1 Ready=%s", c.Status)
		}
	}
	if out := s.mustCtl(t, "", "get", "nodes"); !strings.Contains(out, "remote") || !strings.Contains(out, "NotReady") && !strings.Contains(out, "Unknown") {
		t.Errorf("get nodes:\n%s", out)
	}
}

func TestServeTCPWithTokenAndClientGo(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	l, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	plainAddr := l.Addr().String()
	l.Close()
	s := serve(t, t.TempDir(), "--listen", addr, "--token", "e2e-token-9f8a7b6c5d4e3f21", "--insecure-http-listen", plainAddr)
	ctx := context.Background()
	// Plain HTTP on loopback, behind its explicit flag, token required.
	plain, _ := kubernetes.NewForConfig(apiserver.TCPConfig("http://"+plainAddr, "e2e-token-9f8a7b6c5d4e3f21"))
	if _, err := plain.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("plain HTTP on loopback: %v", err)
	}
	plainBad, _ := kubernetes.NewForConfig(apiserver.TCPConfig("http://"+plainAddr, "wrong"))
	if _, err := plainBad.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
		t.Errorf("plain HTTP, wrong token: %v", err)
	}
	// --listen is HTTPS; the kubeconfig serve writes holds its CA.
	kcfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(s.dir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	if kcfg.Host != "https://"+addr || kcfg.BearerToken != "e2e-token-9f8a7b6c5d4e3f21" {
		t.Fatalf("kubeconfig: server %q token %q", kcfg.Host, kcfg.BearerToken)
	}
	wrong := rest.CopyConfig(kcfg)
	wrong.BearerToken = "wrong"
	bad, _ := kubernetes.NewForConfig(wrong)
	if _, err := bad.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
		t.Fatalf("wrong token: %v", err)
	}
	cs, err := kubernetes.NewForConfig(kcfg)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 1 {
		t.Fatalf("nodes: %v %v", err, nodes)
	}
	repo, _ := filepath.Abs("../..")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "via-client-go", Annotations: map[string]string{"wasmpod.io/manifest-dir": filepath.Join(repo, "wasm-examples", "hello")}},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{
			Name: "hello", Image: "go://.", Args: []string{"x"},
			Env: []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
		}}},
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s.waitPod(t, "via-client-go", "Succeeded", phaseIs(corev1.PodSucceeded))
	raw, err := cs.CoreV1().Pods("default").GetLogs("via-client-go", &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil || string(raw) != "hello from via-client-go\nargs: x\n" {
		t.Fatalf("logs via client-go: %q %v", raw, err)
	}
	// Without a server, the CLI says so.
	p := start(t, "", "--server", "unix://"+filepath.Join(t.TempDir(), "none.sock"), "get", "pods")
	if code := p.wait(time.Minute); code == 0 || !strings.Contains(p.stderr.String(), "wasmpod serve") {
		t.Errorf("no server: exit %d, stderr %q", code, p.stderr)
	}
}

var _ = exec.Command
