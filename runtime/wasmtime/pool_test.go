//go:build wasmtime && cgo

package wasmtime

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	wt "github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmpod/wasmpod/runtime"
)

// poolGuest is a module whose memory (min pages) holds one data segment of
// n bytes 1, 2, 3, ... at offset lo. Its _start first checks (when check)
// that its whole memory, and grow pages more, hold exactly that and zeros
// (else it traps), then (when dirty) grows by grow pages and writes 0xAB
// over all of its memory.
func poolGuest(t *testing.T, min, lo, n, grow int, check, dirty bool) []byte {
	t.Helper()
	var data strings.Builder
	for i := range n {
		fmt.Fprintf(&data, "\\%02x", (i+1)&0xff)
	}
	var body strings.Builder
	if check {
		body.WriteString(`(call $check) (drop (memory.grow (i32.const ` + fmt.Sprint(grow) + `))) (call $check)`)
	}
	if dirty {
		body.WriteString(`(drop (memory.grow (i32.const ` + fmt.Sprint(grow) + `)))
			(memory.fill (i32.const 0) (i32.const 0xab) (i32.mul (memory.size) (i32.const 65536)))`)
	}
	wat := fmt.Sprintf(`(module
		(memory (export "memory") %d)
		(data (i32.const %d) "%s")
		(func $check (local $i i32) (local $want i32) (local $end i32)
			(local.set $end (i32.mul (memory.size) (i32.const 65536)))
			(block $done (loop $next
				(br_if $done (i32.ge_u (local.get $i) (local.get $end)))
				(local.set $want (i32.const 0))
				(if (i32.and (i32.ge_u (local.get $i) (i32.const %d)) (i32.lt_u (local.get $i) (i32.const %d)))
					(then (local.set $want (i32.and (i32.add (i32.sub (local.get $i) (i32.const %d)) (i32.const 1)) (i32.const 255)))))
				(if (i32.ne (i32.load8_u (local.get $i)) (local.get $want)) (then unreachable))
				(local.set $i (i32.add (local.get $i) (i32.const 1)))
				(br $next))))
		(func (export "_start") %s))`, min, lo, data.String(), lo, lo+n, lo, body.String())
	wasm, err := wt.Wat2Wasm(wat)
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}

func runPooled(t *testing.T, e *Engine, wasm []byte) runtime.ExitStatus {
	t.Helper()
	mod, err := e.Compile(context.Background(), digestOf(wasm), wasm)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := e.Start(context.Background(), mod, runtime.ContainerConfig{Name: "t/pool", MemoryLimitBytes: 128 << 20})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-inst.Done():
	case <-time.After(time.Minute):
		t.Fatal("the guest did not exit")
	}
	return inst.Status()
}

// TestMemoryPoolReset: a memory reused from the pool holds what a new one
// would: the module's image and zeros, also in pages it grows into, after
// a guest wrote 0xAB over every page of it, its image included. Reused by
// the same module, by one with a shorter image at another offset, by one
// with none, and by one with a larger initial memory.
func TestMemoryPoolReset(t *testing.T) {
	e, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	// The image spans two wasm pages and ends inside the second.
	same := poolGuest(t, 3, 60000, 10000, 4, true, true)
	for i := range 4 {
		if st := runPooled(t, e, same); st.ExitCode != 0 {
			t.Fatalf("run %d of the same module: %+v (its memory was not reset)", i, st)
		}
		if e.pool.len() != 1 {
			t.Fatalf("run %d: %d memories pooled, want 1", i, e.pool.len())
		}
	}
	for _, c := range []struct {
		name string
		wasm []byte
	}{
		{"a shorter image", poolGuest(t, 2, 100, 7, 3, true, false)},
		{"no image", poolGuest(t, 1, 0, 0, 2, true, false)},
		{"a larger memory", poolGuest(t, 9, 65536*8, 100, 1, true, false)},
	} {
		if st := runPooled(t, e, same); st.ExitCode != 0 {
			t.Fatalf("before %s: %+v", c.name, st)
		}
		if st := runPooled(t, e, c.wasm); st.ExitCode != 0 {
			t.Errorf("%s after a dirty guest: %+v", c.name, st)
		}
	}
	e.pool.trim()
	if n := e.pool.len(); n != 0 {
		t.Errorf("%d memories pooled after trim", n)
	}
	if st := runPooled(t, e, same); st.ExitCode != 0 {
		t.Errorf("after trim: %+v", st)
	}
}

