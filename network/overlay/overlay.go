// Package overlay carries the pod network between node agents: each agent's
// network.Network holds its own pods, and the pod ranges of the other
// nodes are routes to Peers reached through authenticated, encrypted
// agent-to-agent tunnels.
//
// A tunnel is a TLS 1.3 connection (mutual: each side presents its node
// certificate, CN system:node:<name>, O system:nodes, signed by the cluster
// CA) multiplexed with yamux. An agent dials one session to each peer it
// sends to and carries on it the flows its pods open; the peer's flows
// come on the session the peer dialed (so two per pair of agents that
// talk both ways). The dialer checks that the peer's certificate is the
// route's Node's; the listener checks that the chain is the cluster CA's
// and that what the peer's flows claim as their source lies in that
// Node's pod range (or is its node IP, for NodePort traffic), so a node
// can speak only for its own pods.
//
// Each stream starts with a header: version, kind, source and destination
// (16-byte IP and port each). A TCP stream is answered by one status byte
// (0, or the errno that refused the connect: ECONNREFUSED, EHOSTUNREACH)
// and then carries the flow's bytes both ways; a UDP stream (one per
// session, opened by the sender) carries framed datagrams, each with its
// source and destination. When a session ends (the peer restarted, or its
// connection broke), every flow on it is reset in the pods. After the
// node certificate rotates, Reconnect makes the tunnels again with the new
// one and drains the old ones: new flows go to the new sessions, the old
// ones close once their flows have ended, or after DrainTimeout.
//
// Bounds: handshakes are bounded in time (HandshakeTimeout) and number
// (MaxHandshakes); a header must arrive within HeaderTimeout; a peer holds
// at most MaxStreamsPerPeer streams of ours at once (past it a stream is
// closed at once; yamux's own accept backlog bounds the rest), 4 of them
// datagram streams; each inbound
// flow holds one fd of the Network's HostFDs budget and its bytes count
// against the receiving pod's socket buffers; outbound datagrams queue up
// to 1 MiB per peer and are dropped past it.
package overlay

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/wasmpod/wasmpod/network"
)

// Node certificate subjects (the Node authorizer's).
const (
	NodeUserPrefix = "system:node:"
	NodesGroup     = "system:nodes"
)

// Config configures an Overlay.
type Config struct {
	// Network is this node's pod network; the Overlay sets its routes.
	Network *network.Network
	// NodeName is this node's name.
	NodeName string
	// Certificate is this node's certificate (CN system:node:<NodeName>,
	// signed by CA), presented on both ends of its tunnels.
	Certificate tls.Certificate
	// CurrentCertificate, when set, is asked for the certificate at each
	// handshake instead (a rotated node certificate: sessions already
	// open keep theirs until Reconnect); Certificate is then the first
	// one.
	CurrentCertificate func() *tls.Certificate
	// CA is the cluster CA that signs node certificates.
	CA *x509.CertPool
	// Listener is the tunnel port (plain TCP; TLS is added here). Nil: the
	// Overlay only dials (its peers cannot open flows to its pods).
	Listener net.Listener
	// MaxStreamsPerPeer bounds the streams one peer has open to this node
	// at once (default 1024).
	MaxStreamsPerPeer int
	// MaxHandshakes bounds concurrent inbound TLS handshakes (default 64).
	MaxHandshakes int
	// HandshakeTimeout bounds a TLS handshake, and DialTimeout a dial with
	// its handshake (default 5 s each); HeaderTimeout bounds the wait for a
	// stream's header (default 5 s).
	HandshakeTimeout, DialTimeout, HeaderTimeout time.Duration
	// DrainTimeout bounds how long a session replaced after a rotation
	// (Reconnect) or by the peer's new one keeps the flows open on it
	// (default 5 min); past it they are reset.
	DrainTimeout time.Duration
	// Logf receives the Overlay's log lines (nil: none).
	Logf func(format string, args ...any)
}

