// Package wasisock implements the WasmEdge socket extension of WASI
// preview 1 over wasmpod's virtual network, as an extension of the WASI
// layer in runtime/wasi.
//
// The ABI is the one github.com/stealthrocket/net v0.2.1 (package wasip1)
// calls; docs/wasi-sockets.md describes it function by function. Functions
// returns the host functions sock_open, sock_bind, sock_listen,
// sock_connect, sock_getlocaladdr, sock_getpeeraddr, sock_getsockopt,
// sock_setsockopt, sock_getaddrinfo, sock_recv_from and sock_send_to of the
// "wasi_snapshot_preview1" module. The standard sock_accept, sock_recv,
// sock_send and sock_shutdown are the WASI layer's: they work on the
// sockets of this package because those implement wasi.Socket.
//
// Contracts:
//   - The pod network is the System's Net (wasi.Config.Net), a
//     network.PodNet. Without one, sock_open and sock_getaddrinfo fail with
//     ENOTSUP and the rest of WASI works as usual.
//   - Sockets are fds like any other: fd_read, fd_write, fd_close,
//     fd_fdstat_get (SOCKET_STREAM or SOCKET_DGRAM), fd_fdstat_set_flags
//     (O_NONBLOCK) and poll_oneoff (real readiness) work on them, and they
//     count against the instance's fd limit (EMFILE).
//   - A socket is blocking until the guest sets FDFLAG_NONBLOCK. Blocking
//     calls wait for the socket's next state change or the instance's kill
//     (then EINTR), never spinning.
//   - Every guest mistake (pointers or lengths outside memory, unknown
//     families, types, option levels or names, ports above 65535, names
//     too long) returns an errno and has no side effect; the host never
//     panics on guest input.
//   - Errors of the network (syscall.Errno values) reach the guest as the
//     WASI errno of the same name; SO_ERROR reports WASI errno numbers.
package wasisock

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/wasmpod/wasmpod/network"
	"github.com/wasmpod/wasmpod/runtime/wasi"
)

var noDeadline time.Time

// LookupTimeout bounds one sock_getaddrinfo call.
const LookupTimeout = 10 * time.Second

// Functions returns the WasmEdge socket extension's host functions.
func Functions() []wasi.HostFunc {
	i32 := wasi.I32
	p := func(n int) []wasi.ValType {
		t := make([]wasi.ValType, n)
		for i := range t {
			t[i] = i32
		}
		return t
	}
	errno := []wasi.ValType{i32}
	return []wasi.HostFunc{
		{Name: "sock_open", Params: p(3), Results: errno, Fn: errnoFn(sockOpen)},
		{Name: "sock_bind", Params: p(3), Results: errno, Fn: errnoFn(sockBind)},
		{Name: "sock_listen", Params: p(2), Results: errno, Fn: errnoFn(sockListen)},
		{Name: "sock_connect", Params: p(3), Results: errno, Fn: errnoFn(sockConnect)},
		{Name: "sock_getlocaladdr", Params: p(3), Results: errno, Fn: errnoFn(sockGetLocalAddr)},
		{Name: "sock_getpeeraddr", Params: p(3), Results: errno, Fn: errnoFn(sockGetPeerAddr)},
		{Name: "sock_getsockopt", Params: p(5), Results: errno, Fn: errnoFn(sockGetsockopt)},
		{Name: "sock_setsockopt", Params: p(5), Results: errno, Fn: errnoFn(sockSetsockopt)},
		{Name: "sock_getaddrinfo", Params: p(8), Results: errno, Fn: errnoFn(sockGetaddrinfo)},
		{Name: "sock_recv_from", Params: p(8), Results: errno, Fn: errnoFn(sockRecvFrom)},
		{Name: "sock_send_to", Params: p(7), Results: errno, Fn: errnoFn(sockSendTo)},
	}
}

func podNet(c *wasi.Call) network.PodNet {
	if c.Sys == nil {
		return nil
	}
	pn, _ := c.Sys.Net().(network.PodNet)
	return pn
}

