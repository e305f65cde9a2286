package apiserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmpod/wasmpod/internal/testkubectl"
	"github.com/wasmpod/wasmpod/store/memory"
)

// tlsEnv is a Server behind a real HTTPS listener (client-go sends bearer
// tokens to it, as to kube-apiserver), with per-user kubectl runners.
type tlsEnv struct {
	s   *Server
	srv *httptest.Server
	ca  string // base64 PEM of the serving certificate
}

func newTLSEnv(t *testing.T, opts HandlerOptions) *tlsEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, memory.New(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(s.Handler(opts))
	t.Cleanup(func() { cancel(); srv.CloseClientConnections(); srv.Close() })
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return &tlsEnv{s: s, srv: srv, ca: base64.StdEncoding.EncodeToString(pemBytes)}
}

// kubectlAs is upstream kubectl with a kubeconfig holding token.
func (e *tlsEnv) kubectlAs(t *testing.T, token string) *kubectlRunner {
	t.Helper()
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	cfg := "apiVersion: v1\nkind: Config\nclusters:\n- name: wasmpod\n  cluster:\n    server: " + e.srv.URL +
		"\n    certificate-authority-data: " + e.ca +
		"\ncontexts:\n- name: wasmpod\n  context:\n    cluster: wasmpod\n    user: me\n    namespace: default\ncurrent-context: wasmpod\nusers:\n- name: me\n  user:\n    token: " + token + "\n"
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &kubectlRunner{bin: testkubectl.Path(t), kubeconfig: kc, home: dir}
}

// try runs kubectl and returns its stdout, stderr and exit code.
func (k *kubectlRunner) try(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	c := k.cmd(args...)
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	}
	t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	return "", "", -1
}

// wantFail runs kubectl, expecting exit code 1 and stderr containing want.
func (k *kubectlRunner) wantFail(t *testing.T, want string, args ...string) {
	t.Helper()
	out, errOut, code := k.try(t, args...)
	if code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("kubectl %s: exit %d\nstdout: %s\nstderr: %s\nwant exit 1 and stderr containing: %s", strings.Join(args, " "), code, out, errOut, want)
	}
}

const (
	testAdminToken = "admin-0123456789abcdef"
	testTokenFile  = "alice-token-0123456789,alice,1001\n" +
		"bob-token-0123456789,bob,1002,\"devs,ops\"\n"
)

func newRBACEnv(t *testing.T) (*tlsEnv, *kubectlRunner, *kubectlRunner, *kubectlRunner) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "tokens.csv")
	if err := os.WriteFile(f, []byte(testTokenFile), 0o600); err != nil {
		t.Fatal(err)
	}
	users, err := LoadTokenFile(f)
	if err != nil {
		t.Fatal(err)
	}
	e := newTLSEnv(t, HandlerOptions{Token: testAdminToken, Users: users})
	return e, e.kubectlAs(t, testAdminToken), e.kubectlAs(t, "alice-token-0123456789"), e.kubectlAs(t, "bob-token-0123456789")
}

