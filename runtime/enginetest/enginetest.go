// Package enginetest is the conformance suite every runtime.Engine backend
// passes. A backend's test file calls Run with a constructor.
//
// The suite runs real Go guests (wasm-examples/testguests/probe, built for
// wasip1 with internal/testwasm) and checks exit codes, argv/env/cwd, stdio,
// mounts (read-write, read-only, confinement against "..", absolute paths,
// host and guest-made symlinks), Kill in a busy loop, a sleep and a blocked
// stdin read, ctx cancellation, Terminate as stdin EOF, memory limits
// (OOMKilled), traps, link errors and concurrent instances; and a WASI
// conformance table (wasi.go): files, directories, readdir, rename, unlink,
// seek, stat, clocks, random, poll with timeouts, non-blocking and blocking
// stdin, the fd limit (EMFILE), raw path escapes and bad guest pointers.
package enginetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime"
)

// settle is how long a test lets a guest that printed "ready" reach its
// loop, sleep or blocking read before killing it.
const settle = 50 * time.Millisecond

// waitTimeout bounds every wait for a guest; a correct engine needs far less.
const waitTimeout = 30 * time.Second

// killTimeout is how long Kill may take to stop a guest that sleeps for an
// hour or blocks forever; generous for slow machines, far below the guest's
// own wait.
const killTimeout = 5 * time.Second

// Digest returns the "sha256:<hex>" digest of wasm.
func Digest(wasm []byte) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256(wasm))
}

type suite struct {
	eng       runtime.Engine
	newEngine func(t *testing.T) runtime.Engine
	probeWasm []byte
	probe     runtime.CompiledModule

	hostileOnce sync.Once
	hostile     runtime.CompiledModule
	hostileErr  error
}

// Run runs the conformance suite. newEngine is called once for most tests
// and again for tests that close their engine; the suite closes every
// engine it creates.
func Run(t *testing.T, newEngine func(t *testing.T) runtime.Engine) {
	s := &suite{newEngine: newEngine}
	s.eng = s.engine(t)
	s.probeWasm = testwasm.Build(t, testwasm.GuestDir(t, "probe"))
	mod, err := s.eng.Compile(context.Background(), Digest(s.probeWasm), s.probeWasm)
	if err != nil {
		t.Fatalf("Compile probe: %v", err)
	}
	s.probe = mod

	t.Run("Compile", s.testCompile)
	t.Run("ExitCodes", s.testExitCodes)
	t.Run("Stdio", s.testStdio)
	t.Run("ArgsEnvCwd", s.testArgsEnvCwd)
	t.Run("Stdin", s.testStdin)
	t.Run("MountReadWrite", s.testMountReadWrite)
	t.Run("MountReadOnly", s.testMountReadOnly)
	t.Run("Confinement", s.testConfinement)
	t.Run("BadConfig", s.testBadConfig)
	t.Run("Kill", s.testKill)
	t.Run("ContextCancelKills", s.testContextCancel)
	t.Run("StartWithCancelledContext", s.testStartCancelled)
	t.Run("Terminate", s.testTerminate)
	t.Run("MemoryLimit", s.testMemoryLimit)
	t.Run("Trap", s.testTrap)
	t.Run("LinkError", s.testLinkError)
	t.Run("Concurrent", s.testConcurrent)
	t.Run("CloseKillsInstances", s.testClose)
	t.Run("WASI", s.testWASI)
	t.Run("Hostile", s.testHostile)
	t.Run("VolumeQuota", s.testQuota)
	t.Run("WASIConformance", s.testConformance)
	t.Run("CGuest", s.testCGuest)
	t.Run("RustGuest", s.testRustGuest)
	t.Run("ASGuest", s.testASGuest)
}

func (s *suite) engine(t *testing.T) runtime.Engine {
	eng := s.newEngine(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := eng.Close(ctx); err != nil {
			t.Errorf("Engine.Close: %v", err)
		}
	})
	return eng
}

// Buffer is a goroutine-safe output sink that can wait for text.
type Buffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

// NewBuffer returns an empty Buffer.
func NewBuffer() *Buffer { return &Buffer{changed: make(chan struct{})} }

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	close(b.changed)
	b.changed = make(chan struct{})
	return n, err
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WaitFor waits until the output contains s, or fails the test.
func (b *Buffer) WaitFor(t testing.TB, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		ok := strings.Contains(b.buf.String(), s)
		ch := b.changed
		b.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %q in output %q", timeout, s, b.String())
		}
	}
}

