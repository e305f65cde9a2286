package network

import (
	"net/netip"
	"sync"
	"syscall"
)

const (
	ephemeralLow  = 32768
	ephemeralHigh = 60999
)

// pod is one pod's network namespace. Its lock is a leaf: it guards only
// the port maps and the socket set.
type pod struct {
	n    *Network
	info PodInfo
	bufs *bufAcct // socket buffer budget (nil: unlimited)
	// stats are the pod's traffic counters (stats.go).
	stats podCounters

	mu      sync.Mutex
	dead    bool
	tcp     map[uint16]*sock
	udp     map[uint16]*sock
	socks   map[*sock]struct{}
	nextEph uint32
}

func newPod(n *Network, info PodInfo) *pod {
	limit := info.SocketBuffers
	if limit == 0 {
		limit = n.cfg.PodSocketBuffers
	}
	return &pod{
		n:       n,
		info:    info,
		bufs:    newBufAcct(limit, info.Memory),
		tcp:     map[uint16]*sock{},
		udp:     map[uint16]*sock{},
		socks:   map[*sock]struct{}{},
		nextEph: ephemeralLow,
	}
}

// IP returns the pod's address.
func (p *pod) IP() netip.Addr { return p.info.IP }

// Socket opens a socket in the pod.
func (p *pod) Socket(family int, typ SockType) (Socket, error) {
	if family != syscall.AF_INET && family != syscall.AF_INET6 {
		return nil, syscall.EAFNOSUPPORT
	}
	if typ != Stream && typ != Datagram {
		return nil, syscall.EPROTONOSUPPORT
	}
	s := newSock(p.n, p, family, typ)
	if err := p.addSock(s); err != nil {
		return nil, err
	}
	return s, nil
}

func (p *pod) addSock(s *sock) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead {
		return syscall.ENETDOWN
	}
	if len(p.socks) >= p.n.cfg.MaxSocketsPerPod {
		return syscall.EMFILE
	}
	p.socks[s] = struct{}{}
	return nil
}

func (p *pod) removeSock(s *sock) {
	p.mu.Lock()
	delete(p.socks, s)
	p.mu.Unlock()
}

func (p *pod) ports(typ SockType) map[uint16]*sock {
	if typ == Stream {
		return p.tcp
	}
	return p.udp
}

// bindPort reserves port (0 = an ephemeral one) for s.
func (p *pod) bindPort(typ SockType, port uint16, s *sock) (uint16, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead {
		return 0, syscall.ENETDOWN
	}
	m := p.ports(typ)
	if port != 0 {
		if m[port] != nil {
			return 0, syscall.EADDRINUSE
		}
		m[port] = s
		return port, nil
	}
	for range ephemeralHigh - ephemeralLow + 1 {
		c := uint16(p.nextEph)
		p.nextEph++
		if p.nextEph > ephemeralHigh {
			p.nextEph = ephemeralLow
		}
		if m[c] == nil {
			m[c] = s
			return c, nil
		}
	}
	return 0, syscall.EADDRNOTAVAIL
}

func (p *pod) releasePort(typ SockType, port uint16, s *sock) {
	p.mu.Lock()
	m := p.ports(typ)
	if m[port] == s {
		delete(m, port)
	}
	p.mu.Unlock()
}

func (p *pod) lookupPort(typ SockType, port uint16) *sock {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead {
		return nil
	}
	return p.ports(typ)[port]
}

// shutdown resets every socket of the pod.
func (p *pod) shutdown() {
	p.mu.Lock()
	p.dead = true
	socks := make([]*sock, 0, len(p.socks))
	for s := range p.socks {
		socks = append(socks, s)
	}
	p.mu.Unlock()
	for _, s := range socks {
		s.abort()
	}
}

// DefaultPodSocketBuffers is Config.PodSocketBuffers's default.
const DefaultPodSocketBuffers = 64 << 20

// SocketBuffersFor is the socket buffer budget (PodInfo.SocketBuffers) of a
// pod whose memory limit is memLimit bytes: a quarter of it, at least 1 MiB
// and at most DefaultPodSocketBuffers; 0 (no limit known) gives 0, the
// Network's default.
func SocketBuffersFor(memLimit int64) int64 {
	if memLimit <= 0 {
		return 0
	}
	return min(max(memLimit/4, 1<<20), DefaultPodSocketBuffers)
}
