package wasmpod_test

// The toolbox through real kubectl: exec resolves argv[0] (a toolbox
// applet runs in the pod's sandbox, an unknown command exits 127), sh -c
// works in a pod whose own module has no shell, kubectl cp works there
// with the toolbox's tar, and the busybox image alias runs an upstream
// busybox manifest unchanged.

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// newToolboxEnv is a streamEnv whose module store has the toolbox as
// wasmpod.local/toolbox:latest (where the busybox alias and exec find it)
// and the graceful example (no shell, no tar) as wasmpod.local/graceful:v1.
// exampleModule builds wasm-examples/PKG.
func exampleModule(t *testing.T, pkg string) []byte {
	t.Helper()
	return testwasm.Build(t, filepath.Join(testwasm.RepoRoot(t), "wasm-examples", pkg))
}

// moduleStore is a module store holding each module under its
// "name:tag" (wasmpod.local/name:tag in a pod's image).
func moduleStore(t *testing.T, mods map[string][]byte) *images.Store {
	t.Helper()
	store := images.NewMemoryStore()
	for name, mod := range mods {
		digest, _, err := store.Put(context.Background(), "", bytes.NewReader(mod))
		if err != nil {
			t.Fatal(err)
		}
		n, tag, _ := strings.Cut(name, ":")
		if err := store.Tag(n, tag, digest); err != nil {
			t.Fatal(err)
		}
	}
	return store
}

func newToolboxEnv(t *testing.T) *streamEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store := moduleStore(t, map[string][]byte{"toolbox:latest": exampleModule(t, "toolbox"), "graceful:v1": exampleModule(t, "graceful")})
	c, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: testwasm.CacheDir(), Modules: store}) // compiled modules shared by the package's clusters
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
	return &streamEnv{c: c, dir: dir, kc: kc, guestImage: "wasmpod.local/graceful:v1"}
}

func TestToolboxExecThroughKubectl(t *testing.T) {
	e := newToolboxEnv(t)
	e.startPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Spec: corev1.PodSpec{
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			Containers: []corev1.Container{{Name: "main", Image: e.guestImage, Env: []corev1.EnvVar{{Name: "GREETING", Value: "hi there"}},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}}}})

	e.must(t, "exec", "app", "--", "sh", "-c", "echo one > /data/f1; mkdir /data/d")
	if out := e.must(t, "exec", "app", "--", "sh", "-c", "echo $HOSTNAME; echo $GREETING; ls /data"); out != "app\nhi there\nd\nf1\n" {
		t.Errorf("sh -c: %q", out)
	}
	if out := e.must(t, "exec", "app", "--", "ls", "/data"); out != "d\nf1\n" {
		t.Errorf("ls /data: %q", out)
	}
	if out := e.must(t, "exec", "app", "--", "/bin/cat", "/data/f1"); out != "one\n" {
		t.Errorf("/bin/cat: %q", out)
	}
	// stdin is the shell's script; its exit code is kubectl's.
	out, errOut, code := e.run(t, "echo from stdin | sed s/stdin/sed/\nexit 4\n", "exec", "-i", "app", "--", "sh")
	if out != "from sed\n" || code != 4 || !strings.Contains(errOut, "command terminated with exit code 4") {
		t.Errorf("exec -i sh: exit %d, %q %q", code, out, errOut)
	}
	// A command that exists nowhere: the runtime's message and 127, at once.
	t0 := time.Now()
	out, errOut, code = e.run(t, "", "exec", "app", "--", "nosuchcmd", "x")
	if code != 127 || out != "" || !strings.Contains(errOut, `exec: "nosuchcmd": executable file not found in $PATH`) ||
		!strings.Contains(errOut, "command terminated with exit code 127") {
		t.Errorf("unknown command: exit %d, %q %q", code, out, errOut)
	}
	if d := time.Since(t0); d > 30*time.Second {
		t.Errorf("unknown command took %v", d)
	}
	// Inside the shell: sh's own messages and codes.
	_, errOut, code = e.run(t, "", "exec", "app", "--", "sh", "-c", "nosuchcmd")
	if code != 127 || !strings.Contains(errOut, "sh: nosuchcmd: not found") {
		t.Errorf("sh -c nosuchcmd: exit %d, %q", code, errOut)
	}
	_, errOut, code = e.run(t, "", "exec", "app", "--", "sh", "-c", "if then fi")
	if code != 2 || !strings.Contains(errOut, "sh: syntax error") {
		t.Errorf("bad script: exit %d, %q", code, errOut)
	}
	_, errOut, code = e.run(t, "", "exec", "app", "--", "ls", "/nope")
	if code != 1 || !strings.Contains(errOut, "ls: /nope: No such file or directory") {
		t.Errorf("ls /nope: exit %d, %q", code, errOut)
	}

	// kubectl cp both ways: the graceful module has no tar; the toolbox's runs.
	local := t.TempDir()
	os.WriteFile(filepath.Join(local, "in.txt"), []byte("to the pod\n"), 0o644)
	os.MkdirAll(filepath.Join(local, "tree", "sub"), 0o755)
	big := bytes.Repeat([]byte("0123456789abcdef"), 40000)
	os.WriteFile(filepath.Join(local, "tree", "sub", "big.bin"), big, 0o644)
	e.must(t, "cp", filepath.Join(local, "in.txt"), "app:/data/in.txt")
	e.must(t, "cp", filepath.Join(local, "tree"), "app:/data/tree")
	if out := e.must(t, "exec", "app", "--", "sh", "-c", "cat /data/in.txt; wc -c < /data/tree/sub/big.bin"); out != "to the pod\n640000\n" {
		t.Errorf("after cp in: %q", out)
	}
	back := t.TempDir()
	e.must(t, "cp", "app:/data/tree", filepath.Join(back, "tree"))
	e.must(t, "cp", "app:/data/f1", filepath.Join(back, "f1"))
	if b, err := os.ReadFile(filepath.Join(back, "tree", "sub", "big.bin")); !bytes.Equal(b, big) {
		t.Errorf("cp out: %d bytes %v", len(b), err)
	}
	if b, _ := os.ReadFile(filepath.Join(back, "f1")); string(b) != "one\n" {
		t.Errorf("cp out f1: %q", b)
	}
}

