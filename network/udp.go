package network

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
)

// connectDgram sets the default peer of a datagram socket; datagrams from
// other addresses are then dropped.
func (s *sock) connectDgram(addr netip.AddrPort) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == sClosed {
		return syscall.EBADF
	}
	if addr.Port() == 0 {
		return syscall.EINVAL
	}
	dst := addr.Addr()
	var lip netip.Addr
	egress := false
	switch {
	case s.n.flowFor(s, addr) != nil:
		// the host client of a hostPort/NodePort flow (maybe at 127.0.0.1)
		lip = s.pod.info.IP
	case isLoopback(dst):
		addr = netip.AddrPortFrom(loopbackOf(dst), addr.Port())
		lip = addr.Addr()
	case s.n.cfg.ServiceCIDR.Contains(dst):
		lip = s.pod.info.IP
	case s.n.pod(dst) != nil, s.n.route(dst) != nil:
		lip = s.pod.info.IP
	default:
		if err := s.n.routableVia(dst, s.n.realListen); err != nil {
			return err
		}
		if s.bound && s.local.Addr().IsLoopback() {
			return syscall.EINVAL // no route from a loopback source, as on Linux
		}
		lip = s.pod.info.IP
		egress = true
	}
	if err := s.autoBind(lip); err != nil {
		return err
	}
	if egress {
		if _, err := s.egressConn(); err != nil {
			return err
		}
	}
	s.remote = addr
	s.state = sConnected
	return nil
}

// sendDgram routes one datagram. Datagrams that find no socket, or a full
// queue, are dropped silently, as UDP does.
func (s *sock) sendDgram(p []byte, addr netip.AddrPort) (int, error) {
	if len(p) > maxDatagram {
		return 0, syscall.EMSGSIZE
	}
	s.mu.Lock()
	if s.state == sClosed {
		s.mu.Unlock()
		return 0, syscall.EBADF
	}
	if !addr.IsValid() {
		if s.state != sConnected {
			s.mu.Unlock()
			return 0, syscall.EDESTADDRREQ
		}
		addr = s.remote
	} else {
		var err error
		if addr, err = s.checkAddr(addr); err != nil {
			s.mu.Unlock()
			return 0, err
		}
	}
	if addr.Port() == 0 {
		s.mu.Unlock()
		return 0, syscall.EINVAL
	}
	n := s.n
	if f := n.flowFor(s, addr); f != nil {
		// a reply to a host client of a hostPort/NodePort flow
		s.mu.Unlock()
		f.reply(p)
		return len(p), nil
	}
	dst := addr.Addr()
	var (
		target *pod
		via    Remote // another node's pod
		to     = addr
		lip    = s.pod.info.IP
	)
	switch {
	case isLoopback(dst):
		target = s.pod
		lip = loopbackOf(dst)
		to = netip.AddrPortFrom(lip, addr.Port())
	case n.cfg.ServiceCIDR.Contains(dst):
		eps, ok := n.pickEndpoints(addr, "UDP")
		if !ok {
			s.mu.Unlock()
			return 0, syscall.EHOSTUNREACH
		}
		for _, ep := range eps {
			if t := n.pod(ep.Addr()); t != nil {
				target, to = t, ep
				break
			}
			if r := n.route(ep.Addr()); r != nil {
				via, to = r, ep // an endpoint on another node
				break
			}
		}
		if target == nil && via == nil {
			s.mu.Unlock()
			return 0, syscall.ECONNREFUSED
		}
		if s.nat == nil {
			s.nat = map[netip.AddrPort]netip.AddrPort{}
		}
		s.nat[to] = addr
	default:
		target = n.pod(dst)
		if target == nil {
			if via = n.route(dst); via == nil {
				return s.sendEgress(p, addr)
			}
		}
	}
	if err := s.autoBind(netip.Addr{}); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	from := netip.AddrPortFrom(lip, s.local.Port())
	if !lip.IsLoopback() {
		from = netip.AddrPortFrom(s.pod.info.IP, s.local.Port())
	}
	s.mu.Unlock()

	if via != nil {
		via.SendDatagram(from, to, p)
		return len(p), nil
	}
	t := target.lookupPort(Datagram, to.Port())
	if t == nil {
		return len(p), nil
	}
	t.enqueue(p, from, to.Addr())
	return len(p), nil
}

