package enginetest

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime"
)

// The Rust guest (issue 10): wasm-examples/testguests/rust/probe.rs, built
// from source by Debian's rustc with its wasm32-wasi standard library, as a
// user would build a Rust program for WASI preview 1 (wasm32-wasip1 on a
// newer rustc). Rust's std resolves each path to the preopen holding it
// (wasi-libc's find_relpath), asks path_open for rights of its own choosing
// (every path right, read or write rights by its OpenOptions), opens
// directories relative to other directory fds (remove_dir_all) and aborts
// with a trap, so it exercises the WASI layer differently from the Go
// guests. The end-to-end tests (rust_guest_e2e_test.go) build the same
// probe through BuildRustProbe.

// RustTool is the rustc the Rust guests are built with: Debian's, whose
// wasm32-wasi standard library comes from libstd-rust-dev-wasm32 (a rustup
// rustc earlier in PATH usually lacks that target).
const RustTool = "/usr/bin/rustc"

// RustInstall says how to get RustTool and its wasm32-wasi std.
const RustInstall = "apt-get install rustc libstd-rust-dev-wasm32"

// RustArgs are rustc's arguments that build the single-file program src
// (std only, no crates) for target (RequireRust's) into the module out.
// strip=debuginfo drops the debug info of the prebuilt std (6 MB of the
// probe's 6.2).
func RustArgs(target, src, out string) []string {
	return []string{"--edition", "2021", "--target", target, "-O", "-C", "debuginfo=0", "-C", "strip=debuginfo", src, "-o", out}
}

// BuildRustProbe builds the Rust probe guest (cached by
// testwasm.BuildForeign). It skips tb when RustTool or its wasm32-wasi std
// is missing, and fails instead when $WASMPOD_REQUIRE_TOOLCHAINS is set.
func BuildRustProbe(tb testing.TB) []byte {
	tb.Helper()
	target := RequireRust(tb)
	src := filepath.Join(testwasm.GuestDir(tb, "rust"), "probe.rs")
	return testwasm.BuildForeign(tb, testwasm.Foreign{
		Name:    "rust-probe",
		Tool:    RustTool,
		Version: []string{"--version"},
		Inputs:  []string{src},
		Args:    func(out string) []string { return RustArgs(target, filepath.Base(src), out) },
		Install: RustInstall,
	})
}

// RequireRust returns the WASI preview-1 target whose standard library
// RustTool has: wasm32-wasip1, its name since Rust 1.78, else wasm32-wasi
// (Debian 12's rustc 1.63; the name was removed in 1.84). It skips tb (fails
// it under $WASMPOD_REQUIRE_TOOLCHAINS) when RustTool or both are missing.
func RequireRust(tb testing.TB) string {
	tb.Helper()
	rustc := testwasm.LookTool(tb, RustTool, RustInstall)
	out, err := exec.Command(rustc, "--print", "sysroot").Output()
	if err != nil {
		tb.Fatalf("%s --print sysroot: %v", rustc, err)
	}
	lib := filepath.Join(strings.TrimSpace(string(out)), "lib", "rustlib")
	for _, target := range []string{"wasm32-wasip1", "wasm32-wasi"} {
		if _, err := os.Stat(filepath.Join(lib, target)); err == nil {
			return target
		}
	}
	msg := fmt.Sprintf("%s has no wasm32-wasip1 or wasm32-wasi standard library in %s; install with: %s", rustc, lib, RustInstall)
	if os.Getenv(testwasm.RequireToolchainsEnv) != "" {
		tb.Fatalf("%s ($%s is set)", msg, testwasm.RequireToolchainsEnv)
	}
	tb.Skip(msg)
	return ""
}

// WASI errnos the Rust guest's tests expect (errnoBadf and errnoFault are
// wasi.go's).
const (
	rustEexist      = 20
	rustEinval      = 28
	rustEisdir      = 31
	rustEnoent      = 44
	rustEnotdir     = 54
	rustEnotempty   = 55
	rustEnotcapable = 76
)

