package network

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
)

// Config configures a Network. Zero fields take the documented defaults.
type Config struct {
	// ServiceCIDR holds Service virtual IPs (default 10.96.0.0/12).
	ServiceCIDR netip.Prefix
	// PodCIDRs are the pod address ranges (default 10.244.0.0/16). An address
	// in them that no pod holds is unreachable (EHOSTUNREACH), never egress.
	PodCIDRs []netip.Prefix
	// ClusterDomain is the DNS domain of the cluster (default cluster.local).
	ClusterDomain string
	// DenyEgress refuses connects and datagrams to addresses outside the
	// cluster with EACCES, and host-name resolution with ErrNoSuchHost.
	DenyEgress bool
	// HostIP is where NodePort listeners open, and the address connections
	// from the host appear to come from inside pods (default 127.0.0.1).
	HostIP netip.Addr
	// BufferSize is the per-direction buffer of a stream connection and the
	// receive queue size of a datagram socket (default 256 KiB). A stream
	// buffer grows to it on demand, within its pod's SocketBuffers.
	BufferSize int
	// PodSocketBuffers is PodInfo.SocketBuffers for pods that give none
	// (default 64 MiB; negative: no bound).
	PodSocketBuffers int64
	// MaxSocketsPerPod bounds the open sockets of one pod (default 4096);
	// beyond it Socket and Accept fail with EMFILE.
	MaxSocketsPerPod int
	// Dial opens egress connections (default: a net.Dialer). Tests and
	// embedders may redirect it.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// ListenPacket opens the host UDP socket behind a pod's datagram socket
	// that sends to an address outside the cluster (default: a
	// net.ListenConfig; it is called with "udp" and ":0"). Tests and
	// embedders may redirect it.
	ListenPacket func(ctx context.Context, network, address string) (net.PacketConn, error)
	// Resolver resolves names outside the cluster (default net.DefaultResolver).
	Resolver *net.Resolver
	// HostFDs, when set, is the budget of host file descriptors that
	// connections bridged from hostPort and NodePort listeners are charged
	// to, one each for as long as they last. Past it a new
	// host connection is closed at once. Egress connections are not charged
	// here: they belong to a guest socket, which the guest's fd table charges.
	HostFDs FDBudget
	// MaxPendingHostConns bounds, per hostPort or NodePort listener, the host
	// connections forwarded to the pod and not yet accepted by it (default
	// 128). A host connection past it, or past the pod listener's own
	// backlog, is closed at once, as a full SYN queue refuses a connection.
	MaxPendingHostConns int
}

// FDBudget is a count of host file descriptors (a runtime.Budget satisfies
// it). Acquire takes n (false, and nothing taken, when refused).
type FDBudget interface {
	Acquire(n int64) bool
	Release(n int64)
}

// PodInfo describes a pod joining the network.
type PodInfo struct {
	Namespace, Name     string
	Hostname, Subdomain string
	IP                  netip.Addr
	// SocketBuffers bounds the host memory, in bytes, the pod's socket
	// buffers hold together: stream data its sockets wrote and the peer has
	// not read (data from the host counts for the receiving pod) and
	// datagrams queued for it. Each stream direction may always hold 4 KiB;
	// past the bound a write sees a smaller window (EAGAIN, or a short
	// write, until the peer reads) and a datagram is dropped, as the
	// kernel does under memory pressure. 0: Config.PodSocketBuffers;
	// negative: no bound.
	SocketBuffers int64
	// Memory, when set, is the pod's memory budget (a runtime.Budget
	// within the node's): the bytes SocketBuffers admits are taken from it
	// too, so socket buffers count as the pod's memory on the node, and a
	// refusal there is a smaller window as well.
	Memory MemoryBudget
}

// MemoryBudget is a count of bytes of memory (a runtime.Budget satisfies
// it). Acquire takes n (false, and nothing taken, when refused).
type MemoryBudget interface {
	Acquire(n int64) bool
	Release(n int64)
}

// ServicePort is one port of a Service.
type ServicePort struct {
	Name     string
	Protocol string // "TCP" (default) or "UDP"
	Port     int
	NodePort int
	// Endpoints are the ready endpoints (pod IP and target port).
	Endpoints []netip.AddrPort
}

