package pods

import (
	"fmt"
	"net/netip"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// ipam hands out pod IPs from a node's pod CIDR: the network address and
// the first host address (the node's bridge upstream) and, for IPv4, the
// broadcast address are never given out.
type ipam struct {
	mu     sync.Mutex
	prefix netip.Prefix
	used   map[netip.Addr]types.UID
	next   netip.Addr
}

func newIPAM(cidr string) (*ipam, error) {
	if cidr == "" {
		return nil, nil
	}
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, fmt.Errorf("podCIDR %q: %w", cidr, err)
	}
	p = p.Masked()
	if p.Bits() > p.Addr().BitLen()-2 {
		return nil, fmt.Errorf("podCIDR %q: too small for pods", cidr)
	}
	return &ipam{prefix: p, used: map[netip.Addr]types.UID{}, next: p.Addr().Next().Next()}, nil
}

func (m *ipam) usable(a netip.Addr) bool {
	if !m.prefix.Contains(a) || a == m.prefix.Addr() || a == m.prefix.Addr().Next() {
		return false
	}
	if a.Is4() {
		// Broadcast: every host bit set.
		b := a.As4()
		host := 32 - m.prefix.Bits()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		if mask := uint32(1)<<host - 1; v&mask == mask {
			return false
		}
	}
	return true
}

// allocate returns uid's address: want when it is usable and free (a pod
// keeps its IP across an agent restart), else the next free one.
func (m *ipam) allocate(uid types.UID, want string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for a, u := range m.used {
		if u == uid {
			return a.String(), nil
		}
	}
	if a, err := netip.ParseAddr(want); err == nil && m.usable(a) {
		if _, taken := m.used[a]; !taken {
			m.used[a] = uid
			return a.String(), nil
		}
	}
	start := m.next
	if !m.prefix.Contains(start) {
		start = m.prefix.Addr()
	}
	for a := start; ; {
		if _, taken := m.used[a]; !taken && m.usable(a) {
			m.used[a] = uid
			m.next = a.Next()
			return a.String(), nil
		}
		a = a.Next()
		if !m.prefix.Contains(a) {
			a = m.prefix.Addr()
		}
		if a == start {
			return "", fmt.Errorf("podCIDR %s is exhausted", m.prefix)
		}
	}
}

// release frees uid's address.
func (m *ipam) release(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for a, u := range m.used {
		if u == uid {
			delete(m.used, a)
		}
	}
}
