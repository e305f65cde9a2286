package main

// Issue 13's restart test for Deployments: `kill -9` of a real
// `wasmpod serve` in the middle of a rolling update; serve restarted on
// the same data dir finishes the rollout (the real kubectl rollout status
// succeeds; exactly the desired pods, all of the new revision; the old
// ReplicaSet at 0).

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const restartDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 4
  minReadySeconds: 2
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 1}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", "sleep 3600"]
`

// webState returns the Deployment's ReplicaSets by image and its live
// pods by pod-template-hash.
func webState(t *testing.T, cs kubernetes.Interface) (map[string]appsv1.ReplicaSet, map[string][]corev1.Pod) {
	t.Helper()
	ctx := context.Background()
	rss := map[string]appsv1.ReplicaSet{}
	pods := map[string][]corev1.Pod{}
	rl, err := cs.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		return rss, pods
	}
	for _, rs := range rl.Items {
		rss[rs.Spec.Template.Spec.Containers[0].Image] = rs
	}
	pl, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		return rss, pods
	}
	for _, p := range pl.Items {
		if p.DeletionTimestamp == nil {
			pods[p.Labels["pod-template-hash"]] = append(pods[p.Labels["pod-template-hash"]], p)
		}
	}
	return rss, pods
}

func TestDeploymentRolloutSurvivesKill9(t *testing.T) {
	t.Parallel()
	dir, addr := t.TempDir(), freeAddr(t)
	s := serve(t, dir, "--listen", addr)
	k := newKubectlUser(t, filepath.Join(dir, "kubeconfig"))
	if out, errOut, code := runClientStdin(t, k, restartDeployment, "apply", "-f", "-"); code != 0 || !strings.Contains(out, "deployment.apps/web created") {
		t.Fatalf("kubectl apply: exit %d\n%s%s", code, out, errOut)
	}
	if out := k.must(t, "rollout", "status", "deployment/web", "--timeout=120s"); !strings.Contains(out, `deployment "web" successfully rolled out`) {
		t.Fatalf("rollout status: %q", out)
	}
	k.must(t, "set", "image", "deployment/web", "c=busybox:1.36")

	// Mid-way: the new ReplicaSet has pods and the old one still has.
	deadline := time.Now().Add(90 * time.Second)
	for {
		rss, _ := webState(t, s.client)
		n, o := rss["busybox:1.36"], rss["busybox"]
		if n.Spec.Replicas != nil && n.Status.Replicas >= 1 && o.Spec.Replicas != nil && *o.Spec.Replicas >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rollout never was half-way: %+v", rss)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.wait(time.Minute)

	s2 := serve(t, dir, "--listen", addr)
	out, errOut, code := k.run(t, "rollout", "status", "deployment/web", "--timeout=180s")
	if code != 0 || !strings.Contains(out, `deployment "web" successfully rolled out`) {
		t.Fatalf("rollout status after the restart: exit %d\n%s%s", code, out, errOut)
	}
	var rss map[string]appsv1.ReplicaSet
	var pods map[string][]corev1.Pod
	deadline = time.Now().Add(60 * time.Second)
	for {
		rss, pods = webState(t, s2.client)
		n, o := rss["busybox:1.36"], rss["busybox"]
		hash := n.Labels["pod-template-hash"]
		running := 0
		for _, p := range pods[hash] {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		if len(rss) == 2 && *n.Spec.Replicas == 4 && *o.Spec.Replicas == 0 && o.Status.Replicas == 0 &&
			len(pods) == 1 && len(pods[hash]) == 4 && running == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart: replica sets %d, new %d/%d, old %d/%d; live pods by hash %d (new %d, %d running)",
				len(rss), n.Status.Replicas, *n.Spec.Replicas, o.Status.Replicas, *o.Spec.Replicas, len(pods), len(pods[hash]), running)
		}
		time.Sleep(100 * time.Millisecond)
	}
	d, err := s2.client.AppsV1().Deployments("default").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil || d.Annotations["deployment.kubernetes.io/revision"] != "2" || d.Status.UpdatedReplicas != 4 || d.Status.AvailableReplicas != 4 {
		t.Fatalf("deployment after the restart: %v %v %+v", err, d.Annotations, d.Status)
	}
}
