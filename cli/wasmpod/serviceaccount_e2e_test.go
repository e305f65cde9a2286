package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/wasmpod/wasmpod/internal/testkubectl"
)

// TestServeServiceAccountTokens: `wasmpod serve --listen` with only its
// kubeconfig and the real kubectl: `kubectl create token default` gives a
// token that is the service account's user (`kubectl --token auth
// whoami`); every namespace has kube-root-ca.crt holding serve's CA; a pod
// gets the kube-api-access volume and runs with it.
func TestServeServiceAccountTokens(t *testing.T) {
	t.Parallel()
	kubectl := testkubectl.Path(t)
	dir, addr := t.TempDir(), freeAddr(t)
	s := serve(t, dir, "--listen", addr)
	env := buildEnv(t, filepath.Join(dir, "kubeconfig"))

	var tok string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out, errOut, code := runClient(t, env, kubectl, "create", "token", "default", "--duration", "1h")
		if code == 0 {
			tok = strings.TrimSpace(out)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubectl create token: exit %d\n%s%s", code, out, errOut)
		}
	}
	out := mustClient(t, env, kubectl, "--token", tok, "auth", "whoami")
	for _, want := range []string{"system:serviceaccount:default:default", "[system:serviceaccounts system:serviceaccounts:default system:authenticated]"} {
		if !strings.Contains(out, want) {
			t.Errorf("auth whoami with the token:\n%s\nwant %q", out, want)
		}
	}
	if _, errOut, code := runClient(t, env, kubectl, "--token", tok, "get", "secrets"); code != 1 ||
		!strings.Contains(errOut, `User "system:serviceaccount:default:default" cannot list resource "secrets"`) {
		t.Errorf("get secrets with the token: exit %d %s", code, errOut)
	}

	ca, err := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got, _, _ = runClient(t, env, kubectl, "get", "configmap", "kube-root-ca.crt", "-n", "kube-system", "-o", `jsonpath={.data.ca\.crt}`); got == string(ca) {
			break
		}
	}
	if got != string(ca) {
		t.Errorf("kube-root-ca.crt in kube-system: %q, want serve's CA %q", got, ca)
	}

	if out := mustClient(t, env, binPath, "apply", "-f", "wasm-examples/hello/pod.yaml"); !strings.Contains(out, "pod/hello created") {
		t.Errorf("wasmpod apply:\n%s", out)
	}
	s.waitPod(t, "hello", "Succeeded", phaseIs(corev1.PodSucceeded))
	vols := mustClient(t, env, kubectl, "get", "pod", "hello", "-o", "jsonpath={.spec.serviceAccountName} {.spec.volumes[*].name} {.spec.containers[0].volumeMounts[*].mountPath}")
	if f := strings.Fields(vols); len(f) < 3 || f[0] != "default" || !strings.HasPrefix(f[len(f)-2], "kube-api-access-") || f[len(f)-1] != "/var/run/secrets/kubernetes.io/serviceaccount" {
		t.Errorf("hello's spec: %q", vols)
	}
}
