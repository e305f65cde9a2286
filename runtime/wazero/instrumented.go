package wazero

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/interrupt"
)

// The interruptible module (interrupt.Instrument's rewrite, its data
// segments then merged: datamerge.go) is cached on disk beside wazero's
// compiled code, keyed by the original module's digest,
// interrupt.Fingerprint and dataMergeVersion, so that a warm start neither rewrites
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
	return filepath.Join(e.cacheDir, "interruptible-"+interrupt.Fingerprint()+"-"+dataMergeVersion, hexDigest)
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
	if err != nil {
		return out, name, err
	}
	out = mergeDataSegments(out) // datamerge.go: fewer segments to apply per start
	if path == "" {
		return out, name, nil
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

// CPU accounting (runtime.CPUMeter): the interrupt budget's slow path
// ($slow, interrupt.SlowFunc) is the guest's periodic round trip. The
// module is compiled with a function listener on $slow alone (no other
// function pays for it), whose Before charges the guest's CPU time and
// throttles it (CPUMeter.Yield: it may sleep, and returns at once on a
// kill, after which $slow traps on the interrupt global).
//
// Host calls that may wait (wasi.MayWait) pause the meter (wasihost.go),
// so time a guest waits in WASI is never charged, and it holds no OS
// thread while it waits. The others are charged as the guest's own time
// (a cgroup counts a process's system time too) and cost nothing: the
// goroutine stays on its thread, whose CPU clock stays exact even when the
// call blocks in a system call. A thread-clock read is a system call
// (4 to 5 µs each on this project's loaded CI machine: runtime's
// BenchmarkThreadClock), too much to pay on every clock_time_get, which
// Go guests call all the time.

// slowListeners is the listener factory of one compilation: $slow only.
type slowListeners struct{ slow uint32 }

func (f slowListeners) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	if def.Index() == f.slow {
		return slowListener{}
	}
	return nil
}

// withSlowListener is ctx for compiling the instrumented module mod.
func withSlowListener(ctx context.Context, mod []byte) (context.Context, error) {
	slow, err := interrupt.SlowFunc(mod)
	if err != nil {
		return nil, err
	}
	return experimental.WithFunctionListenerFactory(ctx, slowListeners{slow}), nil
}

type slowListener struct{}

func (slowListener) Before(ctx context.Context, _ api.Module, _ api.FunctionDefinition, _ []uint64, _ experimental.StackIterator) {
	if in := meteredFrom(ctx); in != nil {
		if d, ok := in.CPU().RoundTrip(in.System().Killed()); ok {
			runtime.ObserveRoundTrip(d) // wasmpod_interrupt_round_trip_interval_seconds
		}
	}
}

func (slowListener) After(context.Context, api.Module, api.FunctionDefinition, []uint64) {}

func (slowListener) Abort(context.Context, api.Module, api.FunctionDefinition, error) {}

// meteredKey holds the *instance whose guest the ctx of _start runs.
type meteredKey struct{}

func withMetered(ctx context.Context, in *instance) context.Context {
	return context.WithValue(ctx, meteredKey{}, in)
}

func meteredFrom(ctx context.Context) *instance {
	in, _ := ctx.Value(meteredKey{}).(*instance)
	return in
}