// sock_open(af, socktype, result_fd *u32) errno
func sockOpen(_ context.Context, c *wasi.Call) wasi.Errno {
	af, st, out := c.U32(0), c.U32(1), c.U32(2)
	var family int
	switch af {
	case afInet:
		family = syscall.AF_INET
	case afInet6:
		family = syscall.AF_INET6
	default:
		return wasi.EAFNOSUPPORT
	}
	var typ network.SockType
	switch st {
	case sockStream:
		typ = network.Stream
	case sockDgram:
		typ = network.Datagram
	default:
		return wasi.EPROTOTYPE
	}
	if _, e := c.Bytes(out, 4); e != 0 {
		return e
	}
	pn := podNet(c)
	if pn == nil {
		return wasi.ENOTSUP
	}
	s, err := pn.Socket(family, typ)
	if err != nil {
		return wasi.ErrnoOf(err)
	}
	fd, e := c.Sys.InsertFD(&sockFile{s: s, family: uint16(af), typ: typ})
	if e != 0 {
		s.Close()
		return e
	}
	return c.WriteU32(out, uint32(fd))
}

// sock_bind(fd, addr *addr_buf, port) errno
func sockBind(_ context.Context, c *wasi.Call) wasi.Errno {
	f, e := sockOf(c, c.I32(0))
	if e != 0 {
		return e
	}
	ap, e := readAddr(c, c.U32(1), c.U32(2))
	if e != 0 {
		return e
	}
	return wasi.ErrnoOf(f.s.Bind(ap))
}

// sock_listen(fd, backlog) errno
func sockListen(_ context.Context, c *wasi.Call) wasi.Errno {
	f, e := sockOf(c, c.I32(0))
	if e != 0 {
		return e
	}
	backlog := int(c.I32(1))
	if backlog <= 0 || backlog > 4096 {
		backlog = 4096
	}
	return wasi.ErrnoOf(f.s.Listen(backlog))
}

// sock_connect(fd, addr *addr_buf, port) errno
//
// On a non-blocking socket a connect that does not complete at once returns
// EINPROGRESS; the socket becomes writable when it completes and SO_ERROR
// gives the result. A blocking socket waits for the result.
func sockConnect(_ context.Context, c *wasi.Call) wasi.Errno {
	fd := c.I32(0)
	f, e := sockOf(c, fd)
	if e != 0 {
		return e
	}
	ap, e := readAddr(c, c.U32(1), c.U32(2))
	if e != 0 {
		return e
	}
	err := f.s.Connect(ap)
	if !errors.Is(err, syscall.EINPROGRESS) || c.Sys.Nonblocking(fd) {
		return wasi.ErrnoOf(err)
	}
	for {
		ev, ch := f.s.Poll()
		if ev&(network.Writable|network.Hangup) != 0 {
			v, err := f.s.GetOption(network.SolSocket, network.SoError)
			if err != nil {
				return wasi.ErrnoOf(err)
			}
			if v != int(syscall.EINPROGRESS) {
				return wasi.ErrnoOf(errnoValue(v))
			}
		}
		if e := c.Sys.Wait(ch, noDeadline); e != 0 {
			return e
		}
	}
}

// errnoValue turns a host errno number (as SO_ERROR reports it) into an
// error, nil for 0.
func errnoValue(v int) error {
	if v == 0 {
		return nil
	}
	return syscall.Errno(v)
}

// sock_getlocaladdr(fd, addr *addr_buf, port *u32) errno
func sockGetLocalAddr(_ context.Context, c *wasi.Call) wasi.Errno {
	f, e := sockOf(c, c.I32(0))
	if e != 0 {
		return e
	}
	out, e := prepareAddrOut(c, c.U32(1), c.U32(2))
	if e != 0 {
		return e
	}
	ap := f.s.LocalAddr()
	if !ap.Addr().IsValid() {
		ap = f.unspecified()
	}
	return out.put(c, ap, f.family)
}

// sock_getpeeraddr(fd, addr *addr_buf, port *u32) errno
func sockGetPeerAddr(_ context.Context, c *wasi.Call) wasi.Errno {
	f, e := sockOf(c, c.I32(0))
	if e != 0 {
		return e
	}
	out, e := prepareAddrOut(c, c.U32(1), c.U32(2))
	if e != 0 {
		return e
	}
	ap, err := f.s.RemoteAddr()
	if err != nil {
		return wasi.ErrnoOf(err)
	}
	return out.put(c, ap, f.family)
}

