// Package conformance is wasmpod's WASI preview-1 conformance table: one
// row per function and errno or flag case (rights, lookupflags, oflags,
// fdflags, whence, readdir cookies...), with wasmtime's behaviour (the
// WebAssembly/wasi-testsuite expectations) as the reference.
//
// A row is a script of raw WASI calls run by the guest
// wasm-examples/testguests/wasicall, with the host tree it starts from and
// the output each call must give. runtime/enginetest runs every row on
// every engine (its WASIConformance test). A row where wasmpod differs
// from wasmtime on purpose says why in Differs (and checks wasmpod's
// behaviour); a row where wasmpod differs from wasmtime by a defect not
// fixed yet keeps wasmtime's expectation and names the defect in Pending:
// the runner skips it while it fails, and says so once it passes.
//
// Script lines are
//
//	[$var =] call arg... [=> want]
//
// (see wasicall for calls and arguments). want is the errno the call must
// return ("OK", "ENOENT", or alternatives "EBADF|EISDIR"), then key=value
// outputs that must be among the call's (value * matches anything);
// outputs not named are not checked. A line without "=>" must return OK.
// want Exit ("EXIT") marks a call that ends the guest (proc_exit): it and
// any later line print nothing.
package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Exit is the want of a call that ends the guest.
const Exit = "EXIT"

// Row is one conformance case.
type Row struct {
	// Name is the subtest name: "function/case".
	Name string
	// Comment names the behaviour checked.
	Comment string
	// Upstream is the wasi-testsuite test covering the same behaviour,
	// when there is one.
	Upstream string
	// Args are the guest's arguments after argv[0] ("wasicall").
	Args []string
	// Env is the guest's environment.
	Env []string
	// Tree is the host tree of the default mount: one read-write mount
	// at /data, used when Mounts is nil and NoMounts is false.
	Tree []string
	// Mounts, when set, replace the default mount.
	Mounts []Mount
	// NoMounts runs the guest without any mount.
	NoMounts bool
	// Script is the calls and what each must give (see the package doc).
	Script string
	// Host is what the first mount's host directory holds afterwards
	// (entries as in Tree; "!path" means path does not exist).
	Host []string
	// Exit is the guest's expected exit code.
	Exit int
	// Differs, when set, is why wasmpod deliberately differs from
	// wasmtime in this row (the row checks wasmpod's behaviour).
	Differs string
	// Pending, when set, names the open defect (a difference from
	// wasmtime) this row waits for: the runner skips the row while it
	// fails, and asks for the mark's removal once it passes.
	Pending string
}

// Mount is one preopened host directory of a row.
type Mount struct {
	Guest    string
	ReadOnly bool
	// Tree is the directory's content: "dir/" a directory, "file=content"
	// a regular file ("file" alone is empty), "link->target" a symlink.
	// Parents come first.
	Tree []string
}

// RowMounts are the mounts the row runs with.
func (r Row) RowMounts() []Mount {
	switch {
	case r.NoMounts:
		return nil
	case r.Mounts != nil:
		return r.Mounts
	}
	return []Mount{{Guest: "/data", Tree: r.Tree}}
}

// Steps splits the script into the guest's input (the calls) and what
// each call must print.
func (r Row) Steps() (script string, wants []string) {
	var b strings.Builder
	for _, line := range strings.Split(r.Script, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		call, want, ok := strings.Cut(line, "=>")
		if !ok {
			want = "OK"
		}
		b.WriteString(strings.TrimSpace(call))
		b.WriteByte('\n')
		wants = append(wants, strings.TrimSpace(want))
	}
	return b.String(), wants
}

// Match reports whether a call's printed line got satisfies want.
func Match(want, got string) bool {
	w, g := fields(want), fields(got)
	if len(w) == 0 || len(g) == 0 {
		return false
	}
	okErrno := false
	for _, alt := range strings.Split(w[0], "|") {
		okErrno = okErrno || alt == g[0]
	}
	if !okErrno {
		return false
	}
	outs := map[string]string{}
	for _, f := range g[1:] {
		k, v, _ := strings.Cut(f, "=")
		outs[k] = v
	}
	for _, f := range w[1:] {
		k, v, _ := strings.Cut(f, "=")
		gv, ok := outs[k]
		if !ok || (v != "*" && v != gv) {
			return false
		}
	}
	return true
}

// fields splits at spaces, keeping a quoted value (key="a b") whole.
func fields(s string) []string {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		i := 0
		for i < len(s) && s[i] != ' ' {
			if s[i] == '"' {
				q, err := strconv.QuotedPrefix(s[i:])
				if err == nil {
					i += len(q)
					continue
				}
			}
			i++
		}
		out = append(out, s[:i])
		s = s[i:]
	}
	return out
}

// MakeTree creates tree (see Mount.Tree) under dir.
func MakeTree(dir string, tree []string) error {
	for _, e := range tree {
		p, err := entry(dir, e)
		if err != nil {
			return err
		}
		switch {
		case strings.HasSuffix(e, "/"):
			err = os.MkdirAll(p, 0o755)
		case strings.Contains(e, "->"):
			_, target, _ := strings.Cut(e, "->")
			err = os.Symlink(target, p)
		default:
			_, content, _ := strings.Cut(e, "=")
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// CheckTree checks that dir holds the entries of want (as in Mount.Tree,
// and "!path" for a missing path); other entries are not checked.
func CheckTree(dir string, want []string) error {
	for _, e := range want {
		if rest, ok := strings.CutPrefix(e, "!"); ok {
			if _, err := os.Lstat(filepath.Join(dir, rest)); !os.IsNotExist(err) {
				return fmt.Errorf("%s exists (%v)", rest, err)
			}
			continue
		}
		p, err := entry(dir, e)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case strings.HasSuffix(e, "/"):
			if !fi.IsDir() {
				return fmt.Errorf("%s is not a directory (%v)", e, fi.Mode())
			}
		case strings.Contains(e, "->"):
			_, target, _ := strings.Cut(e, "->")
			if t, err := os.Readlink(p); err != nil || t != target {
				return fmt.Errorf("%s: link to %q (%v)", e, t, err)
			}
		default:
			_, content, _ := strings.Cut(e, "=")
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("%s is not a regular file (%v)", e, fi.Mode())
			}
			if b, err := os.ReadFile(p); err != nil || string(b) != content {
				return fmt.Errorf("%s: content %q (%v)", e, b, err)
			}
		}
	}
	return nil
}

// entry is the host path of a tree entry.
func entry(dir, e string) (string, error) {
	name := e
	if i := strings.Index(e, "->"); i >= 0 {
		name = e[:i]
	} else if i := strings.IndexByte(e, '='); i >= 0 {
		name = e[:i]
	}
	name = strings.TrimSuffix(name, "/")
	if name == "" || filepath.IsAbs(name) || strings.HasPrefix(filepath.Clean(name), "..") {
		return "", fmt.Errorf("bad tree entry %q", e)
	}
	return filepath.Join(dir, filepath.FromSlash(name)), nil
}