// rustGuest runs the compiled Rust probe.
type rustGuest struct{ foreignGuest }

// runWant runs the probe and fails the test unless it exits 0 having
// printed exactly stdout.
func (g rustGuest) runWant(t *testing.T, cfg runtime.ContainerConfig, stdout string, args ...string) result {
	t.Helper()
	r := g.run(t, cfg, args...)
	r.mustSucceed(t)
	if r.stdout != stdout {
		t.Fatalf("%v: stdout:\n%s\nwant:\n%s\nstderr %q", args, r.stdout, stdout, r.stderr)
	}
	return r
}

func (s *suite) testRustGuest(t *testing.T) {
	wasm := BuildRustProbe(t)
	mod, err := s.eng.Compile(context.Background(), Digest(wasm), wasm)
	if err != nil {
		t.Fatalf("Compile the Rust probe: %v", err)
	}
	g := rustGuest{foreignGuest{s: s, mod: mod, lang: "Rust", argv0: "probe"}}

	t.Run("Stdio", func(t *testing.T) {
		r := g.runWant(t, runtime.ContainerConfig{}, "hello\n", "hello")
		if r.stderr != "oops\n" {
			t.Fatalf("stderr %q, want %q", r.stderr, "oops\n")
		}
	})
	t.Run("ExitCodes", func(t *testing.T) {
		for _, code := range []int{0, 1, 3, 42, 255} {
			r := g.run(t, runtime.ContainerConfig{}, "exit", strconv.Itoa(code))
			if r.status != (runtime.ExitStatus{ExitCode: code}) {
				t.Errorf("exit %d: status %+v, stderr %q", code, r.status, r.stderr)
			}
		}
		// A failing operation reports itself and exits 1.
		r := g.run(t, runtime.ContainerConfig{}, "nosuchmode")
		if r.status != (runtime.ExitStatus{ExitCode: 1}) || r.stderr != "probe: unknown mode: nosuchmode\n" {
			t.Errorf("unknown mode: status %+v stderr %q", r.status, r.stderr)
		}
	})
	t.Run("Args", func(t *testing.T) {
		g.runWant(t, runtime.ContainerConfig{}, "a\nb c\n\nd=e\nünï\n", "args", "a", "b c", "", "d=e", "ünï")
	})
	t.Run("Env", func(t *testing.T) {
		// The environment is exactly the container's, in order: no PWD
		// without a workingDir (issue 10 defect 7).
		cfg := runtime.ContainerConfig{Env: []string{"FOO=bar", "EMPTY=", "EQ=a=b"}}
		g.runWant(t, cfg, "FOO=bar\nEMPTY=\nEQ=a=b\n", "env")
	})
	t.Run("Volume", func(t *testing.T) {
		dir := t.TempDir()
		cfg := runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: dir, GuestPath: "/data"}}}
		g.runWant(t, cfg, `created 11 bytes
seek 6 read "world"
end-5 6 tell 6
truncated size 5 file true
content "hello+tail"
renamed old exists false new exists true
symlink -> sub/b.txt symlink true reads "hello+tail"
entry link symlink
entry sub dir
gone
left 0
`, "fs", "/data")
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Fatalf("the volume is not empty after fs: %v", ents)
		}
		// Files the host wrote, and the guest's writes seen by the host.
		must(t, os.WriteFile(filepath.Join(dir, "in.txt"), []byte("from host"), 0o644))
		g.runWant(t, cfg, "from host", "cat", "/data/in.txt")
		g.runWant(t, cfg, "", "write", "/data/out.txt", "from rust")
		if b, err := os.ReadFile(filepath.Join(dir, "out.txt")); err != nil || string(b) != "from rust" {
			t.Fatalf("the host reads %q, %v", b, err)
		}
		if r := g.run(t, cfg, "cat", "/data/missing"); r.status.ExitCode != 1 || !strings.Contains(r.stderr, "No such file or directory") {
			t.Fatalf("cat of a missing file: status %+v stderr %q", r.status, r.stderr)
		}
	})
	t.Run("Tree", func(t *testing.T) {
		// create_dir_all, fs::copy, and remove_dir_all, which opens each
		// subdirectory relative to its parent's descriptor (not a
		// preopen) with the rights std asks for.
		dir := t.TempDir()
		cfg := runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: dir, GuestPath: "/data"}}}
		g.runWant(t, cfg, `copied 3 bytes
a/
a/1.txt 1
a/b/
a/b/2.txt 2
a/b/c/
a/b/c/3.txt 3
copy.txt 3
removed true
left 0
`, "tree", "/data")
	})
	t.Run("RenameDirectories", func(t *testing.T) {
		// As rename(2) and wasmtime: a directory replaces an empty one
		// (issue 10 defect 6); ENOTEMPTY over a non-empty one, ENOTDIR over
		// a file, EISDIR for a file over a directory.
		dir := t.TempDir()
		cfg := runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: dir, GuestPath: "/data"}}}
		g.runWant(t, cfg, fmt.Sprintf(`to a new name: ok ()
over an empty dir: ok ()
moved file: ok "f"
over a non-empty dir: errno %d
over a file: errno %d
file over a dir: errno %d
left 0
`, rustEnotempty, rustEnotdir, rustEisdir), "renamedir", "/data")
	})
	t.Run("Errors", func(t *testing.T) {
		// The errnos of failing file operations, as wasmtime on Linux
		// gives them; a descriptor without the right to write (or read)
		// fails with EBADF.
		dir := t.TempDir()
		cfg := runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: dir, GuestPath: "/data"}}}
		g.runWant(t, cfg, fmt.Sprintf(`create_new existing: errno %[1]d
open missing: errno %[2]d
open missing dir: errno %[2]d
open through a file: errno %[3]d
write to read-only: errno %[4]d
read from write-only: errno %[4]d
mkdir existing: errno %[1]d
rmdir non-empty: errno %[5]d
rmdir a file: errno %[3]d
unlink a dir: errno %[6]d
readdir a file: errno %[3]d
content kept: ok "data"
left 0
`, rustEexist, rustEnoent, rustEnotdir, errnoBadf, rustEnotempty, rustEisdir), "errors", "/data")
	})
	t.Run("DirectoryAsFile", func(t *testing.T) {
		// std's File::open opens a directory too; reading, seeking and
		// truncating it fail as in wasmtime (issue 10 defect 4: seek).
		dir := t.TempDir()
		cfg := runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: dir, GuestPath: "/data"}}}
		r := g.run(t, cfg, "dirfd", "/data")
		r.mustSucceed(t)
		allowed := map[string][]int{
			"read":    {rustEisdir, errnoBadf, rustEnotcapable},
			"seek":    {rustEisdir, errnoBadf, rustEnotcapable},
			"set_len": {rustEisdir, rustEinval, errnoBadf, rustEnotcapable},
		}
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if len(lines) != 4 || lines[3] != "is_dir true" {
			t.Fatalf("dirfd: %q", r.stdout)
		}
		for _, l := range lines[:3] {
			op, res, _ := strings.Cut(l, " ")
			var errno int
			if _, err := fmt.Sscanf(res, "errno %d", &errno); err != nil || !slices.Contains(allowed[op], errno) {
				t.Errorf("%s on a directory: %s, want one of the errnos %v", op, res, allowed[op])
			}
		}
	})
	t.Run("Stat", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "f")
		must(t, os.WriteFile(p, []byte("12345678901"), 0o644))
		mt := time.Unix(1700000000, 0)
		must(t, os.Chtimes(p, mt, mt))
		cfg := runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: dir, GuestPath: "/d", ReadOnly: true}}}
		g.runWant(t, cfg, "size 11 dir false file true mtime 1700000000\n", "stat", "/d/f")
		r := g.run(t, cfg, "stat", "/d")
		r.mustSucceed(t)
		if !strings.Contains(r.stdout, " dir true file false ") {
			t.Errorf("stat of a directory: %q", r.stdout)
		}
	})
	t.Run("ReadDirMany", func(t *testing.T) {
		// More entries than one fd_readdir buffer: std resumes at the
		// cookies the host returned.
		dir := t.TempDir()
		var want strings.Builder
		for i := range 300 {
			name := fmt.Sprintf("f%03d-%s", i, strings.Repeat("x", i%40))
			must(t, os.WriteFile(filepath.Join(dir, name), nil, 0o644))
			fmt.Fprintln(&want, name)
		}
		cfg := runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: dir, GuestPath: "/many", ReadOnly: true}}}
		g.runWant(t, cfg, want.String(), "ls", "/many")
	})
	t.Run("ReadOnlyVolume", func(t *testing.T) {
		dir := t.TempDir()
		must(t, os.WriteFile(filepath.Join(dir, "keep.txt"), []byte("keep"), 0o644))
		cfg := runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: dir, GuestPath: "/ro", ReadOnly: true}}}
		g.runWant(t, cfg, "keep", "cat", "/ro/keep.txt")
		for _, args := range [][]string{{"write", "/ro/keep.txt", "changed"}, {"write", "/ro/new.txt", "x"}, {"fs", "/ro"}} {
			if r := g.run(t, cfg, args...); r.status.ExitCode != 1 || !strings.HasPrefix(r.stderr, "probe: ") {
				t.Errorf("%v on a read-only volume: status %+v stdout %q stderr %q", args, r.status, r.stdout, r.stderr)
			}
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Fatalf("the read-only volume changed: %v", ents)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "keep.txt")); string(b) != "keep" {
			t.Fatalf("the read-only file changed to %q", b)
		}
	})
	t.Run("Confinement", func(t *testing.T) {
		base := t.TempDir()
		mount := filepath.Join(base, "mount")
		must(t, os.Mkdir(mount, 0o755))
		must(t, os.WriteFile(filepath.Join(base, "secret"), []byte(secret), 0o644))
		must(t, os.Symlink("../secret", filepath.Join(mount, "rellink")))
		cfg := runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: mount, GuestPath: "/data"}}}
		for _, p := range []string{"/data/../secret", "/data/rellink", filepath.Join(base, "secret")} {
			if r := g.run(t, cfg, "cat", p); r.status.ExitCode != 1 || strings.Contains(r.stdout, secret) {
				t.Errorf("cat %s: not refused: status %+v stdout %q", p, r.status, r.stdout)
			}
		}
	})
	t.Run("Stdin", func(t *testing.T) {
		input := strings.Repeat("a line of input\n", 5000) // more than a pipe buffer
		r := g.run(t, runtime.ContainerConfig{Stdin: strings.NewReader(input)}, "readstdin")
		r.mustSucceed(t)
		if r.stdout != input {
			t.Fatalf("readstdin: %d bytes back, want %d", len(r.stdout), len(input))
		}
	})
	t.Run("Clocks", func(t *testing.T) {
		r := g.run(t, runtime.ContainerConfig{}, "clocks")
		r.mustSucceed(t)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 2 || lines[1] != "monotonic ok" {
			t.Fatalf("clocks: %q", r.stdout)
		}
		sec, err := strconv.ParseInt(lines[0], 10, 64)
		if now := time.Now().Unix(); err != nil || sec < now-60 || sec > now+60 {
			t.Fatalf("the guest's realtime %q is not the host's %d", lines[0], now)
		}
	})
	t.Run("Random", func(t *testing.T) {
		g.runWant(t, runtime.ContainerConfig{}, "random ok\n", "random")
	})
	t.Run("Traps", func(t *testing.T) {
		for mode, out := range map[string]string{"trap": "trapping\n", "abort": "aborting\n", "panic": ""} {
			r := g.run(t, runtime.ContainerConfig{}, mode)
			if r.status.ExitCode != 134 || r.status.Message == "" || r.status.Killed || r.status.OOMKilled || r.stdout != out {
				t.Errorf("%s: status %+v stdout %q, want 134 with a message and %q", mode, r.status, r.stdout, out)
			}
			if mode == "panic" && (!strings.Contains(r.stderr, "panicked at") || !strings.Contains(r.stderr, "boom")) {
				t.Errorf("panic: stderr %q has no panic message", r.stderr)
			}
		}
	})
	t.Run("MemoryLimit", func(t *testing.T) {
		// Rust's allocator sees memory.grow refused at the limit, reports
		// the failed allocation and aborts (a trap): OOMKilled, 137.
		const limit = 32 << 20
		r := g.run(t, runtime.ContainerConfig{MemoryLimitBytes: limit}, "memhog")
		if !r.status.OOMKilled || r.status.ExitCode != 137 || r.status.Killed {
			t.Fatalf("memhog: status %+v, want OOMKilled 137; stderr tail %q", r.status, tail(r.stderr))
		}
		if !strings.Contains(r.stderr, "allocated 16 MiB") || !strings.Contains(r.stderr, "memory allocation of 1048576 bytes failed") {
			t.Fatalf("memhog's stderr: %q", tail(r.stderr))
		}
		g.runWant(t, runtime.ContainerConfig{MemoryLimitBytes: limit}, "hello\n", "hello")
	})
	t.Run("Kill", func(t *testing.T) {
		// rustc's code is instrumented for interruption as Go's is: a loop
		// without a single call, and a sleep in poll_oneoff, are killed
		// at once; the loop ignores TERM.
		for _, mode := range []string{"spin", "sleep"} {
			inst, stdout, _ := g.start(t, runtime.ContainerConfig{}, mode)
			stdout.WaitFor(t, "ready\n", waitTimeout)
			time.Sleep(settle)
			if mode == "spin" {
				inst.Terminate()
				select {
				case <-inst.Done():
					t.Fatalf("spin exited on TERM: %+v", inst.Status())
				case <-time.After(100 * time.Millisecond):
				}
			}
			inst.Kill()
			if st := wait(t, inst, killTimeout); st.ExitCode != 137 || !st.Killed || stdout.String() != "ready\n" {
				t.Fatalf("%s: status %+v stdout %q, want 137 Killed", mode, st, stdout.String())
			}
		}
	})
	t.Run("TermIsStdinEOF", func(t *testing.T) {
		for _, code := range []int{0, 5} {
			inst, stdout, stderr := g.start(t, runtime.ContainerConfig{}, "waitterm", strconv.Itoa(code))
			stdout.WaitFor(t, "ready\n", waitTimeout)
			time.Sleep(settle) // let it block in its read
			inst.Terminate()
			st := wait(t, inst, waitTimeout)
			if st != (runtime.ExitStatus{ExitCode: code}) || stdout.String() != "ready\nterm\n" {
				t.Fatalf("waitterm %d: status %+v stdout %q stderr %q", code, st, stdout.String(), stderr.String())
			}
		}
		// Data written before TERM is read first.
		pr, pw := io.Pipe()
		inst, stdout, _ := g.start(t, runtime.ContainerConfig{Stdin: pr}, "readstdin")
		fmt.Fprint(pw, "before TERM\n")
		stdout.WaitFor(t, "before TERM\n", waitTimeout)
		pw.Close()
		if st := wait(t, inst, waitTimeout); st != (runtime.ExitStatus{}) || stdout.String() != "before TERM\n" {
			t.Fatalf("readstdin to EOF: status %+v stdout %q", st, stdout.String())
		}
		// Kill stops a guest blocked in its stdin read.
		inst, stdout, _ = g.start(t, runtime.ContainerConfig{}, "waitterm")
		stdout.WaitFor(t, "ready\n", waitTimeout)
		time.Sleep(settle)
		inst.Kill()
		if st := wait(t, inst, killTimeout); st.ExitCode != 137 || !st.Killed || strings.Contains(stdout.String(), "term") {
			t.Fatalf("Kill in a stdin read: status %+v stdout %q", st, stdout.String())
		}
	})
}