// optName maps a guest (level, name) to the network's; ENOPROTOOPT if
// unknown.
func optName(level, name uint32) (int, int, wasi.Errno) {
	switch level {
	case solSocket:
		if name < uint32(len(soNames)) {
			return network.SolSocket, soNames[name], 0
		}
	case solTCP:
		switch name {
		case network.TCPNodelay, network.TCPKeepidle, network.TCPKeepintvl, network.TCPKeepcnt:
			return network.IPProtoTCP, int(name), 0
		}
	}
	return 0, 0, wasi.ENOPROTOOPT
}

// sock_getsockopt(fd, level, name, value *i32, value_len u32) errno
//
// value_len is the size of the value buffer (at least 4), passed by value
// as stealthrocket/net does. The value is a little-endian i32.
func sockGetsockopt(_ context.Context, c *wasi.Call) wasi.Errno {
	f, e := sockOf(c, c.I32(0))
	if e != 0 {
		return e
	}
	level, name, ptr, n := c.U32(1), c.U32(2), c.U32(3), c.U32(4)
	if n < 4 {
		return wasi.EINVAL
	}
	if _, e := c.Bytes(ptr, 4); e != 0 {
		return e
	}
	lv, nm, e := optName(level, name)
	if e != 0 {
		return e
	}
	var v int
	switch {
	case lv == network.SolSocket && nm == network.SoType:
		v = sockStream
		if f.typ == network.Datagram {
			v = sockDgram
		}
	default:
		var err error
		if v, err = f.s.GetOption(lv, nm); err != nil {
			return wasi.ErrnoOf(err)
		}
		if lv == network.SolSocket && nm == network.SoError {
			v = int(wasi.ErrnoOf(errnoValue(v)))
		}
	}
	return c.WriteU32(ptr, uint32(int32(v)))
}

// sock_setsockopt(fd, level, name, value *i32, value_len u32) errno
func sockSetsockopt(_ context.Context, c *wasi.Call) wasi.Errno {
	f, e := sockOf(c, c.I32(0))
	if e != 0 {
		return e
	}
	level, name, ptr, n := c.U32(1), c.U32(2), c.U32(3), c.U32(4)
	if n < 4 {
		return wasi.EINVAL
	}
	raw, e := c.ReadU32(ptr)
	if e != 0 {
		return e
	}
	lv, nm, e := optName(level, name)
	if e != 0 {
		return e
	}
	if lv == network.SolSocket && (nm == network.SoType || nm == network.SoError || nm == network.SoAcceptconn) {
		return wasi.ENOPROTOOPT // read-only options
	}
	return wasi.ErrnoOf(f.s.SetOption(lv, nm, int(int32(raw))))
}

// errnoFn adapts a function that returns its errno to a HostFunc.
func errnoFn(f func(context.Context, *wasi.Call) wasi.Errno) func(context.Context, *wasi.Call) {
	return func(ctx context.Context, c *wasi.Call) { c.SetErrno(f(ctx, c)) }
}

// maxIO bounds the bytes one sock_send_to or sock_recv_from moves (the
// largest datagram); stream callers loop, as with partial writes.
const maxIO = 65536

// sock_recv_from(fd, iovs, iovs_len, addr *addr_buf, iflags, port *u32,
// nread *u32, oflags *u16) errno
func sockRecvFrom(_ context.Context, c *wasi.Call) wasi.Errno {
	fd := c.I32(0)
	f, e := sockOf(c, fd)
	if e != 0 {
		return e
	}
	iovs, e := c.Iovecs(c.U32(1), c.U32(2))
	if e != 0 {
		return e
	}
	out, e := prepareAddrOut(c, c.U32(3), c.U32(5))
	if e != 0 {
		return e
	}
	flags, nreadPtr, oflagsPtr := c.U32(4), c.U32(6), c.U32(7)
	if _, e := c.Bytes(nreadPtr, 4); e != 0 {
		return e
	}
	if _, e := c.Bytes(oflagsPtr, 2); e != 0 {
		return e
	}
	total := 0
	for _, v := range iovs {
		total += len(v)
	}
	buf := make([]byte, min(total, maxIO))
	var n int
	var from netip.AddrPort
	e = blocking(c, fd, f, func() (err error) {
		n, from, err = f.s.RecvFrom(buf, flags&recvPeek != 0)
		return err
	})
	if e != 0 {
		return e
	}
	rest := buf[:n]
	for _, v := range iovs {
		rest = rest[copy(v, rest):]
	}
	if !from.Addr().IsValid() {
		from = f.unspecified()
	}
	if e := out.put(c, from, f.family); e != 0 {
		return e
	}
	var oflags [2]byte
	c.WriteU32(nreadPtr, uint32(n))
	return c.Write(oflagsPtr, oflags[:])
}

