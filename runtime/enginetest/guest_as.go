package enginetest

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime"
)

// The AssemblyScript guest: wasm-examples/testguests/as/assembly/index.ts,
// compiled by asc with @assemblyscript/wasi-shim (both pinned by the
// directory's package-lock.json, installed by `npm ci`), as a user's
// AssemblyScript program is. The shim gives it process.argv/env/exit,
// stdio, Date, performance, Math.random and crypto; its file commands call
// the WASI imports directly, since the shim has no file API. Its expected
// outputs are what wasmtime gives.

// ASInstall says how to get the AssemblyScript guest's compiler.
const ASInstall = "npm ci --prefix wasm-examples/testguests/as"

// ASProbe builds the AssemblyScript probe with the asc of
// wasm-examples/testguests/as/node_modules (cached by
// testwasm.BuildForeign, keyed by asc's version, the sources, asconfig.json
// and package-lock.json) and returns the module. Without that asc it
// skips tb, or fails it when $WASMPOD_REQUIRE_TOOLCHAINS is set.
func ASProbe(tb testing.TB) []byte {
	tb.Helper()
	dir := testwasm.GuestDir(tb, "as")
	return testwasm.BuildForeign(tb, testwasm.Foreign{
		Name:    "as-probe",
		Tool:    filepath.Join(dir, "node_modules", ".bin", "asc"),
		Version: []string{"--version"},
		Inputs: []string{
			filepath.Join(dir, "assembly", "index.ts"),
			filepath.Join(dir, "asconfig.json"),
			filepath.Join(dir, "package-lock.json"),
		},
		// asconfig.json extends the wasi-shim's configuration.
		Args: func(out string) []string {
			return []string{"assembly/index.ts", "--config", "asconfig.json", "-O", "-o", out}
		},
		Dir:     dir,
		Install: ASInstall,
	})
}

// asGuest runs the compiled AssemblyScript probe.
type asGuest struct{ foreignGuest }

// want runs the probe with args and wants exit 0 and exactly stdout.
func (g asGuest) want(t *testing.T, cfg runtime.ContainerConfig, stdout string, args ...string) {
	t.Helper()
	r := g.run(t, cfg, args...)
	if r.status != (runtime.ExitStatus{}) || r.stdout != stdout {
		t.Fatalf("as-probe %q: status %+v\nstdout:\n%s\nwant:\n%s\nstderr %q", args, r.status, r.stdout, stdout, r.stderr)
	}
}

// ASVolumeWant is the AssemblyScript probe's output for "fs DIR" on an
// empty read-write volume, as wasmtime gives it (the escape may be refused
// with EPERM or ENOTCAPABLE). The probe leaves only kept.txt, holding
// ASKept.
const ASVolumeWant = `preopen dir
seek 6 read "world"
tell 11 end-5 6
truncated size 5 regular
pread "ello"
excl errno 20
missing errno 44
escape refused true
renamed: old errno 44
readlink "g.txt"
lstat symlink
stat regular size 5
through link "hello"
readdir g.txt regular, link symlink, sub dir
rmdir nonempty errno 55
unlink dir errno 31
left 0
`

// ASKept is what the probe's "fs" command leaves in kept.txt.
const ASKept = "kept by as-probe\n"