type result struct {
	stdout, stderr string
	status         runtime.ExitStatus
}

// start starts the probe with argv ["probe", args...] merged into cfg.
func (s *suite) start(t *testing.T, ctx context.Context, cfg runtime.ContainerConfig, args ...string) (runtime.Instance, *Buffer, *Buffer) {
	t.Helper()
	stdout, stderr := NewBuffer(), NewBuffer()
	cfg.Args = append([]string{"probe"}, args...)
	cfg.Stdout, cfg.Stderr = stdout, stderr
	if cfg.Name == "" {
		cfg.Name = "test/" + strings.Join(args, "-")
	}
	inst, err := s.eng.Start(ctx, s.probe, cfg)
	if err != nil {
		t.Fatalf("Start %v: %v", args, err)
	}
	t.Cleanup(func() {
		inst.Kill()
		select {
		case <-inst.Done():
		case <-time.After(killTimeout):
			t.Errorf("instance %v still running %v after Kill", args, killTimeout)
		}
	})
	return inst, stdout, stderr
}

func wait(t *testing.T, inst runtime.Instance, timeout time.Duration) runtime.ExitStatus {
	t.Helper()
	select {
	case <-inst.Done():
		return inst.Status()
	case <-time.After(timeout):
		inst.Kill()
		t.Fatalf("instance did not exit within %v", timeout)
		return runtime.ExitStatus{}
	}
}

// run runs the probe to completion.
func (s *suite) run(t *testing.T, cfg runtime.ContainerConfig, args ...string) result {
	t.Helper()
	inst, stdout, stderr := s.start(t, context.Background(), cfg, args...)
	st := wait(t, inst, waitTimeout)
	return result{stdout: stdout.String(), stderr: stderr.String(), status: st}
}

func (r result) mustSucceed(t *testing.T) {
	t.Helper()
	if r.status != (runtime.ExitStatus{}) {
		t.Fatalf("status = %+v, want exit 0; stdout %q stderr %q", r.status, r.stdout, r.stderr)
	}
}

func (r result) mustFail(t *testing.T) {
	t.Helper()
	if r.status.ExitCode == 0 {
		t.Fatalf("status = %+v, want a failure; stdout %q stderr %q", r.status, r.stdout, r.stderr)
	}
	if r.status.Killed || r.status.OOMKilled {
		t.Fatalf("status = %+v, want an ordinary failure", r.status)
	}
}

func (s *suite) testCompile(t *testing.T) {
	ctx := context.Background()
	again, err := s.eng.Compile(ctx, Digest(s.probeWasm), s.probeWasm)
	if err != nil {
		t.Fatalf("second Compile: %v", err)
	}
	if again.Digest() != Digest(s.probeWasm) {
		t.Fatalf("Digest() = %q, want %q", again.Digest(), Digest(s.probeWasm))
	}
	garbage := []byte("\x00asm\x01\x00\x00\x00\xff\xff not a module")
	if _, err := s.eng.Compile(ctx, Digest(garbage), garbage); err == nil {
		t.Fatal("Compile of an invalid module succeeded")
	}
}

func (s *suite) testExitCodes(t *testing.T) {
	for _, code := range []int{0, 1, 3, 42, 255} {
		r := s.run(t, runtime.ContainerConfig{}, "exit", fmt.Sprint(code))
		want := runtime.ExitStatus{ExitCode: code}
		if r.status != want {
			t.Errorf("exit %d: status = %+v, want %+v", code, r.status, want)
		}
	}
	// Returning from main.
	s.run(t, runtime.ContainerConfig{}, "args").mustSucceed(t)
}

func (s *suite) testStdio(t *testing.T) {
	r := s.run(t, runtime.ContainerConfig{}, "hello")
	r.mustSucceed(t)
	if r.stdout != "hello\n" || r.stderr != "oops\n" {
		t.Fatalf("stdout %q stderr %q, want %q and %q", r.stdout, r.stderr, "hello\n", "oops\n")
	}
	// Nil writers discard output without failing.
	inst, err := s.eng.Start(context.Background(), s.probe, runtime.ContainerConfig{Name: "t/nil", Args: []string{"probe", "hello"}})
	if err != nil {
		t.Fatal(err)
	}
	if st := wait(t, inst, waitTimeout); st != (runtime.ExitStatus{}) {
		t.Fatalf("nil stdio: status %+v", st)
	}
}

