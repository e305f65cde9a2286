package wasmpod_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
)

// Issue 10: a Rust program, built from source by Debian's rustc for
// wasm32-wasi, runs as a pod. Both tests skip without that rustc (and fail
// under $WASMPOD_REQUIRE_TOOLCHAINS, as in CI).

// rustPodTimeout bounds each wait for a Rust pod; the first run compiles
// the module (a few seconds).
const rustPodTimeout = 2 * time.Minute

// TestRustGuestPod runs the Rust probe guest (wasm-examples/testguests/rust)
// as containers of real pods: an init container and the app container
// share an emptyDir (the init container runs the volume operations and
// leaves a file the app reads), args and env (downward API) reach the
// program, exit codes and a trap become the containers' terminated states
// and the pod phase, and TERM (pod deletion) is EOF on stdin.
func TestRustGuestPod(t *testing.T) {
	wasm := moduleFile(t, "rust-probe.wasm", enginetest.BuildRustProbe(t))
	c := newTestCluster(t)

	t.Run("Succeeded", func(t *testing.T) {
		applyYAML(t, c, wasm, `apiVersion: v1
kind: Pod
metadata: {name: rust-ok}
spec:
  restartPolicy: Never
  volumes: [{name: data, emptyDir: {}}]
  initContainers:
  - name: volume
    image: WASM
    args: ["fs", "/data"]
    volumeMounts: [{name: data, mountPath: /data}]
  - name: leave
    image: WASM
    args: ["write", "/data/note.txt", "left by an init container"]
    volumeMounts: [{name: data, mountPath: /data}]
  containers:
  - name: app
    image: WASM
    args: ["cat", "/data/note.txt"]
    volumeMounts: [{name: data, mountPath: /data, readOnly: true}]
  - name: env
    image: WASM
    args: ["env"]
    env:
    - {name: GREETING, value: "hello, Rust"}
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
  - name: args
    image: WASM
    args: ["args", "a", "b c", ""]
`)
		p := waitRustPod(t, c, "rust-ok", wasmpod.PodTerminal)
		if p.Status.Phase != corev1.PodSucceeded {
			t.Fatalf("phase %s, want Succeeded; statuses %+v", p.Status.Phase, p.Status.ContainerStatuses)
		}
		if got, want := podLogs(t, c, "rust-ok", "volume"), `created 11 bytes
seek 6 read "world"
end-5 6 tell 6
truncated size 5 file true
content "hello+tail"
renamed old exists false new exists true
symlink -> sub/b.txt symlink true reads "hello+tail"
entry link symlink
entry sub dir
gone
left 0
`; got != want {
			t.Errorf("volume logs:\n%s\nwant:\n%s", got, want)
		}
		if got := podLogs(t, c, "rust-ok", "app"); got != "left by an init container" {
			t.Errorf("app logs %q", got)
		}
		env := podLogs(t, c, "rust-ok", "env")
		for _, line := range []string{"GREETING=hello, Rust", "POD_NAME=rust-ok", "HOSTNAME=rust-ok"} {
			if !strings.Contains("\n"+env, "\n"+line+"\n") {
				t.Errorf("env logs have no line %q:\n%s", line, env)
			}
		}
		if got := podLogs(t, c, "rust-ok", "args"); got != "a\nb c\n\n" {
			t.Errorf("args logs %q", got)
		}
	})

	t.Run("Failed", func(t *testing.T) {
		applyYAML(t, c, wasm, `apiVersion: v1
kind: Pod
metadata: {name: rust-fail}
spec:
  restartPolicy: Never
  containers:
  - name: exit3
    image: WASM
    args: ["exit", "3"]
  - name: trap
    image: WASM
    args: ["trap"]
  - name: panic
    image: WASM
    args: ["panic"]
`)
		p := waitRustPod(t, c, "rust-fail", wasmpod.PodTerminal)
		if p.Status.Phase != corev1.PodFailed {
			t.Fatalf("phase %s, want Failed", p.Status.Phase)
		}
		want := map[string]int32{"exit3": 3, "trap": 134, "panic": 134}
		for _, st := range p.Status.ContainerStatuses {
			term := st.State.Terminated
			if term == nil || term.ExitCode != want[st.Name] {
				t.Errorf("container %s: state %+v, want terminated with %d", st.Name, st.State, want[st.Name])
			}
		}
		if got := podLogs(t, c, "rust-fail", "panic"); !strings.Contains(got, "panicked at") || !strings.Contains(got, "boom") {
			t.Errorf("panic logs %q", got)
		}
	})

	t.Run("TermIsStdinEOF", func(t *testing.T) {
		applyYAML(t, c, wasm, `apiVersion: v1
kind: Pod
metadata: {name: rust-term}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 60
  containers:
  - name: wait
    image: WASM
    args: ["waitterm", "0"]
`)
		logs := deleteWhenLogged(t, c, "rust-term", "wait", "ready\n")
		if logs != "ready\nterm\n" {
			t.Fatalf("logs %q, want ready and term (TERM read as EOF)", logs)
		}
	})
}

