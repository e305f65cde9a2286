package wasisock

import (
	"encoding/binary"
	"net/netip"

	"github.com/wasmpod/wasmpod/network"
	"github.com/wasmpod/wasmpod/runtime/wasi"
)

// WasmEdge socket-extension constants (docs/wasi-sockets.md).
const (
	afUnspec = 0
	afInet   = 1
	afInet6  = 2
	afUnix   = 3

	sockAny    = 0
	sockDgram  = 1
	sockStream = 2

	ipprotoIP  = 0
	ipprotoTCP = 1
	ipprotoUDP = 2

	solSocket = 0
	// solTCP is accepted as an extension: Linux's IPPROTO_TCP level with
	// Linux TCP option names (TCP_NODELAY = 1, ...).
	solTCP = 6

	aiPassive     = 1
	aiNumericHost = 4
	aiNumericServ = 8

	recvPeek          = 1
	recvDataTruncated = 1

	fdflagNonblock = 4
)

// soNames maps the WasmEdge SOL_SOCKET option enum to network's (Linux)
// option names.
var soNames = [...]int{
	0:  network.SoReuseaddr,
	1:  network.SoType,
	2:  network.SoError,
	3:  network.SoDontroute,
	4:  network.SoBroadcast,
	5:  network.SoSndbuf,
	6:  network.SoRcvbuf,
	7:  network.SoKeepalive,
	8:  network.SoOobinline,
	9:  network.SoLinger,
	10: network.SoRcvlowat,
	11: network.SoRcvtimeo,
	12: network.SoSndtimeo,
	13: network.SoAcceptconn,
}

// maxSockaddr is the size of the guest's sockaddr storage (WasmEdge's
// __wasi_sockaddr_any: a u16 family and 126 bytes of address).
const maxSockaddr = 128

// addrLen is the number of address bytes of a family.
func addrLen(family uint16) int {
	switch family {
	case afInet:
		return 4
	case afInet6:
		return 16
	}
	return 0
}

// readAddr decodes the address buffer {buf u32, bufLen u32} at ptr and the
// port. bufLen 4 and 16 are raw IPv4/IPv6 bytes (what stealthrocket/net
// passes to sock_bind and sock_connect); 18 and more is a sockaddr_any
// (u16 family, then the address bytes: what it passes to sock_send_to).
func readAddr(c *wasi.Call, ptr uint32, port uint32) (netip.AddrPort, wasi.Errno) {
	if port > 0xffff {
		return netip.AddrPort{}, wasi.EINVAL
	}
	hdr, e := c.Bytes(ptr, 8)
	if e != 0 {
		return netip.AddrPort{}, e
	}
	buf := binary.LittleEndian.Uint32(hdr)
	bufLen := binary.LittleEndian.Uint32(hdr[4:])
	var ip netip.Addr
	switch {
	case bufLen == 4 || bufLen == 16:
		b, e := c.Bytes(buf, bufLen)
		if e != 0 {
			return netip.AddrPort{}, e
		}
		ip, _ = netip.AddrFromSlice(b)
	case bufLen >= 18:
		b, e := c.Bytes(buf, 18)
		if e != 0 {
			return netip.AddrPort{}, e
		}
		switch fam := binary.LittleEndian.Uint16(b); fam {
		case afInet, afInet6:
			ip, _ = netip.AddrFromSlice(b[2 : 2+addrLen(fam)])
		default:
			return netip.AddrPort{}, wasi.EAFNOSUPPORT
		}
	default:
		return netip.AddrPort{}, wasi.EINVAL
	}
	return netip.AddrPortFrom(ip, uint16(port)), 0
}

// addrOut is a validated output location for an address: the address
// buffer at ptr and, if portPtr != 0, a u32 port.
type addrOut struct {
	buf     []byte // view of the guest's buffer
	portPtr uint32
}

// prepareAddrOut validates the address buffer {buf u32, bufLen u32} at ptr
// (it must hold a sockaddr_any with room for an IPv6 address) and the port
// pointer before the call has side effects.
func prepareAddrOut(c *wasi.Call, ptr, portPtr uint32) (addrOut, wasi.Errno) {
	hdr, e := c.Bytes(ptr, 8)
	if e != 0 {
		return addrOut{}, e
	}
	buf := binary.LittleEndian.Uint32(hdr)
	bufLen := binary.LittleEndian.Uint32(hdr[4:])
	if bufLen < 18 {
		return addrOut{}, wasi.EINVAL
	}
	b, e := c.Bytes(buf, min(bufLen, maxSockaddr))
	if e != 0 {
		return addrOut{}, e
	}
	if _, e := c.Bytes(portPtr, 4); e != 0 {
		return addrOut{}, e
	}
	return addrOut{buf: b, portPtr: portPtr}, 0
}

// put writes ap as a sockaddr_any (zero-filled) and the port as a u32.
func (o addrOut) put(c *wasi.Call, ap netip.AddrPort, family uint16) wasi.Errno {
	clear(o.buf)
	ip := ap.Addr().Unmap()
	switch {
	case ip.Is4():
		family = afInet
		a := ip.As4()
		copy(o.buf[2:], a[:])
	case ip.Is6():
		family = afInet6
		a := ip.As16()
		copy(o.buf[2:], a[:])
	}
	binary.LittleEndian.PutUint16(o.buf, family)
	return c.WriteU32(o.portPtr, uint32(ap.Port()))
}
