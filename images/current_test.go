package images

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// age sets the mtimes of everything under dir an hour back, so that the
// fingerprints taken next are not racy.
func age(t testing.TB, dir string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCurrent: an unchanged go:// image is current by stat alone; a changed
// source, embedded file, module file or a new file in a package is not.
func TestCurrent(t *testing.T) {
	proj := goProject(t)
	age(t, proj)
	r := &Resolver{CacheDir: t.TempDir()}
	ctx := context.Background()
	img, err := r.Resolve(ctx, "go://./hello", proj)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Current(img) {
		t.Fatal("a freshly resolved image with old sources is not current")
	}
	for _, change := range []struct{ file, content string }{
		{"lib/lib.go", "package lib\n\nconst Greeting = \"bonjour\"\n"},
		{"hello/msg.txt", "le monde\n"},
		{"go.mod", "module example.com/proj\n\ngo 1.26.0\n"},
		{"hello/extra.go", "package main\n\nvar extra = 1\n"},
	} {
		writeFile(t, filepath.Join(proj, change.file), change.content)
		if r.Current(img) {
			t.Fatalf("image still current after %s changed", change.file)
		}
		// A resolve right after the change is racy (mtimes within the
		// granularity window): it proves nothing, so it is not current...
		img, err = r.Resolve(ctx, "go://./hello", proj)
		if err != nil {
			t.Fatal(err)
		}
		if r.Current(img) {
			t.Fatalf("a resolve right after changing %s is current (racy)", change.file)
		}
		// ...until the files are older than the window.
		age(t, proj)
		if img, err = r.Resolve(ctx, "go://./hello", proj); err != nil {
			t.Fatal(err)
		}
		if !r.Current(img) {
			t.Fatalf("after changing %s and resolving again, not current", change.file)
		}
	}
	// Same content, touched: a different mtime may be a different content,
	// so not current; resolving again does not rebuild (the hash is equal).
	builds := r.builds.Load()
	now := time.Now().Add(-30 * time.Minute)
	if err := os.Chtimes(filepath.Join(proj, "lib", "lib.go"), now, now); err != nil {
		t.Fatal(err)
	}
	if r.Current(img) {
		t.Fatal("image current after a source's mtime changed")
	}
	if _, err := r.Resolve(ctx, "go://./hello", proj); err != nil || r.builds.Load() != builds {
		t.Fatalf("touching a source rebuilt (err %v, builds %d, was %d)", err, r.builds.Load(), builds)
	}

	// A path image: current until its file changes.
	mod := filepath.Join(t.TempDir(), "m.wasm")
	if err := os.WriteFile(mod, emptyModule, 0o644); err != nil {
		t.Fatal(err)
	}
	age(t, filepath.Dir(mod))
	fimg, err := r.Resolve(ctx, mod, "")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Current(fimg) {
		t.Fatal("path image not current")
	}
	if err := os.WriteFile(mod, append(emptyModule, 0), 0o644); err != nil {
		t.Fatal(err)
	}
	if r.Current(fimg) {
		t.Fatal("path image current after its file changed")
	}
	if r.Current(&Image{Digest: fimg.Digest}) {
		t.Fatal("an Image not made by Resolve is current")
	}
}

// BenchmarkCurrent reports the cost of revalidating a go:// image by stat
// (what each pod start of an unchanged image pays) as a ratio to resolving
// it again (a warm resolve: the input record validated by stat and the
// cached module read), measured in the same run.
func BenchmarkCurrent(b *testing.B) {
	proj := goProject(b)
	age(b, proj)
	r := &Resolver{CacheDir: b.TempDir()}
	ctx := context.Background()
	img, err := r.Resolve(ctx, "go://./hello", proj)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var cur, res time.Duration
	for range b.N {
		start := time.Now()
		if !r.Current(img) {
			b.Fatal("not current")
		}
		cur += time.Since(start)
		start = time.Now()
		if _, err := r.Resolve(ctx, "go://./hello", proj); err != nil {
			b.Fatal(err)
		}
		res += time.Since(start)
	}
	b.ReportMetric(float64(cur.Nanoseconds())/1000/float64(b.N), "current-µs")
	b.ReportMetric(float64(cur)/float64(res), "x-reresolve")
}
