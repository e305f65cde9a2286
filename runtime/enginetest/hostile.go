package enginetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime"
)

// The hostile-guest suite: wasm-examples/testguests/hostile plays symlink
// and rename games against its mounts. Each case asserts the exact errnos
// the guest sees, that no secret outside the mount is read and that nothing
// outside is written.

// hostileEnv is a mount with a secret and an empty directory beside it.
type hostileEnv struct {
	mount, outside, secret string
}

const hostileSecret = "TOPSECRET-HOSTILE"

func newHostileEnv(t *testing.T) hostileEnv {
	t.Helper()
	base := t.TempDir()
	e := hostileEnv{mount: filepath.Join(base, "mount"), outside: filepath.Join(base, "outside")}
	must(t, os.Mkdir(e.mount, 0o755))
	must(t, os.Mkdir(e.outside, 0o755))
	e.secret = filepath.Join(base, "secret")
	must(t, os.WriteFile(e.secret, []byte(hostileSecret), 0o600))
	return e
}

// check fails the test if the guest read the secret or wrote outside.
func (e hostileEnv) check(t *testing.T, out string) {
	t.Helper()
	if strings.Contains(out, hostileSecret) {
		t.Errorf("the guest read the secret outside its mount:\n%s", out)
	}
	if ents, _ := os.ReadDir(e.outside); len(ents) != 0 {
		t.Errorf("the guest wrote outside its mount: %v", ents)
	}
	if b, _ := os.ReadFile(e.secret); string(b) != hostileSecret {
		t.Errorf("the secret outside the mount changed to %q", b)
	}
}

func (s *suite) hostileModule(t *testing.T) runtime.CompiledModule {
	t.Helper()
	s.hostileOnce.Do(func() {
		wasm := testwasm.Build(t, testwasm.GuestDir(t, "hostile"))
		s.hostile, s.hostileErr = s.eng.Compile(context.Background(), Digest(wasm), wasm)
	})
	if s.hostileErr != nil {
		t.Fatalf("compile hostile: %v", s.hostileErr)
	}
	return s.hostile
}

// runHostile runs the hostile guest to completion and returns its stdout
// lines.
func (s *suite) runHostile(t *testing.T, cfg runtime.ContainerConfig, args ...string) []string {
	t.Helper()
	stdout, stderr := NewBuffer(), NewBuffer()
	cfg.Args = append([]string{"hostile"}, args...)
	cfg.Stdout, cfg.Stderr = stdout, stderr
	cfg.Name = "hostile/" + args[0]
	inst, err := s.eng.Start(context.Background(), s.hostileModule(t), cfg)
	if err != nil {
		t.Fatalf("Start %v: %v", args, err)
	}
	st := wait(t, inst, waitTimeout)
	if st.ExitCode != 0 {
		t.Fatalf("hostile %v: status %+v\nstdout %s\nstderr %s", args, st, stdout, stderr)
	}
	return strings.Split(strings.TrimSpace(stdout.String()), "\n")
}

// runInMount runs the hostile guest with args and m (HostPath e.mount at
// /v), and fails the test if the guest read the secret or wrote outside
// (e.check); it returns the guest's output lines.
func (s *suite) runInMount(t *testing.T, e hostileEnv, m runtime.Mount, args ...string) []string {
	t.Helper()
	m.HostPath, m.GuestPath = e.mount, "/v"
	out := s.runHostile(t, runtime.ContainerConfig{Mounts: []runtime.Mount{m}}, args...)
	e.check(t, strings.Join(out, "\n"))
	return out
}

