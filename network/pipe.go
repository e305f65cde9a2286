package network

import (
	"sync"
	"sync/atomic"
	"syscall"
)

// minPipeChunk is the buffer every stream direction may hold whatever its
// pod's socket buffer budget (as the kernel guarantees each socket a
// minimum buffer): a connection always makes progress once its peer reads.
const minPipeChunk = 4 << 10

// bufAcct is a pod's socket buffer budget: the bytes of stream buffers
// (beyond each direction's minPipeChunk) and of queued datagrams its
// sockets hold, also taken from parent (the pod's memory budget) when set.
// A nil *bufAcct has no limit.
type bufAcct struct {
	limit  int64 // < 0: none of its own
	used   atomic.Int64
	parent MemoryBudget
}

func newBufAcct(limit int64, parent MemoryBudget) *bufAcct {
	if limit < 0 && parent == nil {
		return nil
	}
	return &bufAcct{limit: limit, parent: parent}
}

func (a *bufAcct) acquire(n int) bool {
	if a == nil || n <= 0 {
		return true
	}
	for {
		u := a.used.Load()
		if a.limit >= 0 && u+int64(n) > a.limit {
			return false
		}
		if a.used.CompareAndSwap(u, u+int64(n)) {
			break
		}
	}
	if a.parent != nil && !a.parent.Acquire(int64(n)) {
		a.used.Add(-int64(n))
		return false
	}
	return true
}

func (a *bufAcct) release(n int) {
	if a != nil && n > 0 {
		a.used.Add(-int64(n))
		if a.parent != nil {
			a.parent.Release(int64(n))
		}
	}
}

// available reports whether some bytes may be left (without asking the
// parent, which a write then may).
func (a *bufAcct) available() int64 {
	if a == nil || a.limit < 0 {
		return 1 << 62
	}
	return a.limit - a.used.Load()
}

// pipe is one direction of a stream connection: a bounded ring buffer.
// Its lock is a leaf: no other lock is taken while it is held (except the
// notifiers' leaf locks). The buffer grows on demand, doubling from
// minPipeChunk up to size, and what it holds beyond minPipeChunk is charged
// to acct; when acct refuses, the writer sees a smaller window (EAGAIN until
// the reader drains it) instead of the host allocating more.
type pipe struct {
	mu      sync.Mutex
	buf     []byte
	r, n    int
	size    int
	acct    *bufAcct
	charged int  // bytes of buf charged to acct
	refused bool // the last growth was refused: not writable until a read
	wclosed bool // the writer shut down: EOF once drained
	rclosed bool // the reader is gone: writes fail with EPIPE
	reset   bool // connection reset: both ends see ECONNRESET
	rd, wr  *notifier
}

func newPipe(size int, acct *bufAcct) *pipe { return &pipe{size: size, acct: acct} }

// grow enlarges buf (p.mu held) towards holding need more bytes than it has
// free, as far as acct allows; it never shrinks it.
func (p *pipe) grow(need int) {
	cur := len(p.buf)
	if cur >= p.size {
		return
	}
	newCap := min(max(2*cur, cur+need, minPipeChunk), p.size)
	for {
		extra := max(newCap-minPipeChunk, 0) - p.charged
		if p.acct.acquire(extra) {
			p.charged += max(extra, 0)
			break
		}
		// refused: try half the growth, down to 1 KiB
		if newCap-cur < 2<<10 {
			p.refused = true
			return
		}
		newCap = cur + (newCap-cur)/2
	}
	nb := make([]byte, newCap)
	if p.n > 0 {
		c := copy(nb, p.buf[p.r:min(p.r+p.n, cur)])
		copy(nb[c:p.n], p.buf)
	}
	p.buf, p.r = nb, 0
	p.refused = false
}

// free drops the buffer and its charge (p.mu held).
func (p *pipe) free() {
	p.n, p.r = 0, 0
	p.buf = nil
	p.acct.release(p.charged)
	p.charged = 0
}

// writable reports (p.mu held) whether a write could take a byte now.
func (p *pipe) writable() bool {
	if p.n < len(p.buf) {
		return true
	}
	if len(p.buf) >= p.size {
		return false
	}
	return len(p.buf) < minPipeChunk || !p.refused && p.acct.available() > 0
}

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
	if free := len(p.buf) - p.n; len(b) > free {
		p.grow(len(b) - free)
	}
	size := len(p.buf)
	free := size - p.n
	if free == 0 {
		p.mu.Unlock()
		return 0, syscall.EAGAIN
	}
	if len(b) > free {
		b = b[:free]
	}
	w := (p.r + p.n) % size
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
	size := len(p.buf)
	m := min(len(b), p.n)
	c := copy(b[:m], p.buf[p.r:min(p.r+m, size)])
	if c < m {
		c += copy(b[c:m], p.buf)
	}
	if peek {
		p.mu.Unlock()
		return c, nil
	}
	p.r = (p.r + c) % size
	p.n -= c
	p.refused = false
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
	p.free()
	rd, wr := p.rd, p.wr
	p.mu.Unlock()
	rd.wake()
	wr.wake()
	return lost
}

func (p *pipe) doReset() {
	p.mu.Lock()
	p.reset = true
	p.free()
	rd, wr := p.rd, p.wr
	p.mu.Unlock()
	rd.wake()
	wr.wake()
}

type pipeState struct {
	n                       int
	writable                bool
	wclosed, rclosed, reset bool
}

func (p *pipe) state() pipeState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return pipeState{p.n, p.writable(), p.wclosed, p.rclosed, p.reset}
}