func (s *suite) testArgsEnvCwd(t *testing.T) {
	r := s.run(t, runtime.ContainerConfig{}, "args", "a", "b c", "", "d=e")
	r.mustSucceed(t)
	if want := "a\nb c\n\nd=e\n"; r.stdout != want {
		t.Errorf("args: stdout %q, want %q", r.stdout, want)
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rel.txt"), []byte("relative ok"), 0o644); err != nil {
		t.Fatal(err)
	}
	mounts := []runtime.Mount{{HostPath: dir, GuestPath: "/data"}}

	r = s.run(t, runtime.ContainerConfig{Env: []string{"FOO=bar", "EMPTY=", "EQ=a=b"}, WorkingDir: "/data", Mounts: mounts}, "env")
	r.mustSucceed(t)
	for _, want := range []string{"FOO=bar", "EMPTY=", "EQ=a=b", "PWD=/data"} {
		if !containsLine(r.stdout, want) {
			t.Errorf("env: missing %q in %q", want, r.stdout)
		}
	}
	if i, j := strings.Index(r.stdout, "FOO="), strings.Index(r.stdout, "EQ="); i > j {
		t.Errorf("env order not kept: %q", r.stdout)
	}

	r = s.run(t, runtime.ContainerConfig{WorkingDir: "/data", Mounts: mounts}, "pwd")
	r.mustSucceed(t)
	if r.stdout != "/data\n" {
		t.Errorf("pwd: %q, want /data", r.stdout)
	}
	r = s.run(t, runtime.ContainerConfig{Mounts: mounts}, "pwd")
	r.mustSucceed(t)
	if r.stdout != "/\n" {
		t.Errorf("pwd with no WorkingDir: %q, want /", r.stdout)
	}
	// No workingDir, no PWD (the guest's cwd is "/" anyway); a PWD the
	// spec's env gives is kept then, as any other variable.
	r = s.run(t, runtime.ContainerConfig{Env: []string{"A=1"}, Mounts: mounts}, "env")
	r.mustSucceed(t)
	if strings.Contains(r.stdout, "PWD=") {
		t.Errorf("env with no WorkingDir has PWD: %q", r.stdout)
	}
	r = s.run(t, runtime.ContainerConfig{Env: []string{"PWD=/mine"}}, "env")
	r.mustSucceed(t)
	if !containsLine(r.stdout, "PWD=/mine") {
		t.Errorf("env PWD of the spec not kept without WorkingDir: %q", r.stdout)
	}

	r = s.run(t, runtime.ContainerConfig{WorkingDir: "/data", Mounts: mounts}, "cat", "rel.txt")
	r.mustSucceed(t)
	if r.stdout != "relative ok" {
		t.Errorf("relative cat: %q", r.stdout)
	}
	r = s.run(t, runtime.ContainerConfig{WorkingDir: "/data", Mounts: mounts}, "write", "new.txt", "made")
	r.mustSucceed(t)
	if b, err := os.ReadFile(filepath.Join(dir, "new.txt")); err != nil || string(b) != "made" {
		t.Errorf("relative write: host file %q, %v", b, err)
	}
}

