package images

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// emptyModule is the smallest valid WebAssembly module: magic + version 1.
var emptyModule = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// goProject writes a small Go module with a main package (./hello) that uses a
// local library package and an embedded file.
func goProject(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "go.mod"), "module example.com/proj\n\ngo 1.26\n")
	writeFile(t, filepath.Join(dir, "lib", "lib.go"), "package lib\n\nconst Greeting = \"hello\"\n")
	writeFile(t, filepath.Join(dir, "hello", "msg.txt"), "world\n")
	writeFile(t, filepath.Join(dir, "hello", "main.go"), `package main

import (
	_ "embed"
	"fmt"

	"example.com/proj/lib"
)

//go:embed msg.txt
var msg string

func main() { fmt.Println(lib.Greeting, msg) }
`)
	return dir
}

func wantErr(t *testing.T, err error, kind error, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v containing %q", kind, substr)
	}
	if !errors.Is(err, kind) {
		t.Errorf("error %q: errors.Is(%v) = false", err, kind)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Errorf("error %q does not contain %q", err, substr)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("error %q is not an *Error", err)
	}
}

func TestDigest(t *testing.T) {
	if got, want := Digest(nil), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
		t.Fatalf("Digest(nil) = %s, want %s", got, want)
	}
}

func TestResolveGo(t *testing.T) {
	proj := goProject(t)
	var progress bytes.Buffer
	r := &Resolver{CacheDir: t.TempDir(), Progress: &progress}
	ctx := context.Background()

	img, err := r.Resolve(ctx, "go://./hello", proj)
	if err != nil {
		t.Fatal(err)
	}
	if img.Ref != "go://./hello" {
		t.Errorf("Ref = %q", img.Ref)
	}
	if checkWasm(img.Bytes) != nil || len(img.Bytes) < 100_000 {
		t.Fatalf("built bytes are not a real module (%d bytes)", len(img.Bytes))
	}
	if img.Digest != Digest(img.Bytes) {
		t.Errorf("Digest %s does not match bytes", img.Digest)
	}
	onDisk, err := os.ReadFile(img.Path)
	if err != nil || !bytes.Equal(onDisk, img.Bytes) {
		t.Fatalf("Path %s does not hold the module bytes (err %v)", img.Path, err)
	}
	if !strings.HasPrefix(img.Path, r.CacheDir) {
		t.Errorf("Path %s is not under CacheDir %s", img.Path, r.CacheDir)
	}
	if n := r.builds.Load(); n != 1 {
		t.Fatalf("builds = %d, want 1", n)
	}
	out := progress.String()
	if !strings.Contains(out, "Building go://./hello for wasip1/wasm...\n") ||
		!strings.Contains(out, "Built go://./hello (") || !strings.Contains(out, img.Digest[:len("sha256:")+12]+") in ") {
		t.Errorf("progress output:\n%s", out)
	}
	st1, err := os.Stat(img.Path)
	if err != nil {
		t.Fatal(err)
	}

	// Unchanged sources: no rebuild, fast, same artifact, no progress output.
	progress.Reset()
	start := time.Now()
	again, err := r.Resolve(ctx, "go://hello/", proj)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cached resolve took %s", d)
	}
	if n := r.builds.Load(); n != 1 {
		t.Fatalf("unchanged sources rebuilt: builds = %d", n)
	}
	if again.Digest != img.Digest || again.Path != img.Path || again.Ref != "go://hello/" {
		t.Errorf("cached resolve = %+v, want digest %s path %s", again, img.Digest, img.Path)
	}
	if progress.Len() != 0 {
		t.Errorf("cached resolve printed progress: %q", progress.String())
	}
	if st2, err := os.Stat(img.Path); err != nil || !st2.ModTime().Equal(st1.ModTime()) {
		t.Errorf("cache file rewritten (err %v)", err)
	}

	// A fresh Resolver sharing the cache directory finds the artifact on disk.
	r2 := &Resolver{CacheDir: r.CacheDir}
	if img2, err := r2.Resolve(ctx, "go://"+filepath.Join(proj, "hello"), ""); err != nil || img2.Digest != img.Digest || r2.builds.Load() != 0 {
		t.Fatalf("absolute go:// with shared cache: img %+v err %v builds %d", img2, err, r2.builds.Load())
	}

	// Changing a dependency's source, or an embedded file, rebuilds.
	prev := img.Digest
	for i, change := range []struct{ file, content string }{
		{"lib/lib.go", "package lib\n\nconst Greeting = \"bonjour\"\n"},
		{"hello/msg.txt", "le monde\n"},
	} {
		writeFile(t, filepath.Join(proj, change.file), change.content)
		img, err := r.Resolve(ctx, "go://./hello", proj)
		if err != nil {
			t.Fatal(err)
		}
		if n := r.builds.Load(); n != int64(2+i) {
			t.Fatalf("after changing %s: builds = %d, want %d", change.file, n, 2+i)
		}
		if img.Digest == prev || img.Digest != Digest(img.Bytes) {
			t.Fatalf("after changing %s: digest %s (previous %s)", change.file, img.Digest, prev)
		}
		prev = img.Digest
	}
}

