package network

import (
	"sync"
	"syscall"
)

// pipe is one direction of a stream connection: a bounded ring buffer.
// Its lock is a leaf: no other lock is taken while it is held (except the
// notifiers' leaf locks).
type pipe struct {
	mu      sync.Mutex
	buf     []byte
	r, n    int
	size    int
	wclosed bool // the writer shut down: EOF once drained
	rclosed bool // the reader is gone: writes fail with EPIPE
	reset   bool // connection reset: both ends see ECONNRESET
	rd, wr  *notifier
}

func newPipe(size int) *pipe { return &pipe{size: size} }

// write copies as much of p as fits.
func (p *pipe) write(b []byte) (int, error) {
	p.mu.Lock()
	if p.reset {
		p.mu.Unlock()
		return 0, syscall.ECONNRESET
	}
	if p.wclosed || p.rclosed {
		p.mu.Unlock()
		return 0, syscall.EPIPE
	}
	if p.buf == nil {
		p.buf = make([]byte, p.size)
	}
	free := p.size - p.n
	if free == 0 {
		p.mu.Unlock()
		return 0, syscall.EAGAIN
	}
	if len(b) > free {
		b = b[:free]
	}
	w := (p.r + p.n) % p.size
	c := copy(p.buf[w:], b)
	if c < len(b) {
		c += copy(p.buf, b[c:])
	}
	p.n += c
	rd := p.rd
	p.mu.Unlock()
	rd.wake()
	return c, nil
}

// read copies buffered bytes into b; (0, nil) at EOF.
func (p *pipe) read(b []byte, peek bool) (int, error) {
	p.mu.Lock()
	if p.reset {
		p.mu.Unlock()
		return 0, syscall.ECONNRESET
	}
	if p.n == 0 {
		eof := p.wclosed || p.rclosed
		p.mu.Unlock()
		if eof {
			return 0, nil
		}
		if len(b) == 0 {
			return 0, nil
		}
		return 0, syscall.EAGAIN
	}
	m := min(len(b), p.n)
	c := copy(b[:m], p.buf[p.r:min(p.r+m, p.size)])
	if c < m {
		c += copy(b[c:m], p.buf)
	}
	if peek {
		p.mu.Unlock()
		return c, nil
	}
	p.r = (p.r + c) % p.size
	p.n -= c
	if p.n == 0 {
		p.r = 0
	}
	wr := p.wr
	p.mu.Unlock()
	wr.wake()
	return c, nil
}

func (p *pipe) closeWrite() {
	p.mu.Lock()
	p.wclosed = true
	rd, wr := p.rd, p.wr
	p.mu.Unlock()
	rd.wake()
	wr.wake()
}

// closeRead drops buffered data; later writes fail with EPIPE. It reports
// whether unread data was discarded.
func (p *pipe) closeRead() bool {
	p.mu.Lock()
	lost := p.n > 0
	p.rclosed = true
	p.n, p.r = 0, 0
	p.buf = nil
	rd, wr := p.rd, p.wr
	p.mu.Unlock()
	rd.wake()
	wr.wake()
	return lost
}

func (p *pipe) doReset() {
	p.mu.Lock()
	p.reset = true
	p.n, p.r = 0, 0
	p.buf = nil
	rd, wr := p.rd, p.wr
	p.mu.Unlock()
	rd.wake()
	wr.wake()
}

type pipeState struct {
	n                       int
	size                    int
	wclosed, rclosed, reset bool
}

func (p *pipe) state() pipeState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return pipeState{p.n, p.size, p.wclosed, p.rclosed, p.reset}
}