// TestRBACRealKubectl: users of a token file, authorized by RBAC, through
// upstream kubectl: whoami, upstream's 403s, a RoleBinding to view that
// opens one namespace, can-i, create role/rolebinding and their tables.
func TestRBACRealKubectl(t *testing.T) {
	_, admin, alice, bob := newRBACEnv(t)

	if got, want := alice.run(t, "auth", "whoami"), ""+
		"ATTRIBUTE   VALUE\n"+
		"Username    alice\n"+
		"UID         1001\n"+
		"Groups      [system:authenticated]\n"; got != want {
		t.Errorf("alice: kubectl auth whoami:\n%s\nwant:\n%s", got, want)
	}
	if got := bob.run(t, "auth", "whoami"); !strings.Contains(got, "Username    bob\n") || !strings.Contains(got, "Groups      [devs ops system:authenticated]\n") {
		t.Errorf("bob: kubectl auth whoami:\n%s", got)
	}

	// No bindings: upstream's 403, exit 1.
	alice.wantFail(t, `Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default"`, "get", "pods")
	alice.wantFail(t, `Error from server (Forbidden): nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at the cluster scope`, "get", "nodes")
	alice.wantFail(t, `Error from server (Forbidden): deployments.apps "web" is forbidden: User "alice" cannot get resource "deployments" in API group "apps" in the namespace "default"`, "get", "deployment", "web")
	if out, _, code := alice.try(t, "auth", "can-i", "list", "pods"); out != "no\n" || code != 1 {
		t.Errorf("alice can-i list pods: %q exit %d", out, code)
	}

	// The admin (system:masters) binds alice to view in default.
	admin.run(t, "create", "namespace", "dev")
	if got := admin.run(t, "create", "rolebinding", "alice-view", "--clusterrole=view", "--user=alice"); got != "rolebinding.rbac.authorization.k8s.io/alice-view created\n" {
		t.Errorf("create rolebinding: %q", got)
	}
	if out, errOut, code := alice.try(t, "get", "pods"); code != 0 || out != "" || !strings.Contains(errOut, "No resources found in default namespace.") {
		t.Errorf("alice get pods after the binding: exit %d %q %q", code, out, errOut)
	}
	alice.wantFail(t, `pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "dev"`, "get", "pods", "-n", "dev")
	alice.wantFail(t, `error: failed to create configmap: configmaps is forbidden: User "alice" cannot create resource "configmaps" in API group "" in the namespace "default"`, "create", "configmap", "x", "--from-literal=a=b")
	// Impersonation needs the impersonate verb; the admin has it.
	alice.wantFail(t, `Error from server (Forbidden): users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope`, "get", "pods", "--as=bob")
	if out, _, code := admin.try(t, "auth", "can-i", "list", "pods", "--as=alice"); out != "yes\n" || code != 0 {
		t.Errorf("admin: can-i list pods --as=alice: %q exit %d", out, code)
	}
	if out, _, code := admin.try(t, "auth", "can-i", "list", "pods", "-n", "dev", "--as=alice"); out != "no\n" || code != 1 {
		t.Errorf("admin: can-i list pods -n dev --as=alice: %q exit %d", out, code)
	}
	if got := admin.run(t, "auth", "whoami", "--as=carol", "--as-group=qa"); !strings.Contains(got, "Username    carol\n") || !strings.Contains(got, "Groups      [qa system:authenticated]\n") {
		t.Errorf("admin: whoami --as=carol --as-group=qa:\n%s", got)
	}
	admin.wantFail(t, `pods is forbidden: User "carol" cannot list resource "pods" in API group "" in the namespace "default"`, "get", "pods", "--as=carol")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"list", "pods"}, "yes"},
		{[]string{"get", "pods/log"}, "yes"},
		{[]string{"list", "pods", "-n", "dev"}, "no"},
		{[]string{"create", "pods"}, "no"},
		{[]string{"get", "secrets"}, "no"},
		{[]string{"get", "/apis"}, "yes"},
		{[]string{"get", "/backup"}, "no"},
	} {
		out, _, _ := alice.try(t, append([]string{"auth", "can-i"}, c.args...)...)
		if strings.TrimSpace(out) != c.want {
			t.Errorf("alice: can-i %s: %q, want %s", strings.Join(c.args, " "), out, c.want)
		}
	}
	if out, _, _ := admin.try(t, "auth", "can-i", "delete", "nodes"); out != "yes\n" {
		t.Errorf("admin: can-i delete nodes: %q", out)
	}
	list := alice.run(t, "auth", "can-i", "--list")
	if !strings.Contains(list, "pods/log ") || !strings.Contains(list, "selfsubjectaccessreviews.authorization.k8s.io ") || strings.Contains(list, "*.*") {
		t.Errorf("alice: can-i --list:\n%s", list)
	}

	// Roles and their tables.
	if got := admin.run(t, "create", "role", "pod-reader", "--verb=get,list", "--resource=pods", "-n", "dev"); got != "role.rbac.authorization.k8s.io/pod-reader created\n" {
		t.Errorf("create role: %q", got)
	}
	if got := admin.run(t, "get", "roles", "-n", "dev"); !strings.HasPrefix(got, "NAME         CREATED AT\npod-reader   ") {
		t.Errorf("get roles:\n%s", got)
	}
	admin.run(t, "create", "rolebinding", "devs-admin", "--clusterrole=admin", "--group=devs", "--serviceaccount=dev:builder", "-n", "dev")
	if got := admin.run(t, "get", "rolebindings", "-n", "dev", "-o", "wide"); !strings.HasPrefix(got, "NAME         ROLE                AGE   USERS   GROUPS   SERVICEACCOUNTS\ndevs-admin   ClusterRole/admin   ") ||
		!strings.HasSuffix(got, "         devs     dev/builder\n") {
		t.Errorf("get rolebindings -o wide:\n%s", got)
	}
	if got := admin.run(t, "get", "clusterrolebinding", "cluster-admin"); !strings.HasPrefix(got, "NAME            ROLE                        AGE\ncluster-admin   ClusterRole/cluster-admin   ") {
		t.Errorf("get clusterrolebinding cluster-admin:\n%s", got)
	}
	if got := admin.run(t, "get", "clusterroles", "admin", "edit", "view", "cluster-admin"); !strings.HasPrefix(got, "NAME            CREATED AT\nadmin ") {
		t.Errorf("get clusterroles:\n%s", got)
	}

	// Escalation: bob (admin in dev, through the group devs) may grant
	// what he holds, not more.
	if got := bob.run(t, "create", "role", "ok", "--verb=get", "--resource=pods", "-n", "dev"); got != "role.rbac.authorization.k8s.io/ok created\n" {
		t.Errorf("bob: create role ok: %q", got)
	}
	bob.wantFail(t, `Error from server (Forbidden): roles.rbac.authorization.k8s.io "big" is forbidden: user "bob" (groups=["devs" "ops" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:
{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}`, "create", "role", "big", "--verb=get", "--resource=nodes,pods", "-n", "dev")
	bob.wantFail(t, `rolebindings.rbac.authorization.k8s.io "root" is forbidden: user "bob" (groups=["devs" "ops" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:
{APIGroups:["*"], Resources:["*"], Verbs:["*"]}`, "create", "rolebinding", "root", "--clusterrole=cluster-admin", "--user=bob", "-n", "dev")
	bob.wantFail(t, `clusterrolebindings.rbac.authorization.k8s.io is forbidden: User "bob" cannot create resource "clusterrolebindings" in API group "rbac.authorization.k8s.io" at the cluster scope`,
		"create", "clusterrolebinding", "root", "--clusterrole=cluster-admin", "--user=bob")
	if got := bob.run(t, "create", "rolebinding", "alice-view", "--clusterrole=view", "--user=alice", "-n", "dev"); got != "rolebinding.rbac.authorization.k8s.io/alice-view created\n" {
		t.Errorf("bob: create rolebinding alice-view: %q", got)
	}
	if _, errOut, code := alice.try(t, "get", "pods", "-n", "dev"); code != 0 || !strings.Contains(errOut, "No resources found in dev namespace.") {
		t.Errorf("alice get pods -n dev after bob's binding: exit %d %q", code, errOut)
	}
	// A roleRef cannot change; validation names the field.
	admin.wantFail(t, `The RoleBinding "bad" is invalid: roleRef.kind: Unsupported value: "Secret": supported values: "Role", "ClusterRole"`,
		"create", "-f", writeTemp(t, "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: bad, namespace: dev}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Secret, name: x}\n"))
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "obj.yaml")
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestHostImagesAdminOnlyRealKubectl: a user who may create pods still may
// not run host-path or go:// images; the admin may.
func TestHostImagesAdminOnlyRealKubectl(t *testing.T) {
	_, admin, _, bob := newRBACEnv(t)
	admin.run(t, "create", "namespace", "dev")
	admin.run(t, "create", "rolebinding", "devs-edit", "--clusterrole=edit", "--group=devs", "-n", "dev")
	// kubectl run's reference check refuses "/abs/path.wasm" itself; a
	// manifest carries it, and run takes a relative "hello.wasm".
	absPod := writeTemp(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: dev}\nspec:\n  containers:\n  - {name: c, image: /abs/path.wasm}\n")
	bob.wantFail(t, `Error from server (Forbidden): error when creating "`+absPod+`": pods "p" is forbidden: spec.containers[0].image: Forbidden: only an admin (system:masters) may run host-path or go:// images`,
		"create", "-f", absPod)
	bob.wantFail(t, `Error from server (Forbidden): pods "q" is forbidden: spec.containers[0].image: Forbidden: only an admin (system:masters) may run host-path or go:// images, which read the server's files; use a wasmpod.local image`,
		"run", "q", "--image=hello.wasm", "-n", "dev")
	bob.wantFail(t, `deployments.apps "d" is forbidden: spec.template.spec.containers[0].image: Forbidden: only an admin`,
		"create", "deployment", "d", "--image=go://./server", "-n", "dev")
	if got := bob.run(t, "run", "ok", "--image=wasmpod.local/hello:1", "-n", "dev"); got != "pod/ok created\n" {
		t.Errorf("bob: run wasmpod.local image: %q", got)
	}
	// Nor by changing an image later, with a patch or server-side apply.
	bob.wantFail(t, `Error from server (Forbidden): pods "ok" is forbidden: spec.containers[0].image: Forbidden: only an admin`,
		"patch", "pod", "ok", "-n", "dev", "--type=json", "-p", `[{"op":"replace","path":"/spec/containers/0/image","value":"/abs/path.wasm"}]`)
	bob.wantFail(t, `pods "ok" is forbidden: spec.containers[0].image: Forbidden: only an admin`,
		"apply", "--server-side", "--force-conflicts", "-n", "dev", "-f", writeTemp(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: ok, namespace: dev}\nspec:\n  containers:\n  - {name: ok, image: go:///srv/app}\n"))
	if got := admin.run(t, "create", "-f", absPod); got != "pod/p created\n" {
		t.Errorf("admin: run host image: %q", got)
	}
	// bob may still label the admin's pod (its image is not new).
	if got := bob.run(t, "label", "pod", "p", "a=b", "-n", "dev"); got != "pod/p labeled\n" {
		t.Errorf("bob: label the admin's pod: %q", got)
	}
}

// TestAuthnTokens: the admin token, a token file's users, unknown tokens
// (401, public paths too) and anonymous public paths.
func TestAuthnTokens(t *testing.T) {
	e, _, _, _ := newRBACEnv(t)
	bad := e.kubectlAs(t, "not-a-token-0123456789")
	bad.wantFail(t, "error: You must be logged in to the server (the server has asked for the client to provide credentials)", "get", "pods")
	if out, _, code := e.kubectlAs(t, testAdminToken).try(t, "get", "--raw", "/readyz"); code != 0 || out != "ok" {
		t.Errorf("admin /readyz: %q %d", out, code)
	}
}