func containsLine(out, line string) bool {
	for _, l := range strings.Split(out, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

func (s *suite) testStdin(t *testing.T) {
	input := strings.Repeat("line of input\n", 5000) // larger than a pipe buffer
	r := s.run(t, runtime.ContainerConfig{Stdin: strings.NewReader(input)}, "readstdin")
	r.mustSucceed(t)
	if r.stdout != input {
		t.Fatalf("readstdin: got %d bytes, want %d", len(r.stdout), len(input))
	}
}

func (s *suite) testMountReadWrite(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.txt"), []byte("from host"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := runtime.ContainerConfig{Mounts: []runtime.Mount{
		{HostPath: dir, GuestPath: "/data"},
		{HostPath: other, GuestPath: "/var/other"},
	}}

	r := s.run(t, cfg, "cat", "/data/in.txt")
	r.mustSucceed(t)
	if r.stdout != "from host" {
		t.Fatalf("cat: %q", r.stdout)
	}
	s.run(t, cfg, "write", "/data/sub/out.txt", "from guest").mustSucceed(t)
	if b, err := os.ReadFile(filepath.Join(dir, "sub", "out.txt")); err != nil || string(b) != "from guest" {
		t.Fatalf("host sees %q, %v", b, err)
	}
	s.run(t, cfg, "write", "/var/other/o.txt", "second mount").mustSucceed(t)
	if b, err := os.ReadFile(filepath.Join(other, "o.txt")); err != nil || string(b) != "second mount" {
		t.Fatalf("second mount: host sees %q, %v", b, err)
	}
	s.run(t, cfg, "mkdir", "/data/newdir").mustSucceed(t)
	if fi, err := os.Stat(filepath.Join(dir, "newdir")); err != nil || !fi.IsDir() {
		t.Fatalf("mkdir: %v", err)
	}

	r = s.run(t, cfg, "ls", "/data")
	r.mustSucceed(t)
	if want := "in.txt\nnewdir\nsub\n"; r.stdout != want {
		t.Fatalf("ls /data: %q, want %q", r.stdout, want)
	}
	// A directory with more entries than one readdir batch.
	for i := range 300 {
		if err := os.WriteFile(filepath.Join(other, fmt.Sprintf("f%03d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r = s.run(t, cfg, "ls", "/var/other")
	r.mustSucceed(t)
	if n := strings.Count(r.stdout, "\n"); n != 301 {
		t.Fatalf("ls of 301 entries listed %d", n)
	}

	s.run(t, cfg, "rm", "/data/in.txt").mustSucceed(t)
	if _, err := os.Stat(filepath.Join(dir, "in.txt")); !os.IsNotExist(err) {
		t.Fatalf("rm: host file still there (%v)", err)
	}
	s.run(t, cfg, "cat", "/data/missing").mustFail(t)
}

func (s *suite) testMountReadOnly(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keep.txt"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: dir, GuestPath: "/ro", ReadOnly: true}}}

	r := s.run(t, cfg, "cat", "/ro/keep.txt")
	r.mustSucceed(t)
	if r.stdout != "keep" {
		t.Fatalf("cat: %q", r.stdout)
	}
	s.run(t, cfg, "ls", "/ro").mustSucceed(t)
	s.run(t, cfg, "write", "/ro/new.txt", "x").mustFail(t)
	s.run(t, cfg, "write", "/ro/keep.txt", "overwritten").mustFail(t)
	s.run(t, cfg, "rm", "/ro/keep.txt").mustFail(t)
	s.run(t, cfg, "mkdir", "/ro/d").mustFail(t)
	s.run(t, cfg, "symlink", "keep.txt", "/ro/l").mustFail(t)

	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("read-only mount changed: %d entries", len(ents))
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "keep.txt")); string(b) != "keep" {
		t.Fatalf("read-only file changed to %q", b)
	}
}

const secret = "TOP-SECRET-OUTSIDE-THE-MOUNT"

func (s *suite) testConfinement(t *testing.T) {
	base := t.TempDir()
	mount, outside := filepath.Join(base, "mount"), filepath.Join(base, "outside")
	for _, d := range []string{mount, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	secretPath := filepath.Join(outside, "secret")
	must(t, os.WriteFile(secretPath, []byte(secret), 0o644))
	must(t, os.WriteFile(filepath.Join(mount, "inside.txt"), []byte("inside"), 0o644))
	must(t, os.Symlink(secretPath, filepath.Join(mount, "abslink")))
	must(t, os.Symlink("../outside/secret", filepath.Join(mount, "rellink")))
	must(t, os.Symlink(outside, filepath.Join(mount, "absdir")))
	must(t, os.Symlink("../outside", filepath.Join(mount, "reldir")))
	must(t, os.Symlink("inside.txt", filepath.Join(mount, "oklink")))

	cfg := runtime.ContainerConfig{
		WorkingDir: "/data",
		Mounts:     []runtime.Mount{{HostPath: mount, GuestPath: "/data"}},
	}
	refused := func(args ...string) {
		t.Helper()
		r := s.run(t, cfg, args...)
		if r.status.ExitCode == 0 || strings.Contains(r.stdout, secret) {
			t.Errorf("%v: not refused: status %+v stdout %q", args, r.status, r.stdout)
		}
	}
	refused("cat", "/data/../outside/secret")
	refused("cat", "../outside/secret")
	refused("cat", "/data/../../../../"+secretPath)
	refused("cat", secretPath)
	refused("cat", "/data/abslink")
	refused("cat", "/data/rellink")
	refused("cat", "/data/absdir/secret")
	refused("cat", "/data/reldir/secret")
	refused("ls", "/data/absdir")
	refused("ls", "/data/reldir")
	if r := s.run(t, cfg, "ls", "/data/.."); strings.Contains(r.stdout, "outside") {
		t.Errorf("ls /data/.. lists the host parent: %q", r.stdout)
	}
	refused("write", "/data/absdir/planted", "x")
	refused("write", "/data/reldir/planted", "x")
	refused("write", "/data/abslink", "overwrite")
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Error("guest planted a file outside its mount")
	}
	if b, _ := os.ReadFile(secretPath); string(b) != secret {
		t.Errorf("guest changed the file outside its mount to %q", b)
	}

	// Guest-made symlinks pointing outside are refused, at creation or use.
	for i, target := range []string{secretPath, "/etc/passwd", "../outside/secret", "sub/../../outside/secret", "../../../../../../" + secretPath} {
		link := fmt.Sprintf("/data/evil%d", i)
		s.run(t, cfg, "symlink", target, link)
		refused("cat", link)
	}

	// Symlinks that stay inside work.
	r := s.run(t, cfg, "cat", "/data/oklink")
	r.mustSucceed(t)
	if r.stdout != "inside" {
		t.Errorf("inside symlink: %q", r.stdout)
	}
	s.run(t, cfg, "symlink", "inside.txt", "/data/guestlink").mustSucceed(t)
	r = s.run(t, cfg, "cat", "/data/guestlink")
	r.mustSucceed(t)
	if r.stdout != "inside" {
		t.Errorf("guest-made inside symlink: %q", r.stdout)
	}
	r = s.run(t, cfg, "readlink", "/data/guestlink")
	r.mustSucceed(t)
	if r.stdout != "inside.txt\n" {
		t.Errorf("readlink: %q", r.stdout)
	}

	// With no mount at "/", the guest sees nothing but its mounts.
	r = s.run(t, cfg, "ls", "/")
	if strings.TrimSpace(r.stdout) != "" && strings.TrimSpace(r.stdout) != "data" {
		t.Errorf("ls / shows host files: %q", r.stdout)
	}
	refused("cat", "/etc/passwd")
	refused("write", "/planted", "x")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (s *suite) testBadConfig(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	must(t, os.WriteFile(file, nil, 0o644))
	cases := map[string]struct {
		cfg  runtime.ContainerConfig
		want string
	}{
		"missing host dir":    {runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: filepath.Join(dir, "nope"), GuestPath: "/x"}}}, "mounts[0]"},
		"host path is a file": {runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: file, GuestPath: "/x"}}}, "mounts[0]"},
		"relative guest path": {runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: dir, GuestPath: "x"}}}, "mounts[0]"},
		"env without =":       {runtime.ContainerConfig{Env: []string{"A=1", "NOEQUALS"}}, "env[1]"},
		"negative memory":     {runtime.ContainerConfig{MemoryLimitBytes: -1}, "memory"},
		"tiny memory limit":   {runtime.ContainerConfig{MemoryLimitBytes: 4096}, "memory"},
	}
	for name, c := range cases {
		c.cfg.Args = []string{"probe", "hello"}
		inst, err := s.eng.Start(ctx, s.probe, c.cfg)
		if err == nil {
			inst.Kill()
			<-inst.Done()
			t.Errorf("%s: Start succeeded", name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not name %q", name, err, c.want)
		}
	}
}

