package images

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// resolveWithin fails the test if Resolve blocks (a FIFO) or reads without
// end (a device).
func resolveWithin(t *testing.T, r *Resolver, ref, base string) (*Image, error) {
	t.Helper()
	type res struct {
		img *Image
		err error
	}
	ch := make(chan res, 1)
	go func() {
		img, err := r.Resolve(context.Background(), ref, base)
		ch <- res{img, err}
	}()
	select {
	case x := <-ch:
		return x.img, x.err
	case <-time.After(30 * time.Second):
		t.Fatalf("Resolve(%q) hung", ref)
		return nil, nil
	}
}

// TestResolveNotRegularFiles: a FIFO or a device is refused at once, not
// waited on or read without end.
func TestResolveNotRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.wasm")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	r := &Resolver{}
	for _, ref := range []string{fifo, "/dev/zero", "file:///dev/urandom"} {
		_, err := resolveWithin(t, r, ref, "")
		wantErr(t, err, ErrInvalid, "not a regular file")
	}
	big := filepath.Join(dir, "big.wasm")
	if err := os.WriteFile(big, append(bytes.Clone(emptyModule), make([]byte, 100)...), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := resolveWithin(t, &Resolver{MaxModuleSize: 64}, big, "")
	wantErr(t, err, ErrInvalid, "over the 64-byte limit")
}

// TestOpaqueErrors: with Opaque (images named by API clients), a missing,
// unreadable, non-regular or non-module path, and a go:// reference to
// something that is not a main package, all give one error that tells
// nothing about the host's files; the details go to Progress.
func TestOpaqueErrors(t *testing.T) {
	dir := t.TempDir()
	notWasm := filepath.Join(dir, "notwasm.wasm")
	writeFile(t, notWasm, "#!/bin/sh\n")
	unreadable := filepath.Join(dir, "secret.wasm")
	if err := os.WriteFile(unreadable, emptyModule, 0o000); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.wasm")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	notMain := filepath.Join(dir, "lib")
	writeFile(t, filepath.Join(notMain, "go.mod"), "module example.com/lib\n\ngo 1.26\n")
	writeFile(t, filepath.Join(notMain, "lib.go"), "package lib\n")
	var progress bytes.Buffer
	r := &Resolver{Opaque: true, CacheDir: t.TempDir(), Progress: &progress}

	refs := []string{
		filepath.Join(dir, "missing.wasm"), notWasm, fifo, "/dev/zero", dir + "/", "file://" + filepath.Join(dir, "nope.wasm"),
	}
	if os.Geteuid() != 0 { // root reads a 0000 file
		refs = append(refs, unreadable)
	}
	first := oneNotFound(t, r, refs)
	for _, leak := range []string{"no such file", "permission", "magic", "directory", "regular", "pipe"} {
		if strings.Contains(first, leak) {
			t.Errorf("opaque message %q tells %q", first, leak)
		}
	}
	oneNotFound(t, r, []string{"go://" + filepath.Join(dir, "nodir"), "go://" + notWasm, "go://" + notMain, "go:///proc/self"})
	// The admin's log has the details.
	for _, d := range []string{"no such file", "not a WebAssembly module", "not a regular file", "not a Go main package"} {
		if !strings.Contains(progress.String(), d) {
			t.Errorf("progress lacks %q:\n%s", d, progress.String())
		}
	}
	// A real module still resolves.
	good := filepath.Join(dir, "good.wasm")
	if err := os.WriteFile(good, emptyModule, 0o600); err != nil {
		t.Fatal(err)
	}
	if img, err := resolveWithin(t, r, good, ""); err != nil || !bytes.Equal(img.Bytes, emptyModule) {
		t.Fatalf("a valid module under Opaque: %v", err)
	}
}

// oneNotFound checks that r refuses every ref with ErrNotFound alone (not
// ErrInvalid) and one message, which it returns.
func oneNotFound(t *testing.T, r *Resolver, refs []string) string {
	t.Helper()
	var first string
	for _, ref := range refs {
		_, err := resolveWithin(t, r, ref, "")
		if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) {
			t.Fatalf("%s: error %v, want only ErrNotFound", ref, err)
		}
		msg := strings.TrimPrefix(err.Error(), `image "`+ref+`": `)
		if first == "" {
			first = msg
		} else if msg != first {
			t.Errorf("%s: message %q differs from %q", ref, msg, first)
		}
	}
	return first
}