// Service is a Service as the network sees it. An invalid ClusterIP (the
// zero netip.Addr) means a headless Service ("None").
type Service struct {
	Namespace, Name string
	ClusterIP       netip.Addr
	Ports           []ServicePort
	// Hostnames are the ready endpoints that have a hostname (an
	// EndpointSlice endpoint's hostname: the endpoints controller sets a
	// pod's spec.hostname when its spec.subdomain is the Service): a
	// headless Service's HOSTNAME.SERVICE.NS.svc resolves to the address,
	// on whichever node the pod runs, as CoreDNS answers from the
	// EndpointSlices.
	Hostnames map[string]netip.Addr
}

// Headless reports whether the Service has no virtual IP.
func (s *Service) Headless() bool { return !s.ClusterIP.IsValid() }

type svcPort struct {
	ServicePort
	rr uint64
}

type service struct {
	Service
	ports []*svcPort
}

// Network is the fabric shared by every pod of a process.
type Network struct {
	cfg Config
	// realDial: egress uses real host sockets (no Config.Dial hook).
	realDial bool
	// realListen: UDP egress uses real host sockets (no
	// Config.ListenPacket hook).
	realListen bool

	mu        sync.RWMutex
	closed    bool
	pods      map[netip.Addr]*pod
	services  map[string]*service // ns/name
	vips      map[netip.Addr]*service
	nodePorts map[nodePortKey]nodePort
	closers   map[io.Closer]struct{}
	hostPort  uint32

	npMu sync.Mutex // serializes syncNodePorts
	wg   sync.WaitGroup
	ct   conntrack // UDP flows from hostPorts and NodePorts
	rt   routes    // other nodes' pod ranges (route.go)
}

// nodePortKey identifies a NodePort: TCP and UDP may share a number.
type nodePortKey struct {
	port  int
	proto string
}

// nodePort is an open NodePort and the ClusterIP:port it forwards to.
type nodePort struct {
	c      io.Closer
	target netip.AddrPort
}

// New returns an empty Network.
func New(cfg Config) *Network {
	if !cfg.ServiceCIDR.IsValid() {
		cfg.ServiceCIDR = netip.MustParsePrefix("10.96.0.0/12")
	}
	if len(cfg.PodCIDRs) == 0 {
		cfg.PodCIDRs = []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")}
	}
	cfg.ClusterDomain = strings.Trim(strings.ToLower(cfg.ClusterDomain), ".")
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = "cluster.local"
	}
	if !cfg.HostIP.IsValid() {
		cfg.HostIP = netip.MustParseAddr("127.0.0.1")
	}
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = 256 << 10
	}
	if cfg.MaxSocketsPerPod <= 0 {
		cfg.MaxSocketsPerPod = 4096
	}
	if cfg.PodSocketBuffers == 0 {
		cfg.PodSocketBuffers = DefaultPodSocketBuffers
	}
	if cfg.MaxPendingHostConns <= 0 {
		cfg.MaxPendingHostConns = defaultMaxPendingHostConns
	}
	realDial := cfg.Dial == nil
	if realDial {
		d := &net.Dialer{}
		cfg.Dial = d.DialContext
	}
	realListen := cfg.ListenPacket == nil
	if realListen {
		lc := &net.ListenConfig{}
		cfg.ListenPacket = lc.ListenPacket
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	return &Network{
		cfg:        cfg,
		realDial:   realDial,
		realListen: realListen,
		pods:       map[netip.Addr]*pod{},
		services:   map[string]*service{},
		vips:       map[netip.Addr]*service{},
		nodePorts:  map[nodePortKey]nodePort{},
		closers:    map[io.Closer]struct{}{},
		hostPort:   32768,
	}
}

// defaultMaxPendingHostConns is Config.MaxPendingHostConns's default.
const defaultMaxPendingHostConns = 128

// HostFDs is the budget host connections are charged to
// (Config.HostFDs; nil: none).
func (n *Network) HostFDs() FDBudget { return n.cfg.HostFDs }

