package wasisock

import (
	"errors"
	"net/netip"
	"syscall"

	"github.com/wasmpod/wasmpod/network"
	"github.com/wasmpod/wasmpod/runtime/wasi"
)

// sockFile is a network.Socket as a WASI fd table entry: fd_read, fd_write,
// fd_close, fd_fdstat_get, poll_oneoff and the standard sock_accept,
// sock_recv, sock_send and sock_shutdown of the WASI layer work on it.
type sockFile struct {
	s      network.Socket
	family uint16 // afInet or afInet6
	typ    network.SockType
}

var _ wasi.Socket = (*sockFile)(nil)

func (f *sockFile) Filetype() wasi.Filetype {
	if f.typ == network.Datagram {
		return wasi.FiletypeSocketDgram
	}
	return wasi.FiletypeSocketStream
}

func (f *sockFile) Read(p []byte) (int, error) {
	if f.typ == network.Datagram {
		n, _, err := f.s.RecvFrom(p, false)
		return n, err
	}
	return f.s.Read(p)
}

func (f *sockFile) Write(p []byte) (int, error) { return f.s.Write(p) }

func (f *sockFile) Poll() (wasi.Events, <-chan struct{}) {
	ev, ch := f.s.Poll()
	return wasi.Events(ev), ch
}

func (f *sockFile) Close() error { return f.s.Close() }

func (f *sockFile) Recv(p []byte, peek bool) (int, error) {
	if peek || f.typ == network.Datagram {
		n, _, err := f.s.RecvFrom(p, peek)
		return n, err
	}
	return f.s.Read(p)
}

func (f *sockFile) Send(p []byte) (int, error) { return f.s.Write(p) }

func (f *sockFile) Shutdown(read, write bool) error { return f.s.Shutdown(read, write) }

func (f *sockFile) Accept() (wasi.Socket, error) {
	ns, err := f.s.Accept()
	if err != nil {
		return nil, err
	}
	return &sockFile{s: ns, family: f.family, typ: f.typ}, nil
}

// unspecified is the address reported for an unbound socket.
func (f *sockFile) unspecified() netip.AddrPort {
	if f.family == afInet6 {
		return netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
	}
	return netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
}

func isAgain(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, wasi.EAGAIN)
}

// sockOf returns the socket at fd: EBADF if there is no such fd, ENOTSOCK
// if it is not a socket of this extension.
func sockOf(c *wasi.Call, fd int32) (*sockFile, wasi.Errno) {
	f, e := c.Sys.FD(fd)
	if e != 0 {
		return nil, e
	}
	sf, ok := f.(*sockFile)
	if !ok {
		return nil, wasi.ENOTSOCK
	}
	return sf, 0
}

// blocking runs op until it does not fail with EAGAIN. On a non-blocking
// fd it returns op's result at once. Otherwise it waits for the socket's
// next state change (taken before op, so no wake-up is lost) or the kill of
// the instance (EINTR), never spinning.
func blocking(c *wasi.Call, fd int32, f *sockFile, op func() error) wasi.Errno {
	nonblock := c.Sys.Nonblocking(fd)
	for {
		_, ch := f.s.Poll()
		err := op()
		if !isAgain(err) || nonblock {
			return wasi.ErrnoOf(err)
		}
		if e := c.Sys.Wait(ch, noDeadline); e != 0 {
			return e
		}
	}
}
