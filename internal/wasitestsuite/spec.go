// Package wasitestsuite runs the upstream WebAssembly WASI test suite
// (github.com/WebAssembly/wasi-testsuite, preview 1) against wasmpod's
// engine. Nothing of the suite is in this tree: its test runs only when
// $WASI_TESTSUITE names a checkout of it (`just wasi-testsuite DIR`).
//
// A checkout holds tests/<lang>/testsuite/[wasm32-wasip1/]NAME.wasm, each
// with an optional NAME.json (the upstream test runner's spec) and the
// directories the specs name. This file reads that layout and the spec;
// runner_test.go runs each test.
package wasitestsuite

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Case is one test of the suite: a module and its spec.
type Case struct {
	// Suite is the language directory under tests/ ("c", "rust",
	// "assemblyscript").
	Suite string
	// Name is the module's file name without ".wasm".
	Name string
	// Wasm is the module's path.
	Wasm string
	// Dir is the directory holding the module, its spec and the
	// directories the spec names.
	Dir  string
	Spec Spec
}

// Spec is a test's NAME.json as the upstream test runner reads it
// (test-runner/wasi_test_runner/test_case.py); a missing file is the zero
// Spec: no args, env or dirs, exit code 0, stdout not checked.
type Spec struct {
	// Args follow argv[0] (the module's name).
	Args []string
	// Env is "KEY=VALUE" pairs in the file's order.
	Env []string
	// Dirs are directories next to the module, each preopened under its
	// own name (a relative name upstream; "/"+name in wasmpod, whose
	// guest paths are absolute).
	Dirs []string
	// Root, in newer specs, is a directory next to the module preopened
	// as "/".
	Root string
	// ExitCode is the expected exit code.
	ExitCode int
	// Stdout and Stderr, when set, are what the streams must begin with
	// (upstream's runner reads that many bytes and compares them).
	Stdout, Stderr *string
	// Stdin is written to the guest's stdin, which is then closed (empty:
	// stdin is at EOF from the start).
	Stdin string
	// Unknown lists fields and operations this runner does not implement
	// (sockets, proposals; upstream warns about unknown fields): a spec
	// with one is reported as failing, since the test cannot be run as
	// written.
	Unknown []string
}

// Discover lists the preview-1 tests of the checkout at root, sorted by
// suite and name: tests/*/testsuite/wasm32-wasip1/*.wasm where that
// directory exists, else tests/*/testsuite/*.wasm (the older layout).
func Discover(root string) ([]Case, error) {
	langs, err := os.ReadDir(filepath.Join(root, "tests"))
	if err != nil {
		return nil, fmt.Errorf("%s is not a wasi-testsuite checkout: %w", root, err)
	}
	var cases []Case
	for _, l := range langs {
		if !l.IsDir() {
			continue
		}
		dir := filepath.Join(root, "tests", l.Name(), "testsuite", "wasm32-wasip1")
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			dir = filepath.Join(root, "tests", l.Name(), "testsuite")
		}
		mods, err := filepath.Glob(filepath.Join(dir, "*.wasm"))
		if err != nil {
			return nil, err
		}
		for _, m := range mods {
			name := strings.TrimSuffix(filepath.Base(m), ".wasm")
			spec, err := LoadSpec(filepath.Join(dir, name+".json"))
			if err != nil {
				return nil, err
			}
			cases = append(cases, Case{Suite: l.Name(), Name: name, Wasm: m, Dir: dir, Spec: spec})
		}
	}
	if len(cases) == 0 {
		return nil, fmt.Errorf("%s: no tests/*/testsuite/[wasm32-wasip1/]*.wasm", root)
	}
	sort.Slice(cases, func(i, j int) bool {
		if cases[i].Suite != cases[j].Suite {
			return cases[i].Suite < cases[j].Suite
		}
		return cases[i].Name < cases[j].Name
	})
	return cases, nil
}

// LoadSpec reads a test's spec; a missing file is the zero Spec.
func LoadSpec(file string) (Spec, error) {
	var s Spec
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return s, fmt.Errorf("%s: %w", file, err)
	}
	if err := s.fields(raw, true); err != nil {
		return s, fmt.Errorf("%s: %w", file, err)
	}
	for _, d := range append(append([]string(nil), s.Dirs...), s.Root) {
		if d != "" && (filepath.IsAbs(d) || strings.Contains(d, "..")) {
			return s, fmt.Errorf("%s: directory %q: want a name next to the module", file, d)
		}
	}
	return s, nil
}

