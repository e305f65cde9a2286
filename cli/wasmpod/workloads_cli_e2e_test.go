package main

// The wasmpod CLI for the workload kinds against a real `wasmpod serve`
// with real pods (issue 13 §9): wasmpod scale, get, describe and logs -l
// beside the real kubectl on the same Deployment, as a user would
// (upstream behaviours: test/e2e/apps/deployment.go "Deployment should
// have a working scale subresource", test/e2e/kubectl "Kubectl describe
// should check if kubectl describe prints relevant information for rc and
// pods", "Kubectl logs should be able to retrieve and filter logs").

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const cliDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
  labels: {app: hello}
spec:
  replicas: 2
  selector:
    matchLabels: {app: hello}
  template:
    metadata:
      labels: {app: hello, tier: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", "echo hello from $HOSTNAME; sleep 3600"]
`

var ageRe = regexp.MustCompile(`\b\d+[smhd](\d+[smh])?\b`)

// untick blanks durations and collapses padding, for outputs taken a
// moment apart.
func untick(s string) string {
	return regexp.MustCompile(` +`).ReplaceAllString(ageRe.ReplaceAllString(s, "D"), " ")
}

func TestWorkloadsCLIWithRealPods(t *testing.T) {
	t.Parallel()
	dir, addr := t.TempDir(), freeAddr(t)
	serve(t, dir, "--listen", addr)
	kc := filepath.Join(dir, "kubeconfig")
	k := newKubectlUser(t, kc)
	env := cleanEnv(t, kc)
	wasmpod := func(args ...string) string { t.Helper(); return mustClient(t, env, binPath, args...) }
	if out, errOut, code := runClientStdin(t, k, cliDeployment, "apply", "-f", "-"); code != 0 {
		t.Fatalf("kubectl apply: exit %d\n%s%s", code, out, errOut)
	}
	k.must(t, "rollout", "status", "deployment/hello", "--timeout=120s")

	// scale through the scale subresource, up then down, with a set-based
	// selector; the controller follows.
	if out := wasmpod("scale", "deploy", "-l", "app in (hello,other),!canary", "--replicas=3"); out != "deployment.apps/hello scaled\n" {
		t.Fatalf("wasmpod scale: %q", out)
	}
	if out := k.must(t, "rollout", "status", "deployment/hello", "--timeout=120s"); !strings.Contains(out, "successfully rolled out") {
		t.Fatalf("rollout status after scale: %q", out)
	}
	if out := wasmpod("get", "pods", "-l", "tier in (web),app", "-o", "name"); strings.Count(out, "pod/hello-") != 3 {
		t.Fatalf("3 pods after scale to 3: %q", out)
	}
	if _, errOut, code := runClient(t, env, binPath, "scale", "deploy/hello", "--current-replicas=2", "--replicas=1"); code != 1 || errOut != "error: Expected replicas to be 2, was 3\n" {
		t.Errorf("scale with a wrong --current-replicas: exit %d %q", code, errOut)
	}
	if out := wasmpod("scale", "deploy/hello", "--current-replicas=3", "--replicas=2", "--timeout=2m"); out != "deployment.apps/hello scaled\n" {
		t.Fatalf("wasmpod scale --timeout: %q", out)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for strings.Count(k.must(t, "get", "pods", "-l", "app=hello", "--field-selector=status.phase=Running", "-o", "name"), "\n") != 2 {
		if time.Now().After(deadline) {
			t.Fatal("not 2 running pods after scale to 2")
		}
		time.Sleep(200 * time.Millisecond)
	}

	// get and describe print what kubectl prints (durations aside).
	same := func(args ...string) {
		t.Helper()
		for try := 0; ; try++ {
			kout, kerr, kcode := k.run(t, args...)
			wout, werr, wcode := runClient(t, env, binPath, args...)
			if kcode == wcode && untick(kout) == untick(wout) && strings.ReplaceAll(kerr, "kubectl", "wasmpod") == werr {
				t.Logf("%s: same output:\n%s", strings.Join(args, " "), wout)
				return
			}
			if try == 5 { // objects settle (status, events) between the runs
				t.Errorf("%s:\nkubectl (exit %d):\n%s%s\nwasmpod (exit %d):\n%s%s", strings.Join(args, " "), kcode, kout, kerr, wcode, wout, werr)
				return
			}
			time.Sleep(time.Second)
		}
	}
	same("get", "deploy,rs", "-o", "wide")
	same("describe", "deployment", "hello")
	same("describe", "rs", "-l", "app=hello")
	// (describe pods is not compared: kube-apiserver's Priority admission
	// sets spec.priority 0, which kubectl prints and wasmpod's server does
	// not set; the pod describer prints "Priority: 0" as if it did.)

	// logs of the deployment's pods by selector.
	out := wasmpod("logs", "-l", "app=hello,tier", "--prefix")
	if n := len(regexp.MustCompile(`(?m)^\[pod/hello-\S+/c\] hello from hello-\S+$`).FindAllString(out, -1)); n != 2 {
		t.Errorf("logs -l --prefix: %d lines from the 2 pods:\n%s", n, out)
	}
}