func (s *suite) testASGuest(t *testing.T) {
	wasm := ASProbe(t)
	mod, err := s.eng.Compile(context.Background(), Digest(wasm), wasm)
	if err != nil {
		t.Fatalf("Compile AssemblyScript probe: %v", err)
	}
	g := asGuest{foreignGuest{s: s, mod: mod, lang: "AssemblyScript", argv0: "as-probe"}}
	none := runtime.ContainerConfig{}

	t.Run("Args", func(t *testing.T) {
		g.want(t, none, "0 \"as-probe\"\n1 \"args\"\n2 \"a\"\n3 \"b c\"\n4 \"\"\n5 \"d=e\"\n6 \"ünï\"\n", "args", "a", "b c", "", "d=e", "ünï")
	})
	t.Run("Env", func(t *testing.T) {
		g.want(t, runtime.ContainerConfig{Env: []string{"FOO=bar", "EMPTY=", "EQ=a=b"}}, "FOO=bar\nEMPTY=\nEQ=a=b\n", "env")
		g.want(t, none, "", "env")
	})
	t.Run("Stdio", func(t *testing.T) {
		r := g.run(t, none, "hello")
		r.mustSucceed(t)
		if r.stdout != "hello from assemblyscript\n" || r.stderr != "oops\n" {
			t.Fatalf("hello: stdout %q stderr %q", r.stdout, r.stderr)
		}
	})
	t.Run("Stdin", func(t *testing.T) {
		input := strings.Repeat("line of input\n", 5000) // larger than a pipe buffer
		r := g.run(t, runtime.ContainerConfig{Stdin: strings.NewReader(input)}, "cat")
		r.mustSucceed(t)
		if r.stdout != input {
			t.Fatalf("cat: got %d bytes, want %d", len(r.stdout), len(input))
		}
	})
	t.Run("ExitCodes", func(t *testing.T) {
		for _, code := range []int{0, 1, 3, 42, 255} {
			r := g.run(t, none, "exit", strconv.Itoa(code))
			if want := (runtime.ExitStatus{ExitCode: code}); r.status != want {
				t.Errorf("exit %d: status %+v, want %+v (stderr %q)", code, r.status, want, r.stderr)
			}
		}
		// An unknown command prints its usage and exits 1.
		if r := g.run(t, none, "nonsense"); r.status.ExitCode != 1 || !strings.HasPrefix(r.stderr, "usage: as-probe") {
			t.Errorf("unknown command: status %+v stderr %q", r.status, r.stderr)
		}
	})
	t.Run("Throw", func(t *testing.T) {
		// An uncaught AssemblyScript exception goes to the shim's abort,
		// which writes to stderr and exits 255.
		r := g.run(t, none, "throw")
		if r.status != (runtime.ExitStatus{ExitCode: 255}) || !strings.HasPrefix(r.stderr, "abort: thrown by as-probe in assembly/index.ts(") {
			t.Fatalf("throw: status %+v stderr %q", r.status, r.stderr)
		}
	})
	t.Run("Trap", func(t *testing.T) {
		r := g.run(t, none, "trap")
		if r.status.ExitCode != 134 || r.status.Message == "" || r.status.Killed || r.status.OOMKilled || r.stdout != "trapping\n" {
			t.Fatalf("trap: status %+v stdout %q, want 134 with a message", r.status, r.stdout)
		}
	})
	t.Run("TermAsStdinEOF", func(t *testing.T) {
		for _, code := range []int{0, 5} {
			inst, stdout, stderr := g.start(t, none, "waitterm", strconv.Itoa(code))
			stdout.WaitFor(t, "ready\n", waitTimeout)
			time.Sleep(settle) // let it block in fd_read
			inst.Terminate()
			st := wait(t, inst, waitTimeout)
			if want := "ready\nterm after 0 bytes\n"; st != (runtime.ExitStatus{ExitCode: code}) || stdout.String() != want {
				t.Fatalf("waitterm %d: status %+v stdout %q (want %q) stderr %q", code, st, stdout.String(), want, stderr.String())
			}
		}
		// A guest that never reads stdin ignores TERM until killed.
		inst, stdout, _ := g.start(t, none, "spin")
		stdout.WaitFor(t, "ready\n", waitTimeout)
		inst.Terminate()
		select {
		case <-inst.Done():
			t.Fatalf("spinning guest exited on TERM: %+v", inst.Status())
		case <-time.After(200 * time.Millisecond):
		}
		inst.Kill()
		if st := wait(t, inst, killTimeout); st.ExitCode != 137 || !st.Killed {
			t.Fatalf("spin: status %+v, want 137 Killed", st)
		}
	})
	t.Run("Clocks", func(t *testing.T) {
		r := g.run(t, none, "clocks")
		r.mustSucceed(t)
		lines := strings.Split(r.stdout, "\n")
		var sec int64
		if len(lines) != 5 || !strings.HasPrefix(lines[0], "realtime ") {
			t.Fatalf("clocks: %q", r.stdout)
		}
		// Date.now()/1000 is a float: its whole seconds are the host's.
		f, err := strconv.ParseFloat(strings.TrimPrefix(lines[0], "realtime "), 64)
		sec = int64(f)
		if now := time.Now().Unix(); err != nil || sec < now-60 || sec > now+60 {
			t.Fatalf("guest realtime %q is not the host's %d", lines[0], now)
		}
		if want := "realtime agrees true\nresolution ok true\nslept 20ms true performance true\n"; strings.Join(lines[1:], "\n") != want {
			t.Fatalf("clocks: %q, want %q after the realtime line", r.stdout, want)
		}
	})
	t.Run("Random", func(t *testing.T) {
		g.want(t, none, "getRandomValues differ true\nMath.random in [0,1) true\nrandom_get empty errno 0\n", "random")
	})
	// volume is an empty read-write mount at /data; empty checks that the
	// probe left it empty.
	volume := func(t *testing.T) (string, runtime.ContainerConfig) {
		dir := t.TempDir()
		return dir, runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: dir, GuestPath: "/data"}}}
	}
	empty := func(t *testing.T, dir string) {
		t.Helper()
		if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
			t.Fatalf("host dir after the probe: %v %v, want it empty", ents, err)
		}
	}
	t.Run("Volume", func(t *testing.T) {
		dir, cfg := volume(t)
		g.want(t, cfg, ASVolumeWant, "fs", "/data")
		ents, err := os.ReadDir(dir)
		if err != nil || len(ents) != 1 || ents[0].Name() != "kept.txt" {
			t.Fatalf("host dir after fs: %v %v, want only kept.txt", ents, err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "kept.txt")); err != nil || string(b) != ASKept {
			t.Fatalf("kept.txt on the host: %q %v", b, err)
		}
		// A read-only mount refuses the first create (EROFS).
		ro := runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: t.TempDir(), GuestPath: "/ro", ReadOnly: true}}}
		r := g.run(t, ro, "fs", "/ro")
		if r.status.ExitCode != 1 || r.stdout != "preopen dir\n" || r.stderr != "path_open f.txt: errno 69\n" { // EROFS
			t.Fatalf("fs on a read-only mount: status %+v stdout %q stderr %q", r.status, r.stdout, r.stderr)
		}
	})
	t.Run("DirectorySeekAndInodes", func(t *testing.T) {
		// Issue 10 defect 4: seeking a directory is EBADF (its fd has no
		// FD_SEEK right), and fd_readdir gives "." its real inode.
		dir, cfg := volume(t)
		g.want(t, cfg, "dir seek errno 8, seek right false\nreaddir inodes: dot true, file true\n", "dirs", "/data")
		empty(t, dir)
	})
	t.Run("RenameDirOntoEmptyDir", func(t *testing.T) {
		// Issue 10 defect 6: POSIX rename replaces an empty directory.
		dir, cfg := volume(t)
		g.want(t, cfg, "rename onto an empty directory errno 0\nold errno 44, new errno 0 dir\n", "renamedir", "/data")
		empty(t, dir)
	})
	t.Run("AppendFlag", func(t *testing.T) {
		// Issue 10 defect 5: fd_fdstat_set_flags(APPEND) changes where
		// writes go, as does path_open's APPEND.
		dir, cfg := volume(t)
		g.want(t, cfg, "set_flags append true content \"abcd\"\nopen append true content \"abcde\"\n", "append", "/data")
		empty(t, dir)
	})
	t.Run("ReopenDirectory", func(t *testing.T) {
		// Issue 10 defect 1: a directory reports directory rights, and
		// reopening it with them succeeds; FD_READ|FD_WRITE on it is EISDIR.
		dir, cfg := volume(t)
		g.want(t, cfg, "directory rights true inheritable true\nreopen ok, 0 entries\nreopen for writing errno 31\n", "reopen", "/data")
		empty(t, dir)
	})
	t.Run("NoFollow", func(t *testing.T) {
		// Issue 10 defect 3: without LOOKUP_SYMLINK_FOLLOW a final symlink
		// is not followed (ELOOP, as O_NOFOLLOW on Linux).
		dir, cfg := volume(t)
		g.want(t, cfg, "nofollow errno 32\nfollow \"target\"\nfollow as directory errno 54\n", "nofollow", "/data")
		empty(t, dir)
	})
}
