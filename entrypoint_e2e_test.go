package wasmpod_test

// The command/args rules of a container, as upstream's image entrypoint
// rules where the module is the image: the module is the image's
// ENTRYPOINT (one element: argv[0], the container's name) and the image
// has no CMD. So, as upstream (kubelet's kuberuntime, the runtime's merge
// with the image config):
//   - neither command nor args: ENTRYPOINT + CMD = [name];
//   - args only: ENTRYPOINT + args = [name, args...];
//   - command only: command (the image's ENTRYPOINT and CMD are ignored);
//   - both: command + args;
// with $(VAR) expanded from the container's environment, $$ escaping a $
// and a reference to an undefined variable left as it is
// (third_party/forked/golang/expansion).

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// argvC prints its argv, one element a line: an outside yardstick (wasi-libc
// builds argv from WASI args_get as any C program gets it).
const argvC = `#include <stdio.h>
int main(int argc, char **argv) {
	printf("argc=%d\n", argc);
	for (int i = 0; i < argc; i++)
		printf("argv[%d]=%s\n", i, argv[i]);
	return 0;
}
`

// TestContainerEntrypointRules — upstream e2e "Containers should use the
// image defaults if command and args are blank", "should be able to
// override the image's default arguments (container cmd)", "... default
// command (container entrypoint)", "... default command and arguments", and
// "Variable Expansion should allow substituting values in a container's
// command / args": the four cases with the C guest's argv through the real
// kubectl (apply, logs), and the busybox alias, whose `command: [sh, -c,
// ...]` runs the toolbox shell and whose args alone run an applet (busybox
// is a multi-call program: argv[0], the container's name, is no applet, so
// argv[1] names it).
func TestContainerEntrypointRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "argv.c")
	if err := os.WriteFile(src, []byte(argvC), 0o644); err != nil {
		t.Fatal(err)
	}
	argvWasm := testwasm.BuildForeign(t, testwasm.Foreign{
		Name: "c-argv", Tool: "clang", Version: []string{"--version"}, Inputs: []string{src},
		Args: func(out string) []string {
			return []string{"--target=wasm32-wasi", "-O2", "-Wall", "-Werror", "argv.c", "-o", out}
		},
		Install: "apt-get install clang lld wasi-libc libclang-rt-dev-wasm32",
	})
	store := moduleStore(t, map[string][]byte{"toolbox:latest": exampleModule(t, "toolbox"), "argv:v1": argvWasm})
	c, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: testwasm.CacheDir(), Modules: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: w\n  cluster:\n    server: "+srv.URL+
		"\ncontexts:\n- name: w\n  context:\n    cluster: w\n    user: me\n    namespace: default\ncurrent-context: w\nusers:\n- name: me\n  user: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &streamEnv{c: c, dir: dir, kc: kc}

	manifest := filepath.Join(dir, "entry.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: v1
kind: Pod
metadata: {name: entry}
spec:
  restartPolicy: Never
  containers:
  - name: defaults
    image: wasmpod.local/argv:v1
  - name: args-only
    image: wasmpod.local/argv:v1
    env: [{name: GREETING, value: hi}]
    args: ["a", "$(GREETING)", "$$(GREETING)", "$(UNDEFINED)", "$$", "x$y", "$(GREETING", "$(GREETING)$(GREETING)"]
  - name: command-only
    image: wasmpod.local/argv:v1
    env: [{name: GREETING, value: hi}]
    command: ["/usr/bin/prog", "$(GREETING)"]
  - name: both
    image: wasmpod.local/argv:v1
    env: [{name: GREETING, value: hi}, {name: COMPOSED, value: "$(GREETING) there"}]
    command: ["prog", "c1"]
    args: ["a1", "$(COMPOSED)"]
  - name: bb-shell
    image: busybox:1.36
    env: [{name: GREETING, value: hi}]
    command: ["sh", "-c", "echo shell $GREETING $(GREETING) $1 $2", "zero", "one", "two"]
  - name: bb-args
    image: busybox
    env: [{name: GREETING, value: hi}]
    args: ["echo", "applet", "$(GREETING)"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	e.must(t, "apply", "-f", manifest)
	out := e.must(t, "wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/entry", "--timeout=180s")
	if !strings.Contains(out, "pod/entry condition met") {
		t.Fatalf("wait: %q", out)
	}
	for _, tc := range []struct{ ctr, want string }{
		{"defaults", "argc=1\nargv[0]=defaults\n"},
		{"args-only", "argc=9\nargv[0]=args-only\nargv[1]=a\nargv[2]=hi\nargv[3]=$(GREETING)\nargv[4]=$(UNDEFINED)\nargv[5]=$\nargv[6]=x$y\nargv[7]=$(GREETING\nargv[8]=hihi\n"},
		{"command-only", "argc=2\nargv[0]=/usr/bin/prog\nargv[1]=hi\n"},
		{"both", "argc=4\nargv[0]=prog\nargv[1]=c1\nargv[2]=a1\nargv[3]=hi there\n"},
		{"bb-shell", "shell hi hi one two\n"},
		{"bb-args", "applet hi\n"},
	} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			out = e.must(t, "logs", "entry", "-c", tc.ctr)
			if out == tc.want || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if out != tc.want {
			t.Errorf("kubectl logs -c %s:\n%s\nwant:\n%s", tc.ctr, out, tc.want)
		}
	}
	// What kubectl shows of them is the spec as written.
	if out := e.must(t, "get", "pod", "entry", "-o", `jsonpath={.spec.containers[1].args[2]} {.spec.containers[4].command[0]}`); out != "$$(GREETING) sh" {
		t.Errorf("jsonpath: %q", out)
	}
}
