package main

// The kubectl user's suite (issue 11): real kubectl v1.37.2 (built by
// internal/testkubectl) against `wasmpod serve --listen`, with nothing but
// the README's two lines (serve, then KUBECONFIG=<data-dir>/kubeconfig) and
// kubectl's DEFAULT flags, running real wasm pods from wasm-examples.
// Every subtest asserts on kubectl's real output: columns, messages and exit
// codes.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/testkubectl"
)

// kubectlUser runs kubectl as a user who followed the README: KUBECONFIG
// and nothing else.
type kubectlUser struct {
	bin string
	env []string
}

func newKubectlUser(t *testing.T, kubeconfig string) *kubectlUser {
	t.Helper()
	return &kubectlUser{bin: testkubectl.Path(t), env: cleanEnv(t, kubeconfig)}
}

// run returns stdout, stderr and the exit code.
func (k *kubectlUser) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runClient(t, k.env, k.bin, args...)
}

// must runs kubectl and fails the test unless it exits 0.
func (k *kubectlUser) must(t *testing.T, args ...string) string {
	t.Helper()
	return mustClient(t, k.env, k.bin, args...)
}

// bgKubectl is a kubectl running in the background; exited is closed
// when it has exited.
type bgKubectl struct {
	exited chan struct{}
}

func (b *bgKubectl) running() bool {
	select {
	case <-b.exited:
		return false
	default:
		return true
	}
}

// start runs kubectl in the background until ctx ends.
func (k *kubectlUser) start(t *testing.T, ctx context.Context, args ...string) (*bgKubectl, *syncBuffer, *syncBuffer) {
	t.Helper()
	cmd := exec.CommandContext(ctx, k.bin, args...)
	cmd.Env, cmd.Dir = k.env, repoRoot
	out, errOut := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &bgKubectl{exited: make(chan struct{})}
	go func() { cmd.Wait(); close(b.exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-b.exited })
	return b, out, errOut
}

// wantLines fails unless every pattern matches a whole line of out.
func wantLines(t *testing.T, what, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(`(?m)^` + p + `$`).MatchString(out) {
			t.Errorf("%s: no line matches %q in:\n%s", what, p, out)
		}
	}
}

