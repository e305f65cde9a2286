package apiserver

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/internal/syncbuf"
	"github.com/wasmpod/wasmpod/internal/testkubectl"
)

// kubectlRunner runs upstream kubectl (k8s.io/kubectl v0.37.2, built by
// testkubectl) against a server, with a kubeconfig, HOME and cache in the
// test's temp dir.
type kubectlRunner struct {
	bin, kubeconfig, home string
}

func newKubectl(t *testing.T, serverURL string) *kubectlRunner {
	t.Helper()
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	cfg := "apiVersion: v1\nkind: Config\nclusters:\n- name: wasmpod\n  cluster:\n    server: " + serverURL +
		"\ncontexts:\n- name: wasmpod\n  context:\n    cluster: wasmpod\n    user: me\n    namespace: default\ncurrent-context: wasmpod\nusers:\n- name: me\n  user: {}\n"
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &kubectlRunner{bin: testkubectl.Path(t), kubeconfig: kc, home: dir}
}

func (k *kubectlRunner) cmd(args ...string) *exec.Cmd {
	c := exec.Command(k.bin, append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", filepath.Join(k.home, "cache")}, args...)...)
	c.Env = append(os.Environ(), "HOME="+k.home, "KUBECONFIG="+k.kubeconfig)
	return c
}

func (k *kubectlRunner) run(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	c := k.cmd(args...)
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// syncBuffer is safe for a writer and a poller.
type syncBuffer = syncbuf.Buffer

// TestTableRealKubectl: upstream kubectl get prints the server's Tables as
// it prints kube-apiserver's: pods (plain and -o wide), services, nodes, a
// kind with the default table, and get -w's rows.
func TestTableRealKubectl(t *testing.T) {
	e := newTableEnv(t)
	k := newKubectl(t, e.url)
	ctx := context.Background()
	p, err := e.cs.CoreV1().Pods("default").Create(ctx, httpPod("web-1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.cs.CoreV1().LimitRanges("default").Create(ctx, &corev1.LimitRange{
		ObjectMeta: metav1.ObjectMeta{Name: "limits"},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer,
			Default: corev1.ResourceList{corev1.ResourceMemory: mustQty("64Mi")}}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.clock.Step(3*time.Minute + 2*time.Second)
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIPs: []corev1.PodIP{{IP: "10.244.0.7"}}, PodIP: "10.244.0.7",
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "main", Ready: true, RestartCount: 5,
			State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: metav1.NewTime(e.clock.Now().Add(-10 * time.Second))}}}}}
	if _, err := e.cs.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	if got, want := k.run(t, "get", "pods"), ""+
		"NAME    READY   STATUS    RESTARTS      AGE\n"+
		"web-1   1/1     Running   5 (10s ago)   3m2s\n"; got != want {
		t.Errorf("kubectl get pods:\n%s\nwant:\n%s", got, want)
	}
	if got, want := k.run(t, "get", "pods", "-o", "wide"), ""+
		"NAME    READY   STATUS    RESTARTS      AGE    IP           NODE     NOMINATED NODE   READINESS GATES\n"+
		"web-1   1/1     Running   5 (10s ago)   3m2s   10.244.0.7   <none>   <none>           <none>\n"; got != want {
		t.Errorf("kubectl get pods -o wide:\n%s\nwant:\n%s", got, want)
	}
	if got, want := k.run(t, "get", "limitranges"), ""+
		"NAME     CREATED AT\n"+
		"limits   2026-12-06T09:00:00Z\n"; got != want {
		t.Errorf("kubectl get limitranges:\n%s\nwant:\n%s", got, want)
	}
	if got, want := k.run(t, "get", "namespaces", "default", "kube-system"), ""+
		"NAME          STATUS   AGE\n"+
		"default       Active   3m2s\n"+
		"kube-system   Active   3m2s\n"; got != want {
		t.Errorf("kubectl get namespaces:\n%s\nwant:\n%s", got, want)
	}

	// get -w: the list, then one row per event.
	var out syncBuffer
	w := k.cmd("get", "pods", "-w")
	w.Stdout, w.Stderr = &out, &out
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { w.Process.Kill(); w.Wait() }()
	waitFor := func(s string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(out.String(), s) {
			if time.Now().After(deadline) {
				t.Fatalf("kubectl get -w never printed %q:\n%s", s, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("web-1")
	// The watch starts after the list; a pod created from now on is an
	// event (kubectl may not have opened the watch yet: it starts from
	// the list's resourceVersion, so nothing is missed).
	if _, err := e.cs.CoreV1().Pods("default").Create(ctx, httpPod("web-2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("web-2   0/1     Pending   0             0s\n") // the whole row: kubectl may write it in pieces
	want := "" +
		"NAME    READY   STATUS    RESTARTS      AGE\n" +
		"web-1   1/1     Running   5 (10s ago)   3m2s\n" +
		"web-2   0/1     Pending   0             0s\n"
	if got := out.String(); got != want {
		t.Errorf("kubectl get pods -w:\n%s\nwant:\n%s", got, want)
	}
}
