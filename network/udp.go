package network

import (
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
	switch {
	case isLoopback(dst):
		addr = netip.AddrPortFrom(loopbackOf(dst), addr.Port())
		lip = addr.Addr()
	case s.n.cfg.ServiceCIDR.Contains(dst):
		lip = s.pod.info.IP
	case s.n.pod(dst) != nil:
		lip = s.pod.info.IP
	default:
		if err := s.n.routable(dst); err != nil {
			return err
		}
		return syscall.ENETUNREACH // UDP egress is not supported
	}
	if err := s.autoBind(lip); err != nil {
		return err
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
	dst := addr.Addr()
	var (
		target *pod
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
		}
		if target == nil {
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
			err := n.routable(dst)
			s.mu.Unlock()
			if err == nil {
				err = syscall.ENETUNREACH // UDP egress is not supported
			}
			return 0, err
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

	t := target.lookupPort(Datagram, to.Port())
	if t == nil {
		return len(p), nil
	}
	t.enqueue(p, from, to.Addr())
	return len(p), nil
}

// enqueue delivers a datagram to s unless filtered or the queue is full.
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
	if len(s.dq) >= maxDgramQLen || s.dqBytes+len(p) > s.n.cfg.BufferSize {
		s.mu.Unlock()
		return
	}
	s.dq = append(s.dq, dgram{b: append([]byte(nil), p...), from: from})
	s.dqBytes += len(p)
	s.mu.Unlock()
	s.note.wake()
}