// TestKubectlVerbsDefaultFlags: the closing list, one subtest per
// verb, in the order a user meets them.
func TestKubectlVerbsDefaultFlags(t *testing.T) {
	t.Parallel()
	dir, addr := t.TempDir(), freeAddr(t)
	serve(t, dir, "--listen", addr)
	k := newKubectlUser(t, filepath.Join(dir, "kubeconfig"))
	// The wasmpod CLI builds go:// images here, with the tests' warm caches.
	wasmpodEnv := buildEnv(t, filepath.Join(dir, "kubeconfig"))

	// The pods come from the examples, applied with the wasmpod CLI and the
	// same kubeconfig (relative go:// images are resolved, built and
	// uploaded by the client that read the manifest).
	for _, m := range []string{"wasm-examples/web/pod.yaml", "wasm-examples/toolbox/pod.yaml", "wasm-examples/hello/pod.yaml"} {
		mustClient(t, wasmpodEnv, binPath, "apply", "-f", m)
	}
	nodeName := ""

	t.Run("api-resources", func(t *testing.T) {
		out := k.must(t, "api-resources")
		wantLines(t, "api-resources", out,
			`NAME\s+SHORTNAMES\s+APIVERSION\s+NAMESPACED\s+KIND`,
			`pods\s+po\s+v1\s+true\s+Pod`,
			`nodes\s+no\s+v1\s+false\s+Node`,
			`deployments\s+deploy\s+apps/v1\s+true\s+Deployment`,
			`selfsubjectaccessreviews\s+authorization.k8s.io/v1\s+false\s+SelfSubjectAccessReview`)
		out = k.must(t, "api-resources", "--categories=all", "-o", "name")
		wantLines(t, "api-resources --categories=all", out, `pods`, `services`, `deployments.apps`, `jobs.batch`)
	})
	t.Run("api-versions", func(t *testing.T) {
		wantLines(t, "api-versions", k.must(t, "api-versions"), `v1`, `apps/v1`, `batch/v1`, `authorization.k8s.io/v1`, `authentication.k8s.io/v1`)
	})
	t.Run("wait", func(t *testing.T) {
		out := k.must(t, "wait", "--for=condition=Ready", "pod/web-1", "pod/web-2", "pod/toolbox", "--timeout=120s")
		wantLines(t, "wait Ready", out, `pod/web-1 condition met`, `pod/web-2 condition met`, `pod/toolbox condition met`)
		for _, p := range []string{"hello", "client"} {
			out = k.must(t, "wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/"+p, "--timeout=120s")
			wantLines(t, "wait Succeeded", out, `pod/`+p+` condition met`)
		}
		// A condition that never holds: exit 1 and kubectl's message.
		_, errOut, code := k.run(t, "wait", "--for=condition=Ready", "pod/hello", "--timeout=1s")
		if code != 1 || !strings.Contains(errOut, `error: timed out waiting for the condition on pods/hello`) {
			t.Errorf("wait that times out: exit %d, %s", code, errOut)
		}
	})
	t.Run("get", func(t *testing.T) {
		out := k.must(t, "get", "pods")
		wantLines(t, "get pods", out,
			`NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE`,
			`web-1\s+1/1\s+Running\s+0\s+\d+s`,
			`toolbox\s+1/1\s+Running\s+0\s+\d+s`,
			`hello\s+0/1\s+Completed\s+0\s+\d+s`)
		out = k.must(t, "get", "pods", "-o", "wide")
		wantLines(t, "get pods -o wide", out,
			`NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES`,
			`web-1\s+1/1\s+Running\s+0\s+\d+s\s+10\.\d+\.\d+\.\d+\s+\S+\s+<none>\s+<none>`)
		nodeName = strings.TrimSpace(k.must(t, "get", "pod", "web-1", "-o", "jsonpath={.spec.nodeName}"))
		if nodeName == "" {
			t.Fatal("web-1 has no node")
		}
		wantLines(t, "get nodes", k.must(t, "get", "nodes"),
			`NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION`, regexp.QuoteMeta(nodeName)+`\s+Ready\s+<none>\s+\S+\s+v1\.37\.\S+`)
		wantLines(t, "get pods -A", k.must(t, "get", "pods", "-A"),
			`NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE`, `default\s+web-2\s+1/1\s+Running\s+0\s+\S+`)
		if out := k.must(t, "get", "pods", "-l", "app=web", "-o", "name"); out != "pod/web-1\npod/web-2\n" {
			t.Errorf("get pods -l app=web -o name: %q", out)
		}
		if out := k.must(t, "get", "pods", "--field-selector=status.phase=Succeeded", "-o", "name"); out != "pod/client\npod/hello\n" {
			t.Errorf("get pods --field-selector: %q", out)
		}
		if out := k.must(t, "get", "pods", "--sort-by=.metadata.name", "-o", "jsonpath={.items[*].metadata.name}"); out != "client hello toolbox web-1 web-2" {
			t.Errorf("get pods --sort-by -o jsonpath: %q", out)
		}
		wantLines(t, "custom-columns", k.must(t, "get", "pod", "web-1", "-o", "custom-columns=NAME:.metadata.name,PORT:.spec.containers[0].ports[0].containerPort"),
			`NAME\s+PORT`, `web-1\s+8080`)
		wantLines(t, "get all", k.must(t, "get", "all"),
			`NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE`, `pod/web-1\s+1/1\s+Running\s+0\s+\S+`,
			`NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE`, `service/web\s+ClusterIP\s+10\.\S+\s+<none>\s+80/TCP\s+\S+`)
		wantLines(t, "get endpoints", k.must(t, "get", "endpoints", "web"),
			`NAME\s+ENDPOINTS\s+AGE`, `web\s+10\.\S+:8080,10\.\S+:8080\s+\S+`)
		wantLines(t, "get events", k.must(t, "get", "events", "--field-selector", "involvedObject.name=web-1"),
			`LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE`,
			`\S+\s+Normal\s+Scheduled\s+pod/web-1\s+Successfully assigned default/web-1 to `+regexp.QuoteMeta(nodeName),
			`\S+\s+Normal\s+Started\s+pod/web-1\s+Started container server`)
		// A missing object: exit 1 and upstream's message.
		_, errOut, code := k.run(t, "get", "pod", "nope")
		if code != 1 || errOut != "Error from server (NotFound): pods \"nope\" not found\n" {
			t.Errorf("get pod nope: exit %d %q", code, errOut)
		}
	})
	t.Run("get -w", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, out, _ := k.start(t, ctx, "get", "pods", "web-1", "--watch-only")
		// The watch is established once kubectl has asked for it; a label
		// change is then one event, one row.
		deadline := time.Now().Add(30 * time.Second)
		for n := 0; !strings.Contains(out.String(), "web-1") && time.Now().Before(deadline); n++ {
			k.must(t, "label", "pod", "web-1", "--overwrite", "watched=n"+strings.Repeat("x", n%5))
			time.Sleep(300 * time.Millisecond)
		}
		wantLines(t, "get -w", out.String(), `NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE`, `web-1\s+1/1\s+Running\s+0\s+\S+`)
	})
	t.Run("describe", func(t *testing.T) {
		out := k.must(t, "describe", "pod", "web-1")
		wantLines(t, "describe pod", out,
			`Name:\s+web-1`, `Namespace:\s+default`, `Node:\s+`+regexp.QuoteMeta(nodeName)+`/\S+`, `Labels:\s+app=web`,
			`Status:\s+Running`, `IP:\s+10\.\S+`, `Containers:`, `  server:`, `    Image:\s+\S+`, `    Port:\s+8080/TCP \(http\)`,
			`    State:\s+Running`, `    Ready:\s+True`, `      POD_NAME:\s+web-1 \(v1:metadata.name\)`,
			`  Ready\s+True\s*`, `Events:`,
			`  Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned default/web-1 to `+regexp.QuoteMeta(nodeName))
		wantLines(t, "describe node", k.must(t, "describe", "node", nodeName), `Name:\s+`+regexp.QuoteMeta(nodeName), `Conditions:`)
		wantLines(t, "describe service", k.must(t, "describe", "service", "web"), `Name:\s+web`, `Selector:\s+app=web`, `Endpoints:\s+10\.\S+:8080,10\.\S+:8080`)
	})
	t.Run("logs", func(t *testing.T) {
		wantLines(t, "logs web-1", k.must(t, "logs", "web-1"), `web-1 listening on \S+:8080`)
		const hello = "hello from hello\nargs: a b\n"
		if out := k.must(t, "logs", "hello"); out != hello {
			t.Errorf("logs hello: %q", out)
		}
		if out := k.must(t, "logs", "-f", "hello"); out != hello {
			t.Errorf("logs -f hello: %q", out)
		}
		wantLines(t, "logs -l", k.must(t, "logs", "-l", "app=web", "--prefix"),
			`\[pod/web-1/server\] web-1 listening on \S+:8080`, `\[pod/web-2/server\] web-2 listening on \S+:8080`)
		// logs -f of a running pod streams until interrupted.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd, out, _ := k.start(t, ctx, "logs", "-f", "web-2")
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "listening") && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
		if !cmd.running() || !strings.Contains(out.String(), "web-2 listening on") {
			t.Errorf("logs -f web-2: running %v, %q", cmd.running(), out.String())
		}
	})
	t.Run("exec", func(t *testing.T) {
		if out := k.must(t, "exec", "toolbox", "--", "toolbox", "echo", "via", "kubectl"); out != "via kubectl\n" {
			t.Errorf("exec echo: %q", out)
		}
		out, errOut, code := runClientStdin(t, k, "written by kubectl exec -i\n", "exec", "-i", "toolbox", "--", "toolbox", "tee", "/data/note")
		if code != 0 || out != "written by kubectl exec -i\n" {
			t.Errorf("exec -i tee: exit %d %q %q", code, out, errOut)
		}
		if out := k.must(t, "exec", "toolbox", "--", "toolbox", "cat", "/data/note"); out != "written by kubectl exec -i\n" {
			t.Errorf("exec cat: %q", out)
		}
		if out := k.must(t, "exec", "toolbox", "--", "toolbox", "env"); !strings.Contains(out, "GREETING=hello from the pod's environment\n") {
			t.Errorf("exec env: %q", out)
		}
		// kubectl cp into and out of the example's toolbox (it has tar).
		local := filepath.Join(t.TempDir(), "from-cp.txt")
		os.WriteFile(local, []byte("copied into the toolbox\n"), 0o600)
		k.must(t, "cp", local, "toolbox:/data/from-cp.txt")
		if out := k.must(t, "exec", "toolbox", "--", "toolbox", "cat", "/data/from-cp.txt"); out != "copied into the toolbox\n" {
			t.Errorf("exec cat after cp: %q", out)
		}
		k.must(t, "cp", "toolbox:/data/note", local)
		if b, _ := os.ReadFile(local); string(b) != "written by kubectl exec -i\n" {
			t.Errorf("cp out of the toolbox: %q", b)
		}
		_, errOut, code = k.run(t, "exec", "toolbox", "--", "toolbox", "exit", "3")
		if code != 3 || !strings.Contains(errOut, "command terminated with exit code 3") {
			t.Errorf("exec exit 3: exit %d %q", code, errOut)
		}
	})
	t.Run("create", func(t *testing.T) {
		for _, c := range []struct{ args, want string }{
			{"create configmap settings --from-literal=mode=slow", "configmap/settings created"},
			{"create secret generic creds --from-literal=user=me", "secret/creds created"},
			{"create namespace team-a", "namespace/team-a created"},
			{"create deployment d1 --image=wasmpod.local/hello", "deployment.apps/d1 created"},
			{"create job j1 --image=wasmpod.local/hello", "job.batch/j1 created"},
			{"create service clusterip s1 --tcp=80:8080", "service/s1 created"},
			{"create configmap in-team --from-literal=a=b -n team-a", "configmap/in-team created"},
		} {
			if out := k.must(t, strings.Fields(c.args)...); out != c.want+"\n" {
				t.Errorf("kubectl %s: %q, want %q", c.args, out, c.want)
			}
		}
		wantLines(t, "get cm", k.must(t, "get", "configmap", "settings"), `NAME\s+DATA\s+AGE`, `settings\s+1\s+\S+`)
		// A Secret's type defaults to Opaque and is immutable, as upstream.
		wantLines(t, "get secret", k.must(t, "get", "secret", "creds"), `NAME\s+TYPE\s+DATA\s+AGE`, `creds\s+Opaque\s+1\s+\S+`)
		_, errOut, code := k.run(t, "patch", "secret", "creds", "--type=merge", "-p", `{"type":"kubernetes.io/tls"}`)
		if code != 1 || !strings.Contains(errOut, `The Secret "creds" is invalid: type: Invalid value: "kubernetes.io/tls": field is immutable`) {
			t.Errorf("changing a Secret's type: exit %d %q", code, errOut)
		}
		live := k.must(t, "get", "secret", "creds", "-o", "yaml")
		noType := filepath.Join(t.TempDir(), "creds.yaml")
		os.WriteFile(noType, []byte(strings.Replace(live, "type: Opaque\n", "", 1)), 0o600)
		if out := k.must(t, "replace", "-f", noType); out != "secret/creds replaced\n" {
			t.Errorf("replace of a Secret without type: %q", out)
		}
		if got := k.must(t, "get", "secret", "creds", "-o", "jsonpath={.type}"); got != "Opaque" {
			t.Errorf("type after a replace without one: %q", got)
		}
		wantLines(t, "get deploy", k.must(t, "get", "deployment", "d1"), `NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE`, `d1\s+0/1\s+[01]\s+0\s+\S+`) // UP-TO-DATE 1 once the Deployment controller made its ReplicaSet
		wantLines(t, "get ns", k.must(t, "get", "namespace", "team-a"), `NAME\s+STATUS\s+AGE`, `team-a\s+Active\s+\S+`)
		if out := k.must(t, "get", "configmaps", "-n", "team-a", "-o", "name"); !strings.Contains(out, "configmap/in-team\n") {
			t.Errorf("get cm -n team-a: %q", out)
		}
		// Creating it again: AlreadyExists, exit 1.
		_, errOut, code = k.run(t, "create", "configmap", "settings")
		if code != 1 || errOut != "error: failed to create configmap: configmaps \"settings\" already exists\n" {
			t.Errorf("create twice: exit %d %q", code, errOut)
		}
	})
	t.Run("label annotate patch", func(t *testing.T) {
		if out := k.must(t, "label", "pod", "web-1", "tier=front"); out != "pod/web-1 labeled\n" {
			t.Errorf("label: %q", out)
		}
		if out := k.must(t, "annotate", "pod", "web-1", "note=hello"); out != "pod/web-1 annotated\n" {
			t.Errorf("annotate: %q", out)
		}
		if out := k.must(t, "get", "pods", "-l", "tier=front", "-o", "name"); out != "pod/web-1\n" {
			t.Errorf("get -l tier=front: %q", out)
		}
		for _, p := range [][]string{
			{"patch", "configmap", "settings", "-p", `{"data":{"mode":"fast"}}`},
			{"patch", "configmap", "settings", "--type=merge", "-p", `{"data":{"extra":"1"}}`},
			{"patch", "configmap", "settings", "--type=json", "-p", `[{"op":"add","path":"/data/json","value":"2"}]`},
		} {
			if out := k.must(t, p...); out != "configmap/settings patched\n" {
				t.Errorf("kubectl %v: %q", p, out)
			}
		}
		if out := k.must(t, "get", "configmap", "settings", "-o", "jsonpath={.data}"); out != `{"extra":"1","json":"2","mode":"fast"}` {
			t.Errorf("patched data: %s", out)
		}
		// Unchanged: "(no change)".
		if out := k.must(t, "patch", "configmap", "settings", "-p", `{"data":{"mode":"fast"}}`); out != "configmap/settings patched (no change)\n" {
			t.Errorf("patch without change: %q", out)
		}
		// A bad patch: exit 1 with the server's message.
		_, errOut, code := k.run(t, "patch", "pod", "web-1", "--type=json", "-p", `[{"op":"replace","path":"/spec/containers/0/image","value":""}]`)
		if code != 1 || !strings.Contains(errOut, `The Pod "web-1" is invalid`) {
			t.Errorf("invalid patch: exit %d %q", code, errOut)
		}
	})
	t.Run("diff", func(t *testing.T) {
		m := filepath.Join(t.TempDir(), "cfg.yaml")
		write := func(mode string) {
			os.WriteFile(m, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  mode: "+mode+"\n"), 0o600)
		}
		write("slow")
		mustClient(t, wasmpodEnv, binPath, "apply", "-f", m)
		if out, errOut, code := k.run(t, "diff", "-f", m); code != 0 || out != "" {
			t.Errorf("diff unchanged: exit %d\n%s%s", code, out, errOut)
		}
		write("fast")
		out, errOut, code := k.run(t, "diff", "-f", m)
		if code != 1 || !regexp.MustCompile(`(?m)^-  mode: slow$`).MatchString(out) || !regexp.MustCompile(`(?m)^\+  mode: fast$`).MatchString(out) {
			t.Errorf("diff changed: exit %d\n%s%s", code, out, errOut)
		}
		// diff stored nothing.
		if got := k.must(t, "get", "configmap", "cfg", "-o", "jsonpath={.data.mode}"); got != "slow" {
			t.Errorf("after diff: mode %q", got)
		}
	})
	t.Run("apply", func(t *testing.T) {
		// The user's own manifest: a pod of the web example's server (an
		// absolute go:// image) and its Service, with kubectl's default
		// --validate=strict (it downloads /openapi/v3).
		m := filepath.Join(t.TempDir(), "site.yaml")
		write := func(extraLabel string) {
			os.WriteFile(m, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: site
  labels:
    app: site`+extraLabel+`
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: server
    image: go://`+filepath.Join(repoRoot, "wasm-examples", "web", "server")+`
    ports:
    - name: http
      containerPort: 8080
    env:
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
---
apiVersion: v1
kind: Service
metadata:
  name: site
spec:
  selector:
    app: site
  ports:
  - name: http
    port: 80
    targetPort: http
`), 0o600)
		}
		write("")
		if out := k.must(t, "apply", "-f", m); out != "pod/site created\nservice/site created\n" {
			t.Errorf("apply: %q", out)
		}
		wantLines(t, "wait", k.must(t, "wait", "--for=condition=Ready", "pod/site", "--timeout=120s"), `pod/site condition met`)
		wantLines(t, "logs", k.must(t, "logs", "site"), `site listening on \S+:8080`)
		if out := k.must(t, "apply", "-f", m); out != "pod/site unchanged\nservice/site unchanged\n" {
			t.Errorf("apply again: %q", out)
		}
		write("\n    tier: front")
		if out, errOut, code := k.run(t, "diff", "-f", m); code != 1 || !regexp.MustCompile(`(?m)^\+    tier: front$`).MatchString(out) {
			t.Errorf("diff of the changed manifest: exit %d\n%s%s", code, out, errOut)
		}
		if out := k.must(t, "apply", "-f", m); out != "pod/site configured\nservice/site unchanged\n" {
			t.Errorf("apply changed: %q", out)
		}
		wantLines(t, "labels", k.must(t, "get", "pod", "site", "--show-labels"), `site\s+1/1\s+Running\s+0\s+\S+\s+app=site,tier=front`)
	})
	t.Run("port-forward", func(t *testing.T) {
		for _, c := range []struct{ target, remote string }{{"pod/site", "8080"}, {"svc/site", "80"}} {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd, out, errOut := k.start(t, ctx, "port-forward", c.target, ":"+c.remote)
			re := regexp.MustCompile(`(?m)^Forwarding from 127\.0\.0\.1:(\d+) -> 8080$`)
			var m []string
			for deadline := time.Now().Add(30 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				m = re.FindStringSubmatch(out.String())
			}
			if m == nil {
				t.Fatalf("port-forward %s: %q %q", c.target, out.String(), errOut.String())
			}
			for i := 0; i < 3; i++ { // a connection each
				resp, err := http.Get("http://127.0.0.1:" + m[1] + "/")
				if err != nil {
					t.Fatalf("port-forward %s: %v\n%s", c.target, err, errOut.String())
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "hello from site\n" {
					t.Errorf("port-forward %s: %q", c.target, b)
				}
			}
			wantLines(t, "port-forward", out.String(), `Handling connection for `+m[1])
			if !cmd.running() || errOut.String() != "" {
				t.Errorf("port-forward %s: running %v, stderr %q", c.target, cmd.running(), errOut.String())
			}
			cancel()
		}
	})
	t.Run("create -f replace edit", func(t *testing.T) {
		work := t.TempDir()
		cm := filepath.Join(work, "cm.yaml")
		os.WriteFile(cm, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: conf\ndata:\n  mode: slow\n"), 0o600)
		if out := k.must(t, "create", "-f", cm); out != "configmap/conf created\n" {
			t.Errorf("create -f: %q", out)
		}
		live := k.must(t, "get", "configmap", "conf", "-o", "yaml")
		os.WriteFile(cm, []byte(strings.Replace(live, "mode: slow", "mode: fast", 1)), 0o600)
		if out := k.must(t, "replace", "-f", cm); out != "configmap/conf replaced\n" {
			t.Errorf("replace: %q", out)
		}
		editor := filepath.Join(work, "editor.sh")
		os.WriteFile(editor, []byte("#!/bin/sh\nsed -i 's/mode: fast/mode: edited/' \"$1\"\n"), 0o700)
		edit := &kubectlUser{bin: k.bin, env: append(append([]string{}, k.env...), "KUBE_EDITOR="+editor)}
		if out := edit.must(t, "edit", "configmap", "conf"); out != "configmap/conf edited\n" {
			t.Errorf("edit: %q", out)
		}
		if got := k.must(t, "get", "configmap", "conf", "-o", "jsonpath={.data.mode}"); got != "edited" {
			t.Errorf("after edit: %q", got)
		}
		// An edit that changes nothing.
		noop := &kubectlUser{bin: k.bin, env: append(append([]string{}, k.env...), "KUBE_EDITOR=true")}
		if out, errOut, code := noop.run(t, "edit", "configmap", "conf"); code != 0 || out != "" || errOut != "Edit cancelled, no changes made.\n" {
			t.Errorf("edit without change: exit %d %q %q", code, out, errOut)
		}
	})
	t.Run("explain", func(t *testing.T) {
		wantLines(t, "explain pods", k.must(t, "explain", "pods"), `KIND:\s+Pod`, `VERSION:\s+v1`, `FIELDS:`, `  spec\t<PodSpec>`)
		wantLines(t, "explain field", k.must(t, "explain", "pod.spec.containers.image"), `FIELD:\s+image <string>`)
		wantLines(t, "explain deployments", k.must(t, "explain", "deployments.spec.replicas"), `GROUP:\s+apps`, `FIELD:\s+replicas <integer>`)
		_, errOut, code := k.run(t, "explain", "pods.spec.nope")
		if code != 1 || !strings.Contains(errOut, `field "nope" does not exist`) {
			t.Errorf("explain of a missing field: exit %d %q", code, errOut)
		}
	})
	t.Run("apply --server-side", func(t *testing.T) {
		m := filepath.Join(t.TempDir(), "ssa.yaml")
		write := func(mode string) {
			os.WriteFile(m, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  mode: "+mode+"\n"), 0o600)
		}
		write("slow")
		if out := k.must(t, "apply", "--server-side", "-f", m); out != "configmap/ssa serverside-applied\n" {
			t.Errorf("apply --server-side: %q", out)
		}
		if out := k.must(t, "apply", "--server-side", "-f", m); out != "configmap/ssa serverside-applied\n" {
			t.Errorf("apply --server-side again: %q", out)
		}
		write("fast")
		_, errOut, code := k.run(t, "apply", "--server-side", "--field-manager=other", "-f", m)
		if code != 1 || !strings.Contains(errOut, `Apply failed with 1 conflict: conflict with "kubectl": .data.mode`) {
			t.Errorf("conflict: exit %d %q", code, errOut)
		}
		if got := k.must(t, "get", "configmap", "ssa", "-o", "jsonpath={.data.mode}"); got != "slow" {
			t.Errorf("after the conflict: mode %q", got)
		}
		if out := k.must(t, "apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", m); out != "configmap/ssa serverside-applied\n" {
			t.Errorf("--force-conflicts: %q", out)
		}
		out := k.must(t, "get", "configmap", "ssa", "-o", "yaml", "--show-managed-fields")
		// other took .data.mode, kubectl's only field: its entry is gone.
		wantLines(t, "managed fields", out, `  managedFields:`, `    manager: other`, `    operation: Apply`, `  mode: fast`)
		if strings.Contains(out, "manager: kubectl") {
			t.Errorf("kubectl still manages fields:\n%s", out)
		}
	})
	t.Run("relative image", func(t *testing.T) {
		// What a user tries first: an example's manifest as it is. Its
		// go://. image is relative to the manifest, which only the client
		// read: 422 naming the field and saying what to do instead.
		k.must(t, "create", "namespace", "kubectl-only")
		_, errOut, code := k.run(t, "apply", "-n", "kubectl-only", "-f", "wasm-examples/hello/pod.yaml")
		if code != 1 || !strings.Contains(errOut, `Pod "hello" is invalid: spec.containers[0].image: Invalid value: "go://.": a relative image is resolved by the client that read the manifest, not the server`) {
			t.Errorf("apply of a relative image: exit %d %q", code, errOut)
		}
	})
	t.Run("strict validation", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.yaml")
		os.WriteFile(bad, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\ndatta:\n  a: b\n"), 0o600)
		for _, verb := range []string{"apply", "create"} {
			_, errOut, code := k.run(t, verb, "-f", bad)
			want := `Error from server (BadRequest): error when creating "` + bad + `": ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "datta"` + "\n"
			if code != 1 || errOut != want {
				t.Errorf("%s with an unknown field: exit %d %q", verb, code, errOut)
			}
		}
		_, errOut, code := k.run(t, "get", "configmap", "bad")
		if code != 1 || !strings.Contains(errOut, `configmaps "bad" not found`) {
			t.Errorf("the refused ConfigMap: exit %d %q", code, errOut)
		}
	})
	t.Run("run", func(t *testing.T) {
		// kubectl run takes an image reference that passes kubectl's
		// check: a module imported into the server's store.
		if out := mustClient(t, wasmpodEnv, binPath, "image", "import", "go://./wasm-examples/hello", "hello"); out != "wasmpod.local/hello:latest\n" {
			t.Errorf("wasmpod image import: %q", out)
		}
		if out := k.must(t, "run", "hi", "--image=wasmpod.local/hello", "--restart=Never", "--", "from", "run"); out != "pod/hi created\n" {
			t.Errorf("run: %q", out)
		}
		wantLines(t, "wait", k.must(t, "wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/hi", "--timeout=120s"), `pod/hi condition met`)
		if out := k.must(t, "logs", "hi"); out != "hello from an unnamed pod\nargs: from run\n" {
			t.Errorf("logs hi: %q", out)
		}
		wantLines(t, "get pod hi -o wide", k.must(t, "get", "pod", "hi", "-o", "wide"), `hi\s+0/1\s+Completed\s+0\s+\S+\s+10\.\S+\s+`+regexp.QuoteMeta(nodeName)+`\s+<none>\s+<none>`)
		// run -i --rm: the guest greets, copies stdin to stdout and exits
		// with the given code; the output is printed once, the pod deleted
		// and the code is kubectl's.
		mustClient(t, wasmpodEnv, binPath, "image", "import", "go://./wasm-examples/testguests/tar", "guest")
		for _, code := range []int{0, 3} {
			name := fmt.Sprintf("greet-%d", code)
			out, errOut, got := runClientStdin(t, k, "typed line\n", "run", "-i", "--rm", name, "--image=wasmpod.local/guest", "--restart=Never", "--", "greet", strconv.Itoa(code))
			if got != code || strings.Count(out, "hello from the guest\n") != 1 || strings.Count(out, "typed line\n") != 1 ||
				!strings.HasSuffix(out, "pod \""+name+"\" deleted from default namespace\n") {
				t.Errorf("run -i --rm (exit %d): exit %d\nstdout:\n%s\nstderr:\n%s", code, got, out, errOut)
			}
		}
		// A path is not an image reference kubectl accepts.
		_, errOut, code := k.run(t, "run", "bad", "--image=go://./wasm-examples/hello")
		if code != 1 || errOut != "error: invalid image name \"go://./wasm-examples/hello\": invalid reference format\n" {
			t.Errorf("run with a go:// image: exit %d %q", code, errOut)
		}
	})
	t.Run("cp attach", func(t *testing.T) {
		// kubectl cp runs tar and test -d in the container: the tar test
		// guest's pod (exec resolves them to the toolbox's applets, since
		// the image is not named tar).
		work := t.TempDir()
		m := filepath.Join(work, "tarbox.yaml")
		os.WriteFile(m, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: tarbox
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - name: data
    emptyDir: {}
  containers:
  - name: tarbox
    image: go://`+filepath.Join(repoRoot, "wasm-examples", "testguests", "tar")+`
    args: ["ticker"]
    volumeMounts:
    - name: data
      mountPath: /data
`), 0o600)
		k.must(t, "apply", "-f", m)
		k.must(t, "wait", "--for=condition=Ready", "pod/tarbox", "--timeout=120s")
		os.MkdirAll(filepath.Join(work, "dir", "sub"), 0o700)
		os.WriteFile(filepath.Join(work, "dir", "sub", "a.txt"), []byte("copied by kubectl cp\n"), 0o600)
		os.WriteFile(filepath.Join(work, "note.txt"), []byte("one file\n"), 0o600)
		k.must(t, "cp", filepath.Join(work, "note.txt"), "tarbox:/data/note.txt")
		k.must(t, "cp", filepath.Join(work, "dir"), "tarbox:/data/dir")
		k.must(t, "cp", "tarbox:/data/note.txt", filepath.Join(work, "note-back.txt"))
		k.must(t, "cp", "tarbox:/data/dir", filepath.Join(work, "dir-back"))
		if b, err := os.ReadFile(filepath.Join(work, "note-back.txt")); err != nil || string(b) != "one file\n" {
			t.Errorf("cp of a file, there and back: %q %v", b, err)
		}
		if b, err := os.ReadFile(filepath.Join(work, "dir-back", "sub", "a.txt")); err != nil || string(b) != "copied by kubectl cp\n" {
			t.Errorf("cp of a directory, there and back: %q %v", b, err)
		}
		// attach streams the running container's output from now on.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, out, errOut := k.start(t, ctx, "attach", "tarbox")
		re := regexp.MustCompile(`(?m)^tick (\d+)$`)
		for deadline := time.Now().Add(30 * time.Second); len(re.FindAllString(out.String(), -1)) < 3 && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		if ticks := re.FindAllStringSubmatch(out.String(), -1); len(ticks) < 3 || ticks[0][1] == "0" {
			t.Errorf("attach: %q %q", out.String(), errOut.String())
		}
		cancel()
	})
	t.Run("rbac", func(t *testing.T) {
		if out := k.must(t, "create", "role", "reader", "--verb=get,list", "--resource=pods"); out != "role.rbac.authorization.k8s.io/reader created\n" {
			t.Errorf("create role: %q", out)
		}
		if out := k.must(t, "create", "rolebinding", "alice-reads", "--role=reader", "--user=alice"); out != "rolebinding.rbac.authorization.k8s.io/alice-reads created\n" {
			t.Errorf("create rolebinding: %q", out)
		}
		wantLines(t, "get roles", k.must(t, "get", "roles"), `NAME\s+CREATED AT`, `reader\s+\S+`)
		wantLines(t, "get rolebindings", k.must(t, "get", "rolebindings", "-o", "wide"),
			`NAME\s+ROLE\s+AGE\s+USERS\s+GROUPS\s+SERVICEACCOUNTS`, `alice-reads\s+Role/reader\s+\S+\s+alice\s*`)
		if out, _, code := k.run(t, "auth", "can-i", "list", "pods", "--as=alice"); code != 0 || out != "yes\n" {
			t.Errorf("can-i list pods --as alice: %d %q", code, out)
		}
		if out, _, code := k.run(t, "auth", "can-i", "delete", "pods", "--as=alice"); code != 1 || out != "no\n" {
			t.Errorf("can-i delete pods --as alice: %d %q", code, out)
		}
		wantLines(t, "clusterroles", k.must(t, "get", "clusterroles"), `NAME\s+CREATED AT`, `cluster-admin\s+\S+`, `edit\s+\S+`, `view\s+\S+`)
	})
	t.Run("expose", func(t *testing.T) {
		if out := k.must(t, "expose", "pod", "web-1", "--port=8080", "--name=web-1"); out != "service/web-1 exposed\n" {
			t.Errorf("expose: %q", out)
		}
		var out string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if out = k.must(t, "get", "endpoints", "web-1"); regexp.MustCompile(`(?m)^web-1\s+10\.\S+:8080\s`).MatchString(out) {
				break
			}
		}
		wantLines(t, "endpoints of the exposed pod", out, `web-1\s+10\.\S+:8080\s+\S+`)
	})
	t.Run("auth", func(t *testing.T) {
		wantLines(t, "auth whoami", k.must(t, "auth", "whoami"), `ATTRIBUTE\s+VALUE`, `Username\s+\S+`, `Groups\s+\[.*system:authenticated.*\]`)
		if out := k.must(t, "auth", "can-i", "create", "pods"); out != "yes\n" {
			t.Errorf("auth can-i create pods: %q", out)
		}
		if out := k.must(t, "auth", "can-i", "delete", "nodes"); out != "yes\n" {
			t.Errorf("auth can-i delete nodes: %q", out)
		}
	})
	t.Run("delete", func(t *testing.T) {
		if out := k.must(t, "delete", "pod", "hello"); out != "pod \"hello\" deleted from default namespace\n" {
			t.Errorf("delete pod hello: %q", out)
		}
		// A running pod: graceful (TERM, the guest shuts down), kubectl waits
		// until it is gone.
		if out := k.must(t, "delete", "pod", "web-2"); out != "pod \"web-2\" deleted from default namespace\n" {
			t.Errorf("delete pod web-2: %q", out)
		}
		_, errOut, code := k.run(t, "get", "pod", "web-2")
		if code != 1 || !strings.Contains(errOut, `pods "web-2" not found`) {
			t.Errorf("web-2 after delete: exit %d %q", code, errOut)
		}
		if out := k.must(t, "delete", "configmap", "-l", "nope=nope"); out != "No resources found\n" {
			t.Errorf("delete by an empty selector: %q", out)
		}
		_, errOut, code = k.run(t, "delete", "pod", "nope")
		if code != 1 || errOut != "Error from server (NotFound): pods \"nope\" not found\n" {
			t.Errorf("delete pod nope: exit %d %q", code, errOut)
		}
		if out := k.must(t, "delete", "namespace", "team-a"); out != "namespace \"team-a\" deleted\n" {
			t.Errorf("delete namespace: %q", out)
		}
	})
	t.Run("drain", func(t *testing.T) {
		// Bare pods: drain refuses without --force, as upstream, and leaves
		// the node cordoned.
		_, errOut, code := k.run(t, "drain", nodeName)
		if code != 1 || !regexp.MustCompile(`(?m)^cannot delete Pods that declare no controller \(use --force to override\): .*default/web-1`).MatchString(errOut) {
			t.Errorf("drain: exit %d %q", code, errOut)
		}
		out := k.must(t, "drain", nodeName, "--force", "--delete-emptydir-data")
		wantLines(t, "drain --force", out, `node/`+regexp.QuoteMeta(nodeName)+` already cordoned`, `pod/web-1 evicted`, `pod/toolbox evicted`,
			`node/`+regexp.QuoteMeta(nodeName)+` drained`)
		wantLines(t, "cordoned node", k.must(t, "get", "nodes"), regexp.QuoteMeta(nodeName)+`\s+Ready,SchedulingDisabled\s+\S+\s+\S+\s+\S+`)
		if out := k.must(t, "get", "pods", "-o", "name"); strings.Contains(out, "web-1") || strings.Contains(out, "toolbox") {
			t.Errorf("pods after drain: %q", out)
		}
		if out := k.must(t, "uncordon", nodeName); out != "node/"+nodeName+" uncordoned\n" {
			t.Errorf("uncordon: %q", out)
		}
		wantLines(t, "uncordoned node", k.must(t, "get", "nodes"), regexp.QuoteMeta(nodeName)+`\s+Ready\s+\S+\s+\S+\s+\S+`)
	})
}

// runClientStdin is runClient with stdin.
func runClientStdin(t *testing.T, k *kubectlUser, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.bin, args...)
	cmd.Env, cmd.Dir = k.env, repoRoot
	cmd.Stdin = strings.NewReader(stdin)
	out, errOut := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, errOut
	code := 0
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return out.String(), errOut.String(), code
}
