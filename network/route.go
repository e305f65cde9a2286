package network

// route.go: the pod network across nodes. A Network holds the pods of one
// node; the pod ranges of other nodes are routes (SetRoutes), each with a
// Remote that carries flows to that node (network/overlay: an mTLS tunnel
// between agents). A connect or a datagram to an address of a route, or to
// a Service endpoint there, goes to the Remote; a flow or datagram a
// Remote receives enters the destination pod through AcceptRemote or
// DeliverDatagram, as coming from the source pod's IP.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Remote carries flows to the pods of another node.
type Remote interface {
	// DialStream opens a TCP flow from src (a pod of this node, or the
	// node itself for a NodePort) to dst (a pod address of the remote
	// node). It returns once the far side has connected the flow to the
	// pod's listener, or with an error wrapping the errno that refused it
	// (ECONNREFUSED, EHOSTUNREACH, ...). ctx bounds the wait.
	DialStream(ctx context.Context, src, dst netip.AddrPort) (net.Conn, error)
	// SendDatagram sends one UDP datagram from src to dst. It must not
	// block: a datagram it cannot queue is dropped, as UDP may.
	SendDatagram(src, dst netip.AddrPort, p []byte)
}

// Route sends the addresses of Prefix (another node's pod range) to Via.
type Route struct {
	Prefix netip.Prefix
	Via    Remote
}

// RemoteDialTimeout bounds a connect through a Remote: past it the connect
// fails with ETIMEDOUT (SO_ERROR), never hangs.
var RemoteDialTimeout = 10 * time.Second

// routes is the Network's route table (copy on write).
type routes struct {
	mu sync.RWMutex
	rs []Route
}

// SetRoutes replaces the route table. Prefixes must be valid; a prefix
// holding a local pod's address does not take that pod's traffic (local
// pods win). Flows already open through a dropped route go on until their
// Remote ends them.
func (n *Network) SetRoutes(rs []Route) error {
	out := make([]Route, 0, len(rs))
	for i, r := range rs {
		if !r.Prefix.IsValid() {
			return fmt.Errorf("network: routes[%d]: invalid prefix %q", i, r.Prefix)
		}
		if r.Via == nil {
			return fmt.Errorf("network: routes[%d] (%s): no remote", i, r.Prefix)
		}
		out = append(out, Route{Prefix: r.Prefix.Masked(), Via: r.Via})
	}
	// Longest prefix first.
	slices.SortStableFunc(out, func(a, b Route) int { return b.Prefix.Bits() - a.Prefix.Bits() })
	n.rt.mu.Lock()
	n.rt.rs = out
	n.rt.mu.Unlock()
	return nil
}

// route is the Remote of a non-local address, or nil.
func (n *Network) route(a netip.Addr) Remote {
	n.rt.mu.RLock()
	defer n.rt.mu.RUnlock()
	for _, r := range n.rt.rs {
		if r.Prefix.Contains(a) {
			return r.Via
		}
	}
	return nil
}

// startRemote connects s (s.mu held, bound) through r to dst in the
// background; s sees shown as its peer (a Service VIP, or dst).
func (s *sock) startRemote(r Remote, dst, shown netip.AddrPort) error {
	ctx, cancel := context.WithTimeout(context.Background(), RemoteDialTimeout)
	src := netip.AddrPortFrom(s.pod.info.IP, s.local.Port())
	return s.connectInBackground(ctx, cancel, shown, func(ctx context.Context) (net.Conn, error) {
		return r.DialStream(ctx, src, dst)
	})
}

