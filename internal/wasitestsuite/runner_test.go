package wasitestsuite

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	wz "github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmpod/wasmpod/runtime"
)

var rawWazero = flag.Bool("wasitestsuite.wazero", os.Getenv("WASI_TESTSUITE_WAZERO") != "",
	"also run every test through raw wazero with its own WASI (wasi_snapshot_preview1), "+
		"as upstream's wazero adapter does, and log both figures ($WASI_TESTSUITE_WAZERO)")

// testTimeout bounds one test's run (upstream's runner waits 5 s for the
// process after it starts; compiling is outside this bound here).
const testTimeout = 60 * time.Second

// TestWASITestsuite runs every preview-1 test of the checkout named by
// $WASI_TESTSUITE through wasmpod's engine (runtime/wazero.Engine, or
// runtime/wasmtime.Engine with $WASI_TESTSUITE_ENGINE=wasmtime), one
// subtest each, and logs "wasmpod passed N/M". With -wasitestsuite.wazero
// (or $WASI_TESTSUITE_WAZERO set) each test also runs through raw wazero
// with its own WASI; its result is logged, not failed.
// $WASI_TESTSUITE_REPORT, when set, names a file that receives one line
// per test: name, each runner's PASS/FAIL and why.
func TestWASITestsuite(t *testing.T) {
	root := os.Getenv("WASI_TESTSUITE")
	if root == "" {
		t.Skip("set WASI_TESTSUITE to a checkout of github.com/WebAssembly/wasi-testsuite (just wasi-testsuite DIR)")
	}
	if !filepath.IsAbs(root) {
		t.Fatalf("WASI_TESTSUITE=%q: give an absolute path (go test runs in the package's directory)", root)
	}
	eng := suiteEngine(t) // engine_test.go: $WASI_TESTSUITE_ENGINE
	cases, err := Discover(root)
	if err != nil {
		t.Fatal(err)
	}

	type row struct {
		suite, name    string
		pod, raw       []string // failures; nil: passed
		ranRaw         bool
		podOut, rawOut outcome
	}
	rows := make([]*row, 0, len(cases))
	for _, c := range cases {
		r := &row{suite: c.Suite, name: c.Suite + "/" + c.Name}
		rows = append(rows, r)
		t.Run(c.Suite+"/"+c.Name, func(t *testing.T) {
			wasm, err := os.ReadFile(c.Wasm)
			if err != nil {
				t.Fatal(err)
			}
			r.podOut = runWasmpod(t, eng, c, wasm)
			r.pod = check(c.Spec, r.podOut)
			if *rawWazero {
				r.ranRaw = true
				r.rawOut = runRawWazero(t, c, wasm)
				r.raw = check(c.Spec, r.rawOut)
				t.Logf("raw wazero: %s", verdict(r.raw))
			}
			if len(r.pod) > 0 {
				t.Errorf("wasmpod: %s\nstderr:\n%s\ntrap: %s", strings.Join(r.pod, "; "), tail(r.podOut.stderr, 2000), r.podOut.trap)
			}
		})
	}

	var podPassed, rawPassed int
	var report strings.Builder
	type tally struct{ pod, raw, n int }
	var suites []string
	bySuite := map[string]*tally{}
	for _, r := range rows {
		st := bySuite[r.suite]
		if st == nil {
			st = &tally{}
			bySuite[r.suite] = st
			suites = append(suites, r.suite)
		}
		st.n++
		if r.pod == nil {
			podPassed++
			st.pod++
		}
		if r.ranRaw && r.raw == nil {
			rawPassed++
			st.raw++
		}
		fmt.Fprintf(&report, "%-45s wasmpod=%s", r.name, passFail(r.pod))
		if r.ranRaw {
			fmt.Fprintf(&report, " wazero=%s", passFail(r.raw))
		}
		if r.pod != nil {
			fmt.Fprintf(&report, "\n    wasmpod: %s | %s", strings.Join(r.pod, "; "), r.podOut.why())
		}
		if r.ranRaw && r.raw != nil {
			fmt.Fprintf(&report, "\n    wazero:  %s | %s", strings.Join(r.raw, "; "), r.rawOut.why())
		}
		report.WriteString("\n")
	}
	t.Logf("per test:\n%s", report.String())
	if f := os.Getenv("WASI_TESTSUITE_REPORT"); f != "" {
		if err := os.WriteFile(f, []byte(report.String()), 0o644); err != nil {
			t.Errorf("writing the report: %v", err)
		}
	}
	for _, name := range suites {
		st := bySuite[name]
		if *rawWazero {
			t.Logf("%s: wasmpod %d/%d, raw wazero %d/%d", name, st.pod, st.n, st.raw, st.n)
		} else {
			t.Logf("%s: wasmpod %d/%d", name, st.pod, st.n)
		}
	}
	t.Logf("wasmpod passed %d/%d (engine %s)", podPassed, len(rows), eng.Name())
	if *rawWazero {
		t.Logf("raw wazero passed %d/%d", rawPassed, len(rows))
	}
}

