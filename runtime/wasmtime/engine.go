//go:build wasmtime && cgo

// Package wasmtime is a runtime.Engine backend built on wasmtime
// (wasmtime-go: Cranelift machine code, cgo). It is in the binary only when
// built with -tags wasmtime and CGO_ENABLED=1; otherwise New returns
// ErrNotBuilt (notbuilt.go).
//
// Contracts, beyond those of package runtime:
//   - One wasmtime Engine and one Linker per Engine. WASI preview 1 is
//     wasmpod's own layer (package runtime/wasi), bound once in the Linker
//     as the host module wasi_snapshot_preview1 together with
//     Config.Extensions (e.g. runtime/wasi/wasisock): wasmtime's own WASI is
//     not used. Each instance has its own Store, whose data is the
//     instance: each call finds its wasi.System and linear memory there.
//   - Compiled modules are cached in memory by digest for the Engine's
//     lifetime, and on disk in Config.CacheDir when it is set
//     (Module.Serialize, keyed by digest, wasmtime version and this
//     engine's settings; every entry carries the sha256 of its bytes,
//     checked before NewModuleDeserialize: a corrupt or truncated entry is
//     compiled again and rewritten, never run).
//   - Kill: every Store has an epoch deadline one tick ahead and a deadline
//     callback (cgo.go) that traps once the instance's kill flag is set and
//     otherwise moves the deadline one tick on. Kill sets the flag and
//     increments the engine's epoch, so a busy guest traps at its next
//     function entry or loop back-edge; a ticker goroutine (running only
//     while instances run) increments the epoch every EpochTick as well.
//     Kill also kills the wasi.System: blocked WASI calls wake, and every
//     later WASI call unwinds the guest before it acts.
//   - Memory: every linear memory is made by wasmpod's memory creator
//     (cgo.go): an mmap'd PROT_NONE reservation (wasmtime's reservation and
//     guard) made readable as it grows. Growth is charged to
//     ContainerConfig.Memory and refused past MemoryLimitBytes or the budget
//     (memory.grow returns -1); a guest that hit it and exits non-zero is
//     OOMKilled with exit code 137. wasmtime's copy-on-write memory images
//     need its own memories, so the engine makes its own (image.go): a
//     module's data segments become a memfd that each instance maps
//     privately, and the module is compiled without them. A freed memory
//     (up to 64 MiB) is reset in place and pooled for the next instance,
//     its pages left resident (wp.c: page faults were most of a short
//     task's CPU); at most 16 memories and 64 MiB of their pages, unmapped
//     after PoolIdle without instances and at Close.
//   - CPU: ContainerConfig.CPU (or a meter of the engine's own) is run on
//     the guest's thread; each epoch deadline is its Yield (charge and
//     throttle), and the WASI calls that may wait pause it.
//   - Exit codes: return from _start → 0; proc_exit(N) → N; Kill or ctx
//     cancellation → 137 and Killed; trap → 134 with Message.
package wasmtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime/cgo"
	"time"

	wt "github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/wasi"
)

// EpochTick is how often the engine's epoch advances while instances run.
const EpochTick = 10 * time.Millisecond

// PoolIdle is how long the engine runs no instance before it unmaps its
// pooled linear memories.
const PoolIdle = 10 * time.Second

// poolIdle is PoolIdle for the engines New makes (the tests' is shorter).
var poolIdle = PoolIdle

// Config configures an Engine.
type Config struct {
	// CacheDir is the on-disk cache of compiled modules; "" keeps compiled
	// code in memory only.
	CacheDir string
	// Extensions are added to the wasi_snapshot_preview1 host module (e.g.
	// the socket functions of runtime/wasi/wasisock); one replaces a WASI
	// function of the same name.
	Extensions []wasi.HostFunc
	// MaxFDs is the per-instance fd limit (0: wasi.DefaultMaxFDs).
	MaxFDs int
	// HostFDs is the budget of host file descriptors all instances share
	// (nil: one derived from RLIMIT_NOFILE, as runtime/wazero).
	HostFDs *runtime.Budget
}