func TestResolveGoConcurrentBuildsOnce(t *testing.T) {
	proj := goProject(t)
	r := &Resolver{CacheDir: t.TempDir()}
	refs := []string{"go://./hello", "go://hello", "go://./hello", "go://./hello/"}
	imgs := make([]*Image, len(refs))
	errs := make([]error, len(refs))
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			imgs[i], errs[i] = r.Resolve(context.Background(), ref, proj)
		}()
	}
	wg.Wait()
	for i := range refs {
		if errs[i] != nil {
			t.Fatalf("%s: %v", refs[i], errs[i])
		}
		if imgs[i].Ref != refs[i] || imgs[i].Digest != imgs[0].Digest {
			t.Errorf("%s: got ref %q digest %s", refs[i], imgs[i].Ref, imgs[i].Digest)
		}
	}
	if n := r.builds.Load(); n != 1 {
		t.Fatalf("builds = %d, want 1", n)
	}
	entries, err := os.ReadDir(filepath.Join(r.CacheDir, "go-build"))
	if err != nil || len(entries) != 1 {
		t.Fatalf("cache dir holds %d entries (err %v), want 1 (no leftover temp files)", len(entries), err)
	}
}

func TestResolveGoErrors(t *testing.T) {
	proj := goProject(t)
	writeFile(t, filepath.Join(proj, "broken", "main.go"), "package main\n\nfunc main() { notDefined() }\n")
	writeFile(t, filepath.Join(proj, "badimport", "main.go"), "package main\n\nimport \"example.com/proj/nope\"\n\nfunc main() { nope.X() }\n")
	writeFile(t, filepath.Join(proj, "empty", "README"), "no Go here\n")
	writeFile(t, filepath.Join(proj, "file.go"), "package proj\n")
	ctx := context.Background()
	r := &Resolver{CacheDir: t.TempDir()}

	_, err := r.Resolve(ctx, "go://./broken", proj)
	wantErr(t, err, ErrBuild, "undefined: notDefined")
	if err != nil && !strings.HasPrefix(err.Error(), `image "go://./broken": go build failed`) {
		t.Errorf("error %q", err)
	}
	_, err = r.Resolve(ctx, "go://./badimport", proj)
	wantErr(t, err, ErrBuild, "example.com/proj/nope")

	_, err = r.Resolve(ctx, "go://./lib", proj)
	wantErr(t, err, ErrInvalid, "is not a Go main package (it is package lib)")
	_, err = r.Resolve(ctx, "go://./empty", proj)
	wantErr(t, err, ErrInvalid, "is not a Go main package")
	_, err = r.Resolve(ctx, "go://./file.go", proj)
	wantErr(t, err, ErrInvalid, "is not a directory")
	_, err = r.Resolve(ctx, "go://./missing", proj)
	wantErr(t, err, ErrNotFound, filepath.Join(proj, "missing")+" does not exist")
	_, err = r.Resolve(ctx, "go://", proj)
	wantErr(t, err, ErrInvalid, "no package path")
	_, err = (&Resolver{}).Resolve(ctx, "go://./hello", proj)
	wantErr(t, err, ErrBuild, "CacheDir")
	_, err = (&Resolver{CacheDir: t.TempDir(), GoCmd: "/nonexistent/go"}).Resolve(ctx, "go://./hello", proj)
	wantErr(t, err, ErrBuild, "Go toolchain not found")

	// Only "broken" gets past go list to the compiler.
	if n := r.builds.Load(); n != 1 {
		t.Errorf("builds = %d, want 1", n)
	}
	entries, _ := os.ReadDir(filepath.Join(r.CacheDir, "go-build"))
	if len(entries) != 0 {
		t.Errorf("failed builds left %d files in the cache", len(entries))
	}
}