func (s *suite) testKill(t *testing.T) {
	for _, mode := range []string{"spin", "sleep", "waitterm", "blockread", "pollstdin"} {
		t.Run(mode, func(t *testing.T) {
			inst, stdout, _ := s.start(t, context.Background(), runtime.ContainerConfig{}, mode)
			stdout.WaitFor(t, "ready", waitTimeout)
			time.Sleep(settle)
			inst.Kill()
			st := wait(t, inst, killTimeout)
			if st.ExitCode != 137 || !st.Killed || st.OOMKilled {
				t.Fatalf("status %+v, want 137 Killed", st)
			}
			if out := stdout.String(); strings.Contains(out, "term") || strings.Contains(out, "woke") || strings.Contains(out, "eof") {
				t.Fatalf("guest ran on after Kill: %q", stdout.String())
			}
			inst.Kill()      // idempotent
			inst.Terminate() // harmless after exit
			if st2 := inst.Status(); st2 != st {
				t.Fatalf("status changed after exit: %+v → %+v", st, st2)
			}
		})
	}
	t.Run("after exit", func(t *testing.T) {
		inst, _, _ := s.start(t, context.Background(), runtime.ContainerConfig{}, "exit", "4")
		st := wait(t, inst, waitTimeout)
		inst.Kill()
		if inst.Status() != st || st.ExitCode != 4 || st.Killed {
			t.Fatalf("Kill after exit changed status %+v → %+v", st, inst.Status())
		}
	})
}

