package pods

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/wazero"
)

// A pod deleted while its container is being set up starts no container:
// the pull, the compile and the start run under a context that the
// termination request cancels (as the kubelet's pod workers cancel the
// running SyncPod on SyncPodKill), and the pod terminates at once.

// gateResolver resolves through testImages, but its first Resolve blocks
// until the gate opens or its context is done; it records that context's
// error.
type gateResolver struct {
	entered chan struct{} // closed when the first Resolve blocks
	gate    chan struct{} // closed by the test to let it go on
	once    sync.Once
	ctxErr  chan error // the blocked Resolve's ctx.Err() when it returns
}

func newGateResolver() *gateResolver {
	return &gateResolver{entered: make(chan struct{}), gate: make(chan struct{}), ctxErr: make(chan error, 1)}
}

func (g *gateResolver) Resolve(ctx context.Context, ref, baseDir string) (*images.Image, error) {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.entered)
		select {
		case <-g.gate:
		case <-ctx.Done():
		}
		g.ctxErr <- ctx.Err()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return testImages.Resolve(ctx, ref, baseDir)
}

// gateEngine is real wazero whose Compile blocks until the gate opens,
// whatever its context (as a compilation that cannot be interrupted), and
// which counts its Compiles in progress and its Starts.
type gateEngine struct {
	*wazero.Engine
	entered   chan struct{}
	gate      chan struct{}
	once      sync.Once
	compiling atomic.Int32
	returned  chan struct{} // closed when the blocked Compile returns
	starts    atomic.Int32
}

func (e *gateEngine) Compile(ctx context.Context, digest string, wasm []byte) (runtime.CompiledModule, error) {
	e.compiling.Add(1)
	defer e.compiling.Add(-1)
	first := false
	e.once.Do(func() { first = true })
	if first {
		defer close(e.returned)
		close(e.entered)
		<-e.gate
		// The compilation goes on as it would: the context was cancelled
		// meanwhile, but the module is compiled (into the engine's cache).
		return e.Engine.Compile(context.WithoutCancel(ctx), digest, wasm)
	}
	return e.Engine.Compile(ctx, digest, wasm)
}

func (e *gateEngine) Start(ctx context.Context, mod runtime.CompiledModule, cfg runtime.ContainerConfig) (runtime.Instance, error) {
	e.starts.Add(1)
	return e.Engine.Start(ctx, mod, cfg)
}

// checkNothingStarted checks that the worker created and started no
// container: no Created or Started event, no instance, no running state.
func checkNothingStarted(t *testing.T, h *harness, name string) {
	t.Helper()
	for _, e := range h.eventList() {
		if strings.HasPrefix(e, "Normal Created") || strings.HasPrefix(e, "Normal Started") || strings.HasPrefix(e, "Warning Failed") {
			t.Errorf("event %q after the pod was deleted during setup; events %q", e, h.eventList())
		}
	}
	if len(h.w.insts) != 0 {
		t.Errorf("%d instances left", len(h.w.insts))
	}
	for _, p := range h.history() {
		if cs := ctrStatus(p, name); cs.State.Running != nil || cs.ContainerID != "" {
			t.Errorf("container reported started: %s", describe(p))
		}
	}
	p := h.w.Pod()
	if p.DeletionTimestamp == nil {
		t.Errorf("no deletionTimestamp: %s", describe(p))
	}
}

func TestWorkerTerminateDuringImagePull(t *testing.T) {
	t.Parallel()
	h := newHarness(t, loadPod(t, "graceful"))
	res := newGateResolver()
	t.Cleanup(func() { close(res.gate) })
	h.cfg.Images = res
	h.run()
	select {
	case <-res.entered:
	case <-time.After(waitLimit):
		t.Fatalf("the image was never resolved; status: %s", describe(h.w.Pod()))
	}
	h.w.Terminate(-1)
	// The worker ends without the resolver being let go: its context is
	// cancelled (waitDone is a hang guard; without the cancellation the
	// worker waits on the resolver until then).
	h.waitDone()
	if h.runErr != nil {
		t.Fatalf("Run: %v", h.runErr)
	}
	select {
	case err := <-res.ctxErr:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("resolver's context error %v, want context.Canceled", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("the resolver never returned")
	}
	checkNothingStarted(t, h, "graceful")
	if !terminal(h.w.Pod()) {
		t.Errorf("pod not terminal: %s", describe(h.w.Pod()))
	}
}

func TestWorkerTerminateDuringCompile(t *testing.T) {
	t.Parallel()
	h := newHarness(t, loadPod(t, "graceful"))
	eng := &gateEngine{Engine: h.cfg.Engine.(*wazero.Engine), entered: make(chan struct{}), gate: make(chan struct{}),
		returned: make(chan struct{})}
	h.cfg.Engine = eng
	opened := false
	t.Cleanup(func() {
		if !opened {
			close(eng.gate)
		}
	})
	h.run()
	select {
	case <-eng.entered:
	case <-time.After(waitLimit):
		t.Fatalf("the module was never compiled; status: %s\nevents: %q", describe(h.w.Pod()), h.eventList())
	}
	h.w.Terminate(-1)
	h.waitDone() // while the compilation still blocks
	if h.runErr != nil {
		t.Fatalf("Run: %v", h.runErr)
	}
	if n := eng.compiling.Load(); n != 1 {
		t.Errorf("%d compilations in progress after Run returned, want the one left to finish", n)
	}
	// The compilation left behind ends with its compile, into the
	// engine's cache; nothing is started with it.
	opened = true
	close(eng.gate)
	select {
	case <-eng.returned:
	case <-time.After(waitLimit):
		t.Fatal("the compilation never returned")
	}
	if n := eng.compiling.Load(); n != 0 {
		t.Errorf("%d compilations in progress", n)
	}
	if n := eng.starts.Load(); n != 0 {
		t.Errorf("engine Start called %d times", n)
	}
	checkNothingStarted(t, h, "graceful")
}
