package images

import (
	"context"
	"crypto/sha256"
	"os"
	"testing"
	"time"
)

// BenchmarkWarmResolveGo reports a warm start's resolve of a go:// image
// (a new Resolver over the cache a previous process filled, as each run of
// the CLI does) as a ratio to the least any start must do with the cached
// artifact: read it and hash it (os.ReadFile + sha256), measured in the same
// run.
func BenchmarkWarmResolveGo(b *testing.B) {
	proj := goProject(b)
	age(b, proj)
	old := time.Now().Add(-time.Hour)
	cache := b.TempDir()
	ctx := context.Background()
	first, err := (&Resolver{CacheDir: cache}).Resolve(ctx, "go://./hello", proj)
	if err != nil {
		b.Fatal(err)
	}
	// A start on a later day: the artifact is older than the racy window
	// (the first warm start after that hashes it once and records so).
	if err := os.Chtimes(first.Path, old, old); err != nil {
		b.Fatal(err)
	}
	if _, err := (&Resolver{CacheDir: cache}).Resolve(ctx, "go://./hello", proj); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var warm, base time.Duration
	for range b.N {
		start := time.Now()
		img, err := (&Resolver{CacheDir: cache}).Resolve(ctx, "go://./hello", proj)
		if err != nil {
			b.Fatal(err)
		}
		warm += time.Since(start)
		if img.Digest != first.Digest {
			b.Fatalf("warm resolve gave %s, want %s", img.Digest, first.Digest)
		}
		start = time.Now()
		data, err := os.ReadFile(first.Path)
		if err != nil {
			b.Fatal(err)
		}
		_ = sha256.Sum256(data)
		base += time.Since(start)
	}
	b.ReportMetric(float64(warm.Microseconds())/float64(b.N), "warm-µs")
	b.ReportMetric(float64(warm)/float64(base), "x-read+hash")
}