func (s *suite) testContextCancel(t *testing.T) {
	for _, mode := range []string{"spin", "sleep", "waitterm"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			inst, stdout, _ := s.start(t, ctx, runtime.ContainerConfig{}, mode)
			stdout.WaitFor(t, "ready", waitTimeout)
			time.Sleep(settle)
			cancel()
			st := wait(t, inst, killTimeout)
			if st.ExitCode != 137 || !st.Killed {
				t.Fatalf("status %+v, want 137 Killed", st)
			}
		})
	}
}

func (s *suite) testStartCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	inst, err := s.eng.Start(ctx, s.probe, runtime.ContainerConfig{Name: "t/cancelled", Args: []string{"probe", "sleep"}})
	if err != nil {
		return // refusing to start is fine
	}
	if st := wait(t, inst, killTimeout); st.ExitCode != 137 || !st.Killed {
		t.Fatalf("status %+v, want 137 Killed", st)
	}
}

func (s *suite) testTerminate(t *testing.T) {
	for _, code := range []int{0, 5} {
		inst, stdout, _ := s.start(t, context.Background(), runtime.ContainerConfig{}, "waitterm", fmt.Sprint(code))
		stdout.WaitFor(t, "ready", waitTimeout)
		inst.Terminate()
		inst.Terminate() // idempotent
		st := wait(t, inst, waitTimeout)
		if st != (runtime.ExitStatus{ExitCode: code}) {
			t.Fatalf("waitterm %d: status %+v", code, st)
		}
		if !strings.Contains(stdout.String(), "term") {
			t.Fatalf("guest did not see EOF: %q", stdout.String())
		}
	}
	// A guest that ignores TERM keeps running until killed.
	inst, stdout, _ := s.start(t, context.Background(), runtime.ContainerConfig{}, "sleep")
	stdout.WaitFor(t, "ready", waitTimeout)
	inst.Terminate()
	select {
	case <-inst.Done():
		t.Fatalf("guest ignoring TERM exited: %+v", inst.Status())
	case <-time.After(200 * time.Millisecond):
	}
	inst.Kill()
	if st := wait(t, inst, killTimeout); st.ExitCode != 137 || !st.Killed {
		t.Fatalf("status %+v, want 137 Killed", st)
	}
}

func (s *suite) testMemoryLimit(t *testing.T) {
	const limit = 64 << 20
	r := s.run(t, runtime.ContainerConfig{MemoryLimitBytes: limit}, "memhog")
	if !r.status.OOMKilled || r.status.ExitCode != 137 || r.status.Killed {
		t.Fatalf("memhog: status %+v, want OOMKilled 137; stderr tail %q", r.status, tail(r.stderr))
	}
	if !strings.Contains(r.stderr, "allocated 16 MiB") {
		t.Fatalf("memhog never allocated (stderr %q)", tail(r.stderr))
	}
	// The limit does not break a guest that stays below it.
	r = s.run(t, runtime.ContainerConfig{MemoryLimitBytes: limit}, "hello")
	r.mustSucceed(t)
	// A guest exiting non-zero without hitting the limit is not OOMKilled.
	r = s.run(t, runtime.ContainerConfig{MemoryLimitBytes: limit}, "exit", "2")
	if r.status != (runtime.ExitStatus{ExitCode: 2}) {
		t.Fatalf("exit 2 under a limit: %+v", r.status)
	}
}

