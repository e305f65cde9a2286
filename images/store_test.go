package images

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestParseStoreRef(t *testing.T) {
	h := "sha256:" + strings.Repeat("ab", 32)
	good := map[string]StoreRef{
		"wasmpod.local/hello":                {Name: "hello"},
		"wasmpod.local/hello:v1.2-rc_3":      {Name: "hello", Tag: "v1.2-rc_3"},
		"wasmpod.local/team/hello-world":     {Name: "team/hello-world"},
		"wasmpod.local/a.b__c--d/e":          {Name: "a.b__c--d/e"},
		"wasmpod.local/hello@" + h:           {Name: "hello", Digest: h},
		"wasmpod.local/hello:1@" + h:         {Name: "hello", Tag: "1", Digest: h},
		"wasmpod.local/x/" + "y:" + "LaTeSt": {Name: "x/y", Tag: "LaTeSt"},
	}
	for ref, want := range good {
		got, err := ParseStoreRef(ref)
		if err != nil || got != want {
			t.Errorf("ParseStoreRef(%q) = %+v, %v; want %+v", ref, got, err, want)
		}
		if got.String() != ref {
			t.Errorf("String() = %q, want %q", got.String(), ref)
		}
	}
	bad := map[string]string{
		"docker.io/hello":                           "not a module store reference",
		"wasmpod.local/":                            "image name is empty",
		"wasmpod.local/Hello":                       "invalid image name",
		"wasmpod.local/he..llo":                     "invalid image name",
		"wasmpod.local/-hello":                      "invalid image name",
		"wasmpod.local/a//b":                        "invalid image name",
		"wasmpod.local/hello:":                      "invalid tag",
		"wasmpod.local/hello:.x":                    "invalid tag",
		"wasmpod.local/hello@sha256:abc":            "invalid digest",
		"wasmpod.local/hello@md5:" + h[7:]:          "invalid digest",
		"wasmpod.local/" + strings.Repeat("a", 300): "at most",
	}
	for ref, want := range bad {
		if _, err := ParseStoreRef(ref); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseStoreRef(%q) = %v, want an error containing %q", ref, err, want)
		}
	}
}

func TestNameForAndIsRelative(t *testing.T) {
	for _, c := range [][3]string{
		{"./hello.wasm", "/x", "hello"},
		{"../build/My_Server.WASM", "/x/y", "my-server"},
		{"go://./server", "/x", "server"},
		{"go://.", "/home/u/Hello World", "hello-world"},
		{"file://dist/app.wasm", "/x", "app"},
		{"./___.wasm", "/x", "module"},
	} {
		if got := NameFor(c[0], c[1]); got != c[2] {
			t.Errorf("NameFor(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
		if ValidName(NameFor(c[0], c[1])) != nil {
			t.Errorf("NameFor(%q) is not a valid name", c[0])
		}
	}
	for ref, want := range map[string]bool{
		"./x.wasm": true, "x.wasm": true, "../a/x.wasm": true, "go://./server": true, "go://.": true, "go://server": true,
		"file://x.wasm": true, "/abs/x.wasm": false, "file:///abs/x.wasm": false, "go:///abs/server": false,
		"wasmpod.local/x": false, "wasmpod.local/x.wasm": false, "ghcr.io/x/y:1": false, "nginx": false,
	} {
		if got := IsRelative(ref); got != want {
			t.Errorf("IsRelative(%q) = %v, want %v", ref, got, want)
		}
	}
}

// module returns a valid module of n bytes (a header and a custom
// section's worth of filler, which only the header check looks at).
func module(n int, fill byte) []byte {
	b := append([]byte(nil), emptyModule...)
	return append(b, bytes.Repeat([]byte{fill}, n-len(b))...)
}

// errAfter yields b, then fails: an upload cut short.
type errAfter struct{ r io.Reader }

func (e *errAfter) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, errors.New("connection reset")
	}
	return n, err
}

