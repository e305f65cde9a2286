package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// goAdd registers one Network goroutine; false once the Network is closed.
func (n *Network) goAdd() bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed {
		return false
	}
	n.wg.Add(1)
	return true
}

// startEgress begins a background dial to a host address; s.mu held.
func (s *sock) startEgress(addr netip.AddrPort) error {
	ctx, cancel := context.WithCancel(context.Background())
	return s.connectInBackground(ctx, cancel, addr, func(ctx context.Context) (net.Conn, error) {
		return s.n.cfg.Dial(ctx, "tcp", addr.String())
	})
}

// connectInBackground connects s (s.mu held, bound) through dial in a
// goroutine of the Network, ctx bounding the dial and cancel ending it
// (Close of a connecting socket calls it): s is connecting (EINPROGRESS)
// with shown as its peer, then connected to a host-side socket bridged to
// the dialed conn, or failed with the dial's errno in SO_ERROR.
func (s *sock) connectInBackground(ctx context.Context, cancel context.CancelFunc, shown netip.AddrPort, dial func(context.Context) (net.Conn, error)) error {
	n := s.n
	if !n.goAdd() {
		cancel()
		return syscall.ENETDOWN
	}
	s.cancel = cancel
	s.state = sConnecting
	s.remote = shown
	go func() {
		defer n.wg.Done()
		defer cancel()
		conn, err := dial(ctx)
		s.mu.Lock()
		if s.state != sConnecting {
			s.mu.Unlock()
			if conn != nil {
				conn.Close()
			}
			return
		}
		s.cancel = nil
		if err != nil {
			s.soErr = errnoOf(err)
			s.state = sFailed
			s.mu.Unlock()
			s.note.wake()
			return
		}
		h := newSock(n, nil, s.family, Stream)
		connectPair(s, h, n.cfg.BufferSize)
		h.state = sConnected
		h.local, h.remote = shown, s.local
		s.state = sConnected
		s.countConn(false, s.remote)
		s.mu.Unlock()
		s.note.wake()
		n.bridge(newSockConn(h), conn, nil)
	}()
	return syscall.EINPROGRESS
}

func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, net.ErrClosed):
		return syscall.EBADF
	case errors.Is(err, context.Canceled):
		return syscall.ECONNABORTED
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return syscall.ETIMEDOUT
	case errors.As(err, &dnsErr):
		return syscall.EHOSTUNREACH
	}
	return syscall.ECONNREFUSED
}

// bridge copies between a fabric connection and a real one until both
// directions are done, then closes both and calls release (if not nil). It
// returns at once.
func (n *Network) bridge(a *sockConn, b net.Conn, release func()) {
	if release == nil {
		release = func() {}
	}
	if !n.track(b) {
		a.s.abort()
		b.Close()
		release()
		return
	}
	var left atomic.Int32
	left.Store(2)
	done := func() {
		if left.Add(-1) == 0 {
			a.Close()
			b.Close()
			n.untrack(b)
			release()
		}
	}
	if !n.goAdd() {
		a.s.abort()
		b.Close()
		n.untrack(b)
		release()
		return
	}
	go func() { // fabric → host
		defer n.wg.Done()
		defer done()
		_, err := io.Copy(b, a)
		if err != nil || a.peerClosed() {
			if err != nil {
				a.s.abort()
			}
			b.Close()
			return
		}
		if cw, ok := b.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			b.Close()
		}
	}()
	if !n.goAdd() {
		a.s.abort()
		b.Close()
		done()
		return
	}
	go func() { // host → fabric
		defer n.wg.Done()
		defer done()
		_, err := io.Copy(a, b)
		if err != nil {
			if !errors.Is(err, syscall.EPIPE) {
				a.s.abort()
			}
			b.Close()
			return
		}
		a.CloseWrite()
	}()
}

// hostSock returns a host-side stream socket with a fresh local port.
func (n *Network) hostSock(ip netip.Addr) *sock {
	h := newSock(n, nil, syscall.AF_INET, Stream)
	h.local = netip.AddrPortFrom(ip, n.nextHostPort())
	return h
}

