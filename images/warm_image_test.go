package images

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// goWrapper writes a go command into dir that appends each invocation's
// arguments to a log file and runs the real go; it returns the wrapper's
// path and a function reading the invocations logged so far.
func goWrapper(t *testing.T, dir string) (string, func() []string) {
	t.Helper()
	real, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	log := filepath.Join(dir, "go-invocations.log")
	path := filepath.Join(dir, "go")
	script := "#!/bin/sh\necho \"$*\" >> '" + log + "'\nexec '" + real + "' \"$@\"\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, func() []string {
		b, err := os.ReadFile(log)
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
}

// warmProject is a go:// project built once through a go wrapper, with
// every file older than the racy window, so that the next resolve is warm.
type warmProject struct {
	proj, cache, goCmd string
	calls              func() []string
	first              *Image
}

func newWarmProject(t *testing.T) *warmProject {
	t.Helper()
	w := &warmProject{proj: goProject(t), cache: t.TempDir()}
	bin := t.TempDir()
	w.goCmd, w.calls = goWrapper(t, bin)
	// hello embeds a directory too.
	writeFile(t, filepath.Join(w.proj, "hello", "static", "a.txt"), "a\n")
	writeFile(t, filepath.Join(w.proj, "hello", "static.go"), "package main\n\nimport \"embed\"\n\n//go:embed static\nvar static embed.FS\n")
	// hello/off.go is excluded by its build constraint.
	writeFile(t, filepath.Join(w.proj, "hello", "off.go"), "//go:build never\n\npackage main\n\nfunc init() { println(\"off\") }\n")
	age(t, w.proj)
	age(t, bin)
	img, builds := w.resolve(t)
	if builds != 1 || len(w.calls()) == 0 {
		t.Fatalf("first resolve: %d builds, go invocations %q", builds, w.calls())
	}
	w.first = img
	return w
}

// resolve resolves go://./hello with a new Resolver over the same cache (a
// new process) and returns the image and the number of go builds it ran.
func (w *warmProject) resolve(t *testing.T) (*Image, int64) {
	t.Helper()
	r := &Resolver{CacheDir: w.cache, GoCmd: w.goCmd}
	img, err := r.Resolve(context.Background(), "go://./hello", w.proj)
	if err != nil {
		t.Fatal(err)
	}
	return img, r.builds.Load()
}

// resolveCountingGo resolves and returns how many times go ran.
func (w *warmProject) resolveCountingGo(t *testing.T) (*Image, int64, int) {
	t.Helper()
	before := len(w.calls())
	img, builds := w.resolve(t)
	return img, builds, len(w.calls()) - before
}

// TestWarmResolveRunsNoGo: a new process resolving an unchanged go://
// image uses the cached artifact without running the go command at all.
func TestWarmResolveRunsNoGo(t *testing.T) {
	w := newWarmProject(t)
	for i := range 2 {
		img, builds, ran := w.resolveCountingGo(t)
		if ran != 0 || builds != 0 {
			t.Fatalf("warm resolve %d ran go %d times (%d builds): %q", i, ran, builds, w.calls())
		}
		if img.Digest != w.first.Digest || string(img.Bytes) != string(w.first.Bytes) || img.Path != w.first.Path {
			t.Fatalf("warm resolve gave %s at %s, want %s at %s", img.Digest, img.Path, w.first.Digest, w.first.Path)
		}
	}
	// The warm image is revalidated by stat as a built one is.
	r := &Resolver{CacheDir: w.cache, GoCmd: w.goCmd}
	img, err := r.Resolve(context.Background(), "go://./hello", w.proj)
	if err != nil || !r.Current(img) {
		t.Fatalf("warm image not current (err %v)", err)
	}
	writeFile(t, filepath.Join(w.proj, "lib", "lib.go"), "package lib\n\nconst Greeting = \"hallo\"\n")
	if r.Current(img) {
		t.Fatal("warm image still current after a dependency changed")
	}
}

