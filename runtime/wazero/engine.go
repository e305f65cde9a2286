// Package wazero is the default runtime.Engine backend, built on wazero
// (pure Go, compiler mode).
//
// Contracts, beyond those of package runtime:
//   - One wazero Runtime per Engine, with one RuntimeConfig for every
//     instance (so on-disk compilation cache entries are always reused).
//     WASI preview 1 is wasmpod's own layer (package runtime/wasi), bound
//     once per Engine as the host module wasi_snapshot_preview1 together
//     with Config.Extensions; each call finds the calling instance's
//     wasi.System in the call's context. Instances are anonymous, so any
//     number may run concurrently.
//   - Compiled modules are cached in memory by digest for the Engine's
//     lifetime, and on disk in Config.CacheDir when it is set, so a new
//     process pays instantiation only.
//   - Mounts are confined by runtime/wasi (os.Root): "..", absolute paths
//     and symlinks cannot leave a mount; read-only mounts refuse writes with
//     EROFS. The guest sees only its mounts: when no mount is at "/", "/" is
//     an empty read-only directory.
//   - The guest's stdin is a pipe: Terminate closes its write end (the guest
//     reads EOF). Kill sets the module's interrupt global (package
//     runtime/interrupt instruments every module at compile time: a check at
//     each function entry and loop header traps once it is set), wakes every
//     blocked WASI call (poll_oneoff, blocking reads, accept...) and makes
//     every later WASI call unwind the guest, and reports exit code 137. A
//     busy guest stops within interrupt.Budget loop iterations or calls (a
//     few µs to 100 µs of its work); a blocked one at once.
//   - Per-instance memory limits are enforced by a memory allocator that
//     refuses growth past ContainerConfig.MemoryLimitBytes; a guest that hit
//     it and then exits non-zero is reported as OOMKilled with exit code 137.
//   - Exit codes: return from _start → 0; proc_exit(N) → N; Kill or ctx
//     cancellation → 137 and Killed; trap → 134 with Message.
//   - CPU: every instance runs with a runtime.CPUMeter (ContainerConfig.CPU,
//     else one of its own, unlimited), whose usage the instance reports
//     (runtime.CPUReporter). The interrupt budget's slow path carries the
//     module's only function listener, which charges the guest thread's CPU
//     time and throttles it (CPUMeter.Yield; a kill wakes it); WASI calls
//     that may wait pause the meter (instrumented.go).
package wazero

import (
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	goruntime "runtime"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/interrupt"
	"github.com/wasmpod/wasmpod/runtime/wasi"
)

// Config configures an Engine.
type Config struct {
	// CacheDir is the on-disk compilation cache; "" keeps compiled code in
	// memory only.
	CacheDir string
	// Extensions are added to the wasi_snapshot_preview1 host module (e.g.
	// the socket functions of runtime/wasi/wasisock); one replaces a WASI
	// function of the same name.
	Extensions []wasi.HostFunc
	// MaxFDs is the per-instance fd limit (0: wasi.DefaultMaxFDs).
	MaxFDs int
	// HostFDs is the budget of host file descriptors all instances share.
	// Nil: one derived from the process's RLIMIT_NOFILE (wasi.ProcessFDLimit,
	// wasi.FDBudgetSize), so guests can never take the fds the process
	// needs (API connections, listeners, the store, logs).
	HostFDs *runtime.Budget
}

// Engine is the wazero runtime.Engine. It is safe for concurrent use.
type Engine struct {
	rt       wazero.Runtime
	cache    wazero.CompilationCache
	cacheDir string // also holds the interruptible modules (instrumented.go)
	maxFDs   int
	hostFDs  *runtime.Budget
	// copyingMemory backs linear memories with the portable growing slice
	// instead of a reservation (the benchmarks' baseline).
	copyingMemory bool
	// memPool keeps ended instances' reservations for new ones
	// (memory_pool.go); nil unmaps each at its end (the benchmarks'
	// baseline).
	memPool *memPool
	// noCPU compiles and runs without CPU accounting (the benchmarks'
	// baseline, cpu_bench_test.go).
	noCPU bool

	modules   runtime.ModuleCache[*compiledModule]
	instances runtime.Instances[*instance]
}

type compiledModule struct {
	digest    string
	compiled  wazero.CompiledModule
	minPages  uint32
	interrupt string // export name of the interrupt global
	hasStart  bool   // exports _start (wazero builds a map to tell)
}

func (m *compiledModule) Digest() string { return m.digest }

var _ runtime.Engine = (*Engine)(nil)

