package main

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/store/etcd/etcdtest"
)

// TestServeOnEtcdSurvivesKill9: a real `wasmpod serve --etcd-servers`
// process runs a pod to completion and acknowledges a ConfigMap, and is
// killed with SIGKILL right after; a second serve, with another data dir,
// on the same etcd has every acknowledged object, the pod Succeeded and not
// run again.
func TestServeOnEtcdSurvivesKill9(t *testing.T) {
	t.Parallel()
	etcd := etcdtest.Start(t, t.TempDir(), etcdtest.Options{Fsync: true})
	servers := strings.Join(etcd.Endpoints(), ",")
	ctx := context.Background()

	s := serve(t, t.TempDir(), "--etcd-servers", servers)
	s.mustCtl(t, `apiVersion: v1
kind: Pod
metadata: {name: hello}
spec:
  restartPolicy: Never
  containers:
  - name: hello
    image: go://./wasm-examples/hello
`, "apply", "-f", "-")
	var done *corev1.Pod
	deadline := time.Now().Add(2 * time.Minute)
	for {
		p, err := s.client.CoreV1().Pods("default").Get(ctx, "hello", metav1.GetOptions{})
		if err == nil && (p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed) {
			done = p
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod did not finish: %v %+v\nstderr:\n%s", err, p.Status, s.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if done.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("pod ended %s: %+v", done.Status.Phase, done.Status.ContainerStatuses)
	}
	last, err := s.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "last"},
		Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.wait(time.Minute)

	s2 := serve(t, t.TempDir(), "--etcd-servers", servers)
	cm, err := s2.client.CoreV1().ConfigMaps("default").Get(ctx, "last", metav1.GetOptions{})
	if err != nil || cm.UID != last.UID || cm.ResourceVersion != last.ResourceVersion || cm.Data["k"] != "v" {
		t.Fatalf("the ConfigMap acknowledged before kill -9: %v %+v", err, cm)
	}
	p, err := s2.client.CoreV1().Pods("default").Get(ctx, "hello", metav1.GetOptions{})
	if err != nil || p.UID != done.UID || p.Status.Phase != corev1.PodSucceeded || p.Status.ContainerStatuses[0].RestartCount != 0 ||
		p.Status.ContainerStatuses[0].State.Terminated == nil || p.Status.ContainerStatuses[0].State.Terminated.ExitCode != 0 {
		t.Fatalf("pod after kill -9 and a second serve: %v %+v", err, p.Status)
	}
}
