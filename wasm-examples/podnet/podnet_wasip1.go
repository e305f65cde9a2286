//go:build wasip1

package podnet

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"github.com/stealthrocket/net/wasip1"
)

func dialContext(ctx context.Context, network, address string) (net.Conn, error) {
	addrs, err := resolve(ctx, "dial", network, address)
	if err != nil {
		return nil, err
	}
	var firstErr error
	for _, ap := range addrs {
		var c net.Conn
		var err error
		if network[0] == 't' { // tcp, tcp4, tcp6
			c, err = dialTCP(ctx, ap)
			if err != nil {
				err = &net.OpError{Op: "dial", Net: network, Addr: net.TCPAddrFromAddrPort(ap), Err: err}
			}
		} else {
			c, err = wasip1.DialContext(ctx, network, ap.String())
		}
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

func listen(network, address string) (net.Listener, error) {
	addrs, err := resolve(context.Background(), "listen", network, address)
	if err != nil {
		return nil, err
	}
	return wasip1.Listen(network, addrs[0].String())
}

func listenPacket(network, address string) (net.PacketConn, error) {
	addrs, err := resolve(context.Background(), "listen", network, address)
	if err != nil {
		return nil, err
	}
	return wasip1.ListenPacket(network, addrs[0].String())
}

func lookupHost(ctx context.Context, host string) ([]string, error) {
	ips, err := lookupIP(ctx, host)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out, nil
}

// resolve turns "host:port" into socket addresses. An empty host is the
// unspecified address (listen) or an error (dial).
func resolve(ctx context.Context, op, network, address string) ([]netip.AddrPort, error) {
	opErr := func(err error) error {
		return &net.OpError{Op: op, Net: network, Addr: addrString(address), Err: err}
	}
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return nil, opErr(net.UnknownNetworkError(network))
	}
	host, service, err := net.SplitHostPort(address)
	if err != nil {
		return nil, opErr(err)
	}
	port, err := net.DefaultResolver.LookupPort(ctx, network, service)
	if err != nil {
		return nil, opErr(err)
	}
	if host == "" {
		if op != "listen" {
			return nil, opErr(errors.New("missing host"))
		}
		unspec := netip.IPv4Unspecified()
		if network == "tcp6" || network == "udp6" {
			unspec = netip.IPv6Unspecified()
		}
		return []netip.AddrPort{netip.AddrPortFrom(unspec, uint16(port))}, nil
	}
	ips, err := lookupIP(ctx, host)
	if err != nil {
		return nil, opErr(err)
	}
	var out []netip.AddrPort
	for _, ip := range ips {
		switch network[len(network)-1] {
		case '4':
			if !ip.Is4() {
				continue
			}
		case '6':
			if !ip.Is6() {
				continue
			}
		}
		out = append(out, netip.AddrPortFrom(ip, uint16(port)))
	}
	if len(out) == 0 {
		return nil, opErr(&net.DNSError{Err: "no suitable address", Name: host, IsNotFound: true})
	}
	return out, nil
}

type addrString string

func (a addrString) Network() string { return "" }
func (a addrString) String() string  { return string(a) }

// lookupIP resolves host: IP literals as themselves, names through
// sock_getaddrinfo.
func lookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip.Unmap()}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ips, errno := getaddrinfo(host)
	switch {
	case errno == syscall.ENOENT || (errno == 0 && len(ips) == 0):
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	case errno != 0:
		return nil, &net.DNSError{Err: "getaddrinfo: " + errno.Error(), Name: host}
	}
	return ips, nil
}

// The WasmEdge sock_getaddrinfo ABI (docs/wasi-sockets.md).

//go:wasmimport wasi_snapshot_preview1 sock_getaddrinfo
//go:noescape
func sock_getaddrinfo(node unsafe.Pointer, nodeLen uint32, service unsafe.Pointer, serviceLen uint32,
	hints unsafe.Pointer, res unsafe.Pointer, maxResLen uint32, resLen unsafe.Pointer) syscall.Errno

const (
	afInet      = 1
	afInet6     = 2
	sockStream  = 2
	ipprotoTCP  = 1
	maxResults  = 16
	sockDataLen = 26
)

// addrinfo is __wasi_addrinfo_t (28 bytes).
type addrinfo struct {
	flags        uint16
	family       uint8
	socktype     uint8
	protocol     uint32
	addrlen      uint32
	addr         uint32 // *sockaddr
	canonname    uint32
	canonnameLen uint32
	next         uint32 // *addrinfo
}

// sockaddr is __wasi_sockaddr_t (16 bytes).
type sockaddr struct {
	family  uint32
	dataLen uint32
	data    uint32
	_       uint32
}

type result struct {
	ai   addrinfo
	sa   sockaddr
	data [sockDataLen]byte
	name [32]byte
}

// escape forces getaddrinfo's buffers onto the heap.
var escape any

func ptr32(p unsafe.Pointer) uint32 { return uint32(uintptr(p)) }

func getaddrinfo(host string) ([]netip.Addr, syscall.Errno) {
	node := append([]byte(host), 0)
	service := []byte{0}
	hints := addrinfo{socktype: sockStream, protocol: ipprotoTCP}
	// The buffers are handed to the host as 32-bit addresses, which the
	// compiler cannot see: keep them on the heap (heap objects never move).
	results := make([]result, maxResults)
	escape = results
	defer func() { escape = nil }()
	for i := range results {
		r := &results[i]
		r.sa = sockaddr{dataLen: sockDataLen, data: ptr32(unsafe.Pointer(&r.data))}
		r.ai = addrinfo{
			addrlen:      uint32(unsafe.Sizeof(r.sa)),
			addr:         ptr32(unsafe.Pointer(&r.sa)),
			canonname:    ptr32(unsafe.Pointer(&r.name)),
			canonnameLen: uint32(len(r.name)),
		}
		if i > 0 {
			results[i-1].ai.next = ptr32(unsafe.Pointer(&r.ai))
		}
	}
	first := ptr32(unsafe.Pointer(&results[0].ai))
	var n uint32
	errno := sock_getaddrinfo(unsafe.Pointer(&node[0]), uint32(len(node)), unsafe.Pointer(&service[0]), uint32(len(service)),
		unsafe.Pointer(&hints), unsafe.Pointer(&first), uint32(len(results)), unsafe.Pointer(&n))
	if errno != 0 {
		return nil, errno
	}
	var ips []netip.Addr
	for i := range results[:min(int(n), len(results))] {
		r := &results[i]
		_ = binary.BigEndian.Uint16(r.data[:2]) // port; unused (no service given)
		switch r.sa.family {
		case afInet:
			ips = append(ips, netip.AddrFrom4([4]byte(r.data[2:6])))
		case afInet6:
			ips = append(ips, netip.AddrFrom16([16]byte(r.data[2:18])))
		}
	}
	return ips, 0
}
