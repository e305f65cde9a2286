//go:build wasmtime && cgo

package wasmtime

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"

	wt "github.com/bytecodealliance/wasmtime-go/v39"
)

// The disk cache holds Module.Serialize's output (machine code that
// NewModuleDeserialize maps and runs unchecked) in
// CacheDir/wasmtime-<version>-<settings>/<module sha256>. Each file is
//
//	cacheMagic, sha256(payload), payload
//
// and is used only when the checksum holds: a truncated, corrupt or foreign
// file is compiled again and replaced (written to a temporary file and
// renamed, so a reader never sees half a file). The directory is trusted as
// wazero's compilation cache is: the checksum catches corruption, not an
// attacker who can write there.

const cacheMagic = "wasmpod-wasmtime-module\x00"

var versionOnce = sync.OnceValue(func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/bytecodealliance/wasmtime-go/v39" {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return bindingVersion
})

// bindingVersion is the wasmtime-go version go.mod requires, for binaries
// without module information (test binaries); TestBindingVersion keeps it
// equal to go.mod's.
const bindingVersion = "v39.0.1"

func wasmtimeVersion() string { return versionOnce() }

func checkCacheDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return errors.New("not a directory")
	}
	return nil
}

// cachePath is where the compiled form of the module hexDigest lives.
func (e *Engine) cachePath(hexDigest string) string {
	if e.cacheDir == "" {
		return ""
	}
	return filepath.Join(e.cacheDir, "wasmtime-"+wasmtimeVersion()+"-"+configKey, hexDigest)
}

// loadCached returns the module from the disk cache, nil when it is not
// there or its entry does not verify.
func (e *Engine) loadCached(hexDigest string) (*wt.Module, bool) {
	p := e.cachePath(hexDigest)
	if p == "" {
		return nil, false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, false
	}
	payload, ok := verifyEntry(b)
	if !ok {
		return nil, false
	}
	m, err := wt.NewModuleDeserialize(e.engine, payload)
	if err != nil {
		return nil, false
	}
	return m, true
}

// verifyEntry returns the payload of a cache file whose checksum holds.
func verifyEntry(b []byte) ([]byte, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(cacheMagic))
	if !ok || len(rest) < sha256.Size {
		return nil, false
	}
	sum, payload := rest[:sha256.Size], rest[sha256.Size:]
	got := sha256.Sum256(payload)
	if !bytes.Equal(sum, got[:]) {
		return nil, false
	}
	return payload, true
}

// storeCached writes mod's compiled form to the disk cache; failures only
// cost the next process a compile.
func (e *Engine) storeCached(hexDigest string, mod *wt.Module) {
	p := e.cachePath(hexDigest)
	if p == "" {
		return
	}
	payload, err := mod.Serialize()
	if err != nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-"+hexDigest+"-*")
	if err != nil {
		return
	}
	sum := sha256.Sum256(payload)
	_, err = f.Write(append(append([]byte(cacheMagic), sum[:]...), payload...))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
}