func wantLines(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func (s *suite) testHostile(t *testing.T) {
	t.Run("RenameSymlinkUp", func(t *testing.T) {
		// Harmless at depth 6, 6 levels above the mount once at its top:
		// the rename is refused; a rename that keeps it inside is not.
		e := newHostileEnv(t)
		out := s.runInMount(t, e, runtime.Mount{}, "do", "plant", "/v", "esc", "6", "6",
			"--", "rename", "/v/d1/d2/d3/d4/d5/d6/l", "/v/d1/d2/d3/d4/d5/l2",
			"--", "symlink", "../..", "/v/d1/d2/d3/two",
			"--", "rename", "/v/d1/d2/d3/two", "/v/d1/two",
			"--", "rename", "/v/d1/d2/d3/two", "/v/d1/d2/two",
			"--", "cat", "/v/esc/"+e.secret)
		wantLines(t, "plant", out, "mkdir: ok", "symlink: ok", "rename: errno EPERM",
			"rename: errno EPERM", // one level up: "../../../../../.." from d5 escapes
			"symlink: ok", "rename: errno EPERM", "rename: ok", "cat: errno ENOENT")
		if _, err := os.Lstat(filepath.Join(e.mount, "esc")); err == nil {
			t.Error("the escaping link exists at the mount's top")
		}
	})
	t.Run("LinkSymlinkUp", func(t *testing.T) {
		e := newHostileEnv(t)
		out := s.runInMount(t, e, runtime.Mount{}, "do", "mkdir", "/v/a", "--", "mkdir", "/v/a/b",
			"--", "symlink", "../..", "/v/a/b/l",
			"--", "link", "/v/a/b/l", "/v/l",
			"--", "link", "/v/a/b/l", "/v/a/b/l2")
		wantLines(t, "link", out, "mkdir: ok", "mkdir: ok", "symlink: ok", "link: errno EPERM", "link: ok")
	})
	t.Run("RenameDirectoryUp", func(t *testing.T) {
		// A directory holding a link to the mount's top moves up two
		// levels: the link would escape, so the move is refused; moving it
		// sideways or deeper is allowed.
		e := newHostileEnv(t)
		out := s.runInMount(t, e, runtime.Mount{}, "do", "plant", "/v", "unused", "3", "3",
			"--", "rename", "/v/d1/d2/d3", "/v/d3",
			"--", "rename", "/v/d1/d2/d3", "/v/d1/d2/e3",
			"--", "mkdir", "/v/d1/d2/e3/f",
			"--", "rename", "/v/d1/d2/e3", "/v/d1/d2/e3x",
			"--", "cat", "/v/d3/l/"+e.secret)
		wantLines(t, "directory moves", out, "mkdir: ok", "symlink: ok", "rename: errno EPERM",
			"rename: errno EPERM", "rename: ok", "mkdir: ok", "rename: ok", "cat: errno ENOENT")
	})
	t.Run("RenameThroughSymlinkedParent", func(t *testing.T) {
		// The destination's parent is a symlink to the top: the real depth,
		// not the lexical one, decides.
		e := newHostileEnv(t)
		out := s.runInMount(t, e, runtime.Mount{}, "do", "mkdir", "/v/x", "--", "mkdir", "/v/x/y",
			"--", "symlink", "../..", "/v/x/y/top",
			"--", "mkdir", "/v/q", "--", "mkdir", "/v/q/r",
			"--", "symlink", "../..", "/v/q/r/l",
			"--", "rename", "/v/q/r/l", "/v/x/y/top/l",
			"--", "rename", "/v/q/r/l", "/v/x/y/l")
		wantLines(t, "through a symlinked parent", out, "mkdir: ok", "mkdir: ok", "symlink: ok",
			"mkdir: ok", "mkdir: ok", "symlink: ok", "rename: errno EPERM", "rename: ok")
	})
	t.Run("SymlinkThroughSymlinkedParent", func(t *testing.T) {
		// path_symlink judges the target from the link's real directory:
		// made through x/y/top (a link to the top), "../.." leaves the
		// mount although x/y/top/.. lexically is x/y.
		e := newHostileEnv(t)
		out := s.runInMount(t, e, runtime.Mount{}, "do", "mkdir", "/v/x", "--", "mkdir", "/v/x/y",
			"--", "symlink", "../..", "/v/x/y/top",
			"--", "symlink", "../..", "/v/x/y/top/l",
			"--", "symlink", "x/y", "/v/x/y/top/ok")
		wantLines(t, "symlink through a symlinked parent", out, "mkdir: ok", "mkdir: ok", "symlink: ok",
			"symlink: errno EPERM", "symlink: ok")
		if _, err := os.Lstat(filepath.Join(e.mount, "l")); err == nil {
			t.Error("an escaping link was made at the mount's top")
		}
	})
	t.Run("SymlinkThroughPlantedSymlink", func(t *testing.T) {
		// d1/d2/s -> ../.. is the mount's top; d1/d2/x -> s/../secret is
		// lexically d1/d2/secret but, as the kernel resolves it, the
		// secret beside the mount. A ".." after a normal component is
		// refused, whatever it cancels; "../" prefixes and plain names are
		// not. A host-made link of that form is not moved either.
		e := newHostileEnv(t)
		must(t, os.MkdirAll(filepath.Join(e.mount, "h", "i"), 0o755))
		must(t, os.Symlink("../..", filepath.Join(e.mount, "h", "i", "s")))
		must(t, os.Symlink("s/../secret", filepath.Join(e.mount, "h", "i", "old")))
		out := s.runInMount(t, e, runtime.Mount{}, "do", "mkdir", "/v/d1", "--", "mkdir", "/v/d1/d2",
			"--", "symlink", "../..", "/v/d1/d2/s",
			"--", "symlink", "s/../secret", "/v/d1/d2/x",
			"--", "symlink", "s/../../../../../etc", "/v/d1/d2/y",
			"--", "symlink", "s/", "/v/d1/d2/z",
			"--", "symlink", "../../../secret", "/v/d1/d2/direct",
			"--", "symlink", "a/../b", "/v/d1/d2/cancel",
			"--", "symlink", "../x", "/v/d1/d2/up",
			"--", "symlink", "./../a/b/", "/v/d1/d2/ab",
			"--", "rename", "/v/h/i/old", "/v/h/i/old2",
			"--", "cat", "/v/d1/d2/x")
		wantLines(t, "symlink through a planted symlink", out, "mkdir: ok", "mkdir: ok", "symlink: ok",
			"symlink: errno EPERM", "symlink: errno EPERM", "symlink: ok", "symlink: errno EPERM",
			"symlink: errno EPERM", "symlink: ok", "symlink: ok", "rename: errno EPERM", "cat: errno ENOENT")
		// What a host process (backup, cleanup, an admin's cat) sees.
		for _, name := range []string{"x", "y"} {
			if b, err := os.ReadFile(filepath.Join(e.mount, "d1", "d2", name)); err == nil || strings.Contains(string(b), hostileSecret) {
				t.Errorf("host read of d1/d2/%s: %q, %v; want no such link", name, b, err)
			}
		}
	})
	t.Run("ListLargeDirectory", func(t *testing.T) {
		// fd_readdir streams a directory in bounded batches: a guest's
		// os.ReadDir of one spanning many of them sees every entry once.
		e := newHostileEnv(t)
		dir := filepath.Join(e.mount, "big")
		must(t, os.Mkdir(dir, 0o755))
		for i := range 4000 {
			must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("entry-%05d-%s", i, strings.Repeat("n", i%29))), nil, 0o644))
		}
		must(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
		must(t, os.Symlink("sub", filepath.Join(dir, "ln")))
		out := s.runInMount(t, e, runtime.Mount{ReadOnly: true}, "do", "ls", "/v/big")
		want := []string{"ls: ok 4002"}
		ents, err := os.ReadDir(dir)
		must(t, err)
		for _, de := range ents {
			want = append(want, "ls: "+de.Name())
		}
		if !slices.Equal(out, want) {
			t.Errorf("guest listing of %d entries: got %d lines, first %q; want %d", len(ents), len(out), out[0], len(want))
		}
	})
	t.Run("ReadOnlyMount", func(t *testing.T) {
		e := newHostileEnv(t)
		must(t, os.MkdirAll(filepath.Join(e.mount, "a", "b"), 0o755))
		must(t, os.Symlink("../..", filepath.Join(e.mount, "a", "b", "l")))
		out := s.runInMount(t, e, runtime.Mount{ReadOnly: true}, "do", "plant", "/v", "esc", "3", "3",
			"--", "rename", "/v/a/b/l", "/v/l",
			"--", "link", "/v/a/b/l", "/v/l",
			"--", "write", "/v/a/b/l/x", "y",
			"--", "fill", "/v/f", "4096",
			"--", "truncate", "/v/a/b/l", "1T")
		wantLines(t, "read-only", out, "mkdir: errno EROFS", "symlink: errno EROFS", "rename: errno EROFS",
			"rename: errno EROFS", "link: errno EROFS", "write: errno EROFS", "fill: errno EROFS", "truncate: errno EROFS")
		if ents, _ := os.ReadDir(e.mount); len(ents) != 1 {
			t.Errorf("read-only mount changed: %v", ents)
		}
	})
	t.Run("MountOpenedRoot", func(t *testing.T) {
		// Mount.Root is what the guest gets, even when HostPath is
		// replaced by a symlink to elsewhere after the caller opened it.
		e := newHostileEnv(t)
		must(t, os.WriteFile(filepath.Join(e.mount, "mine"), []byte("mine"), 0o644))
		root, err := os.OpenRoot(e.mount)
		must(t, err)
		defer root.Close()
		moved := e.mount + ".moved"
		must(t, os.Rename(e.mount, moved))
		must(t, os.Symlink(filepath.Dir(e.secret), e.mount))
		out := s.runInMount(t, e, runtime.Mount{Root: root}, "do", "cat", "/v/mine", "--", "cat", "/v/secret", "--", "write", "/v/new", "x")
		wantLines(t, "opened root", out, "cat: ok 4", "mine", "cat: errno ENOENT", "write: ok")
		if _, err := os.Stat(filepath.Join(moved, "new")); err != nil {
			t.Errorf("the write did not land in the opened directory: %v", err)
		}
		// The caller's root stays usable: the engine took its own handle.
		if _, err := root.Stat("mine"); err != nil {
			t.Errorf("caller's root after Start: %v", err)
		}
	})
}