// hostDial connects from the host (appearing as Config.HostIP) to a pod
// address or a Service VIP. accepted, if not nil, is called when the pod
// accepts the connection.
func (n *Network) hostDial(dst netip.AddrPort, accepted func()) (*sockConn, error) {
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	h := n.hostSock(n.cfg.HostIP)
	h.accepted = accepted
	h.mu.Lock()
	defer h.mu.Unlock()
	err := error(syscall.ECONNREFUSED)
	if n.cfg.ServiceCIDR.Contains(dst.Addr()) {
		eps, ok := n.pickEndpoints(dst, "TCP")
		if !ok {
			err = syscall.EHOSTUNREACH
		}
		for _, ep := range eps {
			if t := n.pod(ep.Addr()); t != nil {
				if err = n.deliverStream(t, ep, dst, h); err == nil {
					break
				}
			} else if r := n.route(ep.Addr()); r != nil {
				err = n.hostDialRemote(h, r, ep, dst) // an endpoint on another node
				break
			}
		}
	} else if t := n.pod(dst.Addr()); t != nil {
		err = n.deliverStream(t, dst, dst, h)
	} else if r := n.route(dst.Addr()); r != nil {
		err = n.hostDialRemote(h, r, dst, dst)
	} else {
		err = syscall.EHOSTUNREACH
	}
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(dst), Err: os.NewSyscallError("connect", err)}
	}
	return newSockConn(h), nil
}

// DialPod connects from the host into a pod's port the way port-forward
// does: through the pod's loopback, so listeners bound to 127.0.0.1 are
// reachable and the pod sees the connection coming from 127.0.0.1.
func (n *Network) DialPod(ctx context.Context, podIP netip.Addr, port int) (net.Conn, error) {
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("network: dial pod %s: port %d out of range", podIP, port)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t := n.pod(podIP.Unmap())
	if t == nil {
		return nil, fmt.Errorf("network: dial pod %s: no such pod on the network", podIP)
	}
	lo := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	dst := netip.AddrPortFrom(lo, uint16(port))
	h := n.hostSock(lo)
	h.mu.Lock()
	err := n.deliverStream(t, dst, netip.AddrPortFrom(podIP.Unmap(), uint16(port)), h)
	h.mu.Unlock()
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(podIP, uint16(port))), Err: os.NewSyscallError("connect", err)}
	}
	return newSockConn(h), nil
}

// DialFromNode connects from the node, appearing inside the pod as
// Config.HostIP, to ip:port as the kubelet's probes and hooks connect: to
// the pod IP, so only a listener bound to the pod IP or to the
// unspecified address is reachable (one bound to a loopback address is
// refused, as on a real node); a Service VIP reaches one of its endpoints;
// any other address is unreachable. A full accept queue refuses at once.
func (n *Network) DialFromNode(ctx context.Context, ip netip.Addr, port int) (net.Conn, error) {
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("network: dial %s: port %d out of range", ip, port)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := n.hostDial(netip.AddrPortFrom(ip, uint16(port)), nil)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// hostListener is a real host listener forwarding into the fabric.
type hostListener struct {
	n      *Network
	ln     net.Listener
	target netip.AddrPort
	once   sync.Once
	done   chan struct{}
	// pending counts the connections forwarded to the pod and not yet
	// accepted by it (bounded by Config.MaxPendingHostConns).
	pending atomic.Int64
}

// Accept back-off after a failed accept (EMFILE, ENFILE, ECONNABORTED...),
// doubling from min to max as net/http's Server does: the loop never spins
// and never stops while the listener is open.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

func (l *hostListener) serve() {
	defer l.n.wg.Done()
	var delay time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, acceptBackoffMin), acceptBackoffMax)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-l.done:
				t.Stop()
				return
			}
			continue
		}
		delay = 0
		l.forward(c)
	}
}

// forward bridges host connection c into the fabric, or closes it at once
// when the host fd budget, the listener's pending cap or the pod's backlog
// is full.
func (l *hostListener) forward(c net.Conn) {
	release := l.n.acquireHostFD()
	if release == nil {
		c.Close()
		return
	}
	if l.pending.Add(1) > int64(l.n.cfg.MaxPendingHostConns) {
		l.pending.Add(-1)
		c.Close()
		release()
		return
	}
	var once sync.Once
	accepted := func() { once.Do(func() { l.pending.Add(-1) }) }
	fc, err := l.n.hostDial(l.target, accepted)
	if err != nil {
		accepted()
		c.Close()
		release()
		return
	}
	l.n.bridge(fc, c, func() {
		accepted()
		release()
	})
}

