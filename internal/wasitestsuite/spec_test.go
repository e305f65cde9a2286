package wasitestsuite

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wasmpod/wasmpod/internal/testwasm"
)

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadSpec(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "t.json")
	writeFile(t, f, `{"args": ["fs-tests.dir", "x y"], "env": {"z": "1", "a": "new\nline", "m": "q\"q"},
		"dirs": ["fs-tests.dir"], "exit_code": 33, "stdout": "hello", "stderr": "", "wasi_functions": ["fd_write"],
		"frobnicate": 1}`)
	s, err := LoadSpec(f)
	if err != nil {
		t.Fatal(err)
	}
	hello, empty := "hello", ""
	want := Spec{
		Args:     []string{"fs-tests.dir", "x y"},
		Env:      []string{"z=1", "a=new\nline", `m=q"q`}, // the file's order, not sorted
		Dirs:     []string{"fs-tests.dir"},
		ExitCode: 33,
		Stdout:   &hello,
		Stderr:   &empty,
		Unknown:  []string{"frobnicate"},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("LoadSpec = %#v, want %#v", s, want)
	}

	// The newer form: the same in operations.
	writeFile(t, f, `{"operations": [
		{"type": "run", "args": ["a"], "env": {"K": "V", "B": "W"}, "dirs": ["d"]},
		{"type": "write", "id": "stdin", "payload": "in"},
		{"type": "read", "id": "stdout", "payload": "hel"}, {"type": "read", "payload": "lo"},
		{"type": "read", "id": "stderr", "payload": "e"},
		{"type": "connect"},
		{"type": "wait", "exit_code": 2}], "proposals": ["sockets"]}`)
	s, err = LoadSpec(f)
	if err != nil {
		t.Fatal(err)
	}
	e := "e"
	want = Spec{
		Args:     []string{"a"},
		Env:      []string{"K=V", "B=W"},
		Dirs:     []string{"d"},
		ExitCode: 2,
		Stdout:   &hello,
		Stderr:   &e,
		Stdin:    "in",
		Unknown:  []string{"operation connect", "proposals [sockets]"},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("LoadSpec(operations) = %#v, want %#v", s, want)
	}

	s, err = LoadSpec(filepath.Join(dir, "missing.json"))
	if err != nil || !reflect.DeepEqual(s, Spec{}) {
		t.Errorf("a missing spec: %#v, %v; want the zero Spec", s, err)
	}

	for _, bad := range []string{`{"dirs": ["../up"]}`, `{"root": "/abs"}`, `{"env": ["a=b"]}`, `{"args": "a"}`} {
		writeFile(t, f, bad)
		if _, err := LoadSpec(f); err == nil {
			t.Errorf("LoadSpec(%s) succeeded, want an error", bad)
		}
	}
}

func TestDiscover(t *testing.T) {
	root := t.TempDir()
	// The newer layout (testsuite/wasm32-wasip1/) and the older one.
	writeFile(t, filepath.Join(root, "tests/rust/testsuite/wasm32-wasip1/b.wasm"), "\x00asm")
	writeFile(t, filepath.Join(root, "tests/rust/testsuite/wasm32-wasip1/b.json"), `{"exit_code": 1}`)
	writeFile(t, filepath.Join(root, "tests/rust/testsuite/wasm32-wasip3/p3.wasm"), "\x00asm")
	writeFile(t, filepath.Join(root, "tests/c/testsuite/a.wasm"), "\x00asm")
	writeFile(t, filepath.Join(root, "tests/c/testsuite/a.c"), "int main(){}")
	cases, err := Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cases {
		got = append(got, c.Suite+"/"+c.Name)
	}
	if want := []string{"c/a", "rust/b"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Discover = %v, want %v", got, want)
	}
	if cases[1].Spec.ExitCode != 1 || cases[1].Dir != filepath.Join(root, "tests/rust/testsuite/wasm32-wasip1") {
		t.Errorf("rust/b = %+v", cases[1])
	}
	if _, err := Discover(t.TempDir()); err == nil {
		t.Error("Discover of an empty directory succeeded")
	}
}

func TestCopyTree(t *testing.T) {
	src := filepath.Join(t.TempDir(), "fs-tests.dir")
	writeFile(t, filepath.Join(src, "file"), "data")
	writeFile(t, filepath.Join(src, "sub/inner"), "in")
	writeFile(t, filepath.Join(src, "old.cleanup"), "left by a run")
	writeFile(t, filepath.Join(src, "dir.cleanup/x"), "left by a run")
	if err := os.Symlink("file", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "copy")
	if err := CopyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dst, p)
		got = append(got, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{".", "file", "link", "sub", "sub/inner"}; !reflect.DeepEqual(got, want) {
		t.Errorf("copied %v, want %v", got, want)
	}
	if target, err := os.Readlink(filepath.Join(dst, "link")); err != nil || target != "file" {
		t.Errorf("link: %q, %v; want the symlink copied as a symlink to \"file\"", target, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "sub/inner")); string(b) != "in" {
		t.Errorf("sub/inner = %q", b)
	}
}