// sock_send_to(fd, iovs, iovs_len, addr *addr_buf, port, flags,
// nwritten *u32) errno
func sockSendTo(_ context.Context, c *wasi.Call) wasi.Errno {
	fd := c.I32(0)
	f, e := sockOf(c, fd)
	if e != 0 {
		return e
	}
	iovs, e := c.Iovecs(c.U32(1), c.U32(2))
	if e != 0 {
		return e
	}
	to, e := readAddr(c, c.U32(3), c.U32(4))
	if e != 0 {
		return e
	}
	nwrittenPtr := c.U32(6)
	if _, e := c.Bytes(nwrittenPtr, 4); e != 0 {
		return e
	}
	total := 0
	for _, v := range iovs {
		total += len(v)
	}
	if f.typ == network.Datagram && total > maxIO {
		return wasi.EMSGSIZE
	}
	buf := make([]byte, 0, min(total, maxIO))
	for _, v := range iovs {
		buf = append(buf, v[:min(len(v), cap(buf)-len(buf))]...)
	}
	var n int
	e = blocking(c, fd, f, func() (err error) {
		n, err = f.s.SendTo(buf, to)
		return err
	})
	if e != 0 {
		return e
	}
	return c.WriteU32(nwrittenPtr, uint32(n))
}

// sock_getaddrinfo(node *u8, node_len, service *u8, service_len,
// hints *addrinfo, res **addrinfo, max_res_len, res_len *u32) errno
func sockGetaddrinfo(ctx context.Context, c *wasi.Call) wasi.Errno {
	nodePtr, nodeLen, servPtr, servLen := c.U32(0), c.U32(1), c.U32(2), c.U32(3)
	hintsPtr, resPtr, maxRes, resLenPtr := c.U32(4), c.U32(5), c.U32(6), c.U32(7)
	if nodeLen > 1024 || servLen > 256 {
		return wasi.EINVAL
	}
	node, e := cString(c, nodePtr, nodeLen)
	if e != 0 {
		return e
	}
	service, e := cString(c, servPtr, servLen)
	if e != 0 {
		return e
	}
	var hints struct {
		flags            uint16
		family, socktype uint8
		protocol         uint32
	}
	if hintsPtr != 0 {
		h, e := c.Bytes(hintsPtr, addrinfoSize)
		if e != 0 {
			return e
		}
		hints.flags = binary.LittleEndian.Uint16(h)
		hints.family, hints.socktype = h[2], h[3]
		hints.protocol = binary.LittleEndian.Uint32(h[4:])
	}
	switch hints.family {
	case afUnspec, afInet, afInet6:
	default:
		return wasi.EAFNOSUPPORT
	}
	socktype := uint8(sockStream)
	protocol := uint32(ipprotoTCP)
	switch hints.socktype {
	case sockAny, sockStream:
	case sockDgram:
		socktype, protocol = sockDgram, ipprotoUDP
	default:
		return wasi.EPROTOTYPE
	}
	if _, e := c.Bytes(resLenPtr, 4); e != 0 {
		return e
	}
	first, e := c.ReadU32(resPtr)
	if e != 0 {
		return e
	}
	if first != 0 && maxRes > 0 {
		if _, e := c.Bytes(first, addrinfoSize); e != 0 {
			return e
		}
	}
	port, e := servicePort(service, hints.flags&aiNumericServ != 0)
	if e != 0 {
		return e
	}
	var ips []netip.Addr
	switch ip, err := netip.ParseAddr(node); {
	case node == "" && hints.flags&aiPassive != 0:
		ips = []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}
	case node == "":
		ips = []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}
	case err == nil:
		ips = []netip.Addr{ip.Unmap()}
	case hints.flags&aiNumericHost != 0:
		return wasi.EINVAL
	default:
		pn := podNet(c)
		if pn == nil {
			return wasi.ENOTSUP
		}
		if ips, e = lookup(ctx, c, pn, node); e != 0 {
			return e
		}
	}
	n := uint32(0)
	for _, ip := range ips {
		if (hints.family == afInet && !ip.Is4()) || (hints.family == afInet6 && !ip.Is6()) {
			continue
		}
		if n >= maxRes || first == 0 {
			break
		}
		next, e := putAddrinfo(c, first, netip.AddrPortFrom(ip, port), socktype, protocol)
		if e != 0 {
			return e
		}
		n++
		first = next
	}
	if n == 0 && len(ips) > 0 {
		return wasi.ENOENT // no address of the requested family
	}
	return c.WriteU32(resLenPtr, n)
}

