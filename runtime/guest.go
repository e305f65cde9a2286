package runtime

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/wasmpod/wasmpod/runtime/wasi"
)

// Guest is the engine-neutral half of a running instance, which an
// engine's instance embeds: its WASI system and stdin pipe, its CPU meter,
// the ctx its guest runs in (cancelled when it ends), and the bookkeeping
// of Kill, the exit status and Done. The engine supplies how to stop its
// running guest code (Kill's stop) and how its guest ended (Finish).
type Guest struct {
	name   string
	cpu    *CPUMeter
	sys    *wasi.System
	stdin  *wasi.Pipe
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	exited bool
	killed bool
	status ExitStatus
}

// NewGuest returns the Guest of an instance named name running with sys
// (stdin its stdin pipe), metered by cpu (nil: a meter of its own, with no
// limit). Its Context is ctx's child holding sys (wasi.WithSystem).
func NewGuest(ctx context.Context, name string, cpu *CPUMeter, sys *wasi.System, stdin *wasi.Pipe) *Guest {
	if cpu == nil {
		cpu = NewCPUMeter(name, 0)
	}
	runCtx, cancel := context.WithCancel(ctx)
	return &Guest{
		name:   name,
		cpu:    cpu,
		sys:    sys,
		stdin:  stdin,
		ctx:    wasi.WithSystem(runCtx, sys),
		cancel: cancel,
		done:   make(chan struct{}),
	}
}

// Context is the guest's ctx: it holds its wasi.System and is cancelled
// when the guest ends or is killed (or ctx of NewGuest is).
func (g *Guest) Context() context.Context { return g.ctx }

// Cancel cancels Context.
func (g *Guest) Cancel() { g.cancel() }

// Name is the instance's name (diagnostics).
func (g *Guest) Name() string { return g.name }

// CPU is the guest's meter.
func (g *Guest) CPU() *CPUMeter { return g.cpu }

// System is the guest's WASI system.
func (g *Guest) System() *wasi.System { return g.sys }

// Done implements Instance.
func (g *Guest) Done() <-chan struct{} { return g.done }

// SetDone closes Done: the guest has ended (or failed to start) and its
// resources are freed.
func (g *Guest) SetDone() { close(g.done) }

// Status implements Instance.
func (g *Guest) Status() ExitStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.status
}

// Terminate implements Instance: it closes the guest's stdin.
func (g *Guest) Terminate() { g.stdin.CloseWrite() }

// CPUUsage implements CPUReporter.
func (g *Guest) CPUUsage() time.Duration { return g.cpu.Usage() }

// Killed reports whether the guest was killed.
func (g *Guest) Killed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.killed
}

// Kill marks the guest killed (unless it already exited or was killed:
// then it does nothing), runs stop (the engine stops its running code; the
// guest cannot finish meanwhile), then kills its wasi.System (blocked calls
// wake, and every later WASI call unwinds the guest before it acts), closes
// its stdin and cancels its Context.
func (g *Guest) Kill(stop func()) {
	g.mu.Lock()
	if g.exited || g.killed {
		g.mu.Unlock()
		return
	}
	g.killed = true
	stop()
	g.mu.Unlock()
	g.sys.Kill()
	g.Terminate()
	g.cancel()
}

// Finish records how the guest ended: killed (137) if it was, else st,
// which is OOMKilled (137) instead when it exited non-zero after mem
// refused a growth.
func (g *Guest) Finish(st ExitStatus, mem *MemoryAccount) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.exited = true
	if g.killed {
		st = ExitStatus{ExitCode: 137, Killed: true, Message: "killed"}
	}
	g.status = mem.Status(st)
}

// CopyStdin copies r into the guest's stdin in the background, then
// closes it.
func (g *Guest) CopyStdin(r io.Reader) {
	go func() {
		_, _ = io.Copy(pipeWriter{g.stdin}, r)
		g.Terminate()
	}()
}

// Cleanup frees what the guest holds once it ended: its Context, its
// wasi.System (killed, then closed) and its stdin.
func (g *Guest) Cleanup() {
	g.cancel()
	g.sys.Kill()
	g.Terminate()
	_ = g.sys.Close()
}

// pipeWriter writes into a guest's stdin pipe.
type pipeWriter struct{ p *wasi.Pipe }

func (w pipeWriter) Write(b []byte) (int, error) { return w.p.HostWrite(b) }
