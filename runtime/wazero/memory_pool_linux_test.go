package wazero

import (
	"context"
	"testing"

	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
)

// scanFillModule is a WASI command that grows its memory to pages pages,
// exits 1 (proc_exit) if any byte of it above its data segment (the first
// 1 KiB) is not zero, else fills those bytes with 0x5a and ends: by
// proc_exit(0) if procExit, else by returning from _start.
func scanFillModule(pages int, procExit bool) []byte {
	sec := func(id byte, body ...[]byte) []byte {
		var b []byte
		for _, p := range body {
			b = append(b, p...)
		}
		return append(append([]byte{id}, uleb(uint64(len(b)))...), b...)
	}
	str := func(s string) []byte { return append(uleb(uint64(len(s))), s...) }
	code := append([]byte{0x41}, sleb(int64(pages-1))...)
	code = append(code,
		0x40, 0x00, 0x1a, // memory.grow 0; drop
		0x3f, 0x00, 0x41, 16, 0x74, 0x21, 1, // end = memory.size << 16
		0x41, 0x80, 0x08, 0x21, 0, // addr = 1024
		0x02, 0x40, 0x03, 0x40, // block loop
		0x20, 0, 0x20, 1, 0x4f, 0x0d, 1, // br_if out (addr >= end)
		0x20, 0, 0x29, 3, 0, 0x42, 0, 0x52, // i64.load addr != 0
		0x04, 0x40, 0x41, 1, 0x10, 0, 0x0b, // if: proc_exit(1)
		0x20, 0, 0x41, 8, 0x6a, 0x21, 0, // addr += 8
		0x0c, 0, 0x0b, 0x0b, // br loop; end; end
		0x41, 0x80, 0x08, 0x41, 0xda, 0x00, 0x20, 1, 0x41, 0x80, 0x08, 0x6b, // 1024, 0x5a, end-1024
		0xfc, 0x0b, 0x00, // memory.fill
	)
	if procExit {
		code = append(code, 0x41, 0, 0x10, 0) // proc_exit(0)
	}
	code = append(code, 0x0b)
	body := append([]byte{1, 2, 0x7f}, code...) // two i32 locals
	data := "wasmpod data segment"
	var m []byte
	for _, part := range [][]byte{
		{0, 'a', 's', 'm', 1, 0, 0, 0},
		sec(1, []byte{2, 0x60, 1, 0x7f, 0, 0x60, 0, 0}),
		sec(2, []byte{1}, str("wasi_snapshot_preview1"), str("proc_exit"), []byte{0, 0}),
		sec(3, []byte{1, 1}),
		sec(5, []byte{1, 0, 1}),
		sec(7, []byte{2}, str("_start"), []byte{0, 1}, str("memory"), []byte{2, 0}),
		sec(10, []byte{1}, uleb(uint64(len(body))), body),
		sec(11, []byte{1, 0, 0x41, 0, 0x0b}, str(data)),
	} {
		m = append(m, part...)
	}
	return m
}

func sleb(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// TestPooledMemoryIsZeroed: an instance's memory comes from the pool of
// ended instances' reservations (the test checks it was reused), yet never
// holds what an earlier instance wrote: each instance checks that its memory
// above its data segment is all zeros, then fills it with a pattern. Both
// ends are covered (proc_exit, whose Free comes while _start runs, and a
// return from _start), a memory larger than what a pooled reservation keeps
// (the rest dropped), and a smaller one after it.
func TestPooledMemoryIsZeroed(t *testing.T) {
	eng := newTestEngine(t, Config{})
	mods := map[string]runtime.CompiledModule{}
	for name, wasm := range map[string][]byte{
		"exit-1MiB":    scanFillModule(16, true),
		"return-1MiB":  scanFillModule(16, false),
		"exit-20MiB":   scanFillModule(320, true),
		"return-20MiB": scanFillModule(320, false),
	} {
		m, err := eng.Compile(context.Background(), enginetest.Digest(wasm), wasm)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		mods[name] = m
	}
	for i, name := range []string{"exit-1MiB", "exit-1MiB", "return-1MiB", "exit-1MiB", "exit-20MiB", "return-1MiB", "return-20MiB", "exit-20MiB", "exit-1MiB", "return-1MiB"} {
		in, err := eng.Start(context.Background(), mods[name], runtime.ContainerConfig{Name: name, MemoryLimitBytes: 64 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if st := waitDone(t, in); st.ExitCode != 0 {
			t.Fatalf("run %d (%s): %+v: it saw a non-zero byte in its fresh memory", i, name, st)
		}
		p := eng.memPool
		p.mu.Lock()
		pooled, resident := len(p.free), p.resident
		p.mu.Unlock()
		if pooled != 1 || resident == 0 || resident > poolKeep {
			t.Fatalf("after run %d (%s): %d reservations pooled keeping %d bytes, want the one reused, keeping 0 < bytes <= %d", i, name, pooled, resident, poolKeep)
		}
	}
}