// Peer is another node: its tunnel address and what it routes.
type Peer struct {
	// Node is the Node's name: its tunnel must present the certificate
	// of system:node:<Node>.
	Node string
	// Addr is its tunnel endpoint (the Node's InternalIP and tunnel port).
	Addr netip.AddrPort
	// PodCIDRs are its pod ranges (spec.podCIDRs).
	PodCIDRs []netip.Prefix
}

// Overlay is a node's end of the tunnels.
type Overlay struct {
	cfg    Config
	server *tls.Config

	mu      sync.Mutex
	closed  bool
	peers   map[string]*peer          // by node name
	inbound map[string]*yamux.Session // by node name: the session a peer dialed
	// draining are replaced sessions whose flows may still run
	// (drain.go), by direction and node name: one each at most.
	draining map[string]*yamux.Session
	conns    map[io.Closer]struct{} // handshaking connections
	hsSem    chan struct{}
	wg       sync.WaitGroup
	muxCfg   *yamux.Config
	allowed  atomic.Pointer[map[string][]netip.Prefix] // node → sources its flows may claim
}

// New starts an Overlay (serving Listener, if set). Close stops it.
func New(cfg Config) (*Overlay, error) {
	switch {
	case cfg.Network == nil:
		return nil, errors.New("overlay: Network is required")
	case cfg.NodeName == "":
		return nil, errors.New("overlay: NodeName is required")
	case cfg.CA == nil:
		return nil, errors.New("overlay: the cluster CA is required")
	case len(cfg.Certificate.Certificate) == 0:
		return nil, errors.New("overlay: the node certificate is required")
	}
	leaf, err := x509.ParseCertificate(cfg.Certificate.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("overlay: node certificate: %w", err)
	}
	if leaf.Subject.CommonName != NodeUserPrefix+cfg.NodeName {
		return nil, fmt.Errorf("overlay: the node certificate is %q's, not %s%s's", leaf.Subject.CommonName, NodeUserPrefix, cfg.NodeName)
	}
	if err := verifyNode(cfg.CA, [][]byte{cfg.Certificate.Certificate[0]}, cfg.Certificate.Certificate[1:], NodeUserPrefix+cfg.NodeName); err != nil {
		return nil, fmt.Errorf("overlay: the node certificate: %w", err)
	}
	if cfg.MaxStreamsPerPeer <= 0 {
		cfg.MaxStreamsPerPeer = 1024
	}
	if cfg.MaxHandshakes <= 0 {
		cfg.MaxHandshakes = 64
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 5 * time.Second
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = 5 * time.Second
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 5 * time.Minute
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	mc := yamux.DefaultConfig()
	mc.LogOutput = io.Discard
	mc.EnableKeepAlive = true
	mc.KeepAliveInterval = 10 * time.Second
	mc.ConnectionWriteTimeout = 10 * time.Second
	mc.StreamCloseTimeout = time.Minute
	o := &Overlay{
		cfg:     cfg,
		peers:   map[string]*peer{},
		inbound: map[string]*yamux.Session{},
		conns:   map[io.Closer]struct{}{},

		draining: map[string]*yamux.Session{},
		hsSem:    make(chan struct{}, cfg.MaxHandshakes),
		muxCfg:   mc,
	}
	empty := map[string][]netip.Prefix{}
	o.allowed.Store(&empty)
	o.server = &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return o.certificate(), nil
		},
		ClientAuth: tls.RequireAnyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no client certificate")
			}
			return verifyNode(cfg.CA, [][]byte{cs.PeerCertificates[0].Raw}, rawOf(cs.PeerCertificates[1:]), "")
		},
	}
	if cfg.Listener != nil {
		o.wg.Add(1)
		go o.serve()
	}
	return o, nil
}

// certificate is the node certificate to present now.
func (o *Overlay) certificate() *tls.Certificate {
	if o.cfg.CurrentCertificate != nil {
		if c := o.cfg.CurrentCertificate(); c != nil {
			return c
		}
	}
	return &o.cfg.Certificate
}

// serialOf is c's leaf's serial number ("none" without one), for logs.
func serialOf(c *tls.Certificate) string {
	if c == nil || len(c.Certificate) == 0 {
		return "none"
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return "unparsable"
	}
	return leaf.SerialNumber.String()
}

