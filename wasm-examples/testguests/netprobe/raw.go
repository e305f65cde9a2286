//go:build wasip1

package main

// Raw WasmEdge socket ABI calls (docs/wasi-sockets.md), for the modes that
// must reach the host with exact arguments: blocking-mode sockets and bad
// input.

import (
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"
)

//go:wasmimport wasi_snapshot_preview1 sock_open
func rawOpen(af, socktype int32, fd unsafe.Pointer) syscall.Errno

//go:wasmimport wasi_snapshot_preview1 sock_bind
func rawBind(fd int32, addr unsafe.Pointer, port uint32) syscall.Errno

//go:wasmimport wasi_snapshot_preview1 sock_listen
func rawListen(fd, backlog int32) syscall.Errno

//go:wasmimport wasi_snapshot_preview1 sock_connect
func rawConnect(fd int32, addr unsafe.Pointer, port uint32) syscall.Errno

//go:wasmimport wasi_snapshot_preview1 sock_accept
func rawAccept(fd int32, flags uint32, newfd unsafe.Pointer) syscall.Errno

//go:wasmimport wasi_snapshot_preview1 sock_recv
func rawRecv(fd int32, iovs unsafe.Pointer, iovsLen int32, flags int32, nread unsafe.Pointer, oflags unsafe.Pointer) syscall.Errno

//go:wasmimport wasi_snapshot_preview1 sock_send
func rawSend(fd int32, iovs unsafe.Pointer, iovsLen int32, flags int32, nwritten unsafe.Pointer) syscall.Errno

//go:wasmimport wasi_snapshot_preview1 sock_getsockopt
func rawGetsockopt(fd int32, level, name uint32, value unsafe.Pointer, valueLen uint32) syscall.Errno

//go:wasmimport wasi_snapshot_preview1 sock_setsockopt
func rawSetsockopt(fd int32, level, name uint32, value unsafe.Pointer, valueLen uint32) syscall.Errno

//go:wasmimport wasi_snapshot_preview1 sock_getlocaladdr
func rawGetlocaladdr(fd int32, addr unsafe.Pointer, port unsafe.Pointer) syscall.Errno

//go:wasmimport wasi_snapshot_preview1 sock_getpeeraddr
func rawGetpeeraddr(fd int32, addr unsafe.Pointer, port unsafe.Pointer) syscall.Errno

//go:wasmimport wasi_snapshot_preview1 sock_getaddrinfo
func rawGetaddrinfo(node unsafe.Pointer, nodeLen uint32, service unsafe.Pointer, serviceLen uint32,
	hints unsafe.Pointer, res unsafe.Pointer, maxResLen uint32, resLen unsafe.Pointer) syscall.Errno

//go:wasmimport wasi_snapshot_preview1 sock_send_to
func rawSendTo(fd int32, iovs unsafe.Pointer, iovsLen int32, addr unsafe.Pointer, port int32, flags int32, nwritten unsafe.Pointer) syscall.Errno

//go:wasmimport wasi_snapshot_preview1 sock_recv_from
func rawRecvFrom(fd int32, iovs unsafe.Pointer, iovsLen int32, addr unsafe.Pointer, flags int32, port unsafe.Pointer, nread unsafe.Pointer, oflags unsafe.Pointer) syscall.Errno

const (
	afInet     = 1
	sockDgram  = 1
	sockStream = 2
)

type addrBuf struct {
	buf    uint32
	bufLen uint32
}

type iovec struct {
	buf    uint32
	bufLen uint32
}

// keep holds buffers whose 32-bit addresses were given to the host, so they
// stay on the heap.
var keep []any

func p32[T any](p *T) uint32 {
	keep = append(keep, p)
	return uint32(uintptr(unsafe.Pointer(p)))
}

func mustErr(what string, e syscall.Errno) {
	if e != 0 {
		fmt.Printf("%s: %v\n", what, e)
		os.Exit(1)
	}
}

func openStream() int32 {
	var fd int32
	mustErr("sock_open", rawOpen(afInet, sockStream, unsafe.Pointer(&fd)))
	return fd
}

func inet4(ap netip.AddrPort) (*addrBuf, uint32) {
	ip := new([4]byte)
	*ip = ap.Addr().As4()
	return &addrBuf{buf: p32(ip), bufLen: 4}, uint32(ap.Port())
}

// blockAccept listens on addr with a blocking socket and calls sock_accept,
// which waits inside the host until a connection or a kill.
func blockAccept(addr string) {
	ap := netip.MustParseAddrPort(addr)
	fd := openStream()
	ab, port := inet4(ap)
	mustErr("sock_bind", rawBind(fd, unsafe.Pointer(ab), port))
	mustErr("sock_listen", rawListen(fd, 8))
	fmt.Println("blocking in accept")
	var nfd int32
	e := rawAccept(fd, 0, unsafe.Pointer(&nfd))
	fmt.Println("accept returned", e, nfd)
}

