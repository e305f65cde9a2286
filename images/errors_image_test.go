package images

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestErrorMessages: an image error names the reference once, as
// `image "<ref>": <cause>`, so that a caller can put the file, document
// and field in front of it; the cause (Err) does not repeat the reference.
func TestErrorMessages(t *testing.T) {
	base := t.TempDir()
	writeFile(t, filepath.Join(base, "lib", "lib.go"), "package lib\n")
	writeFile(t, filepath.Join(base, "go.mod"), "module example.com/m\n\ngo 1.26\n")
	writeFile(t, filepath.Join(base, "junk.wasm"), "not wasm")
	ctx := context.Background()
	for _, tc := range []struct {
		ref, cause string
		opaque     bool
	}{
		{ref: "./nope.wasm", cause: "open " + filepath.Join(base, "nope.wasm") + ": no such file or directory"},
		{ref: "./junk.wasm", cause: filepath.Join(base, "junk.wasm") + " is not a WebAssembly module (bad magic number)"},
		{ref: "go://./nope", cause: "package directory " + filepath.Join(base, "nope") + " does not exist"},
		{ref: "go://./lib", cause: filepath.Join(base, "lib") + " is not a Go main package (it is package lib)"},
		{ref: "ghcr.io/x/y:1", cause: "this node has no module store to pull OCI images into"},
		{ref: "./nope.wasm", opaque: true, cause: "not found: no readable WebAssembly module there (missing, unreadable or not one; the server's log has the details)"},
		{ref: "go://./lib", opaque: true, cause: "not found: no Go main package there (missing, unreadable or not one; the server's log has the details)"},
	} {
		r := &Resolver{CacheDir: t.TempDir(), Opaque: tc.opaque}
		_, err := r.Resolve(ctx, tc.ref, base)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: %v is not an *Error", tc.ref, err)
		}
		if got := e.Err.Error(); got != tc.cause {
			t.Errorf("%s (opaque %v): cause %q, want %q", tc.ref, tc.opaque, got, tc.cause)
		}
		if want := `image "` + tc.ref + `": ` + tc.cause; err.Error() != want {
			t.Errorf("%s: %q, want %q", tc.ref, err, want)
		}
		if first, more := e.Summary(); first != tc.cause || more != 0 {
			t.Errorf("%s: summary %q (+%d), want the one-line cause", tc.ref, first, more)
		}
	}
}

// TestErrorSummary: a build failure's summary is its first compiler
// message and the number of lines after it.
func TestErrorSummary(t *testing.T) {
	proj := t.TempDir()
	writeFile(t, filepath.Join(proj, "go.mod"), "module example.com/broken\n\ngo 1.26\n")
	writeFile(t, filepath.Join(proj, "main.go"), "package main\n\nfunc main() {\n\ty()\n\tz()\n}\n")
	_, err := (&Resolver{CacheDir: t.TempDir()}).Resolve(context.Background(), "go://.", proj)
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrBuild) {
		t.Fatalf("%v: want an ErrBuild *Error", err)
	}
	want := "go build failed:\n# example.com/broken\n./main.go:4:2: undefined: y\n./main.go:5:2: undefined: z"
	if e.Err.Error() != want {
		t.Errorf("cause %q, want %q", e.Err, want)
	}
	if first, more := e.Summary(); first != "./main.go:4:2: undefined: y" || more != 1 {
		t.Errorf("summary %q (+%d more)", first, more)
	}
	long := &Error{Ref: "x", Kind: ErrInvalid, Err: errors.New(strings.Repeat("é", 400) + "\x1b[31m")}
	if first, _ := long.Summary(); len(first) > maxSummary+len("...") || strings.ContainsAny(first, "\x1b\n") {
		t.Errorf("long summary %q", first)
	}
}
