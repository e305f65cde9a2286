package wazero

import (
	"context"
	"fmt"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/proctest"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
)

func buildHostile(tb testing.TB) []byte {
	tb.Helper()
	return testwasm.Build(tb, testwasm.GuestDir(tb, "hostile"))
}

func compileHostile(tb testing.TB, eng *Engine) runtime.CompiledModule {
	tb.Helper()
	wasm := buildHostile(tb)
	mod, err := eng.Compile(context.Background(), enginetest.Digest(wasm), wasm)
	if err != nil {
		tb.Fatal(err)
	}
	return mod
}

func newTestEngine(tb testing.TB, cfg Config) *Engine {
	tb.Helper()
	cfg.CacheDir = testwasm.CompileCacheDir()
	eng, err := New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = eng.Close(context.Background()) })
	return eng
}

// waitLine waits until the guest's output contains want; it fails if the
// guest ends first.
func waitLine(tb testing.TB, in runtime.Instance, out, errOut *enginetest.Buffer, want string) {
	tb.Helper()
	deadline := time.After(2 * time.Minute)
	for !strings.Contains(out.String(), want) {
		select {
		case <-in.Done():
			if !strings.Contains(out.String(), want) {
				tb.Fatalf("guest ended (%+v) before printing %q; stdout %q stderr %q", in.Status(), want, out.String(), errOut.String())
			}
		case <-deadline:
			in.Kill()
			tb.Fatalf("guest did not print %q; stdout %q", want, out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func waitDone(tb testing.TB, in runtime.Instance) runtime.ExitStatus {
	tb.Helper()
	select {
	case <-in.Done():
		return in.Status()
	case <-time.After(2 * time.Minute):
		in.Kill()
		tb.Fatal("guest did not end")
	}
	return runtime.ExitStatus{}
}

// settle collects garbage and returns freed heap to the OS, so that RSS
// measures what is live.
func settle() {
	goruntime.GC()
	debug.FreeOSMemory()
}

// growGuest starts the hostile guest growing by mib MiB and waits until it
// has; it returns the instance (holding its memory until Terminate).
func growGuest(tb testing.TB, eng *Engine, mod runtime.CompiledModule, mib int, cfg runtime.ContainerConfig) (runtime.Instance, *enginetest.Buffer, *enginetest.Buffer) {
	tb.Helper()
	out, errOut := enginetest.NewBuffer(), enginetest.NewBuffer()
	cfg.Name = "memgrow"
	cfg.Args = []string{"hostile", "memgrow", strconv.Itoa(mib)}
	cfg.Stdout, cfg.Stderr = out, errOut
	in, err := eng.Start(context.Background(), mod, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	waitLine(tb, in, out, errOut, fmt.Sprintf("memgrow: ok %d", mib))
	return in, out, errOut
}

// TestMemoryGrowsInPlaceAndIsReleased: the host holds a guest's linear
// memory plus a small overhead while it runs (growth does not copy), and
// gives it back to the OS as soon as the instance ends. With the old
// allocator (a []byte grown by copying) the host held the copies and kept
// the memory in the Go heap after the end.
func TestMemoryGrowsInPlaceAndIsReleased(t *testing.T) {
	eng := newTestEngine(t, Config{})
	mod := compileHostile(t, eng)
	const mib = 256
	settle()
	base := proctest.RSS(t)
	in, _, _ := growGuest(t, eng, mod, mib, runtime.ContainerConfig{MemoryLimitBytes: 1 << 30})
	guest := in.(*instance).alloc.bytes()
	settle()
	during := proctest.RSS(t) - base
	if guest < mib<<20 {
		t.Fatalf("guest memory %d bytes, want at least %d MiB", guest, mib)
	}
	if limit := guest + guest/10 + 16<<20; during > limit {
		t.Errorf("host RSS grew by %d MiB for %d MiB of guest memory, want at most %d MiB", during>>20, guest>>20, limit>>20)
	}
	in.Terminate()
	if st := waitDone(t, in); st.ExitCode != 0 {
		t.Fatalf("memgrow: %+v", st)
	}
	after := proctest.RSS(t) - base // no GC: the pages must be gone already
	// The engine's pool keeps at most poolKeep of them for the next
	// instance (zeroed); the rest are gone.
	kept := int64(eng.memPool.residentBytes())
	if kept > poolKeep {
		t.Errorf("the memory pool keeps %d MiB of the guest's pages, want at most %d MiB", kept>>20, poolKeep>>20)
	}
	if after-kept > 16<<20 {
		t.Errorf("host RSS %d MiB above the baseline right after the guest ended (it held %d MiB, the pool keeps %d MiB), want under %d MiB", after>>20, guest>>20, kept>>20, (kept+16<<20)>>20)
	}
	t.Logf("guest %d MiB, host RSS +%d MiB while running, +%d MiB after the end (%d MiB kept by the pool)", guest>>20, during>>20, after>>20, kept>>20)
}

// TestNodeMemoryBudget: guests without a limit share the node's budget;
// growth past it fails, the guests are OOMKilled with a message naming the
// budget, and the budget is whole again when they end.
func TestNodeMemoryBudget(t *testing.T) {
	eng := newTestEngine(t, Config{})
	mod := compileHostile(t, eng)
	node := runtime.NewBudget("node-x memory", 96<<20)
	var insts []runtime.Instance
	var outs []*enginetest.Buffer
	for i := 0; i < 2; i++ {
		out := enginetest.NewBuffer()
		in, err := eng.Start(context.Background(), mod, runtime.ContainerConfig{
			Name: "memhog", Args: []string{"hostile", "memhog"}, Memory: node, Stdout: out, Stderr: out,
		})
		if err != nil {
			t.Fatal(err)
		}
		insts, outs = append(insts, in), append(outs, out)
	}
	for i, in := range insts {
		st := waitDone(t, in)
		if !st.OOMKilled || st.ExitCode != 137 || !strings.Contains(st.Message, "node-x memory exhausted") {
			t.Errorf("memhog %d: status %+v, want OOMKilled 137 naming the node budget; output tail %q", i, st, tail(outs[i].String()))
		}
	}
	if p := node.Peak(); p > 96<<20 {
		t.Errorf("budget peak %d bytes, over its limit", p)
	}
	if u := node.Used(); u != 0 {
		t.Errorf("budget still has %d bytes in use after the guests ended", u)
	}
	// A module whose initial memory does not fit is refused at Start.
	small := runtime.NewBudget("node-y memory", 64<<10)
	if _, err := eng.Start(context.Background(), mod, runtime.ContainerConfig{Name: "x", Args: []string{"hostile", "exit", "0"}, Memory: small}); err == nil || !strings.Contains(err.Error(), "node-y memory") {
		t.Errorf("Start over the node budget: err %v, want one naming the budget", err)
	}
}

func tail(s string) string {
	if len(s) > 400 {
		return s[len(s)-400:]
	}
	return s
}

// TestStartsRaceForNodeBudget: concurrent starts whose initial memories do
// not all fit in the node's budget are refused at Start (an error), never
// by the initial allocation (which wazero cannot fail: it panicked and
// took the host down when another start took the budget between Start's
// check and the allocation).
func TestStartsRaceForNodeBudget(t *testing.T) {
	eng := newTestEngine(t, Config{})
	mod := compileHostile(t, eng)
	need := int64(mod.(*compiledModule).minPages) * pageSize
	node := runtime.NewBudget("node-z memory", need*3/2)
	const starts = 32
	var wg sync.WaitGroup
	var mu sync.Mutex
	started, refused := 0, 0
	gate := make(chan struct{})
	for range starts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			in, err := eng.Start(context.Background(), mod, runtime.ContainerConfig{
				Name: "x", Args: []string{"hostile", "exit", "0"}, Memory: node,
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if !strings.Contains(err.Error(), "node-z memory") {
					t.Errorf("Start: %v, want an error naming the budget", err)
				}
				refused++
				return
			}
			started++
			waitDone(t, in)
		}()
	}
	close(gate)
	wg.Wait()
	if started == 0 {
		t.Errorf("no start of %d succeeded", starts)
	}
	if u := node.Used(); u != 0 {
		t.Errorf("budget still has %d bytes in use after the guests ended", u)
	}
	t.Logf("%d started, %d refused", started, refused)
}

// TestFailedInstantiationReleasesMemory: a module whose instantiation fails
// after its memory was allocated (here a data segment past the memory's
// end) gives the memory and its budget back; they leaked, and a container
// restarting so drained its node's budget.
func TestFailedInstantiationReleasesMemory(t *testing.T) {
	eng := newTestEngine(t, Config{})
	wasm := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00,
		1, 4, 1, 0x60, 0, 0, // type () -> ()
		3, 2, 1, 0, // func 0
		5, 3, 1, 0x00, 1, // memory of 1 page
		7, 10, 1, 6, '_', 's', 't', 'a', 'r', 't', 0, 0, // export _start
		10, 4, 1, 2, 0, 0x0b, // its body: nothing
		11, 9, 1, 0, 0x41, 0xf0, 0xa2, 0x04, 0x0b, 1, 'x', // one byte at 70000, past the memory
	}
	mod, err := eng.Compile(context.Background(), enginetest.Digest(wasm), wasm)
	if err != nil {
		t.Fatal(err)
	}
	node := runtime.NewBudget("node-w memory", 1<<20)
	for range 3 {
		in, err := eng.Start(context.Background(), mod, runtime.ContainerConfig{Name: "x", Memory: node})
		if err == nil {
			waitDone(t, in)
			t.Fatal("a module with a data segment past its memory started")
		}
		if u := node.Used(); u != 0 {
			t.Fatalf("after a failed start (%v) the budget has %d bytes in use, want 0", err, u)
		}
	}
}
