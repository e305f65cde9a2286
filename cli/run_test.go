package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// runCLI runs `wasmpod ARGS...` in process and returns its exit status,
// standard output and standard error.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runApp(App(&stdout, &stderr), append([]string{"wasmpod"}, args...))
	return code, stdout.String(), stderr.String()
}

// TestRunImageErrorNamesPlace: a bad image fails `run` with the manifest
// file, the document (its position, kind and name) and the image field,
// as manifest errors do (it named only the pod and container).
func TestRunImageErrorNamesPlace(t *testing.T) {
	dir := t.TempDir()
	hello := testwasm.Build(t, filepath.Join(testwasm.RepoRoot(t), "wasm-examples", "hello"))
	if err := os.WriteFile(filepath.Join(dir, "hello.wasm"), hello, 0o644); err != nil {
		t.Fatal(err)
	}
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: \"1\"}\n---\n"
	for _, tc := range []struct {
		name, pod, want string
	}{
		{"container", `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  restartPolicy: Never
  containers:
  - {name: ok, image: ./hello.wasm}
  - {name: bad, image: "go://./nope"}
`, `: document 2 (Pod/web): spec.containers[1].image: image "go://./nope": `},
		{"init container", `apiVersion: v1
kind: Pod
metadata: {name: setup}
spec:
  restartPolicy: Never
  initContainers:
  - {name: ok, image: ./hello.wasm}
  - {name: missing, image: ./missing.wasm}
  containers:
  - {name: app, image: ./hello.wasm}
`, `: document 2 (Pod/setup): spec.initContainers[1].image: image "./missing.wasm": `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			manifest := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			if err := os.WriteFile(manifest, []byte(cm+tc.pod), 0o644); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := runCLI(t, "run", "--cache-dir", testwasm.CacheDir(), "--data-dir", t.TempDir(), manifest)
			if code != 1 {
				t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			if want := "error: " + manifest + tc.want; !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
			if n := strings.Count(stderr, "image \""); n != 1 {
				t.Errorf("stderr names the image %d times:\n%s", n, stderr)
			}
		})
	}
}

// TestRunDirectory: `run DIR` runs the manifests of a directory, as
// `apply -f DIR` reads them (it was refused: "is a directory").
func TestRunDirectory(t *testing.T) {
	code, stdout, stderr := runCLI(t, "run", "--cache-dir", testwasm.CacheDir(), "--data-dir", t.TempDir(), filepath.Join(testwasm.RepoRoot(t), "wasm-examples", "hello"))
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, w := range []string{"[hello/hello] hello from hello\n", "[hello/hello] args: a b\n"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout)
		}
	}
}

// TestRunCompileProgress: the first run of a module (empty caches) reports
// its compile, which took seconds with no output, and then starts the pod.
func TestRunCompileProgress(t *testing.T) {
	// Report every compile, however quick this machine is.
	defer func(q time.Duration) { quietCompile = q }(quietCompile)
	quietCompile = 0
	code, stdout, stderr := runCLI(t, "run", "--cache-dir", t.TempDir(), "--data-dir", t.TempDir(), filepath.Join(testwasm.RepoRoot(t), "wasm-examples", "hello", "pod.yaml"))
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !regexp.MustCompile(`(?m)^(Compiling go://\. \(\d+\.\d (k|M)B\) with wazero\.\.\. \d+s\n)*Compiled go://\. in \d+(\.\d+)?m?s\npod/hello created\n`).MatchString(stderr) {
		t.Errorf("stderr does not report the compile before the pod starts:\n%s", stderr)
	}
}