// Engine is the wasmtime runtime.Engine. It is safe for concurrent use.
type Engine struct {
	engine   *wt.Engine
	linker   *wt.Linker
	cacheDir string
	maxFDs   int
	hostFDs  *runtime.Budget

	// pool holds freed linear memories for the next instances (wp.c),
	// trimmed once the engine has been idle for PoolIdle.
	pool memPool

	modules   runtime.ModuleCache[*compiledModule]
	instances runtime.Instances[*instance]
	// tick wakes the epoch ticker when the first instance starts.
	tick chan struct{}
	stop chan struct{}
	// stopped is closed when the ticker has returned.
	stopped chan struct{}
}

type compiledModule struct {
	digest string
	module *wt.Module
	// minBytes is the initial size of the module's own memory.
	minBytes uint64
	// fromCache is true when the module was deserialized from CacheDir.
	fromCache bool
	// image is the initial memory of a module compiled without its data
	// segments (image.go); not split for a module that keeps them.
	image memImage
}

func (m *compiledModule) Digest() string { return m.digest }

var _ runtime.Engine = (*Engine)(nil)

// newWasmtimeConfig is the wasmtime configuration of every Engine; its
// settings are part of the disk cache key (configKey).
func newWasmtimeConfig() (*wt.Config, memPool) {
	c := wt.NewConfig()
	c.SetEpochInterruption(true)
	c.SetParallelCompilation(true)
	// Memory images (copy-on-write initialisation) need wasmtime's own
	// mmap'd memories; ours get their data segments copied in.
	c.SetMemoryInitCOWSet(false)
	return c, setMemoryCreator(c)
}

// configKey names the settings of newWasmtimeConfig in the cache key.
const configKey = "epoch+hostmemory+nocow"

// New creates an Engine. Close it to release its compiled modules and kill
// its instances.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	hostFDs := cfg.HostFDs
	if hostFDs == nil {
		lim, err := wasi.ProcessFDLimit()
		if err != nil {
			return nil, fmt.Errorf("wasmtime: reading RLIMIT_NOFILE: %w", err)
		}
		hostFDs = runtime.NewBudget("the host fd budget for guests", wasi.FDBudgetSize(lim))
	}
	if cfg.CacheDir != "" {
		if err := checkCacheDir(cfg.CacheDir); err != nil {
			return nil, fmt.Errorf("wasmtime: cache dir %q: %w", cfg.CacheDir, err)
		}
	}
	wcfg, pool := newWasmtimeConfig()
	eng := wt.NewEngineWithConfig(wcfg)
	linker := wt.NewLinker(eng)
	if err := defineWASI(linker, cfg.Extensions); err != nil {
		linker.Close()
		eng.Close()
		return nil, fmt.Errorf("wasmtime: define WASI: %w", err)
	}
	e := &Engine{
		engine:   eng,
		linker:   linker,
		cacheDir: cfg.CacheDir,
		maxFDs:   cfg.MaxFDs,
		hostFDs:  hostFDs,
		pool:     pool,
		tick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	go e.ticker(poolIdle)
	return e, nil
}

// ticker increments the epoch every EpochTick while instances run, and
// trims the memory pool once no instance has run for idleAfter.
func (e *Engine) ticker(idleAfter time.Duration) {
	defer close(e.stopped)
	t := time.NewTicker(EpochTick)
	t.Stop()
	idle := time.NewTimer(idleAfter)
	defer idle.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-idle.C:
			if e.instances.Len() == 0 {
				e.pool.trim()
			}
			continue
		case <-e.tick:
		}
		idle.Stop()
		t.Reset(EpochTick)
		for running := true; running; {
			select {
			case <-e.stop:
				t.Stop()
				return
			case <-t.C:
				e.engine.IncrementEpoch()
				running = e.instances.Len() > 0
			}
		}
		t.Stop()
		idle.Reset(idleAfter)
	}
}

// HostFDs is the engine's budget of host file descriptors for guests.
func (e *Engine) HostFDs() *runtime.Budget { return e.hostFDs }

// Name implements runtime.Engine.
func (e *Engine) Name() string { return "wasmtime" }

// Version is the wasmtime version of this build (the wasmtime-go module's),
// e.g. "v39.0.1".
func Version() string { return wasmtimeVersion() }