// fields reads a spec's fields: the legacy ones at the top level
// (args, env, dirs, root, exit_code, stdout, stderr) and, in the newer
// form, a list of operations (run, write stdin, read stdout/stderr, wait)
// that says the same in steps.
func (s *Spec) fields(raw map[string]json.RawMessage, top bool) error {
	fields := make([]string, 0, len(raw))
	for k := range raw {
		fields = append(fields, k)
	}
	sort.Strings(fields)
	for _, k := range fields {
		v := raw[k]
		var err error
		switch k {
		case "args":
			err = json.Unmarshal(v, &s.Args)
		case "dirs":
			err = json.Unmarshal(v, &s.Dirs)
		case "root":
			err = json.Unmarshal(v, &s.Root)
		case "exit_code":
			err = json.Unmarshal(v, &s.ExitCode)
		case "stdout":
			err = json.Unmarshal(v, &s.Stdout)
		case "stderr":
			err = json.Unmarshal(v, &s.Stderr)
		case "env":
			s.Env, err = orderedEnv(v)
		case "wasi_functions":
			// Informational upstream (which functions the test calls).
		case "operations":
			if !top {
				s.Unknown = append(s.Unknown, "operations inside an operation")
				break
			}
			err = s.operations(v)
		case "proposals":
			var ps []string
			if err = json.Unmarshal(v, &ps); err == nil && len(ps) > 0 {
				s.Unknown = append(s.Unknown, fmt.Sprintf("proposals %v", ps))
			}
		default:
			s.Unknown = append(s.Unknown, k)
		}
		if err != nil {
			return fmt.Errorf("field %q: %w", k, err)
		}
	}
	return nil
}

// operations reads the newer spec's steps into s: one run, then reads,
// writes to stdin and a wait. The runner gives stdin all at once and
// compares each stream's output with its reads put together.
func (s *Spec) operations(v json.RawMessage) error {
	var ops []map[string]json.RawMessage
	if err := json.Unmarshal(v, &ops); err != nil {
		return err
	}
	runs := 0
	for i, op := range ops {
		var typ, id, payload string
		for k, dst := range map[string]*string{"type": &typ, "id": &id, "payload": &payload} {
			if b, ok := op[k]; ok {
				if err := json.Unmarshal(b, dst); err != nil {
					return fmt.Errorf("operations[%d].%s: %w", i, k, err)
				}
			}
		}
		switch typ {
		case "run":
			if runs++; runs > 1 {
				s.Unknown = append(s.Unknown, "a second run operation")
				continue
			}
			delete(op, "type")
			if err := s.fields(op, false); err != nil {
				return fmt.Errorf("operations[%d]: %w", i, err)
			}
		case "wait":
			if b, ok := op["exit_code"]; ok {
				if err := json.Unmarshal(b, &s.ExitCode); err != nil {
					return fmt.Errorf("operations[%d].exit_code: %w", i, err)
				}
			}
		case "read":
			dst := &s.Stdout
			switch id {
			case "", "stdout":
			case "stderr":
				dst = &s.Stderr
			default:
				s.Unknown = append(s.Unknown, "read from "+id)
				continue
			}
			if *dst == nil {
				*dst = new(string)
			}
			**dst += payload
		case "write":
			if id != "stdin" {
				s.Unknown = append(s.Unknown, "write to "+id)
				continue
			}
			s.Stdin += payload
		default:
			s.Unknown = append(s.Unknown, "operation "+typ)
		}
	}
	return nil
}

// orderedEnv reads a JSON object of strings as KEY=VALUE pairs in the
// object's order (Python's dicts keep it, and so the environment).
func orderedEnv(v json.RawMessage) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(v))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("want an object of strings")
	}
	var env []string
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var val string
		if err := dec.Decode(&val); err != nil {
			return nil, err
		}
		env = append(env, kt.(string)+"="+val)
	}
	return env, nil
}

// CopyTree copies the directory src to dst (which must not exist): files,
// directories and symlinks as they are, except *.cleanup entries (the
// outputs a previous run left behind, which upstream deletes before and
// after each test).
func CopyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel != "." && strings.HasSuffix(d.Name(), ".cleanup") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		to := filepath.Join(dst, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case d.IsDir():
			return os.Mkdir(to, 0o755)
		case d.Type().IsRegular():
			return copyFile(p, to)
		default:
			return nil // sockets, fifos: not part of any fixture
		}
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