// New creates an Engine. Close it to release its compiled modules and kill
// its instances.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wazero: cache dir %q: %w", cfg.CacheDir, err)
		}
		cache = c
	} else {
		cache = wazero.NewCompilationCache()
	}
	// Keep this RuntimeConfig identical for every Engine: it is part of the
	// compilation cache key. No WithCloseOnContextDone: the interrupt
	// global does its job at a fraction of its cost (package
	// runtime/interrupt). NewRuntimeConfig is the compiler where wazero
	// has one (amd64, arm64) and the interpreter elsewhere (linux/arm,
	// riscv64, ...), where NewRuntimeConfigCompiler would panic.
	rcfg := wazero.NewRuntimeConfig().
		WithCompilationCache(cache)
	rt := wazero.NewRuntimeWithConfig(ctx, rcfg)
	if err := instantiateWASI(ctx, rt, cfg.Extensions); err != nil {
		_ = rt.Close(ctx)
		_ = cache.Close(ctx)
		return nil, fmt.Errorf("wazero: instantiate WASI: %w", err)
	}
	hostFDs := cfg.HostFDs
	if hostFDs == nil {
		lim, err := wasi.ProcessFDLimit()
		if err != nil {
			_ = rt.Close(ctx)
			_ = cache.Close(ctx)
			return nil, fmt.Errorf("wazero: reading RLIMIT_NOFILE: %w", err)
		}
		hostFDs = runtime.NewBudget("the host fd budget for guests", wasi.FDBudgetSize(lim))
	}
	return &Engine{
		rt:       rt,
		cache:    cache,
		cacheDir: cfg.CacheDir,
		hostFDs:  hostFDs,
		maxFDs:   cfg.MaxFDs,
		memPool:  newMemPool(),
	}, nil
}

// HostFDs is the engine's budget of host file descriptors for guests.
func (e *Engine) HostFDs() *runtime.Budget { return e.hostFDs }

// Name implements runtime.Engine.
func (e *Engine) Name() string { return "wazero" }

// Compile implements runtime.Engine. Concurrent calls for one digest
// compile once.
func (e *Engine) Compile(ctx context.Context, digest string, wasm []byte) (runtime.CompiledModule, error) {
	hexDigest, err := runtime.ParseDigest(digest)
	if err != nil {
		return nil, fmt.Errorf("wazero: %w", err)
	}
	m, err := e.modules.Get(ctx, digest, func() (*compiledModule, error) {
		return e.compile(ctx, digest, hexDigest, wasm)
	})
	if errors.Is(err, runtime.ErrEngineClosed) {
		return nil, fmt.Errorf("wazero: %w", err)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (e *Engine) compile(ctx context.Context, digest, hexDigest string, wasm []byte) (*compiledModule, error) {
	sum := sha256.Sum256(wasm)
	if hex.EncodeToString(sum[:]) != hexDigest {
		return nil, fmt.Errorf("wazero: module bytes do not match digest %s (sha256:%x)", digest, sum)
	}
	inst, name, ierr := e.instrument(hexDigest, wasm)
	if ierr != nil {
		// Prefer wazero's diagnosis of a malformed module (not of one past
		// a bound: compiling it is what the bound prevents).
		if !errors.Is(ierr, interrupt.ErrBound) {
			c, err := e.rt.CompileModule(ctx, wasm)
			if err != nil {
				return nil, fmt.Errorf("wazero: compile %s: %w", digest, err)
			}
			_ = c.Close(ctx)
		}
		return nil, fmt.Errorf("wazero: compile %s: cannot make the module interruptible: %w", digest, ierr)
	}
	// Compile functions on every core: a cold pod start is mostly this.
	cctx, err := withSlowListener(ctx, inst) // instrumented.go: CPU accounting
	if err != nil {
		return nil, fmt.Errorf("wazero: compile %s: %w", digest, err)
	}
	if e.noCPU {
		cctx = ctx
	}
	c, err := e.rt.CompileModule(experimental.WithCompilationWorkers(cctx, goruntime.GOMAXPROCS(0)), inst)
	if err != nil {
		return nil, fmt.Errorf("wazero: compile %s: %w", digest, err)
	}
	_, hasStart := c.ExportedFunctions()["_start"]
	m := &compiledModule{digest: digest, compiled: c, interrupt: name, hasStart: hasStart}
	for _, mem := range c.ExportedMemories() {
		m.minPages = mem.Min()
	}
	for _, mem := range c.ImportedMemories() {
		m.minPages = mem.Min()
	}
	return m, nil
}

// Close implements runtime.Engine: it kills every running instance, waits
// for them (until ctx is done) and releases the runtime.
func (e *Engine) Close(ctx context.Context) error {
	e.modules.Close() // wazero's Runtime holds (and releases) them
	if closed, err := e.instances.Close(ctx); !closed || err != nil {
		return err
	}
	err := e.rt.Close(ctx)
	e.memPool.close()
	if cerr := e.cache.Close(ctx); err == nil {
		err = cerr
	}
	return err
}

// Start implements runtime.Engine.
func (e *Engine) Start(ctx context.Context, mod runtime.CompiledModule, cfg runtime.ContainerConfig) (runtime.Instance, error) {
	cm, ok := mod.(*compiledModule)
	if !ok || cm == nil {
		return nil, fmt.Errorf("wazero: %s: module %T was not compiled by a wazero engine", cfg.Name, mod)
	}
	in, err := e.start(ctx, cm, cfg)
	if err != nil {
		return nil, fmt.Errorf("wazero: start %s: %w", cfg.Name, err)
	}
	return in, nil
}

func (e *Engine) start(ctx context.Context, cm *compiledModule, cfg runtime.ContainerConfig) (_ *instance, err error) {
	if !cm.hasStart {
		return nil, errors.New("module exports no _start function (not a WASI command)")
	}
	env, err := runtime.GuestEnv(cfg)
	if err != nil {
		return nil, err
	}

	// Limits: every linear memory is reserved up front and grows in place
	// (memory.go), within the container's limit and the node's budget. The
	// initial memory is taken from the budget now: wazero cannot fail the
	// initial allocation (it panics).
	acct, err := runtime.NewMemoryAccount(cfg, uint64(cm.minPages)*pageSize)
	if err != nil {
		return nil, err
	}
	alloc := newMemAllocator(acct, e.memPool)
	alloc.copying = e.copyingMemory
	defer func() {
		if err != nil {
			alloc.exitCall()
			alloc.abandon()
		}
	}()

	// WASI: args, env, mounts, stdio.
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
		alloc:  alloc,
	}
	runCtx := in.Context()
	defer func() {
		if err != nil {
			in.Cancel()
		}
	}()
	instCtx := experimental.WithMemoryAllocator(runCtx, alloc)

	if _, err := e.instances.Add(in); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			e.forget(in)
			in.SetDone() // an Engine.Close waiting for it may go on
		}
	}()

	alloc.enterCall() // the module's start section is guest code; _start's end exits
	apiMod, err := e.rt.InstantiateModule(instCtx, cm.compiled, moduleConfig)
	if err != nil {
		return nil, err
	}
	start := apiMod.ExportedFunction("_start")
	g, ok := apiMod.ExportedGlobal(cm.interrupt).(api.MutableGlobal)
	if !ok {
		_ = apiMod.Close(context.Background())
		return nil, fmt.Errorf("module lacks its interrupt global %q", cm.interrupt)
	}
	in.interrupt.Store(&g)
	if in.Killed() { // killed while instantiating
		g.Set(1)
	}
	// From here on the instance runs; a ctx cancellation is a Kill.
	stopAfter := context.AfterFunc(runCtx, in.Kill)

	if cfg.Stdin != nil {
		in.CopyStdin(cfg.Stdin)
	}
	go func() {
		callCtx := withMetered(runCtx, in)
		if e.noCPU {
			callCtx = runCtx
		}
		in.CPU().Run()
		_, callErr := start.Call(callCtx)
		in.CPU().Stop()
		alloc.exitCall()
		in.Finish(exitStatus(callErr), alloc.acct)
		stopAfter()
		_ = apiMod.Close(context.Background())
		in.Cleanup()
		e.forget(in)
		in.SetDone()
	}()
	return in, nil
}