func TestStorePutGetTag(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []string{"disk", "memory"} {
		t.Run(kind, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "modules")
			open := func() *Store {
				if kind == "memory" {
					return NewMemoryStore()
				}
				s, err := OpenStore(dir)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			s := open()
			m := module(1000, 7)
			d := Digest(m)
			if _, ok := s.Has(d); ok {
				t.Fatal("Has before Put")
			}
			got, size, err := s.Put(ctx, d, bytes.NewReader(m))
			if err != nil || got != d || size != 1000 {
				t.Fatalf("Put = %s %d %v", got, size, err)
			}
			if n, ok := s.Has(d); !ok || n != 1000 {
				t.Fatalf("Has = %d %v", n, ok)
			}
			b, err := s.Get(d)
			if err != nil || !bytes.Equal(b, m) {
				t.Fatalf("Get: %v", err)
			}
			if err := s.Tag("hello", "latest", d); err != nil {
				t.Fatal(err)
			}
			if err := s.Tag("hello", "v1", "sha256:"+strings.Repeat("0", 64)); !errors.Is(err, ErrUnknown) {
				t.Errorf("tagging an absent blob: %v", err)
			}
			if err := s.Tag("Hello", "v1", d); err == nil || !strings.Contains(err.Error(), "invalid image name") {
				t.Errorf("tagging a bad name: %v", err)
			}

			// Refused uploads leave nothing behind.
			s.SetMaxSize(2000)
			big := module(2001, 1)
			if _, _, err := s.Put(ctx, "", bytes.NewReader(big)); !errors.Is(err, ErrTooLarge) {
				t.Errorf("too large: %v", err)
			}
			other := module(100, 9)
			if _, _, err := s.Put(ctx, d, bytes.NewReader(other)); !errors.Is(err, ErrDigestMismatch) || !strings.Contains(err.Error(), Digest(other)) {
				t.Errorf("mismatch: %v", err)
			}
			if _, _, err := s.Put(ctx, "", strings.NewReader("#!/bin/sh\necho hi\n")); !errors.Is(err, ErrNotModule) {
				t.Errorf("not wasm: %v", err)
			}
			if _, _, err := s.Put(ctx, "", bytes.NewReader([]byte{0, 'a'})); !errors.Is(err, ErrNotModule) {
				t.Errorf("short: %v", err)
			}
			if _, _, err := s.Put(ctx, Digest(other), &errAfter{bytes.NewReader(other)}); err == nil || !strings.Contains(err.Error(), "reset") {
				t.Errorf("cut short: %v", err)
			}
			for _, x := range [][]byte{big, other} {
				if _, ok := s.Has(Digest(x)); ok {
					t.Errorf("a refused upload is visible")
				}
			}
			if kind == "disk" {
				if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
					t.Errorf("temporary files left: %v", ents)
				}
				// Persisted, and verified on read.
				s2 := open()
				if dd, err := s2.Lookup("hello", "latest"); err != nil || dd != d {
					t.Errorf("after reopen: %s %v", dd, err)
				}
				if err := os.WriteFile(s2.blobPath(d), module(1000, 8), 0o600); err != nil {
					t.Fatal(err)
				}
				if _, err := s2.Get(d); err == nil || !strings.Contains(err.Error(), "corrupt") {
					t.Errorf("corrupt blob: %v", err)
				}
			}
		})
	}
}

func TestStoreConcurrentPutsOfOneBlob(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := module(3<<20, 5)
	d := Digest(m)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = s.Put(context.Background(), d, bytes.NewReader(m))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if b, err := s.Get(d); err != nil || !bytes.Equal(b, m) {
		t.Fatalf("Get after concurrent puts: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Dir(), "tmp")); len(ents) != 0 {
		t.Errorf("temporary files left: %d", len(ents))
	}
}

func TestResolveStoreRef(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore()
	m1, m2 := module(64, 1), module(64, 2)
	for _, m := range [][]byte{m1, m2} {
		if _, _, err := s.Put(ctx, "", bytes.NewReader(m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Tag("hello", "latest", Digest(m1)); err != nil {
		t.Fatal(err)
	}
	r := &Resolver{Store: s}
	img, err := r.Resolve(ctx, "wasmpod.local/hello", "")
	if err != nil || img.Digest != Digest(m1) || !bytes.Equal(img.Bytes, m1) {
		t.Fatalf("by tag: %v", err)
	}
	byDigest, err := r.Resolve(ctx, "wasmpod.local/whatever@"+Digest(m2), "")
	if err != nil || byDigest.Digest != Digest(m2) {
		t.Fatalf("by digest: %v", err)
	}
	if !r.Current(img) || !r.Current(byDigest) {
		t.Fatal("store images not current")
	}
	if err := s.Tag("hello", "latest", Digest(m2)); err != nil {
		t.Fatal(err)
	}
	if r.Current(img) {
		t.Error("a retagged image is still current")
	}
	if !r.Current(byDigest) {
		t.Error("a digest image stopped being current")
	}
	_, err = r.Resolve(ctx, "wasmpod.local/nope:v2", "")
	wantErr(t, err, ErrNotFound, "no image wasmpod.local/nope:v2")
	_, err = r.Resolve(ctx, "wasmpod.local/x@sha256:"+strings.Repeat("1", 64), "")
	wantErr(t, err, ErrNotFound, "not in the module store")
	_, err = r.Resolve(ctx, "wasmpod.local/BAD", "")
	wantErr(t, err, ErrInvalid, "invalid image name")
	_, err = (&Resolver{}).Resolve(ctx, "wasmpod.local/hello", "")
	wantErr(t, err, ErrUnsupported, "no module store")
}