// blockRecv connects to addr with a blocking socket and calls sock_recv.
func blockRecv(addr string) {
	ap := netip.MustParseAddrPort(addr)
	fd := openStream()
	ab, port := inet4(ap)
	for i := 0; ; i++ {
		e := rawConnect(fd, unsafe.Pointer(ab), port)
		if e == 0 {
			break
		}
		if i > 200 {
			mustErr("sock_connect", e)
		}
		syscall.Close(int(fd))
		fd = openStream()
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Println("blocking in recv")
	buf := make([]byte, 64)
	iov := &iovec{buf: p32(&buf[0]), bufLen: uint32(len(buf))}
	var n, oflags uint32
	e := rawRecv(fd, unsafe.Pointer(iov), 1, 0, unsafe.Pointer(&n), unsafe.Pointer(&oflags))
	fmt.Println("recv returned", e, n)
}

func emfile() {
	for i := 0; ; i++ {
		var fd int32
		e := rawOpen(afInet, sockStream, unsafe.Pointer(&fd))
		if e != 0 {
			fmt.Printf("opened %d sockets, then: %v\n", i, e)
			if e == syscall.EMFILE {
				fmt.Println("EMFILE")
			}
			return
		}
		if i > 100000 {
			fmt.Println("no limit")
			os.Exit(1)
		}
	}
}

// badInput prints "NAME: ERRNO" for calls that must fail cleanly.
func badInput() {
	report := func(name string, e syscall.Errno) {
		if e == 0 {
			fmt.Printf("%s: ok\n", name)
			return
		}
		fmt.Printf("%s: %d %v\n", name, uint16(e), e)
	}
	var fd int32
	report("open-family-99", rawOpen(99, sockStream, unsafe.Pointer(&fd)))
	report("open-type-9", rawOpen(afInet, 9, unsafe.Pointer(&fd)))
	report("open-bad-result-ptr", rawOpen(afInet, sockStream, bad(0xfffffffe)))
	s := openStream()
	ip := &[4]byte{0, 0, 0, 0}
	report("bind-buflen-7", rawBind(s, unsafe.Pointer(&addrBuf{buf: p32(ip), bufLen: 7}), 80))
	report("bind-bad-buf-ptr", rawBind(s, unsafe.Pointer(&addrBuf{buf: 0xfffffff0, bufLen: 16}), 80))
	report("bind-bad-addr-ptr", rawBind(s, bad(0xfffffffc), 80))
	report("bind-port-70000", rawBind(s, unsafe.Pointer(&addrBuf{buf: p32(ip), bufLen: 4}), 70000))
	report("bind-not-a-socket", rawBind(1, unsafe.Pointer(&addrBuf{buf: p32(ip), bufLen: 4}), 80))
	report("bind-bad-fd", rawBind(12345, unsafe.Pointer(&addrBuf{buf: p32(ip), bufLen: 4}), 80))
	report("listen-unbound-ok", rawListen(s, 4))
	v := int32(1)
	report("setsockopt-bad-level", rawSetsockopt(s, 77, 0, unsafe.Pointer(&v), 4))
	report("setsockopt-bad-name", rawSetsockopt(s, 0, 999, unsafe.Pointer(&v), 4))
	report("setsockopt-short-len", rawSetsockopt(s, 0, 0, unsafe.Pointer(&v), 2))
	report("getsockopt-bad-ptr", rawGetsockopt(s, 0, 1, bad(0xfffffffe), 4))
	c := openStream()
	report("connect-refused", rawConnect(c, unsafe.Pointer(&addrBuf{buf: p32(&[4]byte{127, 0, 0, 1}), bufLen: 4}), 9))
	var port uint32
	report("getpeeraddr-notconn", rawGetpeeraddr(openStream(), unsafe.Pointer(&addrBuf{buf: p32(new([128]byte)), bufLen: 128}), unsafe.Pointer(&port)))
	report("getlocaladdr-short-buf", rawGetlocaladdr(s, unsafe.Pointer(&addrBuf{buf: p32(new([128]byte)), bufLen: 3}), unsafe.Pointer(&port)))
	var n, oflags uint32
	huge := &iovec{buf: 16, bufLen: 0xfffffff0}
	report("recv-huge-iovec", rawRecv(s, unsafe.Pointer(huge), 1, 0, unsafe.Pointer(&n), unsafe.Pointer(&oflags)))
	report("send-huge-iovec", rawSend(c, unsafe.Pointer(huge), 1, 0, unsafe.Pointer(&n)))
	report("send-iovs-count-huge", rawSend(c, unsafe.Pointer(huge), 0x7fffffff, 0, unsafe.Pointer(&n)))
	report("sendto-bad-addr", rawSendTo(c, unsafe.Pointer(huge), 0, bad(0xfffffffc), 53, 0, unsafe.Pointer(&n)))
	node := []byte("web\x00")
	var res uint32 = 0xfffffff0
	report("getaddrinfo-bad-res", rawGetaddrinfo(unsafe.Pointer(&node[0]), 4, nil, 0, nil, unsafe.Pointer(&res), 1, unsafe.Pointer(&n)))
	report("getaddrinfo-huge-name", rawGetaddrinfo(unsafe.Pointer(&node[0]), 0x7fffffff, nil, 0, nil, unsafe.Pointer(&res), 1, unsafe.Pointer(&n)))
	var nfd int32
	report("accept-not-listening", rawAccept(c, 0, unsafe.Pointer(&nfd)))
	report("done", 0)
}

// bad returns an address outside the guest's memory.
func bad(addr uintptr) unsafe.Pointer { return unsafe.Add(unsafe.Pointer(nil), addr) }
