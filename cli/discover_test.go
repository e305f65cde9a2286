package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/apiserver"
)

// isolate points every directory the CLI may look in (home, XDG dirs, the
// data dir) into a temp dir and clears the connection variables.
func isolate(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, v := range []string{"XDG_RUNTIME_DIR", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "WASMPOD_DATA_DIR", "WASMPOD_SERVER", "WASMPOD_TOKEN", "KUBECONFIG"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(home, "run"))
	return home
}

// apiOn serves a real API server (memory store) on a Unix socket and, if
// token is set, on loopback TCP and TLS; it returns the TCP address, the
// TLS URL and its CA certificate (PEM).
func apiOn(t *testing.T, sock, token string, pods ...string) (addr, tlsURL string, caPEM []byte) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, cs := serveUnix(t, ctx, sock)
	for _, name := range pods {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "a.wasm"}}}}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if token != "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: s.Handler(apiserver.HandlerOptions{Token: token})}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		addr = ln.Addr().String()
		ts := httptest.NewUnstartedServer(s.Handler(apiserver.HandlerOptions{Token: token}))
		ts.StartTLS()
		t.Cleanup(ts.Close)
		tlsURL = ts.URL
		caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	}
	return addr, tlsURL, caPEM
}

// getPods runs "wasmpod get pods -o name" (plus args) and returns stdout,
// stderr and the exit code.
func getPods(args ...string) (string, string, int) {
	return runMain(append([]string{"get", "pods", "-o", "name"}, args...)...)
}

// TestServerFromDefaultDataDir: with no flag, the socket of the default
// data dir ($WASMPOD_DATA_DIR) is used; when nothing answers, the error
// says what was tried and what to do.
func TestServerFromDefaultDataDir(t *testing.T) {
	home := isolate(t)
	data := filepath.Join(home, "data")
	t.Setenv("WASMPOD_DATA_DIR", data)
	out, errOut, code := getPods()
	want := fmt.Sprintf("error: no wasmpod server found: tried unix://%s/wasmpod.sock (no such file); start one with 'wasmpod serve' or pass --server\n", data)
	if code != 1 || errOut != want || out != "" {
		t.Fatalf("no server: exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	apiOn(t, filepath.Join(data, "wasmpod.sock"), "", "web")
	if out, errOut, code := getPods(); code != 0 || out != "pod/web\n" {
		t.Fatalf("default data dir: exit %d, %q %q", code, out, errOut)
	}
}

// TestServeFoundByOtherCommands: after "wasmpod serve --data-dir X" the
// other commands find it with no flag, through the record serve keeps
// while it runs (and removes on exit).
func TestServeFoundByOtherCommands(t *testing.T) {
	home := isolate(t)
	data := filepath.Join(home, "elsewhere")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var serveErr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runAppContext(ctx, App(&bytes.Buffer{}, &serveErr), []string{"wasmpod", "serve", "--data-dir", data, "--cache-dir", filepath.Join(home, "cache")})
	}()
	record := filepath.Join(home, "run", "wasmpod", "servers", fmt.Sprintf("serve-%d.json", os.Getpid()))
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(record); err == nil {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, serveErr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve recorded nothing in %s; stderr: %s", record, serveErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	st, err := os.Stat(record)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("record %s: %v, mode %v", record, err, st.Mode())
	}
	out, errOut, code := runMain("get", "nodes", "-o", "name")
	if code != 0 || !strings.Contains(out, "node/") {
		t.Fatalf("get nodes with serve --data-dir %s running: exit %d, %q %q", data, code, out, errOut)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exit %d: %s", code, serveErr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop")
	}
	if _, err := os.Stat(record); !os.IsNotExist(err) {
		t.Errorf("record left after a clean exit: %v", err)
	}
	if _, errOut, code := runMain("get", "nodes"); code != 1 || !strings.HasPrefix(errOut, "error: no wasmpod server found") {
		t.Errorf("after serve stopped: exit %d, %q", code, errOut)
	}
}

