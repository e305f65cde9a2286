package network

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"syscall"
)

type sockState int

const (
	sInit sockState = iota
	sListening
	sConnecting
	sConnected
	sFailed
	sClosed
)

const (
	maxDatagram  = 65507
	maxDgramQLen = 1024
	maxBacklog   = 4096
	// maxPending bounds the connects waiting for room in one listener's
	// accept queue; past it a connect is refused.
	maxPending = 4096
)

type dgram struct {
	b    []byte
	from netip.AddrPort
}

// sock implements Socket. Lock order: sock.mu → (listener) sock.mu of a
// different socket → pipe/pod/notifier locks (leaves). A socket never takes
// the lock of a socket that could hold its own.
type sock struct {
	n      *Network
	pod    *pod // nil for host-side sockets
	family int
	typ    SockType
	note   notifier

	mu      sync.Mutex
	state   sockState
	bound   bool // holds a port in pod's port space
	local   netip.AddrPort
	remote  netip.AddrPort
	soErr   syscall.Errno
	opts    map[[2]int]int
	rdShut  bool
	rx, tx  *pipe
	backlog int
	queue   []*sock
	// pending are connects waiting for room in the accept queue (a full
	// backlog delays a connect, as Linux's SYN retries do, rather than
	// refusing it).
	pending []pendingConn
	cancel  context.CancelFunc
	dq      []dgram
	dqBytes int
	nat     map[netip.AddrPort]netip.AddrPort
	// hostPC is the real host UDP socket of a datagram socket that sent to
	// (or connected to) an address outside the cluster; nil until then.
	hostPC net.PacketConn
	// accepted, set before the socket is used, is called when the pod
	// accepts the connection (set on a host-side client and copied to its
	// server side by establish).
	accepted func()
	// connCounted: the socket is counted in its pod's open connections
	// (stats.go).
	connCounted bool
}

func newSock(n *Network, p *pod, family int, typ SockType) *sock {
	return &sock{n: n, pod: p, family: family, typ: typ}
}

// checkAddr validates an address given to the socket.
func (s *sock) checkAddr(a netip.AddrPort) (netip.AddrPort, error) {
	if !a.IsValid() {
		return a, syscall.EINVAL
	}
	ip := a.Addr()
	if ip.Is6() && !ip.Is4In6() {
		if s.family == syscall.AF_INET {
			return a, syscall.EAFNOSUPPORT
		}
		if ip.Zone() != "" {
			ip = ip.WithZone("")
		}
		return netip.AddrPortFrom(ip, a.Port()), nil
	}
	return netip.AddrPortFrom(ip.Unmap(), a.Port()), nil
}

