package testwasm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RequireToolchainsEnv names the environment variable that turns a missing
// guest toolchain from a skip into a failure. .ci/run installs every
// toolchain and sets it to "1"; on a machine with only the Go toolchain the
// tests of C, Rust and AssemblyScript guests are skipped (and say why).
const RequireToolchainsEnv = "WASMPOD_REQUIRE_TOOLCHAINS"

// Foreign describes a guest built by a toolchain other than Go's (clang,
// rustc, asc...).
type Foreign struct {
	// Name names the guest in the cache and in messages ("c-wasiprobe").
	Name string
	// Tool is the compiler: an absolute path or a name looked up in PATH.
	Tool string
	// Version is the Tool's arguments that print its version (its output
	// is part of the cache key), e.g. {"--version"}.
	Version []string
	// Inputs are the files the module is built from (their contents are
	// part of the cache key).
	Inputs []string
	// Args returns the Tool's arguments that write the module to out.
	Args func(out string) []string
	// Dir is the working directory of the build (default: the directory
	// of Inputs[0]); Env is added to the environment.
	Dir string
	Env []string
	// Install says how to get the Tool, for the skip or failure message
	// ("apt-get install clang lld wasi-libc libclang-rt-dev-wasm32").
	Install string
}

// LookTool returns the path of tool, or skips the test when it is missing
// (fails when $WASMPOD_REQUIRE_TOOLCHAINS is set): install says how to get
// it.
func LookTool(tb testing.TB, tool, install string) string {
	tb.Helper()
	p, err := exec.LookPath(tool)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("testwasm: %s not found (%v); install with: %s", tool, err, install)
	if os.Getenv(RequireToolchainsEnv) != "" {
		tb.Fatalf("%s ($%s is set: .ci/run installs it)", msg, RequireToolchainsEnv)
	}
	tb.Skip(msg)
	return ""
}

// BuildForeign builds f and returns the module bytes. Results are cached
// under CacheDir()/foreign, keyed by a hash of the tool's path and version
// output, the arguments and every input's content, so an edited source or
// another compiler rebuilds. A missing tool skips the test (see LookTool);
// a failing build fails it with the compiler's output.
func BuildForeign(tb testing.TB, f Foreign) []byte {
	tb.Helper()
	tool := LookTool(tb, f.Tool, f.Install)
	h := sha256.New()
	fmt.Fprintf(h, "tool %s\n", tool)
	ver, err := exec.Command(tool, f.Version...).CombinedOutput()
	if err != nil {
		tb.Fatalf("testwasm: %s %s: %v\n%s", tool, strings.Join(f.Version, " "), err, ver)
	}
	fmt.Fprintf(h, "version %q\n", ver)
	const placeholder = "\x00out\x00"
	fmt.Fprintf(h, "args %q\nenv %q\n", f.Args(placeholder), f.Env)
	for _, in := range f.Inputs {
		b, err := os.ReadFile(in)
		if err != nil {
			tb.Fatalf("testwasm: %s: %v", f.Name, err)
		}
		fmt.Fprintf(h, "input %s %d\n", filepath.Base(in), len(b))
		h.Write(b)
	}
	key := hex.EncodeToString(h.Sum(nil))[:32]
	dir := filepath.Join(CacheDir(), "foreign")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	cached := filepath.Join(dir, f.Name+"-"+key+".wasm")
	if b, err := os.ReadFile(cached); err == nil && isWasm(b) {
		return b
	}
	tmp, err := os.MkdirTemp(dir, f.Name+"-build-")
	if err != nil {
		tb.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "out.wasm")
	cmd := exec.Command(tool, f.Args(out)...)
	cmd.Dir = f.Dir
	if cmd.Dir == "" && len(f.Inputs) > 0 {
		cmd.Dir = filepath.Dir(f.Inputs[0])
	}
	cmd.Env = append(os.Environ(), f.Env...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("testwasm: build %s: %s %s: %v\n%s", f.Name, tool, strings.Join(f.Args(out), " "), err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil || !isWasm(b) {
		tb.Fatalf("testwasm: build %s: no WebAssembly module at %s (%v)", f.Name, out, err)
	}
	// Rename is atomic: a concurrent test process reads either nothing or
	// the whole module.
	if err := os.Rename(out, cached); err != nil {
		tb.Fatal(err)
	}
	return b
}

func isWasm(b []byte) bool {
	return len(b) >= 8 && string(b[:4]) == "\x00asm"
}
