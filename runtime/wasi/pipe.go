package wasi

import (
	"io"
	"sync"
)

// pipeBuffer bounds the bytes a Pipe holds; the host writer blocks beyond.
const pipeBuffer = 64 << 10

// Pipe is an in-process pipe whose read end is a guest fd (stdin) and whose
// write end is the host's: HostWrite blocks while the buffer is full,
// CloseWrite makes the guest read EOF (the TERM mechanism). Closing the
// guest side (Close) makes HostWrite fail with io.ErrClosedPipe.
type Pipe struct {
	mu          sync.Mutex
	buf         []byte
	writeClosed bool
	readClosed  bool
	changed     chan struct{}
}

// NewPipe returns an empty open Pipe.
func NewPipe() *Pipe { return &Pipe{changed: make(chan struct{})} }

func (p *Pipe) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// HostWrite appends b, blocking while the buffer is full. It fails with
// io.ErrClosedPipe once either end is closed.
func (p *Pipe) HostWrite(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		p.mu.Lock()
		if p.readClosed || p.writeClosed {
			p.mu.Unlock()
			return n, io.ErrClosedPipe
		}
		room := pipeBuffer - len(p.buf)
		if room <= 0 {
			ch := p.changed
			p.mu.Unlock()
			<-ch
			continue
		}
		k := min(room, len(b))
		p.buf = append(p.buf, b[:k]...)
		b = b[k:]
		n += k
		p.notify()
		p.mu.Unlock()
	}
	return n, nil
}

// CloseWrite closes the host's end: the guest reads the rest, then EOF.
// Idempotent.
func (p *Pipe) CloseWrite() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.writeClosed {
		p.writeClosed = true
		p.notify()
	}
}

// Filetype implements File: UNKNOWN, what wasmtime reports for stdio that
// is not a terminal. A character device would make wasi-libc's isatty()
// and Rust's IsTerminal say a pod's stdio is a terminal (colour codes in
// its logs); a container's stdio is a pipe, as upstream without tty.
func (p *Pipe) Filetype() Filetype { return FiletypeUnknown }

// Read implements File: EAGAIN when empty and open, (0, nil) at EOF.
func (p *Pipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.readClosed {
		return 0, EBADF
	}
	if len(p.buf) == 0 {
		if p.writeClosed {
			return 0, nil
		}
		if len(b) == 0 {
			return 0, nil
		}
		return 0, EAGAIN
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	if len(p.buf) == 0 {
		p.buf = nil
	}
	p.notify()
	return n, nil
}

// Write implements File: the guest cannot write its stdin.
func (p *Pipe) Write([]byte) (int, error) { return 0, EBADF }

// Poll implements File.
func (p *Pipe) Poll() (Events, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ev Events
	if len(p.buf) > 0 || p.writeClosed {
		ev |= Readable
	}
	if p.writeClosed {
		ev |= Hangup
	}
	return ev, p.changed
}

// Close implements File (the guest's end).
func (p *Pipe) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.readClosed {
		p.readClosed = true
		p.buf = nil
		p.notify()
	}
	return nil
}

// writerFile is stdout or stderr: writes go to w (nil discards); always
// writable.
type writerFile struct {
	mu sync.Mutex
	w  io.Writer
}

func (f *writerFile) Filetype() Filetype              { return FiletypeUnknown }
func (f *writerFile) Read([]byte) (int, error)        { return 0, EBADF }
func (f *writerFile) Poll() (Events, <-chan struct{}) { return Writable, nil }
func (f *writerFile) Close() error                    { return nil }

func (f *writerFile) Write(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.w == nil {
		return len(b), nil
	}
	n, err := f.w.Write(b)
	if err != nil {
		return n, EIO
	}
	return n, nil
}