// TestRunnerDeliversSpec runs the runner's own C guest (testdata/probe.c)
// from a synthetic checkout: the spec's args, env (in order), dirs (at
// "/NAME", the argument naming one rewritten to match), root, stdin, exit
// code, stdout and stderr reach it and are checked, in both spec forms,
// and the checkout's fixtures stay untouched.
func TestRunnerDeliversSpec(t *testing.T) {
	src, err := filepath.Abs(filepath.Join("testdata", "probe.c"))
	if err != nil {
		t.Fatal(err)
	}
	wasm := testwasm.BuildForeign(t, testwasm.Foreign{
		Name:    "wasitestsuite-probe",
		Tool:    "clang",
		Version: []string{"--version"},
		Inputs:  []string{src},
		Args: func(out string) []string {
			return []string{"--target=wasm32-wasi", "-O2", "-Wall", "-Werror", "probe.c", "-o", out}
		},
		Install: "apt-get install clang lld wasi-libc libclang-rt-dev-wasm32",
	})
	root := t.TempDir()
	dir := filepath.Join(root, "tests", "c", "testsuite")
	writeFile(t, filepath.Join(dir, "fs-tests.dir", "in.txt"), "hello\n")
	for _, n := range []string{"dirs", "root"} {
		if err := os.WriteFile(filepath.Join(dir, n+".wasm"), wasm, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(dir, "dirs.json"), `{"dirs": ["fs-tests.dir"], "args": ["fs-tests.dir"],
		"env": {"B": "2", "A": "1", "EXIT": "3"}, "exit_code": 3,
		"stdout": "preopen /fs-tests.dir\nhello\nB=2\nA=1\nEXIT=3\n"}`)
	writeFile(t, filepath.Join(dir, "root.json"), `{"root": "fs-tests.dir", "args": ["/"], "stdout": "preopen /\nhello\n"}`)
	if err := os.WriteFile(filepath.Join(dir, "ops.wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "ops.json"), `{"operations": [
		{"type": "run", "dirs": ["fs-tests.dir"], "args": ["fs-tests.dir"], "env": {"EXIT": "4"}},
		{"type": "write", "id": "stdin", "payload": "to stdin"},
		{"type": "read", "payload": "preopen /fs-tests.dir\n"}, {"type": "read", "payload": "hello\n"},
		{"type": "read", "id": "stderr", "payload": "to stdin"},
		{"type": "wait", "exit_code": 4}]}`)
	cases, err := Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	// Through each engine of this build: wazero, and wasmtime with -tags
	// wasmtime (engine_test.go).
	for _, name := range builtEngines() {
		eng := newEngine(t, name)
		t.Logf("%d cases through %s", len(cases), eng.Name())
		for _, c := range cases {
			o := runWasmpod(t, eng, c, wasm)
			if fails := check(c.Spec, o); fails != nil {
				t.Errorf("%s through wasmpod on %s: %v\nstdout:\n%s\nstderr:\n%s", c.Name, name, fails, o.stdout, o.stderr)
			}
			// The checks fail a run that differs from the spec.
			wrong := c.Spec
			wrong.ExitCode = 7
			if fails := check(wrong, o); len(fails) != 1 || !strings.Contains(fails[0], "want 7") {
				t.Errorf("%s: check with exit_code 7 = %v, want one exit code failure", c.Name, fails)
			}
			other := "other"
			wrong = c.Spec
			wrong.Stdout = &other
			if fails := check(wrong, o); len(fails) != 1 || !strings.Contains(fails[0], "stdout") {
				t.Errorf("%s: check with another stdout = %v, want one stdout failure", c.Name, fails)
			}
		}
	}

	if len(cases) != 3 || cases[0].Name != "dirs" {
		t.Fatalf("cases %+v", cases)
	}
	// Raw wazero preopens the relative name, as upstream's adapters do.
	o := runRawWazero(t, cases[0], wasm)
	if o.err != nil || o.exitCode != 3 || !strings.HasPrefix(o.stdout, "preopen fs-tests.dir\nhello\nB=2\nA=1\nEXIT=3\n") {
		t.Errorf("dirs through raw wazero: %+v", o)
	}

	// Every run wrote out.cleanup into its own copy of the fixture.
	if _, err := os.Stat(filepath.Join(dir, "fs-tests.dir", "out.cleanup")); !os.IsNotExist(err) {
		t.Errorf("the checkout's fixture was written to: %v", err)
	}
}