func rawOf(cs []*x509.Certificate) [][]byte {
	out := make([][]byte, len(cs))
	for i, c := range cs {
		out[i] = c.Raw
	}
	return out
}

// verifyNode checks that the leaf chains to ca as a client certificate of
// group system:nodes, with CN wantCN (any system:node:<name> when empty).
func verifyNode(ca *x509.CertPool, leafRaw [][]byte, inter [][]byte, wantCN string) error {
	leaf, err := x509.ParseCertificate(leafRaw[0])
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	for _, b := range inter {
		if c, err := x509.ParseCertificate(b); err == nil {
			pool.AddCert(c)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca, Intermediates: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return fmt.Errorf("not a certificate of the cluster CA: %w", err)
	}
	cn := leaf.Subject.CommonName
	if !strings.HasPrefix(cn, NodeUserPrefix) || cn == NodeUserPrefix || len(leaf.Subject.Organization) != 1 || leaf.Subject.Organization[0] != NodesGroup {
		return fmt.Errorf("certificate %q (O=%v) is not a node's (CN %s<node>, O %s)", cn, leaf.Subject.Organization, NodeUserPrefix, NodesGroup)
	}
	if wantCN != "" && cn != wantCN {
		return fmt.Errorf("certificate is %q's, not %q's", cn, wantCN)
	}
	return nil
}

// Addr is the tunnel listener's address (nil without one).
func (o *Overlay) Addr() net.Addr {
	if o.cfg.Listener == nil {
		return nil
	}
	return o.cfg.Listener.Addr()
}

// SetPeers replaces the peers and the Network's routes to their pod
// ranges. A peer dropped, or whose address changed, has its sessions
// closed (its flows reset).
func (o *Overlay) SetPeers(ps []Peer) error {
	var routes []network.Route
	allowed := map[string][]netip.Prefix{}
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return errors.New("overlay: closed")
	}
	next := map[string]*peer{}
	var stale []*peer
	for i, p := range ps {
		if p.Node == "" || p.Node == o.cfg.NodeName {
			continue
		}
		if !p.Addr.IsValid() || p.Addr.Port() == 0 {
			o.mu.Unlock()
			return fmt.Errorf("overlay: peers[%d] (%s): invalid tunnel address %q", i, p.Node, p.Addr)
		}
		cur := o.peers[p.Node]
		if cur == nil || cur.addr != p.Addr {
			if cur != nil {
				stale = append(stale, cur)
			}
			cur = &peer{o: o, name: p.Node, addr: p.Addr}
		}
		next[p.Node] = cur
		srcs := []netip.Prefix{netip.PrefixFrom(p.Addr.Addr().Unmap(), p.Addr.Addr().Unmap().BitLen())}
		for _, c := range p.PodCIDRs {
			if !c.IsValid() {
				o.mu.Unlock()
				return fmt.Errorf("overlay: peers[%d] (%s): invalid pod CIDR %q", i, p.Node, c)
			}
			routes = append(routes, network.Route{Prefix: c, Via: cur})
			srcs = append(srcs, c.Masked())
		}
		allowed[p.Node] = srcs
	}
	for name, p := range o.peers {
		if next[name] == nil {
			stale = append(stale, p)
			if s := o.inbound[name]; s != nil {
				s.Close()
				delete(o.inbound, name)
			}
		}
	}
	o.peers = next
	o.allowed.Store(&allowed)
	o.mu.Unlock()
	for _, p := range stale {
		p.close()
	}
	return o.cfg.Network.SetRoutes(routes)
}