// waitRustPod waits for cond on pod name.
func waitRustPod(t *testing.T, c *wasmpod.Cluster, name string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rustPodTimeout)
	defer cancel()
	p, err := c.WaitPod(ctx, "default", name, cond)
	if err != nil {
		t.Fatalf("pod %s: %v (last status %+v)", name, err, p)
	}
	return p
}

// deleteWhenLogged follows the logs of a pod's container until they hold
// ready, deletes the pod (TERM, then the grace period) and returns the
// container's whole log once it has ended; it fails the test unless the
// container exited 0 before the grace period ran out.
func deleteWhenLogged(t *testing.T, c *wasmpod.Cluster, pod, ctr, ready string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rustPodTimeout)
	defer cancel()
	waitRustPod(t, c, pod, wasmpod.PodRunning)
	var (
		mu   sync.Mutex
		logs bytes.Buffer
	)
	followed := make(chan error, 1)
	go func() {
		followed <- c.Logs(ctx, "default", pod, &corev1.PodLogOptions{Container: ctr, Follow: true}, lockedWriter{&mu, &logs})
	}()
	for {
		mu.Lock()
		ok := strings.Contains(logs.String(), ready)
		mu.Unlock()
		if ok {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%s/%s never logged %q", pod, ctr, ready)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the guest block in its stdin read
	w, err := c.Watch(ctx, "pods", "default", metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := c.Delete(ctx, "pods", "default", pod, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	exit := int32(-1)
	for ev := range w.ResultChan() {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok || p.Name != pod {
			continue
		}
		for _, st := range p.Status.ContainerStatuses {
			if st.Name == ctr && st.State.Terminated != nil {
				exit = st.State.Terminated.ExitCode
			}
		}
		if exit >= 0 {
			break
		}
	}
	if exit != 0 {
		t.Fatalf("%s/%s: exit code %d after TERM (-1: none seen), want 0", pod, ctr, exit)
	}
	if err := <-followed; err != nil {
		t.Fatalf("logs -f %s/%s: %v", pod, ctr, err)
	}
	mu.Lock()
	defer mu.Unlock()
	return logs.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestHelloRustExample builds wasm-examples/hello-rust with its committed
// build.sh (in a copy of the example, so the test writes nothing into the
// source tree) and runs its pod.yaml as the README says: the program
// greets with the downward API's name and namespace, writes and lists its
// emptyDir, and on TERM (the pod's deletion, as Ctrl-C in `wasmpod run`)
// cleans up and exits 0.
func TestHelloRustExample(t *testing.T) {
	target := enginetest.RequireRust(t)
	src := filepath.Join(testwasm.RepoRoot(t), "wasm-examples", "hello-rust")
	dir := filepath.Join(t.TempDir(), "hello-rust")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"build.sh", "main.rs", "pod.yaml"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("sh", filepath.Join(dir, "build.sh")).CombinedOutput()
	if err != nil {
		t.Fatalf("sh build.sh: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), enginetest.RustTool+" --edition 2021 --target "+target+" ") || !strings.Contains(string(out), "built "+filepath.Join(dir, "hello.wasm")) {
		t.Errorf("build.sh does not say what it does:\n%s", out)
	}

	pods, err := wasmpod.LoadFile(filepath.Join(dir, "pod.yaml"), wasmpod.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := newTestCluster(t)
	for _, p := range pods {
		if _, err := c.Apply(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	logs := deleteWhenLogged(t, c, "hello-rust", "hello", "waiting for TERM")
	want := `hello from hello-rust in default, a Rust program
args: from Rust
/data/greeting.txt: 34 bytes, read back
/data holds: greeting.txt
waiting for TERM (EOF on stdin)
TERM received after 0 bytes of stdin, cleaning up
clean exit
`
	if logs != want {
		t.Fatalf("hello-rust logs:\n%s\nwant:\n%s", logs, want)
	}
}
