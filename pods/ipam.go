package pods

// Pod IPs: the node's IPAM, in the role host-local plays for a CNI bridge
// upstream.
//
// The node's pod CIDR (node.spec.podCIDR, given by the cluster's CIDR and
// node mask size: wasmpod.Config.ClusterCIDR and NodeCIDRMaskSize, as
// kube-controller-manager's --cluster-cidr and --node-cidr-mask-size) holds
// the pods' addresses. The network address and the first host address (the
// node's bridge, the gateway upstream) and, for IPv4, the broadcast address
// are never given out, so a /24 holds 253 pods and a /29 five.
//
// A pod that finds no free address does not run: its sandbox fails with
// host-local's error (noAddressError), the pod stays Pending with its
// containers Waiting in ContainerCreating and a FailedCreatePodSandBox
// Warning event, and the sandbox is tried again after the kubelet's back-off
// (agent_net_sandbox.go) or, sooner, when an address is released: each
// released address wakes the pod that has waited longest.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// ipam hands out pod IPs from a node's pod CIDR. It is safe for concurrent
// use.
type ipam struct {
	mu     sync.Mutex
	prefix netip.Prefix
	used   map[netip.Addr]types.UID
	byUID  map[types.UID]netip.Addr
	next   netip.Addr

	// Pods whose sandbox found the range full, oldest first (an entry
	// whose wait is gone or already woken is skipped).
	queue []types.UID
	waits map[types.UID]*ipWait
}

// ipWait is one pod's wait for an address: ch is closed when an address
// was released for it (woken).
type ipWait struct {
	ch    chan struct{}
	woken bool
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
	return &ipam{prefix: p, used: map[netip.Addr]types.UID{}, byUID: map[types.UID]netip.Addr{},
		next: p.Addr().Next().Next(), waits: map[types.UID]*ipWait{}}, nil
}

// PodAddresses is how many pods a pod CIDR of bits-bit mask holds: every
// address but the network's, the node's and, for IPv4, the broadcast
// address. bitLen is 32 or 128; a count past 1<<30 is reported as 1<<30.
func PodAddresses(bits, bitLen int) int {
	host := bitLen - bits
	if host >= 30 {
		return 1 << 30
	}
	n := 1<<host - 2
	if bitLen == 32 {
		n--
	}
	return max(n, 0)
}

func (m *ipam) usable(a netip.Addr) bool {
	if !m.prefix.Contains(a) || a == m.prefix.Addr() || a == m.prefix.Addr().Next() {
		return false
	}
	return !a.Is4() || a != lastAddr(m.prefix) // broadcast: every host bit set
}

// lastAddr is the prefix's last address.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// rangeSet is the range as host-local names it in its errors: from the
// first host address to the last (IPv6) or the one before the broadcast
// address (IPv4).
func (m *ipam) rangeSet() string {
	end := lastAddr(m.prefix)
	if end.Is4() {
		end = end.Prev()
	}
	return m.prefix.Addr().Next().String() + "-" + end.String()
}

// noAddressError is the sandbox's error when the range is full: containerd's
// "failed to setup network for sandbox" around host-local's.
type noAddressError struct {
	sandbox, rangeSet string
}

func (e *noAddressError) Error() string {
	return fmt.Sprintf("failed to setup network for sandbox %q: failed to allocate for range 0: no IP addresses available in range set: %s", e.sandbox, e.rangeSet)
}

// sandboxID names a pod's sandbox in messages (the CRI's 64 hex digits).
func sandboxID(uid types.UID) string {
	h := sha256.Sum256([]byte(uid))
	return hex.EncodeToString(h[:])
}

// allocate returns uid's address: the one it holds, else want when it is
// usable and free (a pod keeps its IP across an agent restart), else the
// next free one. When none is free the error is a *noAddressError and uid
// waits for one (wait).
func (m *ipam) allocate(uid types.UID, want string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a, ok := m.byUID[uid]; ok {
		return a.String(), nil
	}
	if a, err := netip.ParseAddr(want); err == nil && m.usable(a) {
		if _, taken := m.used[a]; !taken {
			return m.take(uid, a), nil
		}
	}
	start := m.next
	if !m.prefix.Contains(start) {
		start = m.prefix.Addr()
	}
	for a := start; ; {
		if _, taken := m.used[a]; !taken && m.usable(a) {
			m.next = a.Next()
			return m.take(uid, a), nil
		}
		a = a.Next()
		if !m.prefix.Contains(a) {
			a = m.prefix.Addr()
		}
		if a == start {
			break
		}
	}
	if w := m.waits[uid]; w == nil || w.woken {
		m.waits[uid] = &ipWait{ch: make(chan struct{})}
		m.queue = append(m.queue, uid)
	}
	return "", &noAddressError{sandbox: sandboxID(uid), rangeSet: m.rangeSet()}
}