func TestResolveFile(t *testing.T) {
	base := t.TempDir()
	abs := filepath.Join(base, "sub", "mod.wasm")
	writeFile(t, abs, string(emptyModule))
	ctx := context.Background()
	r := &Resolver{}

	other := t.TempDir()
	for _, tc := range []struct{ ref, base string }{
		{"sub/mod.wasm", base},
		{"./sub/mod.wasm", base},
		{"../" + filepath.Base(base) + "/sub/mod.wasm", base},
		{abs, other},
		{"file://" + abs, other},
		{"file://localhost" + abs, other},
		{"file://sub/mod.wasm", base},
		{"file://./sub/mod.wasm", base},
	} {
		img, err := r.Resolve(ctx, tc.ref, tc.base)
		if err != nil {
			t.Errorf("%s: %v", tc.ref, err)
			continue
		}
		if img.Path != abs || img.Ref != tc.ref || !bytes.Equal(img.Bytes, emptyModule) || img.Digest != Digest(emptyModule) {
			t.Errorf("%s: got %+v", tc.ref, img)
		}
	}

	// A file URL with an escaped space.
	writeFile(t, filepath.Join(base, "a b.wasm"), string(emptyModule))
	if _, err := r.Resolve(ctx, "file://"+filepath.Join(base, "a%20b.wasm"), ""); err != nil {
		t.Error(err)
	}
}

func TestResolveFileErrors(t *testing.T) {
	base := t.TempDir()
	writeFile(t, filepath.Join(base, "x.wasm"), "#!/bin/sh\necho not wasm\n")
	writeFile(t, filepath.Join(base, "short.wasm"), "\x00as")
	writeFile(t, filepath.Join(base, "v2.wasm"), "\x00asm\x02\x00\x00\x00")
	if err := os.Mkdir(filepath.Join(base, "dir.wasm"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := &Resolver{}

	_, err := r.Resolve(ctx, "x.wasm", base)
	wantErr(t, err, ErrInvalid, "")
	if err != nil {
		if want := `image "x.wasm": ` + filepath.Join(base, "x.wasm") + ` is not a WebAssembly module (bad magic number)`; err.Error() != want {
			t.Errorf("got  %q\nwant %q", err, want)
		}
	}
	_, err = r.Resolve(ctx, "short.wasm", base)
	wantErr(t, err, ErrInvalid, "bad magic number")
	_, err = r.Resolve(ctx, "v2.wasm", base)
	wantErr(t, err, ErrInvalid, "unsupported version 2")
	_, err = r.Resolve(ctx, "dir.wasm", base)
	wantErr(t, err, ErrInvalid, "is a directory")

	_, err = r.Resolve(ctx, "missing.wasm", base)
	wantErr(t, err, ErrNotFound, "")
	if err != nil {
		if want := `image "missing.wasm": open ` + filepath.Join(base, "missing.wasm") + `: no such file or directory`; err.Error() != want {
			t.Errorf("got  %q\nwant %q", err, want)
		}
	}
	_, err = r.Resolve(ctx, "file:///nonexistent/m.wasm", base)
	wantErr(t, err, ErrNotFound, "open /nonexistent/m.wasm")
	if errors.Is(err, ErrInvalid) || errors.Is(err, ErrBuild) {
		t.Errorf("missing file classified as more than ErrNotFound: %v", err)
	}
	_, err = r.Resolve(ctx, "file://", base)
	wantErr(t, err, ErrInvalid, "no path")
}

func TestResolveRefErrors(t *testing.T) {
	r := &Resolver{}
	ctx := context.Background()

	_, err := r.Resolve(ctx, "ghcr.io/x/y:1.0", t.TempDir())
	wantErr(t, err, ErrUnsupported, "")
	if err != nil {
		if want := `image "ghcr.io/x/y:1.0": this node has no module store to pull OCI images into`; err.Error() != want {
			t.Errorf("got  %q\nwant %q", err, want)
		}
		if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrNotFound) {
			t.Errorf("OCI error classification: %v", err)
		}
	}
	_, err = r.Resolve(ctx, "busybox", "")
	wantErr(t, err, ErrUnsupported, "no module store to pull OCI images into")
	_, err = r.Resolve(ctx, "https://example.com/m.wasm", "")
	wantErr(t, err, ErrUnsupported, `unsupported scheme "https"`)

	for _, ref := range []string{"", "   "} {
		_, err = r.Resolve(ctx, ref, "")
		wantErr(t, err, ErrInvalid, "empty image reference")
	}
	_, err = r.Resolve(ctx, " m.wasm", "")
	wantErr(t, err, ErrInvalid, "spaces")

}

func TestResolveGoCancelled(t *testing.T) {
	proj := goProject(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := (&Resolver{CacheDir: t.TempDir()}).Resolve(ctx, "go://./hello", proj)
	wantErr(t, err, ErrBuild, "context canceled")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}
