package images

import "strings"

// RefKind is what resolving an image reference touches on the server.
type RefKind int

const (
	// RefOther: nothing of the server's host (a wasmpod.local module of the
	// image store, or a reference Resolve rejects).
	RefOther RefKind = iota
	// RefHostPath: a file of the server's host (a path, ./x.wasm, /x.wasm,
	// x.wasm, or a file:// URL).
	RefHostPath
	// RefGoBuild: a go:// package directory of the server's host, built by
	// the server's go command.
	RefGoBuild
)

// Host reports whether the kind reads the server's files (or runs its
// toolchain): only an admin may run such images through the API.
func (k RefKind) Host() bool { return k == RefHostPath || k == RefGoBuild }

func (k RefKind) String() string {
	switch k {
	case RefHostPath:
		return "host path"
	case RefGoBuild:
		return "go:// build"
	}
	return "other"
}

// ClassifyRef tells what resolving ref would touch, following Resolve's
// order. It errs towards RefHostPath: a reference Resolve would read as a
// path (anything without a scheme ending in .wasm, or starting with /, ./
// or ../) is RefHostPath, whatever else it may look like.
func ClassifyRef(ref string) RefKind {
	ref = strings.TrimSpace(ref)
	switch {
	case strings.HasPrefix(ref, "go://"):
		return RefGoBuild
	case strings.HasPrefix(ref, "file://"):
		return RefHostPath
	case strings.Contains(ref, "://"):
		return RefOther // another scheme: refused by Resolve
	case isPath(ref):
		return RefHostPath
	}
	return RefOther
}
