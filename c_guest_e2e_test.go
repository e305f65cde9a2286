package wasmpod_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
)

// cProbeWasm writes the C probe guest (testguests/c/probe.c, built with
// clang and wasi-libc) to a file for image: paths; without clang the test
// is skipped (failed when $WASMPOD_REQUIRE_TOOLCHAINS is set).
func cProbeWasm(t *testing.T) string {
	t.Helper()
	return moduleFile(t, "cprobe.wasm", enginetest.CProbe(t))
}

// TestCGuestPod runs a C program in pods: init containers that walk an
// emptyDir through the file calls a C program makes and leave a file for the
// app containers, which print their args, their env (downward API
// included) and that file; a pod whose containers exit 3 and trap; and a
// pod whose guest waits for TERM on stdin and exits by itself when the pod
// is deleted.
func TestCGuestPod(t *testing.T) {
	wasm := cProbeWasm(t)
	ctx := context.Background()
	c := newTestCluster(t)
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute) // a hang guard
	defer cancel()

	applyYAML(t, c, wasm, `apiVersion: v1
kind: Pod
metadata: {name: c-probe}
spec:
  restartPolicy: Never
  volumes: [{name: data, emptyDir: {}}]
  initContainers:
  - name: fs
    image: WASM
    args: [fs, /data]
    volumeMounts: [{name: data, mountPath: /data}]
  - name: seed
    image: WASM
    args: [write, /data/msg.txt, "left by the init container"]
    volumeMounts: [{name: data, mountPath: /data}]
  containers:
  - name: args
    image: WASM
    args: [args, x, "y z"]
  - name: env
    image: WASM
    args: [env]
    env:
    - {name: GREETING, value: "hi there"}
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
  - name: cat
    image: WASM
    args: [cat, /data/msg.txt]
    volumeMounts: [{name: data, mountPath: /data, readOnly: true}]
  - name: readonly
    image: WASM
    args: [write, /data/msg.txt, "overwritten"]
    volumeMounts: [{name: data, mountPath: /data, readOnly: true}]
`)
	p, err := c.WaitPod(wctx, "default", "c-probe", wasmpod.PodTerminal)
	if err != nil {
		t.Fatal(err)
	}
	// readonly exits 1 (its write is refused), so the pod fails; every
	// other container exits 0.
	codes := cExitCodes(p)
	if p.Status.Phase != corev1.PodFailed || codes["fs"] != 0 || codes["seed"] != 0 || codes["args"] != 0 ||
		codes["env"] != 0 || codes["cat"] != 0 || codes["readonly"] != 1 {
		t.Errorf("c-probe: phase %s, exit codes %v", p.Status.Phase, codes)
	}
	if out := podLogs(t, c, "c-probe", "fs"); out != enginetest.CProbeFSOps {
		t.Errorf("fs logs:\n%s\nwant:\n%s", out, enginetest.CProbeFSOps)
	}
	if out, want := podLogs(t, c, "c-probe", "args"), "argc 4\nargv[0] args\nargv[1] args\nargv[2] x\nargv[3] y z\n"; out != want {
		t.Errorf("args logs %q, want %q", out, want)
	}
	env := podLogs(t, c, "c-probe", "env")
	for _, want := range []string{"GREETING=hi there", "POD_NAME=c-probe", "HOSTNAME=c-probe", "getenv GREETING hi there"} {
		if !cHasLine(env, want) {
			t.Errorf("env logs lack %q:\n%s", want, env)
		}
	}
	if out := podLogs(t, c, "c-probe", "cat"); out != "left by the init container" {
		t.Errorf("cat logs %q", out)
	}
	if out := podLogs(t, c, "c-probe", "readonly"); out != "write /data/msg.txt: errno EROFS\n" {
		t.Errorf("readonly logs %q", out)
	}

	applyYAML(t, c, wasm, `apiVersion: v1
kind: Pod
metadata: {name: c-fail}
spec:
  restartPolicy: Never
  containers:
  - {name: exit3, image: WASM, args: [exit, "3"]}
  - {name: trap, image: WASM, args: [trap]}
`)
	p, err = c.WaitPod(wctx, "default", "c-fail", wasmpod.PodTerminal)
	if err != nil {
		t.Fatal(err)
	}
	if codes := cExitCodes(p); p.Status.Phase != corev1.PodFailed || codes["exit3"] != 3 || codes["trap"] != 134 {
		t.Errorf("c-fail: phase %s, exit codes %v", p.Status.Phase, codes)
	}
	if out := podLogs(t, c, "c-fail", "trap"); !strings.HasPrefix(out, "trapping\n") {
		t.Errorf("trap logs %q", out)
	}

	// TERM: the guest reads stdin to EOF, prints "term" and exits 7 by
	// itself, long before its 30 s grace period would end in a kill (137).
	w, err := c.Watch(ctx, "pods", "default", metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	applyYAML(t, c, wasm, `apiVersion: v1
kind: Pod
metadata: {name: c-term}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 30
  containers:
  - {name: wait, image: WASM, args: [waitterm, "7"]}
`)
	if _, err := c.WaitPod(wctx, "default", "c-term", wasmpod.PodRunning); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for out := ""; out != "ready\n"; out = podLogs(t, c, "c-term", "wait") {
		if time.Now().After(deadline) {
			t.Fatalf("c-term never printed ready: %q", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	deleted := time.Now()
	if err := c.Delete(ctx, "pods", "default", "c-term", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var exit *corev1.ContainerStateTerminated
	for gone := false; !gone; {
		select {
		case ev := <-w.ResultChan():
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || p.Name != "c-term" {
				continue
			}
			gone = ev.Type == watch.Deleted
			for _, st := range p.Status.ContainerStatuses {
				if st.State.Terminated != nil {
					exit = st.State.Terminated
				}
			}
		case <-wctx.Done():
			t.Fatal("c-term was not deleted")
		}
	}
	if exit == nil || exit.ExitCode != 7 || time.Since(deleted) > 20*time.Second {
		t.Errorf("c-term: terminated %+v %v after the delete, want exit 7 well within the grace period", exit, time.Since(deleted))
	}
}

func cExitCodes(p *corev1.Pod) map[string]int32 {
	codes := map[string]int32{}
	for _, sts := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, st := range sts {
			codes[st.Name] = -1
			if st.State.Terminated != nil {
				codes[st.Name] = st.State.Terminated.ExitCode
			}
		}
	}
	return codes
}

func cHasLine(out, line string) bool {
	for _, l := range strings.Split(out, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

// TestHelloCExample runs wasm-examples/hello-c as its README says, on a
// copy of the example: `sh build.sh`, then the pod of pod.yaml.
func TestHelloCExample(t *testing.T) {
	testwasm.LookTool(t, "clang", enginetest.CInstall)
	src := filepath.Join(testwasm.RepoRoot(t), "wasm-examples", "hello-c")
	dir := filepath.Join(t.TempDir(), "hello-c")
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "hello.wasm")) // one a user built in the tree
	out, err := exec.Command("sh", filepath.Join(dir, "build.sh")).CombinedOutput()
	if err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "clang --target=wasm32-wasi") || !strings.Contains(string(out), "built "+filepath.Join(dir, "hello.wasm")) {
		t.Errorf("build.sh does not say what it does:\n%s", out)
	}

	ctx := context.Background()
	c := newTestCluster(t)
	pods, err := wasmpod.LoadFile(filepath.Join(dir, "pod.yaml"), wasmpod.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 1 {
		t.Fatalf("pod.yaml has %d pods", len(pods))
	}
	if _, err := c.Apply(ctx, pods[0]); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	p, err := c.WaitPod(wctx, "default", "hello-c", wasmpod.PodTerminal)
	if err != nil {
		t.Fatal(err)
	}
	// The README's expected output.
	want := `hello from hello-c, a C program
args: a b
/data/greeting.txt: "written by hello-c" (19 bytes)
/data holds: greeting.txt
`
	if logs := podLogs(t, c, "hello-c", "hello"); p.Status.Phase != corev1.PodSucceeded || logs != want {
		t.Errorf("hello-c: phase %s, logs:\n%s\nwant:\n%s", p.Status.Phase, logs, want)
	}
}