// Compile implements runtime.Engine. Concurrent calls for one digest
// compile once.
func (e *Engine) Compile(ctx context.Context, digest string, wasm []byte) (runtime.CompiledModule, error) {
	hexDigest, err := runtime.ParseDigest(digest)
	if err != nil {
		return nil, fmt.Errorf("wasmtime: %w", err)
	}
	m, err := e.modules.Get(ctx, digest, func() (*compiledModule, error) {
		return e.compile(digest, hexDigest, wasm)
	})
	if errors.Is(err, runtime.ErrEngineClosed) {
		return nil, fmt.Errorf("wasmtime: %w", err)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (e *Engine) compile(digest, hexDigest string, wasm []byte) (*compiledModule, error) {
	sum := sha256.Sum256(wasm)
	if hex.EncodeToString(sum[:]) != hexDigest {
		return nil, fmt.Errorf("wasmtime: module bytes do not match digest %s (sha256:%x)", digest, sum)
	}
	// The module without its data segments and its memory image
	// (image.go), when it qualifies; else the module as it is.
	img := noImage
	key := hexDigest
	code := wasm
	if stripped, image, ok := splitImage(wasm); ok {
		if im, ok := newMemImage(image); ok {
			img, key, code = im, hexDigest+"-image", stripped
		}
	}
	mod, fromCache := e.loadCached(key)
	if mod == nil {
		m, err := wt.NewModule(e.engine, code)
		if err != nil && img.split {
			// Not as split: compile the module as it is.
			img.close()
			img, key, code = noImage, hexDigest, wasm
			m, err = wt.NewModule(e.engine, code)
		}
		if err != nil {
			img.close()
			return nil, fmt.Errorf("wasmtime: compile %s: %w", digest, err)
		}
		mod = m
	}
	cm := &compiledModule{digest: digest, module: mod, fromCache: fromCache, image: img}
	hasStart := false
	for _, ex := range mod.Exports() {
		switch ex.Name() {
		case "_start":
			hasStart = ex.Type().FuncType() != nil
		case "memory":
			if mt := ex.Type().MemoryType(); mt != nil {
				cm.minBytes = mt.Minimum() * wasmPage
			}
		}
	}
	if !hasStart {
		mod.Close()
		img.close()
		return nil, fmt.Errorf("wasmtime: compile %s: module exports no _start function (not a WASI command)", digest)
	}
	if !fromCache {
		e.storeCached(key, mod)
	}
	return cm, nil
}

const wasmPage = runtime.PageSize

// Close implements runtime.Engine: it kills every running instance, waits
// for them (until ctx is done) and releases the engine.
func (e *Engine) Close(ctx context.Context) error {
	mods := e.modules.Close()
	if closed, err := e.instances.Close(ctx); !closed || err != nil {
		return err
	}
	close(e.stop)
	<-e.stopped // no trim runs after the pool closes
	e.pool.close()
	for _, m := range mods {
		m.module.Close()
		m.image.close()
	}
	e.linker.Close()
	e.engine.Close()
	return nil
}

// Start implements runtime.Engine.
func (e *Engine) Start(ctx context.Context, mod runtime.CompiledModule, cfg runtime.ContainerConfig) (runtime.Instance, error) {
	cm, ok := mod.(*compiledModule)
	if !ok || cm == nil {
		return nil, fmt.Errorf("wasmtime: %s: module %T was not compiled by a wasmtime engine", cfg.Name, mod)
	}
	in, err := e.start(ctx, cm, cfg)
	if err != nil {
		return nil, fmt.Errorf("wasmtime: start %s: %w", cfg.Name, err)
	}
	return in, nil
}

func (e *Engine) start(ctx context.Context, cm *compiledModule, cfg runtime.ContainerConfig) (_ *instance, err error) {
	env, err := runtime.GuestEnv(cfg)
	if err != nil {
		return nil, err
	}
	ma, err := runtime.NewMemoryAccount(cfg, cm.minBytes)
	if err != nil {
		return nil, err
	}
	acct := &memAcct{MemoryAccount: ma}
	acctHandle := cgo.NewHandle(acct)
	defer func() {
		if err != nil {
			acct.Refund()
			acctHandle.Delete()
		}
	}()

	wsys, stdin, err := runtime.NewSystem(cfg, env, e.maxFDs, e.hostFDs)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = wsys.Close()
		}
	}()

	in := &instance{
		Guest:  runtime.NewGuest(ctx, cfg.Name, cfg.CPU, wsys, stdin),
		engine: e,
		acct:   acct,
		handle: acctHandle,
	}
	in.self = cgo.NewHandle(in)
	in.ctl = newCtl(in.self)
	defer func() {
		if err != nil {
			in.ctl.free()
			in.self.Delete()
		}
	}()
	defer func() {
		if err != nil {
			in.Cancel()
		}
	}()

	n, err := e.instances.Add(in)
	if err != nil {
		return nil, err
	}
	if n == 1 {
		select {
		case e.tick <- struct{}{}:
		default:
		}
	}
	defer func() {
		if err != nil {
			e.forget(in)
			in.SetDone()
		}
	}()

	store := wt.NewStoreWithData(e.engine, in)
	in.store = store
	watchEpoch(store, in.ctl)
	defer func() {
		if err != nil {
			store.Close()
		}
	}()
	if ctx.Err() != nil {
		in.Kill()
	}
	inst, err := instantiateAs(acctHandle, cm.image, func() (*wt.Instance, error) {
		return e.linker.Instantiate(store, cm.module)
	})
	if err != nil {
		if in.Killed() {
			return nil, errors.New("killed while instantiating")
		}
		return nil, err
	}
	in.mem = acct.memory()
	start := inst.GetFunc(store, "_start")
	if start == nil {
		return nil, errors.New("module exports no _start function (not a WASI command)")
	}
	// From here on the instance runs; a ctx cancellation is a Kill.
	stopAfter := context.AfterFunc(in.Context(), in.Kill)

	if cfg.Stdin != nil {
		in.CopyStdin(cfg.Stdin)
	}
	go func() {
		in.CPU().Run() // locks the goroutine to the thread that runs the guest
		_, callErr := start.Call(store)
		in.CPU().Stop()
		in.Finish(in.exitStatus(callErr), in.acct.MemoryAccount)
		stopAfter()
		store.Close() // frees the memories (wpMemFree) before the handle goes
		in.cleanup()
		e.forget(in)
		in.SetDone()
	}()
	return in, nil
}

