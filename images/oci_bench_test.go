package images_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/images"
)

// BenchmarkOCIPull pulls a ~5 MB module (the hello guest with a custom
// section) from a loopback registry: cold (a new store each time: manifest,
// config and the layer over HTTP, verified, written as a blob) and warm
// (IfNotPresent, the store has it: the index and a stat of the blob, the
// module read and verified at the pull being reused), each reported as a ratio to the baseline measured in the
// same run, reading the same bytes from the local store (Store.Get: read
// and hash the blob).
func BenchmarkOCIPull(b *testing.B) {
	mod := padModule(helloModule(b), 5<<20-len(helloModule(b)), 7)
	tr := startRegistry(b)
	ref := tr.host + "/big:v1"
	push(b, ref, artifact(b, mod))
	ctx := context.Background()
	cfg := &images.RegistryConfig{Insecure: []string{tr.host}}

	measure := func(n int, f func()) time.Duration {
		start := time.Now()
		for range n {
			f()
		}
		return time.Since(start) / time.Duration(n)
	}
	// The baseline: the blob read from the local store.
	local, err := images.OpenStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	digest, _, err := local.Put(ctx, "", bytes.NewReader(mod))
	if err != nil {
		b.Fatal(err)
	}
	warmR := &images.Resolver{Store: local, Registry: cfg}
	if _, err := warmR.Resolve(ctx, ref, ""); err != nil {
		b.Fatal(err)
	}
	const rounds = 10
	base := measure(rounds, func() {
		if _, err := local.Get(digest); err != nil {
			b.Fatal(err)
		}
	})
	warm := measure(rounds, func() {
		if _, err := warmR.Resolve(ctx, ref, ""); err != nil {
			b.Fatal(err)
		}
	})
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		st, err := images.OpenStore(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		r := &images.Resolver{Store: st, Registry: cfg}
		b.StartTimer()
		img, err := r.Resolve(ctx, ref, "")
		if err != nil || len(img.Bytes) != len(mod) {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cold := b.Elapsed() / time.Duration(b.N)
	b.SetBytes(int64(len(mod)))
	b.ReportMetric(float64(base.Microseconds())/1000, "local-ms")
	b.ReportMetric(float64(warm.Microseconds())/1000, "warm-ms")
	b.ReportMetric(float64(cold)/float64(base), "cold/local")
	b.ReportMetric(float64(warm)/float64(base), "warm/local")
}