// TestMemoryPoolBounds: at most 16 memories are pooled however many
// instances end together, with at most 64 MiB of resident pages; none
// larger than 64 MiB; Close empties it.
func TestMemoryPoolBounds(t *testing.T) {
	e, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	small := poolGuest(t, 1, 0, 0, 1, false, true)
	mod, err := e.Compile(context.Background(), digestOf(small), small)
	if err != nil {
		t.Fatal(err)
	}
	runAll(t, e, mod, 40, "t/bounds")
	// As many memories as were live at once are freed, at most 16 kept.
	// The 40 start together, but the first can end (and its memory be
	// reused) before the last starts: fewer than 16 may have been live
	// (14, once in 40 runs), so only the bound is exact.
	if n := e.pool.len(); n < 1 || n > 16 {
		t.Errorf("%d memories pooled after 40 instances, want 1 to 16", n)
	}
	e.pool.trim()
	// 16 memories of 5 MiB, every page written: 80 MiB.
	mod5, err := e.Compile(context.Background(), digestOf(poolGuest(t, 1, 0, 0, 79, false, true)), poolGuest(t, 1, 0, 0, 79, false, true))
	if err != nil {
		t.Fatal(err)
	}
	runAll(t, e, mod5, 16, "t/bounds5")
	if n, b := e.pool.len(), e.pool.bytes(); n == 0 || n > 12 || b > 64<<20 {
		t.Errorf("%d memories of 5 MiB pooled, %d bytes resident; want 1 to 12, at most 64 MiB", n, b)
	}
	e.pool.trim()
	// 1 page, grown by 1100: 68.8 MiB, past the 64 MiB a pooled memory may have.
	if st := runPooled(t, e, poolGuest(t, 1, 0, 0, 1100, false, true)); st.ExitCode != 0 {
		t.Fatalf("the large guest: %+v", st)
	}
	if n := e.pool.len(); n != 0 {
		t.Errorf("a 68.8 MiB memory was pooled (%d)", n)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := e.pool.len(); n != 0 {
		t.Errorf("%d memories pooled after Close", n)
	}
}

// TestMemoryPoolIdleTrim: once no instance has run for the idle period,
// the pool is unmapped; an instance after it starts on a new memory.
func TestMemoryPoolIdleTrim(t *testing.T) {
	defer func(d time.Duration) { poolIdle = d }(poolIdle)
	poolIdle = 100 * time.Millisecond
	e, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	wasm := poolGuest(t, 2, 100, 50, 1, true, true)
	if st := runPooled(t, e, wasm); st.ExitCode != 0 {
		t.Fatalf("status %+v", st)
	}
	deadline := time.Now().Add(time.Minute)
	for e.pool.len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d memories still pooled a minute after the last instance", e.pool.len())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := runPooled(t, e, wasm); st.ExitCode != 0 {
		t.Fatalf("after the trim: %+v", st)
	}
}

// runAll starts n instances of mod at once and waits for each to exit 0.
func runAll(t *testing.T, e *Engine, mod runtime.CompiledModule, n int, name string) {
	t.Helper()
	var insts []runtime.Instance
	for range n {
		inst, err := e.Start(context.Background(), mod, runtime.ContainerConfig{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		insts = append(insts, inst)
	}
	for _, in := range insts {
		<-in.Done()
		if st := in.Status(); st.ExitCode != 0 {
			t.Fatalf("status %+v", st)
		}
	}
}
