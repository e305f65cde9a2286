package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// defaultUDPFlowTimeout is how long a UDP flow from the host (hostPort,
// NodePort) lives without traffic in either direction: Linux conntrack's
// default for UDP (nf_conntrack_udp_timeout).
const defaultUDPFlowTimeout = 30 * time.Second

// udpFlowTimeout is defaultUDPFlowTimeout; tests may shorten it.
var udpFlowTimeout = defaultUDPFlowTimeout

// maxUDPFlows bounds the flows of one host UDP socket; past it datagrams
// from new host clients are dropped, as with a full conntrack table.
const maxUDPFlows = 4096

// flowKey is the reply direction of a flow: a pod socket (pod IP and port)
// sending to the host client's address as the pod sees it.
type flowKey struct {
	pod  netip.Addr
	port uint16
	peer netip.AddrPort
}

// conntrack maps replies of pod sockets to host UDP flows. Its lock is a
// leaf.
type conntrack struct {
	mu    sync.RWMutex
	flows map[flowKey]*udpFlow
	peers map[netip.AddrPort]struct{} // addresses held by live flows
	n     atomic.Int32                // len(flows), for a lock-free miss
}

// flowFor returns the flow that a datagram from s to addr replies to, or
// nil; s.mu held.
func (n *Network) flowFor(s *sock, addr netip.AddrPort) *udpFlow {
	if n.ct.n.Load() == 0 || !s.bound || s.pod == nil {
		return nil
	}
	k := flowKey{pod: s.pod.info.IP, port: s.local.Port(), peer: addr}
	n.ct.mu.RLock()
	f := n.ct.flows[k]
	n.ct.mu.RUnlock()
	return f
}

// allocPeer reserves an address for a new flow: Config.HostIP and a port
// no live flow uses.
func (n *Network) allocPeer() (netip.AddrPort, bool) {
	for range ephemeralHigh - ephemeralLow + 1 {
		p := netip.AddrPortFrom(n.cfg.HostIP, n.nextHostPort())
		n.ct.mu.Lock()
		if n.ct.peers == nil {
			n.ct.peers = map[netip.AddrPort]struct{}{}
		}
		_, used := n.ct.peers[p]
		if !used {
			n.ct.peers[p] = struct{}{}
		}
		n.ct.mu.Unlock()
		if !used {
			return p, true
		}
	}
	return netip.AddrPort{}, false
}

func (n *Network) ctAdd(k flowKey, f *udpFlow) {
	n.ct.mu.Lock()
	if n.ct.flows == nil {
		n.ct.flows = map[flowKey]*udpFlow{}
	}
	n.ct.flows[k] = f
	n.ct.n.Store(int32(len(n.ct.flows)))
	n.ct.mu.Unlock()
}

func (n *Network) ctDel(k flowKey, f *udpFlow, peer bool) {
	n.ct.mu.Lock()
	if n.ct.flows[k] == f {
		delete(n.ct.flows, k)
		n.ct.n.Store(int32(len(n.ct.flows)))
	}
	if peer {
		delete(n.ct.peers, f.peer)
	}
	n.ct.mu.Unlock()
}

// udpFlow is one host client of a host UDP socket: datagrams from client go
// into the fabric from peer (Config.HostIP and a port of its own) to dst,
// a pod endpoint; the pod's datagrams to peer go back to client.
type udpFlow struct {
	l      *hostUDP
	client netip.AddrPort
	peer   netip.AddrPort
	last   atomic.Int64 // unix nanoseconds of the last datagram

	mu   sync.Mutex
	dead bool
	dst  netip.AddrPort // the endpoint (invalid: none yet)
	key  flowKey        // its conntrack entry, when dst is valid
}

func (f *udpFlow) touch() { f.last.Store(time.Now().UnixNano()) }

// endpoint returns the flow's pod endpoint, choosing one (through the
// Service VIP logic, once per flow) when it has none or its pod is gone.
func (f *udpFlow) endpoint() (netip.AddrPort, *pod, bool) {
	n := f.l.n
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dead {
		return netip.AddrPort{}, nil, false
	}
	if f.dst.IsValid() {
		if t := n.pod(f.dst.Addr()); t != nil {
			return f.dst, t, true
		}
		n.ctDel(f.key, f, false)
		f.dst = netip.AddrPort{}
	}
	var (
		dst netip.AddrPort
		t   *pod
	)
	if target := f.l.target; n.cfg.ServiceCIDR.Contains(target.Addr()) {
		eps, _ := n.pickEndpoints(target, "UDP")
		for _, ep := range eps {
			if t = n.pod(ep.Addr()); t != nil {
				dst = ep
				break
			}
		}
	} else {
		dst, t = target, n.pod(target.Addr())
	}
	if t == nil {
		return netip.AddrPort{}, nil, true
	}
	f.dst = dst
	f.key = flowKey{pod: dst.Addr(), port: dst.Port(), peer: f.peer}
	n.ctAdd(f.key, f)
	return dst, t, true
}