// TestServeRecords: records of dead processes are dropped, a live record
// is used, and several live ones are listed for the user to choose from.
func TestServeRecords(t *testing.T) {
	home := isolate(t)
	t.Setenv("WASMPOD_DATA_DIR", filepath.Join(home, "default"))
	// A process that has exited: its record is stale.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := cmd.Process.Pid
	if _, err := recordServe(serveRecord{PID: deadPID, Socket: filepath.Join(home, "gone.sock"), DataDir: "/gone"}); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(serversDir(), fmt.Sprintf("serve-%d.json", deadPID))
	one := filepath.Join(home, "one.sock")
	apiOn(t, one, "", "from-one")
	if _, err := recordServe(serveRecord{PID: os.Getpid(), Socket: one, DataDir: filepath.Join(home, "one")}); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := getPods(); code != 0 || out != "pod/from-one\n" {
		t.Fatalf("one live serve: exit %d, %q %q", code, out, errOut)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the record of a dead serve was kept: %v", err)
	}
	// A second live serve (another live pid: our parent).
	two := filepath.Join(home, "two.sock")
	apiOn(t, two, "", "from-two")
	if _, err := recordServe(serveRecord{PID: os.Getppid(), Socket: two, DataDir: filepath.Join(home, "two")}); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := getPods()
	if code != 1 || !strings.HasPrefix(errOut, "error: 2 wasmpod servers are running; choose one with --server:") ||
		!strings.Contains(errOut, "--server unix://"+one) || !strings.Contains(errOut, "--server unix://"+two) {
		t.Fatalf("two live serves: exit %d, %q", code, errOut)
	}
	if out, _, code := getPods("--server", "unix://"+two); code != 0 || out != "pod/from-two\n" {
		t.Fatalf("--server picks one: exit %d, %q", code, out)
	}
	// The default data dir's socket comes first.
	if err := os.MkdirAll(filepath.Join(home, "default"), 0o700); err != nil {
		t.Fatal(err)
	}
	apiOn(t, filepath.Join(home, "default", "wasmpod.sock"), "", "from-default")
	if out, errOut, code := getPods(); code != 0 || out != "pod/from-default\n" {
		t.Fatalf("default socket and two serves: exit %d, %q %q", code, out, errOut)
	}
}