// Close stops accepting; established connections go on.
func (l *hostListener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.ln.Close()
		l.n.untrack(l)
	})
	return err
}

// Addr returns the real listening address.
func (l *hostListener) Addr() net.Addr { return l.ln.Addr() }

func (n *Network) listenHost(hostAddr netip.AddrPort, target netip.AddrPort) (*hostListener, error) {
	ln, err := net.Listen(hostNetwork("tcp", hostAddr))
	if err != nil {
		return nil, err
	}
	l := &hostListener{n: n, ln: ln, target: target, done: make(chan struct{})}
	if !n.track(l) {
		ln.Close()
		return nil, fmt.Errorf("network: closed")
	}
	if !n.goAdd() {
		l.Close()
		return nil, fmt.Errorf("network: closed")
	}
	go l.serve()
	return l, nil
}

// ListenHostPort maps a real host port to podIP:port, as hostPort does.
// hostAddr's port 0 picks one; the returned Closer has an Addr() net.Addr
// method giving the real address.
//
// proto "TCP" (or "tcp", or "") opens a TCP listener and forwards every
// connection; closing stops accepting, and established connections last
// until either side closes. proto "UDP" (or "udp") opens a UDP socket:
// each host client address is a flow with its own source address inside
// the fabric, its datagrams go to podIP:port and the pod's datagrams back
// to that source go to the client from the host port; a flow expires after
// 30 s without traffic, as Linux conntrack's UDP flows do. Closing ends the
// socket and every flow. Either way the pod sees the traffic coming from
// Config.HostIP. Other protocols (SCTP) are an error.
func (n *Network) ListenHostPort(hostAddr netip.AddrPort, proto string, podIP netip.Addr, port int) (io.Closer, error) {
	udp := false
	switch proto {
	case "", "TCP", "tcp":
	case "UDP", "udp":
		udp = true
	default:
		return nil, fmt.Errorf("network: hostPort %s: protocol %q not supported (TCP or UDP)", hostAddr, proto)
	}
	if !hostAddr.IsValid() {
		return nil, fmt.Errorf("network: hostPort: invalid host address %q", hostAddr)
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("network: hostPort %s: containerPort %d out of range", hostAddr, port)
	}
	if !podIP.IsValid() {
		return nil, fmt.Errorf("network: hostPort %s: invalid pod IP", hostAddr)
	}
	target := netip.AddrPortFrom(podIP.Unmap(), uint16(port))
	var (
		l   io.Closer
		err error
	)
	if udp {
		l, err = n.listenHostUDP(hostAddr, target)
	} else {
		l, err = n.listenHost(hostAddr, target)
	}
	if err != nil {
		return nil, fmt.Errorf("network: hostPort %s/%s: %w", hostAddr, protoName(udp), err)
	}
	return l, nil
}

// hostNetwork is "tcp4" or "udp4" for an IPv4 address and "tcp6" or "udp6"
// for an IPv6 one ("::" stays dual-stack): a host port binds one address
// family, as the kubelet's hostport opener does, and its errors say which
// ("listen tcp4 127.0.0.1:8080: bind: address already in use"). It returns
// the address to bind too, an IPv4-mapped one unmapped.
func hostNetwork(proto string, addr netip.AddrPort) (string, string) {
	ip := addr.Addr().Unmap()
	a := netip.AddrPortFrom(ip, addr.Port()).String()
	switch {
	case ip.Is4():
		return proto + "4", a
	case ip.IsUnspecified():
		return proto, a
	}
	return proto + "6", a
}

func protoName(udp bool) string {
	if udp {
		return "UDP"
	}
	return "TCP"
}