// Reconnect makes the tunnels again with the certificate
// CurrentCertificate gives now (after a rotation of the node certificate:
// a session keeps the certificate of its handshake), draining the open
// sessions rather than resetting their flows: the sessions this node had
// dialed are dialed again at once and new flows go to them; those its
// peers dialed get a yamux GoAway, so each peer's next flow dials a new
// one. An old session closes once no stream is open on it, or after
// DrainTimeout (the flows still on it are reset then).
func (o *Overlay) Reconnect() {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	inbound := o.inbound
	o.inbound = map[string]*yamux.Session{}
	peers := make([]*peer, 0, len(o.peers))
	for _, p := range o.peers {
		peers = append(peers, p)
	}
	o.mu.Unlock()
	for node, s := range inbound {
		o.drain("in/"+node, s)
	}
	for _, p := range peers {
		if !p.retireSession() || !o.goAdd() {
			continue
		}
		go func() {
			defer o.wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), o.cfg.DialTimeout)
			defer cancel()
			p.session(ctx) // a failure is logged; the next flow dials again
		}()
	}
}

// Close stops the listener and closes every session (flows on them reset).
func (o *Overlay) Close() error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.closed = true
	peers := o.peers
	o.peers = map[string]*peer{}
	inbound := o.inbound
	o.inbound = map[string]*yamux.Session{}
	conns := o.conns
	o.conns = map[io.Closer]struct{}{}
	draining := o.draining
	o.draining = map[string]*yamux.Session{}
	o.mu.Unlock()
	for _, s := range draining {
		s.Close()
	}
	o.cfg.Network.SetRoutes(nil)
	if o.cfg.Listener != nil {
		o.cfg.Listener.Close()
	}
	for _, s := range inbound {
		s.Close()
	}
	for c := range conns {
		c.Close()
	}
	for _, p := range peers {
		p.close()
	}
	o.wg.Wait()
	return nil
}

// goAdd registers a goroutine unless closed.
func (o *Overlay) goAdd() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false
	}
	o.wg.Add(1)
	return true
}

// Stream header.
const (
	version   = 1
	kindTCP   = 1
	kindUDP   = 2
	addrLen   = 18
	headerLen = 2 + 2*addrLen
	// frameHead is a datagram frame's head: length, source, destination.
	frameHead = 2 + 2*addrLen
	// maxDatagram is the largest UDP payload (IPv4's).
	maxDatagram = 65507
	// maxDatagramStreams bounds a peer's datagram streams at once (it
	// opens one; a new one may overlap an old one that is ending).
	maxDatagramStreams = 4
	// maxQueuedDatagramBytes bounds a peer's outbound datagram queue.
	maxQueuedDatagramBytes = 1 << 20
)

func putAddr(b []byte, a netip.AddrPort) {
	ip := a.Addr().As16()
	copy(b, ip[:])
	binary.BigEndian.PutUint16(b[16:], a.Port())
}

func getAddr(b []byte) netip.AddrPort {
	ip := netip.AddrFrom16([16]byte(b[:16])).Unmap()
	return netip.AddrPortFrom(ip, binary.BigEndian.Uint16(b[16:]))
}

func header(kind byte, src, dst netip.AddrPort) []byte {
	b := make([]byte, headerLen)
	b[0], b[1] = version, kind
	putAddr(b[2:], src)
	putAddr(b[2+addrLen:], dst)
	return b
}

// conn is a yamux stream whose deadline errors are os.ErrDeadlineExceeded,
// as a TCP connection's (see apiserver/tunnel.go: crypto/tls and net/http
// treat yamux.ErrTimeout as permanent).
// A read that ends because the session ended (the peer restarted, its
// connection broke, or it was removed) is ECONNRESET, not EOF, so the pod
// sees its connection reset as TCP's would be.
type conn struct {
	net.Conn
	sess     *yamux.Session
	src, dst netip.AddrPort
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err == io.EOF && c.sess != nil && c.sess.IsClosed() {
		err = syscall.ECONNRESET
	}
	return n, deadlineErr(err)
}

func (c *conn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	return n, deadlineErr(err)
}

func (c *conn) LocalAddr() net.Addr  { return net.TCPAddrFromAddrPort(c.src) }
func (c *conn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.dst) }

func deadlineErr(err error) error {
	if err == yamux.ErrTimeout {
		return os.ErrDeadlineExceeded
	}
	return err
}

// errno is the errno a tunnel failure shows the pod.
func errnoError(what string, e syscall.Errno, err error) error {
	return fmt.Errorf("%s: %w (%v)", what, e, err)
}
