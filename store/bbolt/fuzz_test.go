package bbolt_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpen mutates a real small store file (patch bytes at an offset,
// optionally truncate it) and opens it: Open must return an error or a
// working store, never panic, fault or hang. Run it for a bounded time:
//
//	go test -run '^$' -fuzz '^FuzzOpen$' -fuzztime 30s ./store/bbolt/
//
// Its seeds (testdata/fuzz/FuzzOpen) also run with the ordinary tests.
func FuzzOpen(f *testing.F) {
	base := filepath.Join(f.TempDir(), "base.db")
	populate(f, base, 40)
	orig, err := os.ReadFile(base)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint32(0), []byte{}, uint32(0))
	f.Add(uint32(4096), bytes.Repeat([]byte{0xff}, 64), uint32(0))
	f.Fuzz(func(t *testing.T, off uint32, patch []byte, trunc uint32) {
		b := bytes.Clone(orig)
		if trunc > 0 && int(trunc) < len(b) {
			b = b[:trunc]
		}
		if len(b) > 0 {
			at := int(off) % len(b)
			copy(b[at:], patch)
		}
		path := filepath.Join(t.TempDir(), "state.db")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := openWithin(t, path, testOpts)
		if err != nil {
			return
		}
		defer s.Close()
		ctx := context.Background()
		if _, _, err := s.List(ctx, "/"); err != nil {
			t.Fatalf("List on an opened store: %v", err)
		}
		if _, err := s.Create(ctx, "/fuzz/new", []byte("v")); err != nil {
			t.Fatalf("Create on an opened store: %v", err)
		}
	})
}