// syncNodePorts opens and closes NodePort listeners to match the Services.
func (n *Network) syncNodePorts() error {
	n.npMu.Lock()
	defer n.npMu.Unlock()
	n.mu.RLock()
	if n.closed {
		n.mu.RUnlock()
		return nil
	}
	want := map[nodePortKey]netip.AddrPort{}
	for _, svc := range n.services {
		if !svc.ClusterIP.IsValid() {
			continue
		}
		for _, sp := range svc.ports {
			if sp.NodePort > 0 {
				want[nodePortKey{sp.NodePort, sp.Protocol}] = netip.AddrPortFrom(svc.ClusterIP, uint16(sp.Port))
			}
		}
	}
	var stale []io.Closer
	for k, np := range n.nodePorts {
		if t, ok := want[k]; !ok || t != np.target {
			stale = append(stale, np.c)
			delete(n.nodePorts, k)
		} else {
			delete(want, k)
		}
	}
	n.mu.RUnlock()
	for _, c := range stale {
		c.Close()
	}
	var errs []error
	for k, t := range want {
		addr := netip.AddrPortFrom(n.cfg.HostIP, uint16(k.port))
		var (
			c   io.Closer
			err error
		)
		if k.proto == "UDP" {
			c, err = n.listenHostUDP(addr, t)
		} else {
			c, err = n.listenHost(addr, t)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("network: nodePort %d/%s: %w", k.port, k.proto, err))
			continue
		}
		n.mu.Lock()
		n.nodePorts[k] = nodePort{c: c, target: t}
		n.mu.Unlock()
	}
	return errors.Join(errs...)
}

// sockConn is a blocking net.Conn over a host-side socket.
type sockConn struct {
	s      *sock
	dlMu   sync.Mutex
	rdl    time.Time
	wdl    time.Time
	dlNote notifier
}

func newSockConn(s *sock) *sockConn { return &sockConn{s: s} }

func (c *sockConn) wait(ev Events, write bool) error {
	for {
		dch := c.dlNote.wait()
		got, ch := c.s.Poll()
		if got&(ev|Hangup) != 0 {
			return nil
		}
		c.dlMu.Lock()
		dl := c.rdl
		if write {
			dl = c.wdl
		}
		c.dlMu.Unlock()
		var tc <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return os.ErrDeadlineExceeded
			}
			t := time.NewTimer(d)
			tc = t.C
			select {
			case <-ch:
			case <-dch:
			case <-tc:
			}
			t.Stop()
			continue
		}
		select {
		case <-ch:
		case <-dch:
		}
	}
}

func (c *sockConn) opErr(op string, err error) error {
	if errors.Is(err, syscall.EBADF) {
		err = net.ErrClosed
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

func (c *sockConn) Read(p []byte) (int, error) {
	for {
		n, err := c.s.Read(p)
		if err == syscall.EAGAIN {
			if err := c.wait(Readable, false); err != nil {
				return 0, c.opErr("read", err)
			}
			continue
		}
		if err != nil {
			return n, c.opErr("read", err)
		}
		if n == 0 && len(p) > 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

func (c *sockConn) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := c.s.Write(p[done:])
		done += n
		if err == syscall.EAGAIN {
			if err := c.wait(Writable, true); err != nil {
				return done, c.opErr("write", err)
			}
			continue
		}
		if err != nil {
			return done, c.opErr("write", err)
		}
	}
	return done, nil
}

func (c *sockConn) Close() error { return c.s.Close() }

// CloseWrite shuts the sending side (the pod reads EOF).
func (c *sockConn) CloseWrite() error { return c.s.Shutdown(false, true) }

// peerClosed reports whether the pod-side socket is fully closed.
func (c *sockConn) peerClosed() bool {
	c.s.mu.Lock()
	tx := c.s.tx
	c.s.mu.Unlock()
	if tx == nil {
		return true
	}
	st := tx.state()
	return st.rclosed || st.reset
}

func (c *sockConn) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(c.s.LocalAddr()) }
func (c *sockConn) RemoteAddr() net.Addr {
	c.s.mu.Lock()
	r := c.s.remote
	c.s.mu.Unlock()
	return net.TCPAddrFromAddrPort(r)
}

func (c *sockConn) SetDeadline(t time.Time) error {
	c.dlMu.Lock()
	c.rdl, c.wdl = t, t
	c.dlMu.Unlock()
	c.dlNote.wake()
	return nil
}

func (c *sockConn) SetReadDeadline(t time.Time) error {
	c.dlMu.Lock()
	c.rdl = t
	c.dlMu.Unlock()
	c.dlNote.wake()
	return nil
}

func (c *sockConn) SetWriteDeadline(t time.Time) error {
	c.dlMu.Lock()
	c.wdl = t
	c.dlMu.Unlock()
	c.dlNote.wake()
	return nil
}