// TestServerFromKubeconfig: --kubeconfig / KUBECONFIG give the server and
// token (TCP or a unix:// socket), --context picks a context, --server
// wins over both, and ~/.kube/config is never read implicitly.
func TestServerFromKubeconfig(t *testing.T) {
	home := isolate(t)
	const token = "kubeconfig-token-0123456789"
	sock := filepath.Join(home, "kc.sock")
	addr, tlsURL, ca := apiOn(t, sock, token, "from-kubeconfig")
	kc := filepath.Join(home, "kubeconfig")
	content := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: tls
  cluster: {server: "%s", certificate-authority-data: %s}
- name: plain
  cluster: {server: "http://%s"}
- name: sock
  cluster: {server: "unix://%s"}
users:
- name: good
  user: {token: %s}
- name: bad
  user: {token: wrong-token-0123456789}
contexts:
- name: good
  context: {cluster: tls, user: good}
- name: bad
  context: {cluster: tls, user: bad}
- name: plain
  context: {cluster: plain, user: good}
- name: socket
  context: {cluster: sock}
current-context: good
`, tlsURL, base64.StdEncoding.EncodeToString(ca), addr, sock, token)
	if err := os.WriteFile(kc, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := getPods("--kubeconfig", kc); code != 0 || out != "pod/from-kubeconfig\n" {
		t.Fatalf("--kubeconfig (https, CA data, token): exit %d, %q %q", code, out, errOut)
	}
	if _, errOut, code := getPods("--kubeconfig", kc, "--context", "bad"); code != 1 || !strings.HasPrefix(errOut, "error: You must be logged in to the server") {
		t.Fatalf("--context bad: exit %d, %q", code, errOut)
	}
	// Over plain http, as kubectl, the kubeconfig's token is not sent;
	// an explicit --token is.
	if _, errOut, code := getPods("--kubeconfig", kc, "--context", "plain"); code != 1 || !strings.HasPrefix(errOut, "error: You must be logged in to the server") {
		t.Fatalf("--context plain: exit %d, %q", code, errOut)
	}
	if out, errOut, code := getPods("--kubeconfig", kc, "--context", "plain", "--token", token); code != 0 || out != "pod/from-kubeconfig\n" {
		t.Fatalf("--context plain --token: exit %d, %q %q", code, out, errOut)
	}
	if out, errOut, code := getPods("--kubeconfig", kc, "--context", "socket"); code != 0 || out != "pod/from-kubeconfig\n" {
		t.Fatalf("--context socket (unix://): exit %d, %q %q", code, out, errOut)
	}
	if _, errOut, code := getPods("--kubeconfig", kc, "--context", "nope"); code != 1 || !strings.Contains(errOut, `context "nope" does not exist`) {
		t.Fatalf("--context nope: exit %d, %q", code, errOut)
	}
	if _, errOut, code := getPods("--kubeconfig", filepath.Join(home, "missing")); code != 1 || !strings.Contains(errOut, filepath.Join(home, "missing")) {
		t.Fatalf("--kubeconfig missing: exit %d, %q", code, errOut)
	}
	t.Setenv("KUBECONFIG", filepath.Join(home, "missing")+string(filepath.ListSeparator)+kc)
	if out, errOut, code := getPods(); code != 0 || out != "pod/from-kubeconfig\n" {
		t.Fatalf("KUBECONFIG list: exit %d, %q %q", code, out, errOut)
	}
	// --server takes precedence over the kubeconfig.
	other := filepath.Join(home, "other.sock")
	apiOn(t, other, "", "from-server")
	if out, errOut, code := getPods("--server", "unix://"+other); code != 0 || out != "pod/from-server\n" {
		t.Fatalf("--server with KUBECONFIG set: exit %d, %q %q", code, out, errOut)
	}
	// ~/.kube/config is a user's real cluster: not read unless named.
	os.Unsetenv("KUBECONFIG")
	if err := os.MkdirAll(filepath.Join(home, ".kube"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".kube", "config"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := getPods(); code != 1 || !strings.HasPrefix(errOut, "error: no wasmpod server found") {
		t.Fatalf("with only ~/.kube/config: exit %d, %q", code, errOut)
	}
	if _, errOut, code := getPods("--context", "good"); code != 1 || !strings.Contains(errOut, "--context \"good\" needs a kubeconfig") {
		t.Fatalf("--context alone: exit %d, %q", code, errOut)
	}
}

// TestHelpShowsServerPrecedence: "wasmpod --help" lists how the server is
// found, in order.
func TestHelpShowsServerPrecedence(t *testing.T) {
	out, _, code := runMain("--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	last := -1
	for _, w := range []string{"1. --server", "2. --kubeconfig", "3. The socket of the default data dir", "4. A \"wasmpod serve\""} {
		i := strings.Index(out, w)
		if i < 0 || i < last {
			t.Errorf("--help lacks %q after the previous step:\n%s", w, out)
		}
		last = i
	}
	for _, f := range []string{"--kubeconfig", "--context", "WASMPOD_DATA_DIR"} {
		if !strings.Contains(out, f) {
			t.Errorf("--help lacks %s", f)
		}
	}
}

// TestHTTPSServerTrustsRecordedCA: --server https://... of a running serve
// that recorded its CA is trusted through that record; without it, the
// unknown CA is refused.
func TestHTTPSServerTrustsRecordedCA(t *testing.T) {
	home := isolate(t)
	sock := filepath.Join(home, "api.sock")
	_, tlsURL, caPEM := apiOn(t, sock, "tls-token-0123456789abcdef", "over-tls")
	args := []string{"--server", tlsURL, "--token", "tls-token-0123456789abcdef"}
	if _, errOut, code := getPods(args...); code == 0 || !strings.Contains(errOut, "certificate") {
		t.Fatalf("unknown CA: exit %d, %q", code, errOut)
	}
	caFile := filepath.Join(home, "ca.crt")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := recordServe(serveRecord{PID: os.Getpid(), Socket: sock, DataDir: home, Listen: tlsURL, CAFile: caFile}); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := getPods(args...); code != 0 || out != "pod/over-tls\n" {
		t.Fatalf("recorded CA: exit %d, %q %q", code, out, errOut)
	}
}