// forward sends a datagram of the host client into the fabric; false when
// the flow has expired meanwhile.
func (f *udpFlow) forward(p []byte) bool {
	f.touch()
	dst, t, live := f.endpoint()
	if !live {
		return false
	}
	if t == nil {
		return true // no endpoint: dropped
	}
	if s := t.lookupPort(Datagram, dst.Port()); s != nil {
		s.enqueue(p, f.peer, dst.Addr())
	}
	return true
}

// reply sends a pod's datagram back to the host client. Errors drop it.
func (f *udpFlow) reply(p []byte) {
	f.touch()
	f.l.pc.WriteToUDPAddrPort(p, f.client)
}

// drop ends the flow: the pod's datagrams to its address go nowhere.
func (f *udpFlow) drop() {
	f.mu.Lock()
	f.dead = true
	k, had := f.key, f.dst.IsValid()
	f.dst = netip.AddrPort{}
	f.mu.Unlock()
	if !had {
		k = flowKey{}
	}
	f.l.n.ctDel(k, f, true)
}

// hostUDP is a real host UDP socket forwarding into the fabric (hostPort,
// NodePort), one flow per host client address.
type hostUDP struct {
	n      *Network
	pc     *net.UDPConn
	target netip.AddrPort // pod address or ClusterIP:port

	mu     sync.Mutex
	closed bool
	flows  map[netip.AddrPort]*udpFlow // by client

	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

func (n *Network) listenHostUDP(hostAddr, target netip.AddrPort) (*hostUDP, error) {
	pc, err := net.ListenPacket(hostNetwork("udp", hostAddr))
	if err != nil {
		return nil, err
	}
	l := &hostUDP{n: n, pc: pc.(*net.UDPConn), target: target, flows: map[netip.AddrPort]*udpFlow{}, done: make(chan struct{})}
	if !n.track(l) {
		pc.Close()
		return nil, fmt.Errorf("network: closed")
	}
	for _, run := range []func(){l.serve, l.expire} {
		if !n.goAdd() {
			l.Close()
			return nil, fmt.Errorf("network: closed")
		}
		l.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer l.wg.Done()
			run()
		}()
	}
	return l, nil
}

// Addr returns the real socket's address.
func (l *hostUDP) Addr() net.Addr { return l.pc.LocalAddr() }

// Close closes the host socket and every flow, and waits for the
// goroutines.
func (l *hostUDP) Close() error {
	var err error
	l.once.Do(func() {
		err = l.pc.Close()
		close(l.done)
		l.wg.Wait()
		l.mu.Lock()
		l.closed = true
		flows := l.flows
		l.flows = nil
		l.mu.Unlock()
		for _, f := range flows {
			f.drop()
		}
		l.n.untrack(l)
	})
	return err
}

func (l *hostUDP) serve() {
	buf := make([]byte, 1<<16)
	for {
		k, client, err := l.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if icmpError(err) {
				continue
			}
			if !errors.Is(err, net.ErrClosed) {
				l.pc.Close() // unexpected: stop, as a failed listener does
			}
			return
		}
		client = netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
		for range 2 { // once more if the flow expired meanwhile
			f := l.flow(client)
			if f == nil || f.forward(buf[:k]) {
				break
			}
		}
	}
}

// flow finds or creates the flow of a host client; nil when the table is
// full or the socket closed.
func (l *hostUDP) flow(client netip.AddrPort) *udpFlow {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	if f := l.flows[client]; f != nil {
		return f
	}
	if len(l.flows) >= maxUDPFlows {
		return nil
	}
	peer, ok := l.n.allocPeer()
	if !ok {
		return nil
	}
	f := &udpFlow{l: l, client: client, peer: peer}
	f.touch()
	l.flows[client] = f
	return f
}

// expire drops idle flows until the socket closes.
func (l *hostUDP) expire() {
	tk := time.NewTicker(max(udpFlowTimeout/4, 10*time.Millisecond))
	defer tk.Stop()
	for {
		select {
		case <-l.done:
			return
		case now := <-tk.C:
			l.sweep(now)
		}
	}
}

// sweep drops the flows idle since before now-udpFlowTimeout; it returns
// how many.
func (l *hostUDP) sweep(now time.Time) int {
	cut := now.Add(-udpFlowTimeout).UnixNano()
	var idle []*udpFlow
	l.mu.Lock()
	for c, f := range l.flows {
		if f.last.Load() < cut {
			idle = append(idle, f)
			delete(l.flows, c)
		}
	}
	l.mu.Unlock()
	for _, f := range idle {
		f.drop()
	}
	return len(idle)
}

// numFlows reports the live flows (tests).
func (l *hostUDP) numFlows() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.flows)
}
