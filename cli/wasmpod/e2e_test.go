package main

// End-to-end tests: the built wasmpod binary runs the examples' manifests
// with real wazero and real modules built from wasm-examples/.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/syncbuf"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

var (
	binPath  string
	cacheDir string
	repoRoot string
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		tmp, err := os.MkdirTemp("", "wasmpod-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(tmp)
		// serve records where it listens under $XDG_RUNTIME_DIR: keep the
		// records of the tests' serves out of the user's own.
		os.Setenv("XDG_RUNTIME_DIR", filepath.Join(tmp, "run"))
		repoRoot, _ = filepath.Abs("../..")
		binPath = filepath.Join(tmp, "wasmpod")
		build := exec.Command("go", "build", "-o", binPath, ".")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building wasmpod:", err)
			return 1
		}
		// Built images and compiled modules are shared by every test, as a
		// user's cache is shared by every run: the tests' own cache, never
		// the user's.
		if err := testwasm.UseTestCache(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		cacheDir = testwasm.CacheDir()
		return m.Run()
	}())
}

// syncBuffer is safe for a writer and a poller.
type syncBuffer = syncbuf.Buffer

type proc struct {
	t              *testing.T
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
	err            error
}

// start runs wasmpod with args (from the repository root).
func start(t *testing.T, stdin string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	full := append([]string{args[0], "--cache-dir", cacheDir}, args[1:]...)
	if args[0] != "run" {
		full = args
	}
	p.cmd = exec.Command(binPath, full...)
	p.cmd.Dir = repoRoot
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if stdin != "" {
		p.cmd.Stdin = strings.NewReader(stdin)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait returns the exit status, failing the test after timeout.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("wasmpod did not exit within %s\nstdout:\n%s\nstderr:\n%s", timeout, p.stdout, p.stderr)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		p.t.Fatal(p.err)
	}
	return 0
}

// waitFor polls until re matches stdout or stderr.
func (p *proc) waitFor(re string, timeout time.Duration) {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if rx.MatchString(p.stdout.String()) || rx.MatchString(p.stderr.String()) {
			return
		}
		select {
		case <-p.done:
			if rx.MatchString(p.stdout.String()) || rx.MatchString(p.stderr.String()) {
				return
			}
			p.t.Fatalf("wasmpod exited before %q appeared\nstdout:\n%s\nstderr:\n%s", re, p.stdout, p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	p.t.Fatalf("%q did not appear within %s\nstdout:\n%s\nstderr:\n%s", re, timeout, p.stdout, p.stderr)
}

// interrupt sends SIGINT (Ctrl-C) and fails the test unless wasmpod exits
// with code want within a minute.
func (p *proc) interrupt(want int) {
	p.t.Helper()
	p.signal(syscall.SIGINT)
	if code := p.wait(time.Minute); code != want {
		p.t.Fatalf("exit %d after SIGINT, want %d\nstdout:\n%s\nstderr:\n%s", code, want, p.stdout, p.stderr)
	}
}

func (p *proc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

func contains(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, out)
		}
	}
}

const runTimeout = 3 * time.Minute

func TestRunHello(t *testing.T) {
	t.Parallel()
	p := start(t, "", "run", "wasm-examples/hello/pod.yaml")
	if code := p.wait(runTimeout); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, p.stderr)
	}
	contains(t, "stdout", p.stdout.String(), "[hello/hello] hello from hello\n", "[hello/hello] args: a b\n")
	contains(t, "stderr", p.stderr.String(), "pod/hello created", "pod/hello Completed (phase: Succeeded, ready: 0/1, restarts: 0)")
}

func TestRunSharedVolume(t *testing.T) {
	t.Parallel()
	p := start(t, "", "run", "wasm-examples/shared-volume/pod.yaml")
	if code := p.wait(runTimeout); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, p.stderr)
	}
	out := p.stdout.String()
	for i := 1; i <= 5; i++ {
		contains(t, "stdout", out, fmt.Sprintf("[shared-volume/reader] read: line %d\n", i))
	}
	contains(t, "stderr", p.stderr.String(), "(phase: Running, ready: 2/2", "phase: Succeeded")
}

func TestRunInitContainers(t *testing.T) {
	t.Parallel()
	p := start(t, "", "run", "wasm-examples/init/pod.yaml")
	if code := p.wait(runTimeout); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, p.stderr)
	}
	out := p.stdout.String()
	contains(t, "stdout", out, "greeting=hello from init")
	// Init containers run one at a time, before the app container.
	iPrep, iApp := strings.Index(out, "[init/prepare]"), strings.Index(out, "[init/app]")
	if iPrep < 0 || iApp < 0 || iPrep > iApp {
		t.Errorf("init container output should precede the app's:\n%s", out)
	}
	contains(t, "stderr", p.stderr.String(), "pod/init Init:0/2", "phase: Succeeded")
}

func TestRunCrashLoopBackOff(t *testing.T) {
	t.Parallel()
	p := start(t, "", "run", "wasm-examples/crash/pod.yaml")
	// The first restart is immediate, the second waits 10 s.
	p.waitFor(`pod/crash CrashLoopBackOff \(phase: Running, ready: 0/1, restarts: 1\)`, runTimeout)
	// The event is written asynchronously, as upstream's event recorder does.
	p.waitFor(`Warning BackOff pod/crash: Back-off restarting failed container crash in pod crash_default\(`, time.Minute)
	if n := strings.Count(p.stdout.String(), "[crash/crash] crashing with exit code 3"); n != 2 {
		t.Errorf("want 2 runs before the back-off, got %d:\n%s", n, p.stdout)
	}
	p.interrupt(3) // the crashed container's exit code
}