func (e *Engine) forget(in *instance) { e.instances.Remove(in) }

// instance is one running guest; it is its Store's data.
type instance struct {
	*runtime.Guest // name, CPU meter, WASI system and ctx (wasihost.go), stdin, status
	engine         *Engine
	acct           *memAcct
	// mem is the guest's WASI memory, set once instantiated.
	mem    memView
	handle cgo.Handle // of acct (the memory creator's)
	self   cgo.Handle // of the instance (the epoch callback's)
	ctl    ctl
	store  *wt.Store

	// exitCode is proc_exit's code (set on the guest's thread).
	exitCode *uint32
}

var _ runtime.Instance = (*instance)(nil)

// Kill marks the instance killed (unless it already exited), sets its kill
// flag and advances the epoch (a running guest traps at its next epoch
// check), then kills its wasi.System: blocked calls wake and every later
// WASI call unwinds the guest.
func (in *instance) Kill() {
	// Under the Guest's lock: the instance cannot finish (and free ctl, or
	// let Close release the engine) meanwhile.
	in.Guest.Kill(func() {
		in.ctl.kill()
		in.engine.engine.IncrementEpoch()
	})
}

// exitStatus is how _start's call ended, err its error (a kill is the
// Guest's to tell).
func (in *instance) exitStatus(err error) runtime.ExitStatus {
	switch {
	case in.exitCode != nil:
		return runtime.ExitStatus{ExitCode: int(*in.exitCode)}
	case err == nil:
		return runtime.ExitStatus{}
	default:
		return runtime.ExitStatus{ExitCode: 134, Message: err.Error()}
	}
}

func (in *instance) cleanup() {
	in.Guest.Cleanup()
	in.acct.Refund()
	in.handle.Delete()
	in.ctl.free()
	in.self.Delete()
}

// ErrNotBuilt is New's error in a build without the wasmtime engine
// (never returned by this build).
var ErrNotBuilt = errors.New("engine wasmtime is not in this build (build with -tags wasmtime and CGO_ENABLED=1)")

// Built reports whether this build has the wasmtime engine.
const Built = true
