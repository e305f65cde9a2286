package wazero_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
	"github.com/wasmpod/wasmpod/runtime/interrupt"
	"github.com/wasmpod/wasmpod/runtime/wazero"
)

// command is the smallest WASI command whose _start runs body (a
// function body's instructions, without the final end).
func command(body ...byte) []byte {
	code := append([]byte{0}, append(body, 0x0b)...) // no locals; end
	return append([]byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00,
		1, 4, 1, 0x60, 0, 0, // type section: () -> ()
		3, 2, 1, 0, // function section
		7, 10, 1, 6, '_', 's', 't', 'a', 'r', 't', 0, 0, // export section
		10, byte(len(code) + 2), 1, byte(len(code))}, // code section
		code...)
}

func runStatus(t *testing.T, dir string, wasm []byte) runtime.ExitStatus {
	t.Helper()
	ctx := context.Background()
	eng, err := wazero.New(ctx, wazero.Config{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(ctx)
	mod, err := eng.Compile(ctx, enginetest.Digest(wasm), wasm)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := eng.Start(ctx, mod, runtime.ContainerConfig{Name: "t/c", Args: []string{"c"}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-inst.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the module did not end")
	}
	return inst.Status()
}

// TestInterruptibleModuleCached: the rewrite that makes a module
// interruptible is kept on disk beside wazero's compiled code and read
// back by the next engine (a warm start does not rewrite the module
// again); a damaged entry is rewritten.
func TestInterruptibleModuleCached(t *testing.T) {
	dir := t.TempDir()
	ok := command()       // returns: exit 0
	trap := command(0x00) // unreachable: traps
	if st := runStatus(t, dir, ok); st.ExitCode != 0 {
		t.Fatalf("ok module: %+v", st)
	}
	if st := runStatus(t, dir, trap); st.ExitCode == 0 {
		t.Fatalf("trapping module: %+v, want a failure", st)
	}
	entry := func(wasm []byte) string {
		return filepath.Join(dir, "interruptible-"+interrupt.Fingerprint()+"-"+wazero.DataMergeVersion, strings.TrimPrefix(enginetest.Digest(wasm), "sha256:"))
	}
	okEntry, err := os.ReadFile(entry(ok))
	if err != nil {
		t.Fatalf("no cache entry for the module: %v", err)
	}
	if !strings.HasPrefix(string(okEntry), "wasmpod-interruptible\x00"+interrupt.Export+"\x00\x00asm") {
		t.Fatalf("cache entry starts %q", okEntry[:min(len(okEntry), 48)])
	}

	// The entry is what the next engine runs: the ok module's entry
	// replaced by the trapping module's rewrite makes it trap.
	trapEntry, err := os.ReadFile(entry(trap))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(entry(ok), trapEntry, 0o600); err != nil {
		t.Fatal(err)
	}
	if st := runStatus(t, dir, ok); st.ExitCode == 0 {
		t.Fatalf("the ok module ran from a fresh rewrite (%+v): the cache entry was not read", st)
	}

	// A damaged entry is not used, and is replaced.
	if err := os.WriteFile(entry(ok), []byte("wasmpod-interruptible\x00garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if st := runStatus(t, dir, ok); st.ExitCode != 0 {
		t.Fatalf("ok module with a damaged cache entry: %+v", st)
	}
	if b, err := os.ReadFile(entry(ok)); err != nil || string(b) != string(okEntry) {
		t.Errorf("the damaged entry was not rewritten (%v)", err)
	}
}

// TestFingerprint: interrupt.Fingerprint, which names the cache
// directory, is Version, a dash and 16 hex digits, the same on each call
// (that its probe is rewritten is interrupt's TestFingerprintProbe).
func TestFingerprint(t *testing.T) {
	fp := interrupt.Fingerprint()
	if !strings.HasPrefix(fp, interrupt.Version+"-") || len(fp) != len(interrupt.Version)+17 || fp != interrupt.Fingerprint() {
		t.Fatalf("Fingerprint() = %q", fp)
	}
}