// hostDialRemote connects host-side socket h (h.mu held; a NodePort's or a
// probe's) through r to dst: h is connected at once to a relay socket the
// flow is bridged to once the remote side accepts it; if it refuses, h's
// peer resets. accepted (if set) is called when the flow is settled.
func (n *Network) hostDialRemote(h *sock, r Remote, dst, shown netip.AddrPort) error {
	if !n.goAdd() {
		return syscall.ENETDOWN
	}
	m := newSock(n, nil, h.family, Stream)
	connectPair(h, m, n.cfg.BufferSize)
	m.state, m.local, m.remote = sConnected, shown, h.local
	h.state, h.remote = sConnected, shown
	accepted := h.accepted
	h.accepted = nil
	src := h.local
	go func() {
		defer n.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), RemoteDialTimeout)
		conn, err := r.DialStream(ctx, src, dst)
		cancel()
		if accepted != nil {
			accepted()
		}
		if err != nil {
			m.abort()
			return
		}
		n.bridge(newSockConn(m), conn, nil)
	}()
	return nil
}

// AcceptRemote connects a flow another node's Remote carries, from src (a
// pod of that node, or the node) to dst (a pod of this node), to the pod's
// listener: the pod sees it coming from src. reply is called with nil once
// the flow is connected, or with the refusal (an errno: EHOSTUNREACH when
// no pod has dst's address, ECONNREFUSED when nothing listens or the
// accept queue is full); when it is called with nil and returns nil, c
// carries the flow until either side ends it (an error on c resets the
// pod's connection). c is closed in every other case. The flow holds one
// fd of Config.HostFDs while it lasts (refused, ECONNREFUSED, past it).
func (n *Network) AcceptRemote(src, dst netip.AddrPort, c net.Conn, reply func(error) error) {
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	refuse := func(e syscall.Errno) {
		reply(e)
		c.Close()
	}
	if !src.IsValid() || !dst.IsValid() || dst.Port() == 0 || src.Port() == 0 || dst.Addr().IsLoopback() || dst.Addr().IsUnspecified() {
		refuse(syscall.EINVAL)
		return
	}
	t := n.pod(dst.Addr())
	if t == nil {
		refuse(syscall.EHOSTUNREACH)
		return
	}
	// A flow from another node holds one fd of the host budget for as
	// long as it lasts, as a hostPort connection does.
	release := n.acquireHostFD()
	if release == nil {
		refuse(syscall.ECONNREFUSED)
		return
	}
	family := syscall.AF_INET
	if src.Addr().Is6() {
		family = syscall.AF_INET6
	}
	h := newSock(n, nil, family, Stream)
	h.local = src
	h.mu.Lock()
	err := n.deliverStream(t, dst, dst, h)
	h.mu.Unlock()
	if err != nil {
		var e syscall.Errno
		if !errors.As(err, &e) {
			e = syscall.ECONNREFUSED
		}
		release()
		refuse(e)
		return
	}
	if reply(nil) != nil {
		h.abort()
		c.Close()
		release()
		return
	}
	n.bridge(newSockConn(h), c, release)
}

// DeliverDatagram hands a UDP datagram another node's Remote carried, from
// src to dst (a pod of this node), to the socket bound to dst's port. It
// is dropped (false) when no pod or socket has the address or the
// socket's queue or budget is full, as UDP does.
func (n *Network) DeliverDatagram(src, dst netip.AddrPort, p []byte) bool {
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	if len(p) > maxDatagram || !src.IsValid() || src.Port() == 0 || dst.Port() == 0 {
		return false
	}
	t := n.pod(dst.Addr())
	if t == nil {
		return false
	}
	s := t.lookupPort(Datagram, dst.Port())
	if s == nil {
		return false
	}
	s.enqueue(p, src, dst.Addr())
	return true
}

// LocalPod reports whether a pod of this Network holds ip.
func (n *Network) LocalPod(ip netip.Addr) bool { return n.pod(ip.Unmap()) != nil }

// SocketConn is a blocking net.Conn over a connected stream socket of a
// pod (for embedders and tests driving pod sockets from Go).
func SocketConn(s Socket) (net.Conn, error) {
	ss, ok := s.(*sock)
	if !ok || ss.typ != Stream {
		return nil, &net.OpError{Op: "conn", Net: "tcp", Err: os.NewSyscallError("socket", syscall.ENOTSOCK)}
	}
	return newSockConn(ss), nil
}