// TestWarmResolveInvalidation: every change that can change the build
// makes the next process run go again, and rebuild when the output
// changes; after it, the next start is warm again.
func TestWarmResolveInvalidation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(t *testing.T, w *warmProject)
		rebuild bool // the key changes: go build runs
	}{
		{"new file in the package dir", func(t *testing.T, w *warmProject) {
			writeFile(t, filepath.Join(w.proj, "hello", "extra.go"), "package main\n\nfunc init() { println(\"extra\") }\n")
		}, true},
		{"edited dependency in the same module", func(t *testing.T, w *warmProject) {
			writeFile(t, filepath.Join(w.proj, "lib", "lib.go"), "package lib\n\nconst Greeting = \"bonjour\"\n")
		}, true},
		{"edited embedded file", func(t *testing.T, w *warmProject) {
			writeFile(t, filepath.Join(w.proj, "hello", "msg.txt"), "le monde\n")
		}, true},
		{"new file in an embedded directory", func(t *testing.T, w *warmProject) {
			writeFile(t, filepath.Join(w.proj, "hello", "static", "b.txt"), "b\n")
		}, true},
		{"go.mod changed", func(t *testing.T, w *warmProject) {
			writeFile(t, filepath.Join(w.proj, "go.mod"), "module example.com/proj\n\ngo 1.26.0\n")
		}, true},
		{"build constraint of an ignored file removed", func(t *testing.T, w *warmProject) {
			writeFile(t, filepath.Join(w.proj, "hello", "off.go"), "//go:build wasip1\n\npackage main\n\nfunc init() { println(\"off\") }\n")
		}, true},
		{"go.work added in a parent", func(t *testing.T, w *warmProject) {
			writeFile(t, filepath.Join(w.proj, "go.work"), "go 1.26\n\nuse .\n")
		}, true},
		{"GOFLAGS set", func(t *testing.T, w *warmProject) {
			t.Setenv("GOFLAGS", "-ldflags=-X=main.unused=1")
		}, true},
		{"GOOS set in the environment", func(t *testing.T, w *warmProject) {
			// The target is forced to wasip1, so the output is the same,
			// but go decides that, not the record.
			t.Setenv("GOOS", "plan9")
		}, false},
		{"another go command", func(t *testing.T, w *warmProject) {
			w.goCmd, w.calls = goWrapper(t, t.TempDir())
		}, false},
		{"the go command replaced in place", func(t *testing.T, w *warmProject) {
			b, err := os.ReadFile(w.goCmd)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(w.goCmd, append(b, "# upgraded\n"...), 0o755); err != nil {
				t.Fatal(err)
			}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWarmProject(t)
			tc.change(t, w)
			img, builds, ran := w.resolveCountingGo(t)
			if ran == 0 {
				t.Fatal("go did not run after the change")
			}
			if tc.rebuild != (builds == 1) {
				t.Fatalf("%d builds after the change, want rebuild=%v", builds, tc.rebuild)
			}
			if !tc.rebuild && img.Digest != w.first.Digest {
				t.Fatalf("digest %s, want the unchanged %s", img.Digest, w.first.Digest)
			}
			// Once the changed files are older than the racy window, the
			// next start is warm again, with the new image.
			age(t, w.proj)
			age(t, filepath.Dir(w.goCmd))
			if _, _, ran := w.resolveCountingGo(t); ran == 0 {
				t.Fatal("go did not run for the resolve that records the aged inputs")
			}
			again, builds, ran := w.resolveCountingGo(t)
			if ran != 0 || builds != 0 || again.Digest != img.Digest {
				t.Fatalf("after the change, a warm start ran go %d times, %d builds, digest %s (want %s)", ran, builds, again.Digest, img.Digest)
			}
		})
	}
}

