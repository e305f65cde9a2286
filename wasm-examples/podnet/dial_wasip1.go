//go:build wasip1

package podnet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// dialTCP connects a stream socket to ap: sock_open, sock_connect, then
// the fd goes to Go's poller through net.FileConn. It does for TCP what
// stealthrocket/net's DialContext does, minus the second parse of the
// address and the peer-address query (the peer is ap), which are a good
// part of a dial's cost in a guest.
func dialTCP(ctx context.Context, ap netip.AddrPort) (net.Conn, error) {
	af := int32(afInet)
	if ap.Addr().Is6() {
		af = afInet6
	}
	var fd int32
	if errno := sock_open(af, sockStream, unsafe.Pointer(&fd)); errno != 0 {
		return nil, os.NewSyscallError("socket", errno)
	}
	if err := syscall.SetNonblock(int(fd), true); err != nil {
		syscall.Close(int(fd))
		return nil, os.NewSyscallError("setnonblock", err)
	}
	ip := ap.Addr().AsSlice()
	raw := addressBuffer{buf: ptr32(unsafe.Pointer(&ip[0])), bufLen: uint32(len(ip))}
	errno := sock_connect(fd, unsafe.Pointer(&raw), uint32(ap.Port()))
	runtime.KeepAlive(ip)
	if errno != 0 && errno != syscall.EINPROGRESS {
		syscall.Close(int(fd))
		return nil, os.NewSyscallError("connect", errno)
	}
	f := os.NewFile(uintptr(fd), "")
	defer f.Close() // the conn holds its own reference to the fd
	if errno == syscall.EINPROGRESS {
		if err := waitConnected(ctx, f); err != nil {
			return nil, err
		}
	}
	c, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	// Go's wasip1 port cannot fill in a FileConn's addresses; set them in
	// the *TCPAddr values it returns.
	local, lport, errno := sockName(fd)
	if errno != 0 {
		c.Close()
		return nil, os.NewSyscallError("getsockname", errno)
	}
	if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
		a.IP, a.Port = local.AsSlice(), int(lport)
	}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		a.IP, a.Port = ap.Addr().AsSlice(), int(ap.Port())
	}
	return c, nil
}

// waitConnected waits until an in-progress connect completes (SO_ERROR),
// or ctx is done.
func waitConnected(ctx context.Context, f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok {
		f.SetWriteDeadline(d)
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { f.SetWriteDeadline(aLongTimeAgo) })
		defer stop()
	}
	var soErr error
	werr := rc.Write(func(fd uintptr) bool {
		var v int32
		if errno := sock_getsockopt(int32(fd), solSocket, soError, unsafe.Pointer(&v), 4); errno != 0 {
			soErr = errno
			return true
		}
		switch e := syscall.Errno(v); e {
		case 0:
			// No error yet: connected, or still connecting (the poller
			// may also wake spuriously).
			return peerKnown(int32(fd))
		case syscall.EISCONN:
			return true
		case syscall.EINPROGRESS, syscall.EALREADY, syscall.EINTR:
			return false // not yet: wait for writability
		default:
			soErr = e
			return true
		}
	})
	switch {
	case soErr != nil:
		return os.NewSyscallError("connect", soErr)
	case werr != nil && errors.Is(ctx.Err(), context.Canceled):
		return ctx.Err() // as net: "operation was canceled"
	case werr != nil:
		return werr // the deadline: "i/o timeout", as net's dialer says
	}
	return nil
}

// aLongTimeAgo is a deadline in the past: setting it wakes a blocked wait.
var aLongTimeAgo = time.Unix(1, 0)

// peerKnown reports whether the socket is connected (sock_getpeeraddr
// succeeds).
func peerKnown(fd int32) bool {
	var rsa rawSockaddrAny
	buf := addressBuffer{buf: ptr32(unsafe.Pointer(&rsa)), bufLen: uint32(unsafe.Sizeof(rsa))}
	var port uint32
	errno := sock_getpeeraddr(fd, unsafe.Pointer(&buf), unsafe.Pointer(&port))
	runtime.KeepAlive(&rsa)
	return errno == 0
}

// sockName is sock_getlocaladdr.
func sockName(fd int32) (netip.Addr, uint32, syscall.Errno) {
	var rsa rawSockaddrAny
	buf := addressBuffer{buf: ptr32(unsafe.Pointer(&rsa)), bufLen: uint32(unsafe.Sizeof(rsa))}
	var port uint32
	errno := sock_getlocaladdr(fd, unsafe.Pointer(&buf), unsafe.Pointer(&port))
	runtime.KeepAlive(&rsa)
	if errno != 0 {
		return netip.Addr{}, 0, errno
	}
	switch rsa.family {
	case afInet:
		return netip.AddrFrom4([4]byte(rsa.addr[:4])), port, 0
	case afInet6:
		return netip.AddrFrom16([16]byte(rsa.addr[:16])), port, 0
	}
	return netip.Addr{}, 0, syscall.EAFNOSUPPORT
}

// The WasmEdge socket ABI as docs/wasi-sockets.md describes it.

const (
	solSocket = 0
	soError   = 2
)

// addressBuffer is __wasi_address_t: a pointer and a length.
type addressBuffer struct {
	buf    uint32
	bufLen uint32
}

// rawSockaddrAny is the sockaddr_any the host writes: family, then the
// address bytes.
type rawSockaddrAny struct {
	family uint16
	addr   [126]byte
}

//go:wasmimport wasi_snapshot_preview1 sock_open
//go:noescape
func sock_open(af int32, socktype int32, fd unsafe.Pointer) syscall.Errno

//go:wasmimport wasi_snapshot_preview1 sock_connect
//go:noescape
func sock_connect(fd int32, addr unsafe.Pointer, port uint32) syscall.Errno

//go:wasmimport wasi_snapshot_preview1 sock_getsockopt
//go:noescape
func sock_getsockopt(fd int32, level uint32, name uint32, value unsafe.Pointer, valueLen uint32) syscall.Errno

//go:wasmimport wasi_snapshot_preview1 sock_getlocaladdr
//go:noescape
func sock_getlocaladdr(fd int32, addr unsafe.Pointer, port unsafe.Pointer) syscall.Errno

//go:wasmimport wasi_snapshot_preview1 sock_getpeeraddr
//go:noescape
func sock_getpeeraddr(fd int32, addr unsafe.Pointer, port unsafe.Pointer) syscall.Errno