// cString reads a guest string of n bytes, cut at the first NUL.
func cString(c *wasi.Call, ptr, n uint32) (string, wasi.Errno) {
	if n == 0 {
		return "", 0
	}
	b, e := c.Bytes(ptr, n)
	if e != 0 {
		return "", e
	}
	for i, x := range b {
		if x == 0 {
			b = b[:i]
			break
		}
	}
	return string(b), 0
}

// servicePort is the port of a service: a number, or one of the few names
// that need no services database.
func servicePort(s string, numericOnly bool) (uint16, wasi.Errno) {
	if s == "" {
		return 0, 0
	}
	if p, err := strconv.ParseUint(s, 10, 16); err == nil {
		return uint16(p), 0
	}
	if !numericOnly {
		switch s {
		case "http":
			return 80, 0
		case "https":
			return 443, 0
		case "domain":
			return 53, 0
		}
	}
	return 0, wasi.EINVAL
}

// lookup resolves name with the pod's DNS; the wait ends early if the
// instance is killed (EINTR). Unknown names give ENOENT.
func lookup(ctx context.Context, c *wasi.Call, pn network.PodNet, name string) ([]netip.Addr, wasi.Errno) {
	ctx, cancel := context.WithTimeout(ctx, LookupTimeout)
	defer cancel()
	go func() {
		select {
		case <-c.Sys.Killed():
			cancel()
		case <-ctx.Done():
		}
	}()
	ips, err := pn.Lookup(ctx, name)
	switch {
	case err == nil && len(ips) == 0, errors.Is(err, network.ErrNoSuchHost):
		return nil, wasi.ENOENT
	case err != nil:
		select {
		case <-c.Sys.Killed():
			return nil, wasi.EINTR
		default:
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, wasi.ETIMEDOUT
		}
		return nil, wasi.ErrnoOf(err)
	}
	return ips, 0
}

// addrinfo layout (__wasi_addrinfo_t, 28 bytes):
//
//	0 ai_flags u16, 2 ai_family u8, 3 ai_socktype u8, 4 ai_protocol u32,
//	8 ai_addrlen u32, 12 ai_addr u32 (*sockaddr), 16 ai_canonname u32,
//	20 ai_canonnamelen u32, 24 ai_next u32 (*addrinfo)
//
// sockaddr (__wasi_sockaddr_t, 16 bytes):
//
//	0 sa_family u32, 4 sa_data_len u32, 8 sa_data u32 (*u8), 12 padding
//
// sa_data: port u16 big-endian, then the 4 or 16 address bytes.
const (
	addrinfoSize = 28
	sockaddrSize = 16
)

// putAddrinfo fills the guest's addrinfo at ptr with ap and returns its
// ai_next.
func putAddrinfo(c *wasi.Call, ptr uint32, ap netip.AddrPort, socktype uint8, protocol uint32) (uint32, wasi.Errno) {
	ai, e := c.Bytes(ptr, addrinfoSize)
	if e != 0 {
		return 0, e
	}
	saPtr := binary.LittleEndian.Uint32(ai[12:])
	sa, e := c.Bytes(saPtr, sockaddrSize)
	if e != 0 {
		return 0, e
	}
	dataLen := binary.LittleEndian.Uint32(sa[4:])
	dataPtr := binary.LittleEndian.Uint32(sa[8:])
	ip := ap.Addr()
	family := uint32(afInet)
	if ip.Is6() {
		family = afInet6
	}
	need := uint32(2 + ip.BitLen()/8)
	if dataLen < need {
		return 0, wasi.EINVAL
	}
	data, e := c.Bytes(dataPtr, need)
	if e != 0 {
		return 0, e
	}
	binary.BigEndian.PutUint16(data, ap.Port())
	copy(data[2:], ip.AsSlice())
	binary.LittleEndian.PutUint32(sa, family)
	binary.LittleEndian.PutUint16(ai, 0)
	ai[2] = byte(family)
	ai[3] = socktype
	binary.LittleEndian.PutUint32(ai[4:], protocol)
	return binary.LittleEndian.Uint32(ai[24:]), 0
}