func tail(s string) string {
	if len(s) > 400 {
		return "…" + s[len(s)-400:]
	}
	return s
}

func (s *suite) testTrap(t *testing.T) {
	r := s.run(t, runtime.ContainerConfig{}, "trap")
	if r.status.ExitCode != 134 || r.status.Message == "" || r.status.Killed || r.status.OOMKilled {
		t.Fatalf("trap: status %+v, want 134 with a message", r.status)
	}
	// A hand-made module whose _start is `unreachable`.
	wasm := append(wasmHeader(),
		0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: func () -> ()
		0x03, 0x02, 0x01, 0x00, // function section: one func of type 0
		0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00, // export "_start"
		0x0a, 0x05, 0x01, 0x03, 0x00, 0x00, 0x0b, // code: unreachable; end
	)
	mod, err := s.eng.Compile(context.Background(), Digest(wasm), wasm)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	inst, err := s.eng.Start(context.Background(), mod, runtime.ContainerConfig{Name: "t/unreachable"})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if st := wait(t, inst, waitTimeout); st.ExitCode != 134 || st.Message == "" {
		t.Fatalf("unreachable: status %+v, want 134 with a message", st)
	}
}

func wasmHeader() []byte { return []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00} }

func (s *suite) testLinkError(t *testing.T) {
	// (module (import "env" "nope" (func)) (func (export "_start")))
	wasm := append(wasmHeader(),
		0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section
		0x02, 0x0c, 0x01, 0x03, 'e', 'n', 'v', 0x04, 'n', 'o', 'p', 'e', 0x00, 0x00, // import env.nope
		0x03, 0x02, 0x01, 0x00, // function section
		0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x01, // export func 1
		0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b, // code: empty body
	)
	mod, err := s.eng.Compile(context.Background(), Digest(wasm), wasm)
	if err != nil {
		return // linking eagerly at compile time is acceptable
	}
	inst, err := s.eng.Start(context.Background(), mod, runtime.ContainerConfig{Name: "t/link"})
	if err == nil {
		st := wait(t, inst, waitTimeout)
		t.Fatalf("Start of a module with a missing import succeeded (status %+v)", st)
	}
	if !strings.Contains(err.Error(), "env") {
		t.Errorf("link error %q does not name the missing import's module", err)
	}
}

func (s *suite) testConcurrent(t *testing.T) {
	const n = 12
	var wg sync.WaitGroup
	results := make([]result, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := NewBuffer()
			inst, err := s.eng.Start(context.Background(), s.probe, runtime.ContainerConfig{
				Name:   fmt.Sprintf("t/c%d", i),
				Args:   []string{"probe", "args", fmt.Sprint(i)},
				Stdout: out,
			})
			if err != nil {
				errs[i] = err
				return
			}
			select {
			case <-inst.Done():
			case <-time.After(waitTimeout):
				inst.Kill()
				<-inst.Done()
			}
			results[i] = result{stdout: out.String(), status: inst.Status()}
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("instance %d: %v", i, errs[i])
			continue
		}
		if results[i].status != (runtime.ExitStatus{}) || results[i].stdout != fmt.Sprintf("%d\n", i) {
			t.Errorf("instance %d: status %+v stdout %q", i, results[i].status, results[i].stdout)
		}
	}
}

func (s *suite) testClose(t *testing.T) {
	eng := s.newEngine(t)
	mod, err := eng.Compile(context.Background(), Digest(s.probeWasm), s.probeWasm)
	if err != nil {
		t.Fatal(err)
	}
	out := NewBuffer()
	inst, err := eng.Start(context.Background(), mod, runtime.ContainerConfig{Name: "t/close", Args: []string{"probe", "sleep"}, Stdout: out})
	if err != nil {
		t.Fatal(err)
	}
	out.WaitFor(t, "ready", waitTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := eng.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if st := wait(t, inst, killTimeout); st.ExitCode != 137 || !st.Killed {
		t.Fatalf("status after Close %+v, want 137 Killed", st)
	}
	if err := eng.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := eng.Start(context.Background(), mod, runtime.ContainerConfig{Args: []string{"probe", "hello"}}); err == nil {
		t.Fatal("Start after Close succeeded")
	}
}