// outcome is how one run of a test ended.
type outcome struct {
	exitCode       int
	stdout, stderr string
	// trap is the runtime's message for a trap, "" for an exit.
	trap string
	// err is a failure to run at all (compile, start, time-out); exitCode
	// is then meaningless.
	err error
}

// why is a one-line account of a failed run: the guest's last words (a
// Rust panic's message, a C assertion) and the trap's first line.
func (o outcome) why() string {
	s := lastLines(o.stderr, 3)
	if o.trap != "" {
		first, _, _ := strings.Cut(o.trap, "\n")
		s += " [trap: " + first + "]"
	}
	return s
}

// check compares an outcome with the spec as upstream's runner does: the
// exit code, and stdout and stderr when the spec gives them (upstream
// reads as many bytes as it expects, so they must begin with them); nil
// means passed.
func check(s Spec, o outcome) []string {
	var fails []string
	if len(s.Unknown) > 0 {
		fails = append(fails, fmt.Sprintf("spec fields not implemented by this runner: %v", s.Unknown))
	}
	if o.err != nil {
		return append(fails, o.err.Error())
	}
	if o.exitCode != s.ExitCode {
		fails = append(fails, fmt.Sprintf("exit code %d, want %d", o.exitCode, s.ExitCode))
	}
	if s.Stdout != nil && !strings.HasPrefix(o.stdout, *s.Stdout) {
		fails = append(fails, fmt.Sprintf("stdout %q, want it to begin with %q", o.stdout, *s.Stdout))
	}
	if s.Stderr != nil && !strings.HasPrefix(o.stderr, *s.Stderr) {
		fails = append(fails, fmt.Sprintf("stderr %q, want it to begin with %q", o.stderr, *s.Stderr))
	}
	return fails
}

// fixtures copies the directories the spec names into a fresh temporary
// directory (tests modify them) and returns the host path of each, keyed
// by the spec's name ("" for Root).
func fixtures(t *testing.T, c Case) map[string]string {
	t.Helper()
	tmp := t.TempDir()
	hosts := map[string]string{}
	names := append([]string(nil), c.Spec.Dirs...)
	if c.Spec.Root != "" {
		names = append(names, c.Spec.Root)
	}
	for i, d := range names {
		host := filepath.Join(tmp, fmt.Sprint(i), filepath.Base(d))
		if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := CopyTree(filepath.Join(c.Dir, d), host); err != nil {
			t.Fatalf("copying the test's directory %q: %v", d, err)
		}
		if i < len(c.Spec.Dirs) {
			hosts[d] = host
		} else {
			hosts[""] = host
		}
	}
	return hosts
}

