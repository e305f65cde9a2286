package main

// Issue 13's restart test for Jobs: `kill -9` of a real `wasmpod serve`
// in the middle of a Job with parallelism 10 and 30 completions; serve
// restarted on the same data dir finishes it (the real kubectl wait
// --for=condition=Complete) with status.succeeded exactly 30 and exactly
// 30 succeeded pods: no completion lost, none counted twice (finalizer
// tracking through status.uncountedTerminatedPods).
//
// restartPolicy OnFailure: a restart is a node reboot, and the containers
// that were running start again in their pods (restartCount + 1) rather
// than failing the pods, which would put the Job into upstream's pod
// re-creation back-off (10 s doubling per failure since the last success).

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const restartJob = `apiVersion: batch/v1
kind: Job
metadata:
  name: work
spec:
  completions: 30
  parallelism: 10
  backoffLimit: 100
  template:
    spec:
      restartPolicy: OnFailure
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", "sleep 1; echo done"]
`

func TestJobSurvivesKill9(t *testing.T) {
	t.Parallel()
	dir, addr := t.TempDir(), freeAddr(t)
	s := serve(t, dir, "--listen", addr)
	k := newKubectlUser(t, filepath.Join(dir, "kubeconfig"))
	if out, errOut, code := runClientStdin(t, k, restartJob, "apply", "-f", "-"); code != 0 || !strings.Contains(out, "job.batch/work created") {
		t.Fatalf("kubectl apply: exit %d\n%s%s", code, out, errOut)
	}
	// Mid-run: some completions counted, pods active. The Job's status is
	// written at most once a second (syncJobBatchPeriod), so each pod runs
	// a second and any count short of the end is mid-run.
	deadline := time.Now().Add(120 * time.Second)
	for {
		j, err := s.client.BatchV1().Jobs("default").Get(context.Background(), "work", metav1.GetOptions{})
		if err == nil && j.Status.Succeeded >= 1 && j.Status.Succeeded <= 25 && j.Status.Active > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Job never was mid-run: %+v", j.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.wait(time.Minute)

	s2 := serve(t, dir, "--listen", addr)
	out, errOut, code := k.run(t, "wait", "--for=condition=Complete", "job/work", "--timeout=180s")
	if code != 0 || !strings.Contains(out, "job.batch/work condition met") {
		t.Fatalf("kubectl wait after the restart: exit %d\n%s%s", code, out, errOut)
	}
	ctx := context.Background()
	j, err := s2.client.BatchV1().Jobs("default").Get(ctx, "work", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := s2.client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=work"})
	if err != nil {
		t.Fatal(err)
	}
	succeeded := 0
	for _, p := range pl.Items {
		if p.Status.Phase == corev1.PodSucceeded {
			succeeded++
		}
		if len(p.Finalizers) != 0 {
			t.Errorf("pod %s keeps finalizers %v", p.Name, p.Finalizers)
		}
	}
	u := j.Status.UncountedTerminatedPods
	if j.Status.Succeeded != 30 || succeeded != 30 || j.Status.Failed != 0 || j.Status.Active != 0 || (u != nil && len(u.Succeeded)+len(u.Failed) != 0) {
		t.Fatalf("after the restart: status succeeded %d failed %d active %d uncounted %+v; %d pods, %d succeeded",
			j.Status.Succeeded, j.Status.Failed, j.Status.Active, u, len(pl.Items), succeeded)
	}
	if get := k.must(t, "get", "job", "work", "--no-headers"); !strings.Contains(get, "Complete") || !strings.Contains(get, "30/30") {
		t.Fatalf("kubectl get job: %q", get)
	}
}
