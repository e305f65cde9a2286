package wazero

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"

	"github.com/wasmpod/wasmpod/runtime/interrupt"
)

// The interruptible module (interrupt.Instrument's rewrite) is cached on
// disk beside wazero's compiled code, keyed by the original module's
// digest and interrupt.Fingerprint, so that a warm start neither rewrites
// the module again nor misses wazero's cache, which is keyed by the
// rewritten bytes. The cache directory is trusted as wazero's own is (it
// holds machine code that wazero runs unchecked).

// instrumentedMagic starts a cache file: then the interrupt export name,
// a NUL, and the rewritten module.
const instrumentedMagic = "wasmpod-interruptible\x00"

func (e *Engine) instrumentedPath(hexDigest string) string {
	if e.cacheDir == "" {
		return ""
	}
	return filepath.Join(e.cacheDir, "interruptible-"+interrupt.Fingerprint(), hexDigest)
}

// instrument returns the interruptible form of wasm (whose sha256 is
// hexDigest, checked by the caller) and its interrupt export name, from
// the disk cache when it holds them.
func (e *Engine) instrument(hexDigest string, wasm []byte) ([]byte, string, error) {
	path := e.instrumentedPath(hexDigest)
	if path != "" {
		if b, err := os.ReadFile(path); err == nil {
			if out, name, ok := parseInstrumented(b); ok {
				return out, name, nil
			}
		}
	}
	out, name, err := interrupt.Instrument(wasm)
	if err != nil || path == "" {
		return out, name, err
	}
	writeInstrumented(path, out, name) // best effort: a cache
	return out, name, nil
}

func parseInstrumented(b []byte) ([]byte, string, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(instrumentedMagic))
	if !ok {
		return nil, "", false
	}
	name, mod, ok := bytes.Cut(rest, []byte{0})
	if !ok || len(name) == 0 || !bytes.HasPrefix(mod, []byte("\x00asm\x01\x00\x00\x00")) {
		return nil, "", false
	}
	return mod, string(name), true
}

// writeInstrumented writes the cache file atomically (a reader sees the
// whole file or none).
func writeInstrumented(path string, mod []byte, name string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(append(append([]byte(instrumentedMagic), name...), 0))
	if werr == nil {
		_, werr = f.Write(mod)
	}
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}