// TestBusyboxManifestRuns: an upstream busybox manifest (the Kubernetes
// docs' "Hello Kubernetes!" pod) runs unchanged: image busybox is the
// toolbox.
func TestBusyboxManifestRuns(t *testing.T) {
	e := newToolboxEnv(t)
	manifest := filepath.Join(t.TempDir(), "busybox.yaml")
	os.WriteFile(manifest, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: myapp-pod
  labels:
    app.kubernetes.io/name: MyApp
spec:
  containers:
  - name: myapp-container
    image: busybox:1.28
    command: ['sh', '-c', 'echo The app is running! && sleep 3600']
`), 0o644)
	e.must(t, "apply", "-f", manifest)
	out := e.must(t, "wait", "--for=condition=Ready", "pod/myapp-pod", "--timeout=120s")
	if !strings.Contains(out, "pod/myapp-pod condition met") {
		t.Fatalf("wait: %q", out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out = e.must(t, "logs", "myapp-pod")
		if out == "The app is running!\n" || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out != "The app is running!\n" {
		t.Errorf("logs: %q", out)
	}
	if out := e.must(t, "exec", "myapp-pod", "--", "sh", "-c", "echo $HOSTNAME | wc -c; date +%Y | grep -c '^2'"); out != "10\n1\n" {
		t.Errorf("exec in busybox: %q", out)
	}
	_, errOut, code := e.run(t, "", "exec", "myapp-pod", "--", "nosuchcmd")
	if code != 127 || !strings.Contains(errOut, `executable file not found in $PATH`) {
		t.Errorf("busybox unknown command: exit %d %q", code, errOut)
	}
}

// TestWasmpodCpBothWays: wasmpod cp, as kubectl cp, into and out of a pod
// whose own module has no tar (the toolbox's runs), a file and a tree.
func TestWasmpodCpBothWays(t *testing.T) {
	e := newToolboxEnv(t)
	e.startPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Spec: corev1.PodSpec{
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			Containers: []corev1.Container{{Name: "main", Image: e.guestImage,
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}}}})
	wp := e.wasmpod
	local := t.TempDir()
	os.WriteFile(filepath.Join(local, "in.txt"), []byte("to the pod\n"), 0o644)
	os.MkdirAll(filepath.Join(local, "tree", "sub"), 0o755)
	big := bytes.Repeat([]byte("wasmpod cp "), 50000)
	os.WriteFile(filepath.Join(local, "tree", "sub", "big.bin"), big, 0o644)
	for _, args := range [][]string{
		{"cp", filepath.Join(local, "in.txt"), "app:/data/in.txt"},
		{"cp", filepath.Join(local, "tree"), "app:/data/tree"},
		{"cp", filepath.Join(local, "in.txt"), "app:/data/tree"}, // into a directory: keeps its name
	} {
		if out, errOut, code := wp(args...); code != 0 {
			t.Fatalf("wasmpod %q: exit %d %q %q", args, code, out, errOut)
		}
	}
	if out := e.must(t, "exec", "app", "--", "sh", "-c", "cat /data/in.txt /data/tree/in.txt; wc -c < /data/tree/sub/big.bin"); out != "to the pod\nto the pod\n550000\n" {
		t.Errorf("after wasmpod cp in: %q", out)
	}
	back := t.TempDir()
	if out, errOut, code := wp("cp", "app:/data/tree", filepath.Join(back, "tree")); code != 0 {
		t.Fatalf("cp out: exit %d %q %q", code, out, errOut)
	}
	if out, errOut, code := wp("cp", "app:/data/in.txt", filepath.Join(back, "in.txt")); code != 0 {
		t.Fatalf("cp out file: exit %d %q %q", code, out, errOut)
	}
	for name, want := range map[string][]byte{"in.txt": []byte("to the pod\n"), "tree/in.txt": []byte("to the pod\n"), "tree/sub/big.bin": big} {
		if got, err := os.ReadFile(filepath.Join(back, filepath.FromSlash(name))); !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes %v, want %d", name, len(got), err, len(want))
		}
	}
	// Missing in the pod: tar's message, a failing exit.
	_, errOut, code := wp("cp", "app:/data/nope", filepath.Join(back, "nope"))
	if code == 0 || !strings.Contains(errOut, "/data/nope") {
		t.Errorf("cp of a missing file: exit %d %q", code, errOut)
	}
	_, errOut, code = wp("cp", "a", "b")
	if code == 0 || !strings.Contains(errOut, "one of src or dest must be a remote file specification") {
		t.Errorf("cp local local: exit %d %q", code, errOut)
	}
}

// TestToolboxInteractiveShell: exec -it POD -- sh, as kubectl makes it
// (TTY, stdin, no stderr stream): a prompt, echoed input (the client's
// terminal is raw), CRLF output, and exit's code.
func TestToolboxInteractiveShell(t *testing.T) {
	e := newToolboxEnv(t)
	e.startPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: e.guestImage}}}})
	cfg, err := clientcmd.BuildConfigFromFlags("", e.kc)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("app").SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: "main", Command: []string{"sh"}, Stdin: true, Stdout: true, TTY: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewWebSocketExecutor(cfg, "GET", req.URL().String())
	if err != nil {
		t.Fatal(err)
	}
	// Typed as a raw terminal sends it: CR ends a line, DEL erases.
	in := strings.NewReader("echo hi $((1+2))\recho typx\x7fo\rexit 3\r")
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: in, Stdout: &out, Tty: true})
	var ce utilexec.CodeExitError
	if !errors.As(err, &ce) || ce.Code != 3 {
		t.Errorf("exit: %v, want code 3", err)
	}
	got := out.String()
	for _, want := range []string{"/ # echo hi $((1+2))\r\nhi 3\r\n/ # ", "echo typx\b \bo\r\ntypo\r\n", "/ # exit 3\r\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("the session lacks %q:\n%q", want, got)
		}
	}
}

// TestToolboxMissing: on a node without the toolbox (not in the module
// store, no source tree) a busybox pod fails to pull with a message that
// says how to import it, and exec of an applet exits 127 at once.
func TestToolboxMissing(t *testing.T) {
	t.Setenv("WASMPOD_TOOLBOX_SRC", t.TempDir()) // an empty directory: no source tree
	ctx := context.Background()
	dir := t.TempDir()
	store := images.NewMemoryStore()
	digest, _, err := store.Put(ctx, "", bytes.NewReader(testwasm.Build(t, filepath.Join(testwasm.RepoRoot(t), "wasm-examples", "graceful"))))
	if err != nil {
		t.Fatal(err)
	}
	store.Tag("graceful", "v1", digest)
	c, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: filepath.Join(dir, "cache"), Modules: store})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cs := c.Client()
	if _, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bb"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "docker.io/library/busybox:1.36", Command: []string{"sh", "-c", "echo hi"}}}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var msg string
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) && msg == "" {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "bb", metav1.GetOptions{})
		if err == nil && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
			strings.Contains(p.Status.ContainerStatuses[0].State.Waiting.Reason, "ImagePull") {
			msg = p.Status.ContainerStatuses[0].State.Waiting.Message
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(msg, "wasmpod image import go://./wasm-examples/toolbox toolbox") {
		t.Errorf("busybox without a toolbox: waiting message %q", msg)
	}

	if _, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "wasmpod.local/graceful:v1"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := c.WaitPod(wctx, "default", "app", wasmpod.PodRunning); err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	code, err := c.Exec(wctx, "default", "app", &corev1.PodExecOptions{Container: "c", Command: []string{"sh", "-c", "true"}, Stderr: true},
		wasmpod.ExecStreams{Stderr: &errb})
	if err != nil || code != 127 || !strings.Contains(errb.String(), `exec: "sh": executable file not found in $PATH`) ||
		!strings.Contains(errb.String(), "wasmpod image import") {
		t.Errorf("exec sh without a toolbox: %d %v %q", code, err, errb.String())
	}
}