// TestWarmResolveRacyFile: a source edited in place just before the build
// (its mtime within the racy window, its directory unchanged) is recorded
// with its content hash; the next start hashes it again instead of
// trusting its stat, and is warm when it is unchanged.
func TestWarmResolveRacyFile(t *testing.T) {
	w := newWarmProject(t)
	lib := filepath.Join(w.proj, "lib", "lib.go")
	writeFile(t, lib, "package lib\n\nconst Greeting = \"salut\"\n")
	img, builds, _ := w.resolveCountingGo(t)
	if builds != 1 {
		t.Fatalf("%d builds after the edit, want 1", builds)
	}
	if fi, err := os.Stat(lib); err != nil || time.Since(fi.ModTime()) >= racyWindow {
		t.Skipf("the machine is too slow to resolve within the racy window (%v)", err)
	}
	again, builds, ran := w.resolveCountingGo(t)
	if ran != 0 || builds != 0 || again.Digest != img.Digest {
		t.Fatalf("unchanged racy source: go ran %d times, %d builds, digest %s (want %s)", ran, builds, again.Digest, img.Digest)
	}
	writeFile(t, lib, "package lib\n\nconst Greeting = \"ciao!\"\n")
	if _, builds, ran := w.resolveCountingGo(t); ran == 0 || builds != 1 {
		t.Fatalf("racy source edited again: go ran %d times, %d builds", ran, builds)
	}
}

// TestWarmResolveReplacedModule: the go.mod of a dependency replaced by a
// local directory is an input as a source is: editing it rebuilds.
func TestWarmResolveReplacedModule(t *testing.T) {
	w := &warmProject{proj: t.TempDir(), cache: t.TempDir()}
	writeFile(t, filepath.Join(w.proj, "go.mod"), "module example.com/proj\n\ngo 1.26\n\nrequire example.com/dep v0.0.0\n\nreplace example.com/dep => ./dep\n")
	writeFile(t, filepath.Join(w.proj, "dep", "go.mod"), "module example.com/dep\n\ngo 1.26\n")
	writeFile(t, filepath.Join(w.proj, "dep", "dep.go"), "package dep\n\nconst Name = \"dep\"\n")
	writeFile(t, filepath.Join(w.proj, "hello", "main.go"), "package main\n\nimport \"example.com/dep\"\n\nfunc main() { println(dep.Name) }\n")
	bin := t.TempDir()
	w.goCmd, w.calls = goWrapper(t, bin)
	age(t, w.proj)
	age(t, bin)
	if _, builds := w.resolve(t); builds != 1 {
		t.Fatalf("first resolve: %d builds", builds)
	}
	if _, builds, ran := w.resolveCountingGo(t); ran != 0 || builds != 0 {
		t.Fatalf("warm resolve ran go %d times, %d builds", ran, builds)
	}
	writeFile(t, filepath.Join(w.proj, "dep", "go.mod"), "module example.com/dep\n\ngo 1.26\n\n// edited\n")
	if _, builds, ran := w.resolveCountingGo(t); ran == 0 || builds != 1 {
		t.Fatalf("after the replaced module's go.mod changed: go ran %d times, %d builds", ran, builds)
	}
}

// TestWarmResolveArtifact: the cached module's stat vouches for its
// digest once it is older than the racy window; a changed module is
// hashed again, and a broken one rebuilt.
func TestWarmResolveArtifact(t *testing.T) {
	w := newWarmProject(t)
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(w.first.Path, old, old); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		img, builds, ran := w.resolveCountingGo(t)
		if ran != 0 || builds != 0 || img.Digest != w.first.Digest {
			t.Fatalf("warm resolve %d: go ran %d times, %d builds, digest %s", i, ran, builds, img.Digest)
		}
	}
	// Same size, another content: the stat changed, so the module is
	// hashed, does not match, and go runs (the image's digest is that of
	// its bytes, whatever the cache holds).
	b, err := os.ReadFile(w.first.Path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(w.first.Path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if img, _, ran := w.resolveCountingGo(t); ran == 0 || img.Digest != Digest(img.Bytes) {
		t.Fatalf("changed artifact: go ran %d times, digest %s", ran, img.Digest)
	}
	// Not a module at all: rebuilt.
	if err := os.WriteFile(w.first.Path, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if img, builds, _ := w.resolveCountingGo(t); builds != 1 || img.Digest != w.first.Digest {
		t.Fatalf("broken artifact: %d builds, digest %s, want a rebuild to %s", builds, img.Digest, w.first.Digest)
	}
}