func (e *Engine) forget(in *instance) { e.instances.Remove(in) }

// instance is one running guest.
type instance struct {
	*runtime.Guest // name, CPU meter (instrumented.go, wasihost.go), WASI system, stdin, status
	engine         *Engine
	alloc          *memAllocator
	// interrupt is the module's interrupt global, set by Kill.
	interrupt atomic.Pointer[api.MutableGlobal]
}

var _ runtime.Instance = (*instance)(nil)

// Kill marks the instance killed (unless it already exited), sets its
// interrupt global (a running guest traps within interrupt.Budget loop
// iterations or function calls), then kills its wasi.System: blocked calls wake, and every
// later WASI call unwinds the guest before it acts, so a woken guest cannot
// act on, e.g., the stdin EOF.
func (in *instance) Kill() {
	in.Guest.Kill(func() {
		if g := in.interrupt.Load(); g != nil {
			(*g).Set(1)
		}
	})
}

// exitStatus is how _start's call ended, err its error (a kill is the
// Guest's to tell).
func exitStatus(err error) runtime.ExitStatus {
	var exitErr *sys.ExitError
	switch {
	case err == nil:
		return runtime.ExitStatus{}
	case errors.As(err, &exitErr):
		switch code := exitErr.ExitCode(); code {
		case sys.ExitCodeContextCanceled, sys.ExitCodeDeadlineExceeded:
			return runtime.ExitStatus{ExitCode: 137, Killed: true, Message: "killed"}
		default:
			return runtime.ExitStatus{ExitCode: int(code)}
		}
	default:
		return runtime.ExitStatus{ExitCode: 134, Message: err.Error()}
	}
}

// moduleConfig is every instance's: anonymous, no start functions (Start
// calls _start itself), and no WASI of wazero's (runtime/wasi's, in the
// call's ctx). A ModuleConfig is immutable, so one serves every start
// (wazero writes to it only for its experimental sockets, unused here).
// Its rand source is crypto/rand's, which nothing reads (runtime/wasi
// answers random_get): without one wazero makes each instance a seeded
// math/rand source, 5 KiB per idle pod (BenchmarkDensity).
var moduleConfig = wazero.NewModuleConfig().WithName("").WithStartFunctions().WithRandSource(crand.Reader)
