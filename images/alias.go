package images

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// The node's image-alias table. An alias is an OCI-style name that
// wasmpod maps to a module it ships: today `busybox` (any tag or digest,
// with or without docker.io/ or docker.io/library/) is the toolbox
// (wasm-examples/toolbox), a busybox-like multi-call module with a POSIX
// shell, so upstream manifests that run `sh -c "..."` on busybox run
// unchanged. The toolbox is also what `exec` runs for a command that is
// not the container's own module (pods/exec.go).
//
// Where the toolbox comes from, first that exists:
//  1. the module store: wasmpod.local/toolbox:latest (`wasmpod image
//     import go://PATH/TO/wasm-examples/toolbox toolbox` puts it there);
//  2. the source tree wasmpod was built from, when it is still on this
//     machine (go://…/wasm-examples/toolbox, built and cached like any
//     go:// image);
//  3. otherwise the pull fails with an error that says how to import it.

// ToolboxStoreRef is where an imported toolbox lives in the module store.
const ToolboxStoreRef = StoreHost + "/toolbox:latest"

// aliases maps an image's repository (registry and library/ prefix,
// tag and digest removed) to what it stands for.
var aliases = map[string]string{"busybox": "toolbox"}

// AliasOf returns the shipped module ref names ("toolbox"), or "" when ref
// is no alias.
func AliasOf(ref string) string {
	r := strings.TrimSpace(ref)
	if r == "" || strings.Contains(r, "://") || isPath(r) || IsStoreRef(r) {
		return ""
	}
	if i := strings.IndexByte(r, '@'); i >= 0 {
		r = r[:i]
	}
	if i := strings.LastIndexByte(r, ':'); i >= 0 && !strings.Contains(r[i:], "/") {
		r = r[:i]
	}
	for _, p := range []string{"docker.io/", "index.docker.io/", "registry-1.docker.io/"} {
		r = strings.TrimPrefix(r, p)
	}
	r = strings.TrimPrefix(r, "library/")
	return aliases[r]
}

// ToolboxSource is the toolbox's source directory, "" when it is not on
// this machine: WASMPOD_TOOLBOX_SRC, else wasm-examples/toolbox of the
// tree this file was compiled from; either only if it holds main.go.
func ToolboxSource() string {
	d := os.Getenv("WASMPOD_TOOLBOX_SRC")
	if d == "" {
		_, file, _, ok := runtime.Caller(0) // this file, in the tree wasmpod was built from
		if !ok || !filepath.IsAbs(file) {
			return ""
		}
		d = filepath.Join(filepath.Dir(filepath.Dir(file)), "wasm-examples", "toolbox")
	}
	if fi, err := os.Stat(filepath.Join(d, "main.go")); err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	return d
}

// ResolveFunc is Resolve's signature (pods.ImageResolver's, a memo's).
type ResolveFunc func(ctx context.Context, ref, baseDir string) (*Image, error)

// ResolveToolbox resolves the toolbox module through resolve (see the top
// of this file). ref is the reference the caller was given
// ("busybox:1.36"), for messages.
func ResolveToolbox(ctx context.Context, resolve ResolveFunc, ref string) (*Image, error) {
	img, err := resolve(ctx, ToolboxStoreRef, "")
	if err == nil {
		return img, nil
	}
	if !errors.Is(err, ErrUnknown) && !errors.Is(err, ErrUnsupported) {
		return nil, err
	}
	if d := ToolboxSource(); d != "" {
		return resolve(ctx, "go://"+filepath.ToSlash(d), "")
	}
	return nil, &Error{Ref: ref, Kind: ErrNotFound, Err: fmt.Errorf(
		"%s is the toolbox, which is not on this node: import it from a wasmpod source tree with `wasmpod image import go://./wasm-examples/toolbox toolbox` (it becomes %s)",
		ref, ToolboxStoreRef)}
}

// ResolveAliased is Resolve that also knows the alias table.
func (r *Resolver) ResolveAliased(ctx context.Context, ref, baseDir string) (*Image, error) {
	if AliasOf(ref) == "toolbox" {
		return ResolveToolbox(ctx, r.Resolve, ref)
	}
	return r.Resolve(ctx, ref, baseDir)
}