// acquireHostFD charges one host fd; it returns the release function, or
// nil when the budget refuses.
func (n *Network) acquireHostFD() func() {
	b := n.cfg.HostFDs
	if b == nil {
		return func() {}
	}
	if !b.Acquire(1) {
		return nil
	}
	var once sync.Once
	return func() { once.Do(func() { b.Release(1) }) }
}

// Config returns the effective configuration (defaults applied).
func (n *Network) Config() Config { return n.cfg }

// AddPod joins a pod to the network. The IP must be valid and unused.
func (n *Network) AddPod(info PodInfo) (PodNet, error) {
	if !info.IP.IsValid() || info.IP.IsUnspecified() || info.IP.IsLoopback() || info.IP.IsMulticast() {
		return nil, fmt.Errorf("network: pod %s/%s: invalid IP %q", info.Namespace, info.Name, info.IP)
	}
	ip := info.IP.Unmap()
	if n.cfg.ServiceCIDR.Contains(ip) {
		return nil, fmt.Errorf("network: pod %s/%s: IP %s is inside the service CIDR %s", info.Namespace, info.Name, ip, n.cfg.ServiceCIDR)
	}
	info.IP = ip
	if info.Namespace == "" {
		info.Namespace = "default"
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, fmt.Errorf("network: closed")
	}
	if old, ok := n.pods[ip]; ok {
		return nil, fmt.Errorf("network: pod %s/%s: IP %s is already used by pod %s/%s", info.Namespace, info.Name, ip, old.info.Namespace, old.info.Name)
	}
	p := newPod(n, info)
	n.pods[ip] = p
	return p, nil
}

// RemovePod takes a pod off the network and resets all its sockets: peers
// see ECONNRESET. Removing an unknown IP is a no-op.
func (n *Network) RemovePod(ip netip.Addr) {
	ip = ip.Unmap()
	n.mu.Lock()
	p := n.pods[ip]
	delete(n.pods, ip)
	n.mu.Unlock()
	if p != nil {
		p.shutdown()
	}
}

func (n *Network) pod(ip netip.Addr) *pod {
	n.mu.RLock()
	p := n.pods[ip]
	n.mu.RUnlock()
	return p
}

// SetService adds or replaces a Service. Port numbers must be 1-65535 and
// the ClusterIP (unless headless) inside the service CIDR. A NodePort > 0
// opens a real TCP listener (a UDP socket for a UDP port) on HostIP:NodePort
// that balances connections (UDP: flows, one per host client address) over
// the port's endpoints; it stays open until the Service drops that NodePort
// or is deleted. An error opening it is returned after the rest of the
// Service has been applied.
func (n *Network) SetService(s Service) error {
	if s.Namespace == "" {
		s.Namespace = "default"
	}
	if s.Name == "" {
		return fmt.Errorf("network: service: empty name")
	}
	if s.ClusterIP.IsValid() {
		s.ClusterIP = s.ClusterIP.Unmap()
		if !n.cfg.ServiceCIDR.Contains(s.ClusterIP) {
			return fmt.Errorf("network: service %s/%s: clusterIP %s is outside the service CIDR %s", s.Namespace, s.Name, s.ClusterIP, n.cfg.ServiceCIDR)
		}
	}
	svc := &service{Service: s}
	svc.Ports, svc.Hostnames = nil, nil
	for h, a := range s.Hostnames {
		if a.IsValid() {
			if svc.Hostnames == nil {
				svc.Hostnames = map[string]netip.Addr{}
			}
			svc.Hostnames[h] = a.Unmap()
		}
	}
	for i, sp := range s.Ports {
		if sp.Port < 1 || sp.Port > 65535 {
			return fmt.Errorf("network: service %s/%s: ports[%d].port %d out of range", s.Namespace, s.Name, i, sp.Port)
		}
		if sp.NodePort < 0 || sp.NodePort > 65535 {
			return fmt.Errorf("network: service %s/%s: ports[%d].nodePort %d out of range", s.Namespace, s.Name, i, sp.NodePort)
		}
		switch strings.ToUpper(sp.Protocol) {
		case "", "TCP":
			sp.Protocol = "TCP"
		case "UDP":
			sp.Protocol = "UDP"
		default:
			return fmt.Errorf("network: service %s/%s: ports[%d].protocol %q not supported", s.Namespace, s.Name, i, sp.Protocol)
		}
		eps := make([]netip.AddrPort, 0, len(sp.Endpoints))
		for _, ep := range sp.Endpoints {
			if ep.IsValid() && ep.Port() != 0 {
				eps = append(eps, netip.AddrPortFrom(ep.Addr().Unmap(), ep.Port()))
			}
		}
		sp.Endpoints = eps
		svc.Ports = append(svc.Ports, sp)
		svc.ports = append(svc.ports, &svcPort{ServicePort: sp})
	}
	key := s.Namespace + "/" + s.Name
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return fmt.Errorf("network: closed")
	}
	if s.ClusterIP.IsValid() {
		if other := n.vips[s.ClusterIP]; other != nil && other.Namespace+"/"+other.Name != key {
			n.mu.Unlock()
			return fmt.Errorf("network: service %s/%s: clusterIP %s is used by service %s/%s", s.Namespace, s.Name, s.ClusterIP, other.Namespace, other.Name)
		}
	}
	if old := n.services[key]; old != nil && old.ClusterIP.IsValid() {
		delete(n.vips, old.ClusterIP)
		// keep round-robin positions across updates
		for _, np := range svc.ports {
			for _, op := range old.ports {
				if op.Port == np.Port && op.Protocol == np.Protocol {
					np.rr = op.rr
				}
			}
		}
	}
	n.services[key] = svc
	if s.ClusterIP.IsValid() {
		n.vips[s.ClusterIP] = svc
	}
	n.mu.Unlock()
	return n.syncNodePorts()
}

