//go:build wasmtime && cgo

package wasmtime

import (
	"bytes"
	"path/filepath"
	"testing"

	wt "github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// TestSplitImage: a Go module's data segments become its memory image and
// the module without them is valid; a module without a memory, or whose
// data section is not all active constant-offset segments, keeps them.
func TestSplitImage(t *testing.T) {
	wasm := testwasm.Build(t, filepath.Join(testwasm.RepoRoot(t), "wasm-examples", "hello"))
	stripped, image, ok := splitImage(wasm)
	if !ok || len(image) == 0 || len(stripped) >= len(wasm) {
		t.Fatalf("a Go module was not split (ok %v, image %d bytes, %d of %d bytes left)", ok, len(image), len(stripped), len(wasm))
	}
	if err := wt.ModuleValidate(wt.NewEngine(), stripped); err != nil {
		t.Fatalf("the module without its data segments is invalid: %v", err)
	}
	if _, _, ok := splitImage(startOnly); ok {
		t.Error("a module without a memory was split")
	}
	// (memory 1) (data (i32.const 16) "hi") (func (export "_start"))
	withData := append(append([]byte(nil), startOnly[:8]...),
		1, 4, 1, 0x60, 0, 0, // type
		3, 2, 1, 0, // function
		5, 3, 1, 0, 1, // memory: min 1
		7, 10, 1, 6, '_', 's', 't', 'a', 'r', 't', 0, 0, // export
		10, 4, 1, 2, 0, 0x0b, // code
		11, 8, 1, 0, 0x41, 16, 0x0b, 2, 'h', 'i', // data
	)
	_, image, ok = splitImage(withData)
	if !ok || !bytes.Equal(image, append(make([]byte, 16), 'h', 'i')) {
		t.Errorf("image %q ok %v, want 16 zeros then \"hi\"", image, ok)
	}
	passive := append(append([]byte(nil), withData[:len(withData)-10]...), 11, 5, 1, 1, 2, 'h', 'i')
	if _, _, ok := splitImage(passive); ok {
		t.Error("a module with a passive data segment was split")
	}
	outside := append(append([]byte(nil), withData[:len(withData)-10]...), 11, 10, 1, 0, 0x41, 0x80, 0x80, 0x04, 0x0b, 2, 'h', 'i')
	if _, _, ok := splitImage(outside); ok {
		t.Error("a module with a segment past its initial memory was split")
	}
}