// runWasmpod runs the test through wasmpod's engine. Each directory D of
// the spec is mounted at "/D" (wasmpod's guest paths are absolute, where
// upstream preopens the relative name "D"), and an argument equal to D,
// which the Rust tests compare with the preopen's name, becomes "/D".
// The spec's Root is mounted at "/". stdin holds the spec's writes to it,
// then EOF.
func runWasmpod(t *testing.T, eng runtime.Engine, c Case, wasm []byte) outcome {
	t.Helper()
	ctx := context.Background()
	hosts := fixtures(t, c)
	cfg := runtime.ContainerConfig{
		Name:  "wasi-testsuite/" + c.Name,
		Args:  []string{c.Name + ".wasm"},
		Env:   c.Spec.Env,
		Stdin: strings.NewReader(c.Spec.Stdin),
	}
	for _, a := range c.Spec.Args {
		for _, d := range c.Spec.Dirs {
			if a == d {
				a = "/" + d
				break
			}
		}
		cfg.Args = append(cfg.Args, a)
	}
	if h, ok := hosts[""]; ok {
		cfg.Mounts = append(cfg.Mounts, runtime.Mount{HostPath: h, GuestPath: "/"})
	}
	for _, d := range c.Spec.Dirs {
		cfg.Mounts = append(cfg.Mounts, runtime.Mount{HostPath: hosts[d], GuestPath: "/" + d})
	}
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	cfg.Stdout, cfg.Stderr = stdout, stderr

	sum := sha256.Sum256(wasm)
	mod, err := eng.Compile(ctx, "sha256:"+hex.EncodeToString(sum[:]), wasm)
	if err != nil {
		return outcome{err: fmt.Errorf("compile: %w", err)}
	}
	inst, err := eng.Start(ctx, mod, cfg)
	if err != nil {
		return outcome{err: fmt.Errorf("start: %w", err)}
	}
	select {
	case <-inst.Done():
	case <-time.After(testTimeout):
		inst.Kill()
		<-inst.Done()
		return outcome{err: fmt.Errorf("still running after %v (killed)", testTimeout), stdout: stdout.String(), stderr: stderr.String()}
	}
	st := inst.Status()
	o := outcome{exitCode: st.ExitCode, stdout: stdout.String(), stderr: stderr.String()}
	o.trap = st.Message
	return o
}

// runRawWazero runs the test through wazero with its own WASI, configured
// as `wazero run` (upstream's wazero adapter) does: real clocks, sleep and
// randomness, each directory preopened under its spec name.
func runRawWazero(t *testing.T, c Case, wasm []byte) outcome {
	t.Helper()
	hosts := fixtures(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	rt := wz.NewRuntimeWithConfig(ctx, wz.NewRuntimeConfig().WithCloseOnContextDone(true))
	defer rt.Close(context.Background())
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return outcome{err: fmt.Errorf("compile: %w", err)}
	}
	fsc := wz.NewFSConfig()
	if h, ok := hosts[""]; ok {
		fsc = fsc.WithDirMount(h, "/")
	}
	for _, d := range c.Spec.Dirs {
		fsc = fsc.WithDirMount(hosts[d], d)
	}
	var stdout, stderr bytes.Buffer
	mc := wz.NewModuleConfig().
		WithName("").
		WithArgs(append([]string{c.Name + ".wasm"}, c.Spec.Args...)...).
		WithStdin(strings.NewReader(c.Spec.Stdin)).
		WithStdout(&stdout).
		WithStderr(&stderr).
		WithFSConfig(fsc).
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		WithRandSource(rand.Reader)
	for _, kv := range c.Spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		mc = mc.WithEnv(k, v)
	}
	mod, err := rt.InstantiateModule(ctx, compiled, mc)
	if mod != nil {
		defer mod.Close(context.Background())
	}
	o := outcome{stdout: stdout.String(), stderr: stderr.String()}
	var exit *sys.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() == sys.ExitCodeDeadlineExceeded:
		o.err = fmt.Errorf("still running after %v (killed)", testTimeout)
	case errors.As(err, &exit):
		o.exitCode = int(exit.ExitCode())
	default:
		// A trap: wasmtime's and wasmpod's exit code for one.
		o.exitCode = 134
		o.trap = err.Error()
	}
	return o
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func passFail(fails []string) string {
	if fails == nil {
		return "PASS"
	}
	return "FAIL"
}

func verdict(fails []string) string {
	if fails == nil {
		return "passed"
	}
	return "failed: " + strings.Join(fails, "; ")
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// lastLines is the last n non-empty lines of s on one line (a Rust
// panic's message and location, a C assertion).
func lastLines(s string, n int) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "note: run with `RUST_BACKTRACE") {
			keep = append(keep, l)
		}
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	return strings.Join(keep, " / ")
}