// DeleteService removes a Service and closes its NodePort listeners.
func (n *Network) DeleteService(namespace, name string) {
	if namespace == "" {
		namespace = "default"
	}
	n.mu.Lock()
	key := namespace + "/" + name
	if old := n.services[key]; old != nil {
		delete(n.services, key)
		if old.ClusterIP.IsValid() && n.vips[old.ClusterIP] == old {
			delete(n.vips, old.ClusterIP)
		}
	}
	n.mu.Unlock()
	n.syncNodePorts()
}

// pickEndpoints returns the endpoints of vip:port/proto starting at the next
// round-robin position, or (nil, false) when no Service holds the VIP.
func (n *Network) pickEndpoints(vip netip.AddrPort, proto string) ([]netip.AddrPort, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	svc := n.vips[vip.Addr()]
	if svc == nil {
		return nil, false
	}
	for _, sp := range svc.ports {
		if sp.Port == int(vip.Port()) && sp.Protocol == proto {
			k := len(sp.Endpoints)
			if k == 0 {
				return nil, true
			}
			start := int(sp.rr % uint64(k))
			sp.rr++
			out := make([]netip.AddrPort, 0, k)
			out = append(out, sp.Endpoints[start:]...)
			out = append(out, sp.Endpoints[:start]...)
			return out, true
		}
	}
	return nil, true
}

func (n *Network) inPodCIDR(a netip.Addr) bool {
	for _, p := range n.cfg.PodCIDRs {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (n *Network) nextHostPort() uint16 {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hostPort++
	if n.hostPort > 60999 {
		n.hostPort = 32768
	}
	return uint16(n.hostPort)
}

func (n *Network) track(c io.Closer) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	n.closers[c] = struct{}{}
	return true
}

func (n *Network) untrack(c io.Closer) {
	n.mu.Lock()
	delete(n.closers, c)
	n.mu.Unlock()
}

// Close removes every pod (resetting their connections), closes host
// listeners and egress connections, and waits for the Network's goroutines.
func (n *Network) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	pods := n.pods
	n.pods = map[netip.Addr]*pod{}
	n.services = map[string]*service{}
	n.vips = map[netip.Addr]*service{}
	closers := n.closers
	n.closers = map[io.Closer]struct{}{}
	nps := n.nodePorts
	n.nodePorts = map[nodePortKey]nodePort{}
	n.mu.Unlock()
	for _, p := range pods {
		p.shutdown()
	}
	for _, np := range nps {
		np.c.Close()
	}
	for c := range closers {
		c.Close()
	}
	n.wg.Wait()
	return nil
}

// errno helpers
func isLoopback(a netip.Addr) bool { return a.IsLoopback() || a.IsUnspecified() }
