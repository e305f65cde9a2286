package main

// Images through the API: the module store of `wasmpod serve`, filled by
// `wasmpod image import` and `wasmpod apply` and named by kubectl.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/internal/testkubectl"
)

// buildEnv is cleanEnv plus the tests' Go and wasmpod caches, so that the
// CLI's go:// builds are warm.
func buildEnv(t *testing.T, kubeconfig string) []string {
	env := cleanEnv(t, kubeconfig)
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOFLAGS", "GOPROXY", "XDG_CACHE_HOME"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// runIn runs bin in dir, as runClient does in the repository.
func runIn(t *testing.T, dir string, env []string, bin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Dir = env, dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %s: %v", bin, strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

func TestImagesThroughServe(t *testing.T) {
	t.Parallel()
	kubectl := testkubectl.Path(t)
	dir, addr := t.TempDir(), freeAddr(t)
	s := serve(t, dir, "--listen", addr)
	env := buildEnv(t, filepath.Join(dir, "kubeconfig"))
	ctx := context.Background()

	// wasmpod image import builds here, uploads and names the module.
	out, errOut, code := runClient(t, env, binPath, "image", "import", "go://./wasm-examples/hello", "hello")
	if code != 0 || out != "wasmpod.local/hello:latest\n" || !regexp.MustCompile(`Imported go://\./wasm-examples/hello \([0-9.]+ [kM]?B, sha256:[0-9a-f]{64}\) as wasmpod.local/hello:latest`).MatchString(errOut) {
		t.Fatalf("image import: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var tags map[string]string
	raw, err := os.ReadFile(filepath.Join(dir, "modules", "tags.json"))
	if err != nil || json.Unmarshal(raw, &tags) != nil || tags["hello:latest"] == "" {
		t.Fatalf("tags.json: %s %v", raw, err)
	}
	digest := tags["hello:latest"]
	module, err := os.ReadFile(filepath.Join(dir, "modules", "blobs", "sha256", strings.TrimPrefix(digest, "sha256:")))
	if err != nil || !bytes.HasPrefix(module, []byte("\x00asm")) {
		t.Fatalf("blob: %v", err)
	}

	// kubectl run names it; the node agent resolves it from the store.
	if out := mustClient(t, env, kubectl, "run", "hi", "--image=wasmpod.local/hello", "--restart=Never", "--", "x", "y"); out != "pod/hi created\n" {
		t.Errorf("kubectl run: %q", out)
	}
	s.waitPod(t, "hi", "Succeeded", phaseIs(corev1.PodSucceeded))
	if out := mustClient(t, env, kubectl, "logs", "hi"); out != "hello from an unnamed pod\nargs: x y\n" {
		t.Errorf("kubectl logs hi: %q", out)
	}
	// An image the store does not have: ErrImagePull (then its back-off),
	// saying what to do.
	mustClient(t, env, kubectl, "run", "nope", "--image=wasmpod.local/nope:v2", "--restart=Never")
	p := s.waitPod(t, "nope", "ErrImagePull", func(p *corev1.Pod) bool {
		if len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].State.Waiting == nil {
			return false
		}
		r := p.Status.ContainerStatuses[0].State.Waiting.Reason
		return r == "ErrImagePull" || r == "ImagePullBackOff"
	})
	if msg := p.Status.ContainerStatuses[0].State.Waiting.Message; !strings.Contains(msg, `Failed to pull image "wasmpod.local/nope:v2": not in the module store: no image wasmpod.local/nope:v2 (wasmpod image import FILE nope:v2 adds it)`) {
		t.Errorf("waiting message: %q", msg)
	}

	// kubectl cannot send a relative image: 422, saying why and what to do.
	os.WriteFile(filepath.Join(dir, "rel.yaml"), []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: rel}\nspec:\n  containers:\n  - {name: server, image: go://./server}\n"), 0o644)
	_, errOut, code = runClient(t, env, kubectl, "apply", "-f", filepath.Join(dir, "rel.yaml"))
	if code != 1 || !strings.Contains(errOut, `The Pod "rel" is invalid: spec.containers[0].image: Invalid value: "go://./server": a relative image is resolved by the client that read the manifest, not the server: use wasmpod apply -f`) {
		t.Errorf("kubectl apply of a relative image: exit %d\n%s", code, errOut)
	}

	// wasmpod apply from another directory: the manifest's ./hello.wasm is
	// uploaded (it is there already: HEAD only) and named by digest.
	app := filepath.Join(t.TempDir(), "app")
	os.MkdirAll(app, 0o755)
	os.WriteFile(filepath.Join(app, "hello.wasm"), module, 0o644)
	os.WriteFile(filepath.Join(app, "pod.yaml"), []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: local}\nspec:\n  restartPolicy: Never\n  containers:\n  - {name: c, image: ./hello.wasm, args: [from, afar]}\n"), 0o644)
	elsewhere := t.TempDir()
	out, errOut, code = runIn(t, elsewhere, env, binPath, "apply", "-f", filepath.Join(app, "pod.yaml"))
	if code != 0 || out != "pod/local created\n" {
		t.Fatalf("wasmpod apply from elsewhere: exit %d\n%s%s", code, out, errOut)
	}
	got, err := s.client.CoreV1().Pods("default").Get(ctx, "local", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := got.Spec.Containers[0].Image; img != "wasmpod.local/hello@"+digest {
		t.Errorf("stored image %q, want wasmpod.local/hello@%s", img, digest)
	}
	if d, ok := got.Annotations["wasmpod.io/manifest-dir"]; ok {
		t.Errorf("manifest-dir annotation %q sent with an uploaded image", d)
	}
	s.waitPod(t, "local", "Succeeded", phaseIs(corev1.PodSucceeded))
	if out := mustClient(t, env, kubectl, "logs", "local"); out != "hello from an unnamed pod\nargs: from afar\n" {
		t.Errorf("kubectl logs local: %q", out)
	}
	// Applied again unchanged: unchanged.
	if out, errOut, code := runIn(t, elsewhere, env, binPath, "apply", "-f", filepath.Join(app, "pod.yaml")); code != 0 || out != "pod/local unchanged\n" {
		t.Errorf("second apply: exit %d\n%s%s", code, out, errOut)
	}
	// A go:// manifest of the repository: built here, named by its digest.
	if out := mustClient(t, env, binPath, "apply", "-f", "wasm-examples/hello/pod.yaml"); out != "pod/hello created\n" {
		t.Errorf("wasmpod apply go://: %q", out)
	}
	got, _ = s.client.CoreV1().Pods("default").Get(ctx, "hello", metav1.GetOptions{})
	if img := got.Spec.Containers[0].Image; img != "wasmpod.local/hello@"+digest {
		t.Errorf("stored image of go://. %q, want wasmpod.local/hello@%s", img, digest)
	}
	s.waitPod(t, "hello", "Succeeded", phaseIs(corev1.PodSucceeded))
	if out := mustClient(t, env, kubectl, "logs", "hello"); out != "hello from hello\nargs: a b\n" {
		t.Errorf("kubectl logs hello: %q", out)
	}

	// The store outlives the server: after a restart, the tag still names
	// the module.
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.wait(time.Minute)
	s2 := serve(t, dir, "--listen", addr)
	if out := mustClient(t, env, kubectl, "run", "again", "--image=wasmpod.local/hello:latest", "--restart=Never"); out != "pod/again created\n" {
		t.Errorf("kubectl run after a restart: %q", out)
	}
	s2.waitPod(t, "again", "Succeeded", phaseIs(corev1.PodSucceeded))
}