func (s *sock) unspecified() netip.Addr {
	if s.family == syscall.AF_INET6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

func loopbackOf(a netip.Addr) netip.Addr {
	if a.IsUnspecified() {
		if a.Is6() {
			return netip.IPv6Loopback()
		}
		return netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	return a
}

// Bind implements Socket.
func (s *sock) Bind(addr netip.AddrPort) error {
	addr, err := s.checkAddr(addr)
	if err != nil {
		return err
	}
	if s.pod == nil {
		return syscall.EINVAL
	}
	ip := addr.Addr()
	if !ip.IsUnspecified() && !ip.IsLoopback() && ip != s.pod.info.IP {
		return syscall.EADDRNOTAVAIL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == sClosed {
		return syscall.EBADF
	}
	if s.bound || s.state != sInit {
		return syscall.EINVAL
	}
	port, err := s.pod.bindPort(s.typ, addr.Port(), s)
	if err != nil {
		return err
	}
	s.bound = true
	s.local = netip.AddrPortFrom(ip, port)
	return nil
}

// autoBind binds an ephemeral port with the given local IP; s.mu held.
func (s *sock) autoBind(ip netip.Addr) error {
	if s.bound {
		if s.local.Addr().IsUnspecified() && ip.IsValid() {
			s.local = netip.AddrPortFrom(ip, s.local.Port())
		}
		return nil
	}
	port, err := s.pod.bindPort(s.typ, 0, s)
	if err != nil {
		return err
	}
	if !ip.IsValid() {
		ip = s.unspecified()
	}
	s.bound = true
	s.local = netip.AddrPortFrom(ip, port)
	return nil
}

// Listen implements Socket.
func (s *sock) Listen(backlog int) error {
	if s.typ != Stream {
		return syscall.EOPNOTSUPP
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case sClosed:
		return syscall.EBADF
	case sListening:
		s.backlog = clampBacklog(backlog)
		return nil
	case sInit:
	default:
		return syscall.EINVAL
	}
	if s.pod == nil {
		return syscall.EINVAL
	}
	if err := s.autoBind(netip.Addr{}); err != nil {
		return err
	}
	s.backlog = clampBacklog(backlog)
	s.state = sListening
	return nil
}

func clampBacklog(b int) int {
	if b < 1 {
		return 1
	}
	return min(b, maxBacklog)
}

// Accept implements Socket.
func (s *sock) Accept() (Socket, error) {
	s.mu.Lock()
	if s.state == sClosed {
		s.mu.Unlock()
		return nil, syscall.EBADF
	}
	if s.state != sListening {
		s.mu.Unlock()
		return nil, syscall.EINVAL
	}
	if len(s.queue) == 0 {
		s.mu.Unlock()
		return nil, syscall.EAGAIN
	}
	c := s.queue[0]
	if err := s.pod.addSock(c); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	s.queue[0] = nil
	s.queue = s.queue[1:]
	var waiting []pendingConn
	if len(s.pending) > 0 && len(s.queue) < s.backlog {
		waiting = []pendingConn{s.pending[0]}
		s.pending = s.pending[1:]
	}
	s.mu.Unlock()
	for _, p := range waiting {
		s.n.completePending(s, p)
	}
	c.mu.Lock()
	if c.state == sConnected {
		c.countConn(true, c.remote)
	}
	c.mu.Unlock()
	if c.accepted != nil {
		c.accepted()
	}
	return c, nil
}

// Connect implements Socket.
func (s *sock) Connect(addr netip.AddrPort) error {
	addr, err := s.checkAddr(addr)
	if err != nil {
		return err
	}
	if s.typ == Datagram {
		return s.connectDgram(addr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case sClosed:
		return syscall.EBADF
	case sConnecting:
		return syscall.EALREADY
	case sConnected:
		return syscall.EISCONN
	case sListening:
		return syscall.EINVAL
	case sFailed:
		s.state = sInit
	}
	if addr.Port() == 0 {
		return syscall.ECONNREFUSED
	}
	dst := addr.Addr()
	n := s.n
	switch {
	case isLoopback(dst):
		lo := loopbackOf(dst)
		if err := s.autoBind(lo); err != nil {
			return err
		}
		return n.deliverStream(s.pod, netip.AddrPortFrom(lo, addr.Port()), addr, s)
	case n.cfg.ServiceCIDR.Contains(dst):
		if err := s.autoBind(s.pod.info.IP); err != nil {
			return err
		}
		eps, ok := n.pickEndpoints(addr, "TCP")
		if !ok {
			return syscall.EHOSTUNREACH
		}
		for _, ep := range eps {
			t := n.pod(ep.Addr())
			if t == nil {
				if r := n.route(ep.Addr()); r != nil {
					return s.startRemote(r, ep, addr) // an endpoint on another node
				}
				continue
			}
			if err := n.deliverStream(t, ep, addr, s); err == nil {
				return nil
			}
		}
		return syscall.ECONNREFUSED
	}
	if t := n.pod(dst); t != nil {
		if err := s.autoBind(s.pod.info.IP); err != nil {
			return err
		}
		return n.deliverStream(t, addr, addr, s)
	}
	if r := n.route(dst); r != nil {
		if err := s.autoBind(s.pod.info.IP); err != nil {
			return err
		}
		return s.startRemote(r, addr, addr) // a pod of another node
	}
	if err := n.routable(dst); err != nil {
		return err
	}
	if err := s.autoBind(s.pod.info.IP); err != nil {
		return err
	}
	return s.startEgress(addr)
}

// routable checks an address outside the fabric for TCP egress.
func (n *Network) routable(dst netip.Addr) error { return n.routableVia(dst, n.realDial) }

// routableVia checks an address outside the fabric for egress; real means
// the egress would use real host sockets (no test hook).
func (n *Network) routableVia(dst netip.Addr, real bool) error {
	switch {
	case n.inPodCIDR(dst):
		return syscall.EHOSTUNREACH
	case dst.IsMulticast() || dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return syscall.ENETUNREACH
	case n.cfg.DenyEgress:
		return syscall.EACCES
	case real && isDocumentation(dst):
		// RFC 5737/3849 documentation ranges are never routed: refuse them
		// here, so nothing (a test, an example) sends traffic there.
		return syscall.ENETUNREACH
	}
	return nil
}

var documentationPrefixes = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("2001:db8::/32"),
}

func isDocumentation(a netip.Addr) bool {
	for _, p := range documentationPrefixes {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// deliverStream connects client c (s.mu held, local address set) to the
// listener of target on dialed's port. remote is what c sees as its peer.
func (n *Network) deliverStream(target *pod, dialed, remote netip.AddrPort, c *sock) error {
	ls := target.lookupPort(Stream, dialed.Port())
	if ls == nil || ls == c {
		return syscall.ECONNREFUSED
	}
	ls.mu.Lock()
	if ls.state != sListening {
		ls.mu.Unlock()
		return syscall.ECONNREFUSED
	}
	if len(ls.queue) >= ls.backlog {
		// A host-side connection (hostPort, NodePort, port-forward) holds
		// a real host connection: refuse it at once rather than hold it.
		if c.pod == nil || len(ls.pending) >= maxPending {
			ls.mu.Unlock()
			return syscall.ECONNREFUSED
		}
		ls.pending = append(ls.pending, pendingConn{c: c, target: target, dialed: dialed, remote: remote})
		ls.mu.Unlock()
		c.state = sConnecting
		return syscall.EINPROGRESS
	}
	bl := ls.local.Addr()
	if !bl.IsUnspecified() && bl.IsLoopback() != dialed.Addr().IsLoopback() {
		ls.mu.Unlock()
		return syscall.ECONNREFUSED
	}
	n.establish(ls, target, dialed, remote, c)
	return nil
}

// establish queues the server side of c's connection on listener ls and
// connects c. c.mu and ls.mu are held; ls.mu is released.
func (n *Network) establish(ls *sock, target *pod, dialed, remote netip.AddrPort, c *sock) {
	srvLocal := dialed
	if !dialed.Addr().IsLoopback() {
		srvLocal = netip.AddrPortFrom(target.info.IP, dialed.Port())
	}
	srv := newSock(n, target, ls.family, Stream)
	srv.state = sConnected
	srv.local = srvLocal
	srv.remote = c.local
	srv.accepted = c.accepted
	connectPair(c, srv, n.cfg.BufferSize)
	ls.queue = append(ls.queue, srv)
	ls.mu.Unlock()
	ls.note.wake()

	c.state = sConnected
	c.remote = remote
	c.countConn(false, remote)
	c.note.wake()
}

// pendingConn is a connect waiting for room in a listener's accept queue.
type pendingConn struct {
	c              *sock
	target         *pod
	dialed, remote netip.AddrPort
}

// completePending connects p.c now that ls has room, unless either side
// went away meanwhile. Lock order c.mu, then ls.mu, as in Connect.
func (n *Network) completePending(ls *sock, p pendingConn) {
	c := p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != sConnecting {
		return // closed while it waited
	}
	ls.mu.Lock()
	if ls.state != sListening {
		ls.mu.Unlock()
		c.state, c.soErr = sFailed, syscall.ECONNREFUSED
		c.note.wake()
		return
	}
	n.establish(ls, p.target, p.dialed, p.remote, c)
}

// failPending refuses connects that waited on a listener that closed.
func failPending(ps []pendingConn) {
	for _, p := range ps {
		p.c.mu.Lock()
		if p.c.state == sConnecting {
			p.c.state, p.c.soErr = sFailed, syscall.ECONNREFUSED
		}
		p.c.mu.Unlock()
		p.c.note.wake()
	}
}

// pipeAcct is the socket buffer budget charged for data w writes to r: the
// writer's pod's, or the reader's pod's when the host writes.
func pipeAcct(w, r *sock) *bufAcct {
	if w.pod != nil {
		return w.pod.bufs
	}
	if r.pod != nil {
		return r.pod.bufs
	}
	return nil
}

// connectPair wires two stream sockets with a pipe per direction.
func connectPair(a, b *sock, size int) {
	ab, ba := newPipe(size, pipeAcct(a, b)), newPipe(size, pipeAcct(b, a))
	ab.wr, ab.rd = &a.note, &b.note
	ba.wr, ba.rd = &b.note, &a.note
	a.tx, a.rx = ab, ba
	b.tx, b.rx = ba, ab
}

// Read implements Socket.
func (s *sock) Read(p []byte) (int, error) {
	if s.typ == Datagram {
		n, _, err := s.RecvFrom(p, false)
		return n, err
	}
	return s.readStream(p, false)
}

func (s *sock) readStream(p []byte, peek bool) (int, error) {
	s.mu.Lock()
	st, rx, rdShut, peer := s.state, s.rx, s.rdShut, s.remote
	s.mu.Unlock()
	if err := streamReady(st); err != nil {
		return 0, err
	}
	if rdShut {
		return 0, nil
	}
	n, err := rx.read(p, peek)
	if !peek {
		s.countRx(n, peer)
	}
	return n, err
}

// streamReady is the error of reading or writing a stream socket in state
// st: none when connected.
func streamReady(st sockState) error {
	switch st {
	case sConnected:
		return nil
	case sClosed:
		return syscall.EBADF
	case sConnecting:
		return syscall.EAGAIN
	}
	return syscall.ENOTCONN
}

// Write implements Socket.
func (s *sock) Write(p []byte) (int, error) {
	if s.typ == Datagram {
		return s.SendTo(p, netip.AddrPort{})
	}
	s.mu.Lock()
	st, tx, peer := s.state, s.tx, s.remote
	s.mu.Unlock()
	if err := streamReady(st); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := tx.write(p)
	s.countTx(n, peer)
	return n, err
}

// RecvFrom implements Socket.
func (s *sock) RecvFrom(p []byte, peek bool) (int, netip.AddrPort, error) {
	if s.typ == Stream {
		n, err := s.readStream(p, peek)
		s.mu.Lock()
		r := s.remote
		s.mu.Unlock()
		return n, r, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == sClosed {
		return 0, netip.AddrPort{}, syscall.EBADF
	}
	if len(s.dq) == 0 {
		if s.rdShut {
			return 0, netip.AddrPort{}, nil
		}
		return 0, netip.AddrPort{}, syscall.EAGAIN
	}
	d := s.dq[0]
	n := copy(p, d.b)
	if !peek {
		s.dq[0] = dgram{}
		s.dq = s.dq[1:]
		s.dqBytes -= len(d.b)
		s.dgramAcct().release(len(d.b))
		s.countRx(len(d.b), d.from)
	}
	return n, d.from, nil
}

// SendTo implements Socket. For stream sockets the address is ignored.
func (s *sock) SendTo(p []byte, addr netip.AddrPort) (int, error) {
	if s.typ == Stream {
		return s.Write(p)
	}
	n, err := s.sendDgram(p, addr)
	if n > 0 && s.pod != nil {
		if !addr.IsValid() {
			s.mu.Lock()
			addr = s.remote
			s.mu.Unlock()
		}
		s.countTx(n, addr)
	}
	return n, err
}

// Shutdown implements Socket.
func (s *sock) Shutdown(read, write bool) error {
	if !read && !write {
		return syscall.EINVAL
	}
	s.mu.Lock()
	switch {
	case s.state == sClosed:
		s.mu.Unlock()
		return syscall.EBADF
	case s.typ == Stream && s.state != sConnected:
		s.mu.Unlock()
		return syscall.ENOTCONN
	}
	if read {
		s.rdShut = true
	}
	tx := s.tx
	s.mu.Unlock()
	if write && tx != nil {
		tx.closeWrite()
	}
	s.note.wake()
	return nil
}

// LocalAddr implements Socket.
func (s *sock) LocalAddr() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.local.IsValid() {
		return netip.AddrPortFrom(s.unspecified(), 0)
	}
	return s.local
}

// RemoteAddr implements Socket.
func (s *sock) RemoteAddr() (netip.AddrPort, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == sClosed {
		return netip.AddrPort{}, syscall.EBADF
	}
	if s.state != sConnected || !s.remote.IsValid() {
		return netip.AddrPort{}, syscall.ENOTCONN
	}
	return s.remote, nil
}

func knownOption(typ SockType, level, name int) bool {
	switch level {
	case SolSocket:
		switch name {
		case SoReuseaddr, SoDontroute, SoBroadcast, SoSndbuf, SoRcvbuf, SoKeepalive,
			SoOobinline, SoLinger, SoReuseport, SoRcvlowat, SoRcvtimeo, SoSndtimeo:
			return true
		}
	case IPProtoTCP:
		if typ != Stream {
			return false
		}
		switch name {
		case TCPNodelay, TCPKeepidle, TCPKeepintvl, TCPKeepcnt:
			return true
		}
	}
	return false
}

// SetOption implements Socket. Options are recorded and reported back;
// buffer sizes are fixed by Config.BufferSize.
func (s *sock) SetOption(level, name, value int) error {
	if level == SolSocket && (name == SoType || name == SoError || name == SoAcceptconn) {
		return syscall.ENOPROTOOPT
	}
	if !knownOption(s.typ, level, name) {
		return syscall.ENOPROTOOPT
	}
	if value < 0 {
		return syscall.EINVAL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == sClosed {
		return syscall.EBADF
	}
	if s.opts == nil {
		s.opts = map[[2]int]int{}
	}
	s.opts[[2]int{level, name}] = value
	return nil
}

// GetOption implements Socket.
func (s *sock) GetOption(level, name int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == sClosed {
		return 0, syscall.EBADF
	}
	if level == SolSocket {
		switch name {
		case SoType:
			return int(s.typ), nil
		case SoError:
			e := s.soErr
			s.soErr = 0
			return int(e), nil
		case SoAcceptconn:
			if s.state == sListening {
				return 1, nil
			}
			return 0, nil
		case SoRcvbuf, SoSndbuf:
			return s.n.cfg.BufferSize, nil
		}
	}
	if !knownOption(s.typ, level, name) {
		return 0, syscall.ENOPROTOOPT
	}
	return s.opts[[2]int{level, name}], nil
}

// Poll implements Socket.
func (s *sock) Poll() (Events, <-chan struct{}) {
	ch := s.note.wait()
	return s.events(), ch
}

func (s *sock) events() Events {
	s.mu.Lock()
	st, rx, tx, rdShut := s.state, s.rx, s.tx, s.rdShut
	var ev Events
	switch st {
	case sClosed:
		ev = Hangup
	case sFailed:
		ev = Readable | Writable | Hangup
	case sListening:
		if len(s.queue) > 0 {
			ev = Readable
		}
	case sInit:
		if s.typ == Datagram {
			ev = Writable
			if len(s.dq) > 0 {
				ev |= Readable
			}
		} else {
			ev = Writable | Hangup
		}
	}
	s.mu.Unlock()
	if st != sConnected {
		return ev
	}
	if s.typ == Datagram {
		s.mu.Lock()
		ev = Writable
		if len(s.dq) > 0 || rdShut {
			ev |= Readable
		}
		s.mu.Unlock()
		return ev
	}
	r, t := rx.state(), tx.state()
	if r.reset || t.reset {
		return Readable | Writable | Hangup
	}
	rdone := r.wclosed || r.rclosed || rdShut
	wdone := t.wclosed || t.rclosed
	if r.n > 0 || rdone {
		ev |= Readable
	}
	if t.writable || wdone {
		ev |= Writable
	}
	if rdone && wdone {
		ev |= Hangup
	}
	return ev
}

// Close implements Socket: an orderly close (EOF to the peer), or a reset
// when unread data is discarded.
func (s *sock) Close() error { return s.close(false) }

// abort closes the socket with a reset.
func (s *sock) abort() { s.close(true) }

func (s *sock) close(reset bool) error {
	s.mu.Lock()
	if s.state == sClosed {
		s.mu.Unlock()
		return nil
	}
	prev := s.state
	s.state = sClosed
	if s.connCounted {
		s.connCounted = false
		s.pod.stats.open.Add(-1)
	}
	if s.bound && s.pod != nil {
		s.pod.releasePort(s.typ, s.local.Port(), s)
	}
	queue, pending := s.queue, s.pending
	s.queue, s.pending = nil, nil
	rx, tx := s.rx, s.tx
	cancel := s.cancel
	s.cancel = nil
	s.dgramAcct().release(s.dqBytes)
	s.dq, s.dqBytes = nil, 0
	pc := s.hostPC
	s.hostPC = nil
	s.mu.Unlock()
	if pc != nil {
		pc.Close() // ends its reader goroutine
		s.n.untrack(pc)
	}
	for _, c := range queue {
		c.abort()
	}
	failPending(pending)
	if cancel != nil {
		cancel()
	}
	if prev == sConnected && rx != nil {
		if reset {
			rx.doReset()
			tx.doReset()
		} else if lost := rx.closeRead(); lost {
			tx.doReset()
			rx.doReset()
		} else {
			tx.closeWrite()
		}
	}
	if s.pod != nil {
		s.pod.removeSock(s)
	}
	s.note.wake()
	return nil
}