// take gives a to uid; m.mu is held.
func (m *ipam) take(uid types.UID, a netip.Addr) string {
	m.used[a] = uid
	m.byUID[uid] = a
	delete(m.waits, uid) // a wake it had is spent
	return a.String()
}

// wait is closed when an address is released for uid after a failed
// allocate; nil when uid is not waiting.
func (m *ipam) wait(uid types.UID) <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w := m.waits[uid]; w != nil {
		return w.ch
	}
	return nil
}

// release frees uid's address, and wakes the pod that has waited longest
// for one. A wake uid was given and did not spend (it ended first) passes
// on too.
func (m *ipam) release(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	wakes := 0
	if a, ok := m.byUID[uid]; ok {
		delete(m.byUID, uid)
		delete(m.used, a)
		wakes++
	}
	if w := m.waits[uid]; w != nil {
		if w.woken {
			wakes++
		}
		delete(m.waits, uid)
	}
	for wakes > 0 && len(m.queue) > 0 {
		next := m.queue[0]
		m.queue[0] = ""
		m.queue = m.queue[1:]
		if w := m.waits[next]; w != nil && !w.woken {
			w.woken = true
			close(w.ch)
			wakes--
		}
	}
	if len(m.queue) == 0 {
		m.queue = nil // let the array go
	}
}

// Defaults of the pod network's configuration: kube-controller-manager's
// --node-cidr-mask-size (24 for IPv4, 64 for IPv6) and the kubelet's
// maxPods; the cluster CIDR is flannel's and kind's.
const (
	DefaultClusterCIDR          = "10.244.0.0/16"
	DefaultNodeCIDRMaskSizeIPv4 = 24
	DefaultNodeCIDRMaskSizeIPv6 = 64
	DefaultMaxPods              = 110
)

// NodePodCIDRs splits the cluster CIDR into nodes pod ranges of maskSize
// bits (0: the family's default), as kube-controller-manager's range
// allocator does: the first node gets the first range. The errors name the
// setting and its flag: a mask shorter than the cluster CIDR's, a range
// with no address for a pod (/31 or /32 for IPv4), and a cluster CIDR with
// fewer ranges than nodes. A range smaller than the nodes' maxPods is
// accepted, as upstream: the pods past it wait for an address.
func NodePodCIDRs(clusterCIDR string, maskSize, nodes int) (netip.Prefix, []netip.Prefix, error) {
	cluster, err := netip.ParsePrefix(clusterCIDR)
	if err != nil {
		return netip.Prefix{}, nil, fmt.Errorf("clusterCIDR (--cluster-cidr) %q: invalid CIDR address", clusterCIDR)
	}
	cluster = cluster.Masked()
	bitLen := cluster.Addr().BitLen()
	if maskSize == 0 {
		maskSize = DefaultNodeCIDRMaskSizeIPv4
		if bitLen == 128 {
			maskSize = DefaultNodeCIDRMaskSizeIPv6
		}
	}
	switch {
	case maskSize < 0 || maskSize > bitLen:
		return cluster, nil, fmt.Errorf("nodeCIDRMaskSize (--node-cidr-mask-size) %d: must be between the cluster CIDR's mask size (%d) and %d", maskSize, cluster.Bits(), bitLen-2)
	case maskSize < cluster.Bits():
		return cluster, nil, fmt.Errorf("clusterCIDR (--cluster-cidr) %s: mask size of cluster CIDR must be less than or equal to nodeCIDRMaskSize (--node-cidr-mask-size) %d", cluster, maskSize)
	case PodAddresses(maskSize, bitLen) == 0:
		return cluster, nil, fmt.Errorf("nodeCIDRMaskSize (--node-cidr-mask-size) %d: a /%d pod range has no address for a pod (at most %d)", maskSize, maskSize, bitLen-2)
	}
	if diff := maskSize - cluster.Bits(); diff < 31 && nodes > 1<<diff {
		return cluster, nil, fmt.Errorf("clusterCIDR (--cluster-cidr) %s holds %d pod ranges of /%d (nodeCIDRMaskSize), too few for %d nodes", cluster, 1<<diff, maskSize, nodes)
	}
	out := make([]netip.Prefix, 0, nodes)
	base := cluster.Addr().As16()
	for i := range nodes {
		// Range i: the cluster's address with i in the bits from the
		// cluster's mask to the node's.
		b := base
		off := 128 - bitLen // v4 addresses sit in the last 4 bytes
		for bit, v := maskSize-1+off, i; v > 0; bit, v = bit-1, v>>1 {
			if v&1 == 1 {
				b[bit/8] |= 0x80 >> (bit % 8)
			}
		}
		a := netip.AddrFrom16(b)
		if bitLen == 32 {
			a = a.Unmap()
		}
		out = append(out, netip.PrefixFrom(a, maskSize))
	}
	return cluster, out, nil
}
