package enginetest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/runtime"
)

// WASI errnos the table expects.
const (
	errnoBadf  = 8
	errnoFault = 21
)

func (s *suite) testWASI(t *testing.T) {
	t.Run("FileOps", func(t *testing.T) {
		dir := t.TempDir()
		r := s.run(t, runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: dir, GuestPath: "/data"}}}, "fsops", "/data")
		r.mustSucceed(t)
		want := `seek 6 read "world"
tell 11 end-5 6
pread "WORLD"
size 5 regular true
content "hello+tail"
entry g.txt dir=false
entry sub dir=true
left 0
`
		if r.stdout != want {
			t.Fatalf("fsops output:\n%s\nwant:\n%s\nstderr %q", r.stdout, want, r.stderr)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Fatalf("host dir not empty after fsops: %v", ents)
		}
	})
	t.Run("Stat", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "f")
		must(t, os.WriteFile(p, []byte("12345678901"), 0o644))
		mt := time.Unix(1700000000, 0)
		must(t, os.Chtimes(p, mt, mt))
		cfg := runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: dir, GuestPath: "/d", ReadOnly: true}}}
		r := s.run(t, cfg, "stat", "/d/f")
		r.mustSucceed(t)
		if want := "size 11 dir false mtime 1700000000\n"; r.stdout != want {
			t.Errorf("stat file: %q, want %q", r.stdout, want)
		}
		r = s.run(t, cfg, "stat", "/d")
		r.mustSucceed(t)
		if !strings.HasPrefix(r.stdout, "size ") || !strings.Contains(r.stdout, "dir true") {
			t.Errorf("stat dir: %q", r.stdout)
		}
		s.run(t, cfg, "stat", "/d/missing").mustFail(t)
	})
	t.Run("Clocks", func(t *testing.T) {
		r := s.run(t, runtime.ContainerConfig{}, "clocks")
		r.mustSucceed(t)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 2 || lines[1] != "monotonic ok" {
			t.Fatalf("clocks: %q", r.stdout)
		}
		sec, err := strconv.ParseInt(lines[0], 10, 64)
		if err != nil || sec < time.Now().Unix()-60 || sec > time.Now().Unix()+60 {
			t.Fatalf("guest realtime %q is not the host's %d", lines[0], time.Now().Unix())
		}
	})
	t.Run("Random", func(t *testing.T) {
		r := s.run(t, runtime.ContainerConfig{}, "random")
		r.mustSucceed(t)
		if r.stdout != "random ok\n" {
			t.Fatalf("random: %q", r.stdout)
		}
	})
	t.Run("Sleep", func(t *testing.T) {
		r := s.run(t, runtime.ContainerConfig{}, "sleepms", "30")
		r.mustSucceed(t)
		if r.stdout != "slept true\n" {
			t.Fatalf("sleepms: %q", r.stdout)
		}
	})
	t.Run("PollStdinWithTimeout", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		inst, stdout, stderr := s.start(t, context.Background(), runtime.ContainerConfig{Stdin: pr}, "pollstdin")
		stdout.WaitFor(t, "ready", waitTimeout)
		fmt.Fprint(pw, "a\n")
		stdout.WaitFor(t, "got a", waitTimeout)
		fmt.Fprint(pw, "b\n")
		pw.Close()
		st := wait(t, inst, waitTimeout)
		if want := "timeout ok true\nready\ngot a\ngot b\neof\n"; st != (runtime.ExitStatus{}) || stdout.String() != want {
			t.Fatalf("pollstdin: status %+v stdout %q (want %q) stderr %q", st, stdout.String(), want, stderr.String())
		}
	})
	t.Run("NonblockingAndBlockingStdin", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		inst, stdout, stderr := s.start(t, context.Background(), runtime.ContainerConfig{Stdin: pr}, "nonblock")
		stdout.WaitFor(t, "ready", waitTimeout)
		time.Sleep(settle) // let it block
		fmt.Fprint(pw, "xyz")
		st := wait(t, inst, waitTimeout)
		if want := "nonblocking read: true\nready\nblocking read \"xyz\"\n"; st != (runtime.ExitStatus{}) || stdout.String() != want {
			t.Fatalf("nonblock: status %+v stdout %q (want %q) stderr %q", st, stdout.String(), want, stderr.String())
		}
	})
	t.Run("FDLimit", func(t *testing.T) {
		r := s.run(t, runtime.ContainerConfig{}, "emfile")
		r.mustSucceed(t)
		var n int
		var emfile bool
		if _, err := fmt.Sscanf(r.stdout, "opened %d, EMFILE %t", &n, &emfile); err != nil || !emfile || n < 16 || n > 4096 {
			t.Fatalf("emfile: %q (%v)", r.stdout, err)
		}
	})
	t.Run("RawPathEscapes", func(t *testing.T) {
		base := t.TempDir()
		mount, outside := filepath.Join(base, "mount"), filepath.Join(base, "outside")
		must(t, os.Mkdir(mount, 0o755))
		must(t, os.Mkdir(outside, 0o755))
		must(t, os.WriteFile(filepath.Join(outside, "secret"), []byte(secret), 0o644))
		must(t, os.WriteFile(filepath.Join(mount, "inside.txt"), []byte("inside"), 0o644))
		must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(mount, "abslink")))
		must(t, os.Symlink("../outside", filepath.Join(mount, "reldir")))
		cfg := runtime.ContainerConfig{Mounts: []runtime.Mount{{HostPath: mount, GuestPath: "/data"}}}
		for p, ok := range map[string]bool{
			"inside.txt":                     true,
			"./inside.txt":                   true,
			"../outside/secret":              false,
			"/etc/passwd":                    false,
			filepath.Join(outside, "secret"): false,
			"abslink":                        false,
			"reldir/secret":                  false,
			"reldir/../inside.txt":           false, // reldir leaves the mount, so ".." from it does too
			"a/../../outside/secret":         false,
		} {
			r := s.run(t, cfg, "rawopen", p)
			r.mustSucceed(t)
			if got := r.stdout == "errno 0\n"; got != ok {
				t.Errorf("raw path_open(%q): %q, want success %v", p, r.stdout, ok)
			}
		}
	})
	t.Run("BadPointers", func(t *testing.T) {
		r := s.run(t, runtime.ContainerConfig{}, "badptr")
		r.mustSucceed(t)
		want := fmt.Sprintf("fd_write iovs %d\nfd_write buf %d\nrandom_get %d\nfd_write badfd %d\n", errnoFault, errnoFault, errnoFault, errnoBadf)
		if r.stdout != want {
			t.Fatalf("badptr: %q, want %q", r.stdout, want)
		}
	})
}
