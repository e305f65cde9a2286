package network

import (
	"context"
	"errors"
	"net/netip"
	"sync"
)

// Events is a set of socket readiness conditions.
type Events uint8

// Readiness conditions reported by Socket.Poll.
const (
	Readable Events = 1 << iota // data, a pending connection, EOF or an error to read
	Writable                    // room to write, a completed connect, or a write error to report
	Hangup                      // both directions are finished, or the connection was reset
)

// SockType is the socket type.
type SockType int

// Socket types.
const (
	Stream   SockType = 1
	Datagram SockType = 2
)

// Socket option levels and names (Linux / WasmEdge numbering).
const (
	SolSocket    = 1
	SoReuseaddr  = 2
	SoType       = 3
	SoError      = 4
	SoDontroute  = 5
	SoBroadcast  = 6
	SoSndbuf     = 7
	SoRcvbuf     = 8
	SoKeepalive  = 9
	SoOobinline  = 10
	SoLinger     = 13
	SoReuseport  = 15
	SoRcvlowat   = 18
	SoRcvtimeo   = 20
	SoSndtimeo   = 21
	SoAcceptconn = 30

	IPProtoTCP   = 6
	TCPNodelay   = 1
	TCPKeepidle  = 4
	TCPKeepintvl = 5
	TCPKeepcnt   = 6
)

// ErrNoSuchHost is wrapped by Lookup errors for names that do not resolve.
var ErrNoSuchHost = errors.New("no such host")

// Socket is a non-blocking socket of a pod. Safe for concurrent use.
type Socket interface {
	Bind(addr netip.AddrPort) error
	Listen(backlog int) error
	Accept() (Socket, error)
	Connect(addr netip.AddrPort) error
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	RecvFrom(p []byte, peek bool) (int, netip.AddrPort, error)
	SendTo(p []byte, addr netip.AddrPort) (int, error)
	Shutdown(read, write bool) error
	LocalAddr() netip.AddrPort
	RemoteAddr() (netip.AddrPort, error)
	SetOption(level, name, value int) error
	GetOption(level, name int) (int, error)
	Poll() (Events, <-chan struct{})
	Close() error
}

// PodNet is one pod's network namespace: one IP, one port space shared by its containers.
type PodNet interface {
	IP() netip.Addr
	Socket(family int, typ SockType) (Socket, error)
	Lookup(ctx context.Context, name string) ([]netip.Addr, error)
}

// notifier implements replace-on-change wake-ups: wait returns a channel
// that the next wake closes. A wake with no waiter costs one uncontended lock.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	ch := n.ch
	n.mu.Unlock()
	return ch
}

func (n *notifier) wake() {
	if n == nil {
		return
	}
	n.mu.Lock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
	n.mu.Unlock()
}
