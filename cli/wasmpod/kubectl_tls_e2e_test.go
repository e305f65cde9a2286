package main

// Real kubectl (built from the module proxy by internal/testkubectl)
// against `wasmpod serve --listen`, with nothing but the kubeconfig serve
// writes: HTTPS with a generated CA, the generated token.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/cert"

	"github.com/wasmpod/wasmpod/internal/testkubectl"
)

// freeAddr returns a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// cleanEnv runs a client with only the kubeconfig: a fresh HOME, an empty
// XDG_RUNTIME_DIR (no serve records) and no WASMPOD_* variables.
func cleanEnv(t *testing.T, kubeconfig string) []string {
	home := t.TempDir()
	return []string{"KUBECONFIG=" + kubeconfig, "HOME=" + home, "XDG_RUNTIME_DIR=" + filepath.Join(home, "run"), "PATH=" + os.Getenv("PATH")}
}

// runClient runs bin with args in env and returns stdout, stderr and the
// exit code.
func runClient(t *testing.T, env []string, bin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Dir = env, repoRoot
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s %s: %v", bin, strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return out.String(), errOut.String(), code
}

func mustClient(t *testing.T, env []string, bin string, args ...string) string {
	t.Helper()
	out, errOut, code := runClient(t, env, bin, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// TestKubectlWithServeKubeconfig: `wasmpod serve --listen` with no other
// flag serves HTTPS, generates a token and writes <data-dir>/kubeconfig;
// kubectl and the wasmpod CLI work with KUBECONFIG alone; a wrong token
// gets 401; a restart reuses the CA, so the kubeconfig keeps working.
func TestKubectlWithServeKubeconfig(t *testing.T) {
	t.Parallel()
	kubectl := testkubectl.Path(t)
	dir, addr := t.TempDir(), freeAddr(t)
	s := serve(t, dir, "--listen", addr)
	kc := filepath.Join(dir, "kubeconfig")
	if !strings.Contains(s.stderr.String(), "wasmpod serve: kubeconfig in "+kc+": export KUBECONFIG="+kc+"\n") {
		t.Errorf("serve does not print the KUBECONFIG line:\n%s", s.stderr)
	}
	for _, f := range []string{"kubeconfig", "token", "pki/ca.crt", "pki/ca.key", "pki/serving.crt", "pki/serving.key"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", f, fi, err)
		}
	}
	// KUBECONFIG alone, plus the tests' Go caches: wasmpod apply builds
	// go:// images on the client now, and a cold build takes minutes.
	env := buildEnv(t, kc)

	if out, errOut, code := runClient(t, env, kubectl, "version"); !strings.Contains(out, "Client Version: v1.37.2") ||
		!strings.Contains(out, "Server Version: v1.") || code != 0 {
		t.Errorf("kubectl version: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// The kubernetes Service leads to this API server's address.
	_, port, _ := net.SplitHostPort(addr)
	var ep string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if ep, _, _ = runClient(t, env, kubectl, "get", "endpoints", "kubernetes", "-o", "jsonpath={.subsets[0].addresses[0].ip}:{.subsets[0].ports[0].port}"); ep == "127.0.0.1:"+port {
			break
		}
	}
	if ep != "127.0.0.1:"+port {
		t.Errorf("endpoints kubernetes: %q, want 127.0.0.1:%s (this API server)", ep, port)
	}
	// The wasmpod CLI with the same KUBECONFIG (and no socket to find).
	if out := mustClient(t, env, binPath, "apply", "-f", "wasm-examples/hello/pod.yaml"); !strings.Contains(out, "pod/hello created") {
		t.Errorf("wasmpod apply:\n%s", out)
	}
	s.waitPod(t, "hello", "Succeeded", phaseIs(corev1.PodSucceeded))
	if out := mustClient(t, env, kubectl, "get", "pods"); !strings.Contains(out, "NAME") || !strings.Contains(out, "\nhello ") {
		t.Errorf("kubectl get pods:\n%s", out)
	}
	nodes, err := s.client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil || len(nodes.Items) == 0 {
		t.Fatalf("nodes: %v", err)
	}
	if out := mustClient(t, env, kubectl, "get", "nodes"); !strings.Contains(out, "\n"+nodes.Items[0].Name+" ") {
		t.Errorf("kubectl get nodes (want %s):\n%s", nodes.Items[0].Name, out)
	}
	const logs = "hello from hello\nargs: a b\n"
	if out := mustClient(t, env, kubectl, "logs", "hello"); out != logs {
		t.Errorf("kubectl logs: %q, want %q", out, logs)
	}
	if out := mustClient(t, env, binPath, "logs", "hello"); out != logs {
		t.Errorf("wasmpod logs: %q, want %q", out, logs)
	}
	if out := mustClient(t, env, binPath, "get", "pods"); !strings.Contains(out, "hello") {
		t.Errorf("wasmpod get pods:\n%s", out)
	}

	// exec over WebSocket through TLS, by kubectl and by wasmpod.
	mustClient(t, env, binPath, "apply", "-f", "wasm-examples/toolbox/pod.yaml")
	s.waitPod(t, "toolbox", "Running", phaseIs(corev1.PodRunning))
	if out := mustClient(t, env, kubectl, "exec", "toolbox", "--", "toolbox", "echo", "via", "kubectl"); out != "via kubectl\n" {
		t.Errorf("kubectl exec: %q", out)
	}
	if out := mustClient(t, env, binPath, "exec", "toolbox", "--", "toolbox", "echo", "via", "wasmpod"); out != "via wasmpod\n" {
		t.Errorf("wasmpod exec: %q", out)
	}

	// A wrong token: 401, which kubectl reports as such.
	cfg, err := clientcmd.LoadFromFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range cfg.AuthInfos {
		u.Token = "0123456789abcdef0123456789abcdef"
	}
	wrong := filepath.Join(t.TempDir(), "wrong")
	if err := clientcmd.WriteToFile(*cfg, wrong); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := runClient(t, cleanEnv(t, wrong), kubectl, "get", "pods"); code != 1 || !strings.Contains(errOut, "error: You must be logged in to the server") {
		t.Errorf("wrong token: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	// A restart on the same data dir: same CA, same token, same file.
	before := map[string][]byte{}
	for _, f := range []string{"kubeconfig", "token", "pki/ca.crt", "pki/ca.key", "pki/serving.crt"} {
		before[f], _ = os.ReadFile(filepath.Join(dir, f))
	}
	s.interrupt(0)
	s = serve(t, dir, "--listen", addr)
	for f, b := range before {
		if now, _ := os.ReadFile(filepath.Join(dir, f)); !bytes.Equal(now, b) {
			t.Errorf("%s changed across a restart", f)
		}
	}
	if out := mustClient(t, env, kubectl, "get", "pods", "hello"); !strings.Contains(out, "hello") {
		t.Errorf("kubectl get pods after restart:\n%s", out)
	}
}

// TestServeTLSCertFile: with --tls-cert-file and --tls-private-key-file,
// serve presents that certificate (and generates none), and its kubeconfig
// trusts it.
func TestServeTLSCertFile(t *testing.T) {
	t.Parallel()
	kubectl := testkubectl.Path(t)
	certPEM, keyPEM, err := cert.GenerateSelfSignedCertKey("127.0.0.1", nil, []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	files := t.TempDir()
	certFile, keyFile := filepath.Join(files, "tls.crt"), filepath.Join(files, "tls.key")
	os.WriteFile(certFile, certPEM, 0o600)
	os.WriteFile(keyFile, keyPEM, 0o600)
	given, err := cert.ParseCertsPEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	dir, addr := t.TempDir(), freeAddr(t)
	extra := filepath.Join(t.TempDir(), "kube", "config")
	serve(t, dir, "--listen", addr, "--tls-cert-file", certFile, "--tls-private-key-file", keyFile, "--write-kubeconfig", extra)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	peer := conn.ConnectionState().PeerCertificates
	conn.Close()
	if len(peer) == 0 || !peer[0].Equal(given[0]) {
		t.Errorf("serve does not present --tls-cert-file")
	}
	if _, err := os.Stat(filepath.Join(dir, "pki", "serving.crt")); err == nil {
		t.Error("a serving certificate was generated although --tls-cert-file was given")
	}
	// TLS 1.1 is refused.
	if c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}); err == nil {
		c.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}
	for _, kc := range []string{filepath.Join(dir, "kubeconfig"), extra} {
		if out := mustClient(t, cleanEnv(t, kc), kubectl, "get", "nodes"); !strings.Contains(out, "Ready") {
			t.Errorf("kubectl get nodes with %s:\n%s", kc, out)
		}
	}
}