func TestRunGracefulTermination(t *testing.T) {
	t.Parallel()
	p := start(t, "", "run", "wasm-examples/graceful/pod.yaml")
	p.waitFor(`\[graceful/graceful\] ready`, runTimeout)
	p.interrupt(0)
	contains(t, "stdout", p.stdout.String(), "[graceful/graceful] TERM received, cleaning up", "[graceful/graceful] clean exit")
	contains(t, "stderr", p.stderr.String(), "terminating pods gracefully", "phase: Succeeded")
}

func TestRunSpinIsKilledAtDeadline(t *testing.T) {
	t.Parallel()
	p := start(t, "", "run", "wasm-examples/spin/pod.yaml")
	p.waitFor(`\[spin/spin\] spinning`, runTimeout)
	p.signal(syscall.SIGTERM)
	p.waitFor(`pod/spin Terminating`, time.Minute)
	if code := p.wait(time.Minute); code != 137 {
		t.Fatalf("exit %d, want 137\nstderr:\n%s", code, p.stderr)
	}
	contains(t, "stderr", p.stderr.String(), "pod/spin Error (phase: Failed")
}

func TestRunSecondSignalKills(t *testing.T) {
	t.Parallel()
	// graceful's grace period is 5 s; spin ignores TERM with a 2 s grace.
	// Make the grace long so only the second signal can end it.
	manifest := strings.Replace(readFile(t, "wasm-examples/spin/pod.yaml"), "terminationGracePeriodSeconds: 2", "terminationGracePeriodSeconds: 600", 1)
	manifest = strings.ReplaceAll(manifest, "go://.", "go://./wasm-examples/spin")
	p := start(t, manifest, "run", "-")
	p.waitFor(`\[spin/spin\] spinning`, runTimeout)
	p.signal(syscall.SIGINT)
	p.waitFor(`pod/spin Terminating`, time.Minute)
	p.interrupt(137)
	contains(t, "stderr", p.stderr.String(), "killing pods")
}

func readFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRunBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("notwasm.wasm", "this is text")
	os.MkdirAll(filepath.Join(dir, "broken"), 0o755)
	write("broken/go.mod", "module broken\n\ngo 1.24\n")
	write("broken/main.go", "package main\n\nfunc main() { undefinedThing() }\n")
	pod := func(image string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  restartPolicy: Never\n  containers:\n  - name: c\n    image: " + image + "\n"
	}
	cases := []struct {
		name, file string
		wants      []string
	}{
		{"malformed yaml", write("malformed.yaml", "apiVersion: v1\nkind: Pod\nmetadata: [\n"), []string{"malformed.yaml"}},
		{"no image", write("noimage.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n  - name: c\n"), []string{"noimage.yaml", "spec.containers[0].image: Required value"}},
		{"host network", write("hostnet.yaml", pod("x.wasm")+"  hostNetwork: true\n"), []string{"hostnet.yaml", "spec.hostNetwork"}},
		{"unknown field", write("unknown.yaml", strings.Replace(pod("x.wasm"), "image:", "imagee:", 1)), []string{"unknown.yaml", "spec.containers[0].imagee: unknown field"}},
		{"missing image", write("missing.yaml", pod("nope.wasm")), []string{`image "nope.wasm"`, "no such file or directory"}},
		{"not wasm", write("notwasm.yaml", pod("notwasm.wasm")), []string{`image "notwasm.wasm"`, "not a WebAssembly module"}},
		{"broken go build", write("broken.yaml", pod("go://./broken")), []string{`image "go://./broken"`, "undefined: undefinedThing"}},
		{"missing file", filepath.Join(dir, "absent.yaml"), []string{"absent.yaml"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, "", "run", tc.file)
			code := p.wait(runTimeout)
			if code == 0 {
				t.Fatalf("exit 0 for bad input\nstderr:\n%s", p.stderr)
			}
			contains(t, "stderr", p.stderr.String(), tc.wants...)
			if strings.Contains(p.stderr.String(), "panic") {
				t.Errorf("panic:\n%s", p.stderr)
			}
		})
	}
}

func TestRunTrappingModuleFails(t *testing.T) {
	t.Parallel()
	manifest := `apiVersion: v1
kind: Pod
metadata:
  name: trap
spec:
  restartPolicy: Never
  containers:
  - name: probe
    image: go://./wasm-examples/testguests/probe
    args: ["trap"]
`
	p := start(t, manifest, "run", "-")
	code := p.wait(runTimeout)
	if code != 134 {
		t.Fatalf("exit %d, want 134 for a trap\nstderr:\n%s", code, p.stderr)
	}
	contains(t, "stderr", p.stderr.String(), "pod/trap Error (phase: Failed")
}

func TestVersionAndHelp(t *testing.T) {
	t.Parallel()
	p := start(t, "", "version")
	if code := p.wait(time.Minute); code != 0 {
		t.Fatalf("version exit %d", code)
	}
	contains(t, "stdout", p.stdout.String(), "wasmpod v", "wazero v1.12.0")
	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"version", "--help"}} {
		p := start(t, "", args...)
		if code := p.wait(time.Minute); code != 0 {
			t.Fatalf("%v exit %d", args, code)
		}
		contains(t, "help", p.stdout.String(), "Usage:")
	}
}