// sendEgress sends a datagram to an address outside the cluster through
// the socket's host UDP socket (SNAT: the host picks the source port).
// s.mu is held and released.
func (s *sock) sendEgress(p []byte, addr netip.AddrPort) (int, error) {
	if err := s.n.routableVia(addr.Addr(), s.n.realListen); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	if err := s.autoBind(netip.Addr{}); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	if s.local.Addr().IsLoopback() {
		s.mu.Unlock()
		return 0, syscall.EINVAL // no route from a loopback source, as on Linux
	}
	pc, err := s.egressConn()
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if _, err := pc.WriteTo(p, net.UDPAddrFromAddrPort(addr)); err != nil {
		return 0, errnoOf(err)
	}
	return len(p), nil
}

// egressConn returns the socket's host UDP socket, opening it and starting
// its reader on first use; s.mu held.
func (s *sock) egressConn() (net.PacketConn, error) {
	if s.hostPC != nil {
		return s.hostPC, nil
	}
	n := s.n
	pc, err := n.cfg.ListenPacket(context.Background(), "udp", ":0")
	if err != nil {
		var e syscall.Errno
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, syscall.ENOBUFS
	}
	if !n.track(pc) {
		pc.Close()
		return nil, syscall.ENETDOWN
	}
	if !n.goAdd() {
		n.untrack(pc)
		pc.Close()
		return nil, syscall.ENETDOWN
	}
	s.hostPC = pc
	go s.egressRead(pc)
	return pc, nil
}

// egressRead queues what the host UDP socket receives on s, from the real
// sender's address, until the host socket is closed (with s, or by
// Network.Close).
func (s *sock) egressRead(pc net.PacketConn) {
	defer s.n.wg.Done()
	defer s.n.untrack(pc)
	dialed := s.pod.info.IP
	buf := make([]byte, 1<<16)
	for {
		k, from, err := pc.ReadFrom(buf)
		if err != nil {
			if icmpError(err) {
				continue
			}
			return
		}
		if ap, ok := addrPortOf(from); ok {
			s.enqueue(buf[:k], ap, dialed)
		}
	}
}

// icmpError reports a receive error that an ICMP message left on a UDP
// socket: it is reported once and the socket goes on.
func icmpError(err error) bool {
	var e syscall.Errno
	if !errors.As(err, &e) {
		return false
	}
	switch e {
	case syscall.ECONNREFUSED, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EMSGSIZE:
		return true
	}
	return false
}

// addrPortOf converts a host UDP address (IPv4-mapped addresses unmapped).
func addrPortOf(a net.Addr) (netip.AddrPort, bool) {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.UDPAddr:
		ap = a.AddrPort()
	case nil:
		return ap, false
	default:
		var err error
		if ap, err = netip.ParseAddrPort(a.String()); err != nil {
			return ap, false
		}
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	return ap, ap.IsValid() && ap.Port() != 0
}

// dgramAcct is the budget queued datagrams of s are charged to.
func (s *sock) dgramAcct() *bufAcct {
	if s.pod == nil {
		return nil
	}
	return s.pod.bufs
}

// enqueue delivers a datagram to s unless filtered, the queue is full or
// its pod's socket buffer budget refuses it.
func (s *sock) enqueue(p []byte, from netip.AddrPort, dialed netip.Addr) {
	s.mu.Lock()
	if s.state == sClosed || s.rdShut {
		s.mu.Unlock()
		return
	}
	bl := s.local.Addr()
	if !bl.IsUnspecified() && bl.IsLoopback() != dialed.IsLoopback() {
		s.mu.Unlock()
		return
	}
	if v, ok := s.nat[from]; ok {
		from = v
	}
	if s.state == sConnected && from != s.remote {
		s.mu.Unlock()
		return
	}
	if len(s.dq) >= maxDgramQLen || s.dqBytes+len(p) > s.n.cfg.BufferSize || !s.dgramAcct().acquire(len(p)) {
		s.mu.Unlock()
		return
	}
	s.dq = append(s.dq, dgram{b: append([]byte(nil), p...), from: from})
	s.dqBytes += len(p)
	s.mu.Unlock()
	s.note.wake()
}
