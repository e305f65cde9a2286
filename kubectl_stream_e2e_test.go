package wasmpod_test

// Real kubectl's streaming verbs against a Cluster's API with real pods:
// run -i --rm, attach, cp both ways, and port-forward to a guest server.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/internal/testkubectl"
	"github.com/wasmpod/wasmpod/internal/testwasm"

	"github.com/wasmpod/wasmpod/cli"
)

// streamEnv is a Cluster served over HTTP, with the tar test guest in its
// module store as wasmpod.local/streamguest:v1 (a reference kubectl run
// accepts), and a kubeconfig for it.
type streamEnv struct {
	c          *wasmpod.Cluster
	dir, kc    string
	guestImage string
}

func newStreamEnv(t *testing.T) *streamEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store := images.NewMemoryStore()
	digest, _, err := store.Put(ctx, "", bytes.NewReader(testwasm.Build(t, testwasm.GuestDir(t, "tar"))))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Tag("streamguest", "v1", digest); err != nil {
		t.Fatal(err)
	}
	c, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: filepath.Join(dir, "cache"), Modules: store})
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
	return &streamEnv{c: c, dir: dir, kc: kc, guestImage: "wasmpod.local/streamguest:v1"}
}

func (e *streamEnv) kubectl(t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.Command(testkubectl.Path(t), append([]string{"--kubeconfig", e.kc, "--cache-dir", filepath.Join(e.dir, "kcache")}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+e.dir, "KUBECONFIG="+e.kc)
	return cmd
}

// run runs kubectl to its end with stdin, returning stdout, stderr and the
// exit code.
func (e *streamEnv) run(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := e.kubectl(t, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

// wasmpod runs the wasmpod CLI in this process against the same server,
// returning stdout, stderr and the exit code.
func (e *streamEnv) wasmpod(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := cli.Main(append([]string{"wasmpod", "--kubeconfig", e.kc}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

// same runs args with the real kubectl and with wasmpod, which must print
// the same stdout and stderr and exit with the same code; it returns
// wasmpod's stdout.
func (e *streamEnv) same(t *testing.T, args ...string) string {
	t.Helper()
	kout, kerr, kcode := e.run(t, "", args...)
	wout, werr, wcode := e.wasmpod(args...)
	if kout != wout || kcode != wcode || kerr != werr {
		t.Errorf("%s:\nkubectl (exit %d):\n%s%s\nwasmpod (exit %d):\n%s%s", strings.Join(args, " "), kcode, kout, kerr, wcode, wout, werr)
	}
	return wout
}

func (e *streamEnv) must(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := e.run(t, "", args...)
	if code != 0 {
		t.Fatalf("kubectl %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func (e *streamEnv) startPod(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.c.Client().CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := e.c.WaitPod(wctx, "default", pod.Name, wasmpod.PodRunning); err != nil {
		t.Fatal(err)
	}
}

// TestKubectlRunInteractiveRm: kubectl run -i --rm attaches to the new
// pod: the guest's output appears once, stdin reaches it, kubectl exits
// with the guest's code and deletes the pod.
func TestKubectlRunInteractiveRm(t *testing.T) {
	e := newStreamEnv(t)
	out, errOut, code := e.run(t, "typed in\n", "run", "greet", "-i", "--rm", "--restart=Never", "--image="+e.guestImage, "--", "greet", "3")
	if code != 3 {
		t.Errorf("exit code %d, want 3\nstdout %q\nstderr %q", code, out, errOut)
	}
	// kubectl prints the log so far (stdout and stderr together, as logs
	// do), then attaches: what the guest writes from then on (or since
	// that log read) comes through the attach, stderr apart. Where the
	// guest's first lines land depends on when it wrote them; they appear
	// once, before the stdin the attach brought.
	hello, typed := strings.Index(out, "hello from the guest\n"), strings.Index(out, "typed in\n")
	if hello < 0 || typed < hello {
		t.Errorf("stdout %q: want the greeting, then the echoed stdin, then the deletion", out)
	}
	if !strings.Contains(out, `pod "greet" deleted`) {
		t.Errorf("stdout %q: no deletion message", out)
	}
	if strings.Count(out+errOut, "hello from the guest") != 1 || strings.Count(out+errOut, "a warning") != 1 ||
		strings.Count(out, "typed in") != 1 || strings.Contains(errOut, "warning: couldn't") {
		t.Errorf("stdout %q stderr %q: want the guest's output once, by the attach", out, errOut)
	}
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := e.c.Client().CoreV1().Pods("default").Get(ctx, "greet", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod greet not deleted: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Exit 0 and no stdin: the output once, exit 0.
	out, errOut, code = e.run(t, "", "run", "greet0", "-i", "--rm", "--restart=Never", "--image="+e.guestImage, "--", "greet", "0")
	if code != 0 || !strings.HasPrefix(out, "hello from the guest\n") || strings.Count(out, "hello from the guest") != 1 {
		t.Errorf("exit 0: code %d stdout %q stderr %q", code, out, errOut)
	}
}

// TestKubectlAttach: kubectl attach to a running pod streams what it
// writes from then on, line by line, in order.
func TestKubectlAttach(t *testing.T) {
	e := newStreamEnv(t)
	e.startPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "ticker"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: e.guestImage, Args: []string{"ticker"}}}}})
	cmd := e.kubectl(t, "attach", "ticker")
	stdout, _ := cmd.StdoutPipe()
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	prev := 0
	for i := 0; i < 5; i++ {
		select {
		case l, ok := <-lines:
			var n int
			if !ok || func() bool { _, err := fmt.Sscanf(l, "tick %d", &n); return err != nil }() {
				t.Fatalf("line %d: %q (open %v)\n%s", i, l, ok, errOut.String())
			}
			if prev != 0 && n != prev+1 {
				t.Errorf("tick %d after tick %d", n, prev)
			}
			prev = n
		case <-time.After(20 * time.Second):
			t.Fatalf("no output from kubectl attach\n%s", errOut.String())
		}
	}
}

// TestKubectlCp: kubectl cp to and from a container whose module answers
// tar (exec runs the container's module with kubectl's tar command), a
// file and a directory each way, through an emptyDir.
func TestKubectlCp(t *testing.T) {
	e := newStreamEnv(t)
	e.startPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "box"},
		Spec: corev1.PodSpec{
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			Containers: []corev1.Container{{Name: "main", Image: e.guestImage, Args: []string{"sleep"},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}}}})
	local := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef"), 40000) // 640 KB: many frames
	os.WriteFile(filepath.Join(local, "in.txt"), []byte("to the pod\n"), 0o644)
	os.MkdirAll(filepath.Join(local, "tree", "sub"), 0o755)
	os.WriteFile(filepath.Join(local, "tree", "a.txt"), []byte("a\n"), 0o644)
	os.WriteFile(filepath.Join(local, "tree", "sub", "big.bin"), big, 0o644)

	e.must(t, "cp", filepath.Join(local, "in.txt"), "box:/data/in.txt")
	e.must(t, "cp", filepath.Join(local, "tree"), "box:/data/tree")
	if _, _, code := e.run(t, "", "exec", "box", "--", "test", "-d", "/data/tree/sub"); code != 0 {
		t.Errorf("test -d /data/tree/sub: exit %d", code)
	}
	if _, _, code := e.run(t, "", "exec", "box", "--", "test", "-d", "/data/in.txt"); code != 1 {
		t.Errorf("test -d of a file: exit %d", code)
	}

	// Into a directory (kubectl asks test -d first): the file keeps its name.
	e.must(t, "cp", filepath.Join(local, "in.txt"), "box:/data/tree")

	back := t.TempDir()
	e.must(t, "cp", "box:/data/in.txt", filepath.Join(back, "in.txt"))
	e.must(t, "cp", "box:/data/tree", filepath.Join(back, "tree"))
	for name, want := range map[string][]byte{
		"in.txt": []byte("to the pod\n"), "tree/a.txt": []byte("a\n"), "tree/sub/big.bin": big, "tree/in.txt": []byte("to the pod\n"),
	} {
		got, err := os.ReadFile(filepath.Join(back, filepath.FromSlash(name)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s copied back: %d bytes %v, want %d bytes", name, len(got), err, len(want))
		}
	}
	// A path that is not there: tar's message and a failing exit.
	// (kubectl cp sends tar's stderr to its stdout.)
	out, errOut, code := e.run(t, "", "cp", "box:/data/nope", filepath.Join(back, "nope"))
	if code == 0 || !strings.Contains(out, "/data/nope: ") || !strings.Contains(errOut, "command terminated with exit code 1") {
		t.Errorf("cp of a missing file: exit %d stdout %q stderr %q", code, out, errOut)
	}
}

// TestKubectlPortForwardGuest: kubectl port-forward (WebSocket-tunnelled
// SPDY) to a guest's TCP echo server, three connections in turn; then a
// port nothing listens on gives kubectl the kubelet's message.
func TestKubectlPortForwardGuest(t *testing.T) {
	e := newStreamEnv(t)
	netprobe := filepath.Join(e.dir, "netprobe.wasm")
	if err := os.WriteFile(netprobe, testwasm.Build(t, testwasm.GuestDir(t, "netprobe")), 0o644); err != nil {
		t.Fatal(err)
	}
	e.startPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: netprobe, Args: []string{"echo-server", ":7000", "3"}}}}})
	for _, c := range []struct {
		port    string
		refused bool
	}{{"7000", false}, {"7001", true}} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := e.kubectl(t, "port-forward", "pod/echo", ":"+c.port)
		stdout, _ := cmd.StdoutPipe()
		var errOut syncBuf
		cmd.Stderr = &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) -> ` + c.port + `$`)
		local := ""
		for local == "" && sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				local = m[1]
			}
		}
		go io.Copy(io.Discard, stdout)
		if local == "" {
			t.Fatalf("port-forward did not start: %s", errOut.String())
		}
		n := 3
		if c.refused {
			n = 1
		}
		for i := 0; i < n; i++ {
			conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", "127.0.0.1:"+local)
			if err != nil {
				t.Fatal(err)
			}
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			msg := fmt.Sprintf("round %d", i)
			io.WriteString(conn, msg)
			conn.(*net.TCPConn).CloseWrite()
			got, _ := io.ReadAll(conn)
			conn.Close()
			if want := msg; c.refused {
				if len(got) != 0 {
					t.Errorf("refused port: read %q", got)
				}
			} else if string(got) != want {
				t.Errorf("port %s, connection %d: %q, want %q\n%s", c.port, i, got, want, errOut.String())
			}
		}
		if c.refused {
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-ctx.Done():
				t.Errorf("kubectl port-forward did not end after the refused connection")
			}
			if s := errOut.String(); !strings.Contains(s, "error forwarding port 7001 to pod echo") || !strings.Contains(s, "connection refused") {
				t.Errorf("refused port: kubectl stderr %q", s)
			}
		} else {
			if s := errOut.String(); s != "" {
				t.Errorf("port-forward stderr: %q", s)
			}
			cmd.Process.Kill()
			cmd.Wait()
		}
		cancel()
	}
}

// syncBuf is a bytes.Buffer safe for a writer and a reader.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
