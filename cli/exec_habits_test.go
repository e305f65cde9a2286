package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// helpExamples returns the example command lines of a command's --help
// ("  wasmpod ..." or "  echo X | wasmpod ..." lines).
func helpExamples(t *testing.T, cmd string) []string {
	t.Helper()
	out, _, code := runMain(cmd, "--help")
	if code != 0 {
		t.Fatalf("%s --help: exit %d", cmd, code)
	}
	var ex []string
	_, out, _ = strings.Cut(out, "Examples")
	for _, ln := range strings.Split(out, "\n") {
		ln = strings.TrimSpace(ln)
		if strings.HasPrefix(ln, "wasmpod "+cmd+" ") || strings.HasPrefix(ln, "echo ") && strings.Contains(ln, "| wasmpod "+cmd+" ") {
			ex = append(ex, ln)
		}
	}
	return ex
}

// TestExecHelpExamplesWork: every example of "wasmpod exec --help" runs
// and succeeds against a real serve running the pod of
// wasm-examples/toolbox, as the help says to set it up.
func TestExecHelpExamplesWork(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the toolbox example: skipped with -short")
	}
	examples := helpExamples(t, "exec")
	if len(examples) < 3 {
		t.Fatalf("exec --help has %d examples: %q", len(examples), examples)
	}
	repo := testwasm.RepoRoot(t)
	home := isolate(t)
	// Built images and compiled modules: the tests' own cache, shared
	// between runs (the go:// build of toolbox is the slow part).
	cache := testwasm.CacheDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var serveErr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runAppContext(ctx, App(&bytes.Buffer{}, &serveErr), []string{"wasmpod", "serve", "--data-dir", filepath.Join(home, "data"), "--cache-dir", cache})
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Error("serve did not stop")
		}
	}()
	waitCLI := func(what string, timeout time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for !cond() {
			select {
			case code := <-done:
				t.Fatalf("serve exited %d: %s", code, serveErr.String())
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after %v; serve's stderr:\n%s", what, timeout, serveErr.String())
			}
		}
	}
	waitCLI("serve answers", 2*time.Minute, func() bool { _, _, code := runMain("get", "nodes"); return code == 0 })
	if out, errOut, code := runMain("apply", "-f", filepath.Join(repo, "wasm-examples", "toolbox", "pod.yaml")); code != 0 {
		t.Fatalf("apply toolbox: exit %d, %q %q", code, out, errOut)
	}
	waitCLI("toolbox Running", 10*time.Minute, func() bool {
		out, _, _ := runMain("get", "pod", "toolbox", "-o", "json")
		var p corev1.Pod
		if json.Unmarshal([]byte(out), &p) != nil {
			return false
		}
		if p.Status.Phase == corev1.PodFailed {
			d, _, _ := runMain("describe", "pod", "toolbox")
			t.Fatalf("toolbox failed:\n%s", d)
		}
		return p.Status.Phase == corev1.PodRunning
	})

	var outputs []string
	for _, ex := range examples {
		stdin := ""
		line := ex
		if strings.HasPrefix(line, "echo ") {
			var pipe string
			pipe, line, _ = strings.Cut(line, " | ")
			stdin = strings.TrimPrefix(pipe, "echo ") + "\n"
		}
		args := strings.Fields(line)[1:] // no quoting in the examples
		var out, errb syncBuffer
		app := App(&out, &errb)
		app.Reader = strings.NewReader(stdin)
		code := runApp(app, append([]string{"wasmpod"}, args...))
		if code != 0 {
			t.Errorf("example %q: exit %d\nstdout: %s\nstderr: %s", ex, code, out.String(), errb.String())
		}
		outputs = append(outputs, out.String())
	}
	all := strings.Join(outputs, "")
	for _, want := range []string{"GREETING=hello from the pod's environment", "hello\n"} {
		if !strings.Contains(all, want) {
			t.Errorf("the examples' output lacks %q:\n%s", want, all)
		}
	}
	// The help says which module runs COMMAND: the container's own, the
	// toolbox's applets, else 127.
	out, _, _ := runMain("exec", "--help")
	if !strings.Contains(out, "Which module runs") || !strings.Contains(out, "toolbox") || !strings.Contains(out, "exits 127") {
		t.Errorf("exec --help does not say how COMMAND is used:\n%s", out)
	}
}
