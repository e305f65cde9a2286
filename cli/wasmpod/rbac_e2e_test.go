package main

// `wasmpod serve --listen --token-auth-file`: the file's users through
// real kubectl, authorized by RBAC, next to the generated admin kubeconfig.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/wasmpod/wasmpod/internal/testkubectl"
)

// userKubeconfig copies the admin kubeconfig with another token.
func userKubeconfig(t *testing.T, admin, token string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(admin)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range cfg.AuthInfos {
		u.Token = token
	}
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestServeTokenAuthFileRBAC(t *testing.T) {
	t.Parallel()
	kubectl := testkubectl.Path(t)
	dir, addr := t.TempDir(), freeAddr(t)
	tokens := filepath.Join(t.TempDir(), "tokens.csv")
	if err := os.WriteFile(tokens, []byte("alice-0123456789abcdef,alice,1001,\"devs\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := serve(t, dir, "--listen", addr, "--token-auth-file", tokens)
	adminKC := filepath.Join(dir, "kubeconfig")
	admin := cleanEnv(t, adminKC)
	alice := buildEnv(t, userKubeconfig(t, adminKC, "alice-0123456789abcdef")) // warm Go caches for apply's go:// build

	if out := mustClient(t, alice, kubectl, "auth", "whoami"); !strings.Contains(out, "Username    alice\n") || !strings.Contains(out, "Groups      [devs system:authenticated]\n") {
		t.Errorf("alice: auth whoami:\n%s", out)
	}
	if out, errOut, code := runClient(t, alice, kubectl, "get", "pods"); code != 1 ||
		!strings.Contains(errOut, `Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default"`) {
		t.Errorf("alice: get pods without a binding: exit %d\n%s%s", code, out, errOut)
	}
	if out := mustClient(t, admin, kubectl, "auth", "whoami"); !strings.Contains(out, "Groups      [system:masters system:authenticated]\n") {
		t.Errorf("admin: auth whoami:\n%s", out)
	}
	// The admin gives the group devs edit in default; alice then runs a
	// pod with the wasmpod CLI, which uploads its module (by digest: any
	// user may) and names it wasmpod.local/...@sha256:...
	if out := mustClient(t, admin, kubectl, "create", "rolebinding", "devs-edit", "--clusterrole=edit", "--group=devs"); out != "rolebinding.rbac.authorization.k8s.io/devs-edit created\n" {
		t.Errorf("create rolebinding: %q", out)
	}
	mustClient(t, alice, binPath, "apply", "-f", "wasm-examples/hello/pod.yaml")
	if p := s.waitPod(t, "hello", "Succeeded", phaseIs(corev1.PodSucceeded)); !strings.HasPrefix(p.Spec.Containers[0].Image, "wasmpod.local/") {
		t.Errorf("alice's pod runs %q, want a wasmpod.local image", p.Spec.Containers[0].Image)
	}
	// Moving a tag changes what others run: not for alice. (The CLI's
	// message says only "Forbidden"; the server's Status names the path.)
	if out, errOut, code := runClient(t, alice, binPath, "image", "import", "go://./wasm-examples/hello", "hello:1"); code == 0 ||
		!strings.Contains(out+errOut, "Forbidden") {
		t.Errorf("alice: image import (a tag): exit %d\n%s%s", code, out, errOut)
	}
	if out := mustClient(t, alice, kubectl, "logs", "hello"); out != "hello from hello\nargs: a b\n" {
		t.Errorf("alice: logs hello: %q", out)
	}
	if out, _, code := runClient(t, alice, kubectl, "auth", "can-i", "create", "pods"); out != "yes\n" || code != 0 {
		t.Errorf("alice: can-i create pods: %q %d", out, code)
	}
	if out, _, code := runClient(t, alice, kubectl, "auth", "can-i", "create", "pods", "-n", "kube-system"); out != "no\n" || code != 1 {
		t.Errorf("alice: can-i create pods -n kube-system: %q %d", out, code)
	}
	// She may create pods, but not of the server's files (relative images
	// are refused to everyone under serve: 422 before this check).
	for _, img := range []string{"/etc/hello.wasm", "go:///srv/app", "file:///etc/hello.wasm"} {
		pod := filepath.Join(t.TempDir(), "pod.yaml")
		if err := os.WriteFile(pod, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n  - {name: c, image: \""+img+"\"}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, errOut, code := runClient(t, alice, kubectl, "create", "-f", pod); code != 1 ||
			!strings.Contains(errOut, `pods "x" is forbidden: spec.containers[0].image: Forbidden: only an admin (system:masters) may run host-path or go:// images`) {
			t.Errorf("alice: create a pod of %s: exit %d\n%s%s", img, code, out, errOut)
		}
	}

	// --token-auth-file needs a TCP listener, and a readable file.
	if out := serveRefused(t, t.TempDir(), "--token-auth-file", tokens); !strings.Contains(out, "--token-auth-file needs --listen") {
		t.Errorf("--token-auth-file without --listen:\n%s", out)
	}
	if out := serveRefused(t, t.TempDir(), "--listen", freeAddr(t), "--token-auth-file", filepath.Join(t.TempDir(), "missing")); !strings.Contains(out, "--token-auth-file: stat ") {
		t.Errorf("missing --token-auth-file:\n%s", out)
	}
}
