package overlay

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/yamux"
)

// peer is another node as a network.Remote: the session this node dialed
// to it, opened on first use and again after it ends.
type peer struct {
	o    *Overlay
	name string
	addr netip.AddrPort

	mu      sync.Mutex
	closed  bool
	sess    *yamux.Session
	dialing chan struct{} // closed when the dial in progress ends
	lastErr error

	// datagrams: frames queued for the peer's UDP stream.
	dgMu     sync.Mutex
	dgQ      [][]byte
	dgBytes  int
	dgWake   chan struct{}
	dgRun    bool
	dgStream net.Conn
}

// session returns the live session to the peer, dialing it if needed;
// concurrent callers share one dial.
func (p *peer) session(ctx context.Context) (*yamux.Session, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errnoError("tunnel to "+p.name, syscall.EHOSTUNREACH, errors.New("peer removed"))
		}
		if p.sess != nil && !p.sess.IsClosed() {
			s := p.sess
			p.mu.Unlock()
			return s, nil
		}
		if ch := p.dialing; ch != nil {
			p.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return nil, errnoError("tunnel to "+p.name, syscall.ETIMEDOUT, ctx.Err())
			}
			p.mu.Lock()
			s, err := p.sess, p.lastErr
			p.mu.Unlock()
			if s != nil && !s.IsClosed() {
				return s, nil
			}
			if err != nil {
				return nil, err
			}
			continue
		}
		ch := make(chan struct{})
		p.dialing = ch
		p.mu.Unlock()
		s, err := p.dial(ctx)
		p.mu.Lock()
		p.dialing = nil
		p.lastErr = err
		if err == nil {
			if p.closed {
				s.Close()
				err = errnoError("tunnel to "+p.name, syscall.EHOSTUNREACH, errors.New("peer removed"))
			} else {
				p.sess = s
			}
		}
		p.mu.Unlock()
		close(ch)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}

// dial opens the TLS connection and the yamux session. A failure is
// EHOSTUNREACH (the node cannot be reached, or is not who it should be).
func (p *peer) dial(ctx context.Context) (*yamux.Session, error) {
	o := p.o
	ctx, cancel := context.WithTimeout(ctx, o.cfg.DialTimeout)
	defer cancel()
	d := &net.Dialer{}
	raw, err := d.DialContext(ctx, "tcp", p.addr.String())
	if err != nil {
		return nil, errnoError("tunnel to "+p.name, syscall.EHOSTUNREACH, err)
	}
	want := NodeUserPrefix + p.name
	var used *tls.Certificate // ours, presented in the handshake
	tc := tls.Client(raw, &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			used = o.certificate()
			return used, nil
		},
		InsecureSkipVerify: true, // verified below: the chain to the cluster CA and the route's Node's name, not a host name
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no certificate")
			}
			return verifyNode(o.cfg.CA, [][]byte{cs.PeerCertificates[0].Raw}, rawOf(cs.PeerCertificates[1:]), want)
		},
	})
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		o.cfg.Logf("tunnel to node %s at %s: %v", p.name, p.addr, err)
		return nil, errnoError("tunnel to "+p.name, syscall.EHOSTUNREACH, err)
	}
	s, err := yamux.Client(tc, o.muxCfg)
	if err != nil {
		tc.Close()
		return nil, errnoError("tunnel to "+p.name, syscall.EHOSTUNREACH, err)
	}
	o.cfg.Logf("tunnel to node %s at %s open (its certificate serial %s, ours %s)", p.name, p.addr,
		tc.ConnectionState().PeerCertificates[0].SerialNumber, serialOf(used))
	return s, nil
}

// DialStream implements network.Remote.
func (p *peer) DialStream(ctx context.Context, src, dst netip.AddrPort) (net.Conn, error) {
	s, err := p.session(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.OpenStream()
	if errors.Is(err, yamux.ErrRemoteGoAway) { // the peer drains it (its Reconnect): a new session
		p.retire(s)
		if s, err = p.session(ctx); err != nil {
			return nil, err
		}
		st, err = s.OpenStream()
	}
	if err != nil {
		return nil, errnoError("tunnel to "+p.name, syscall.EHOSTUNREACH, err)
	}
	c := &conn{Conn: st, sess: s, src: src, dst: dst}
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(p.o.cfg.DialTimeout)
	}
	st.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { st.SetDeadline(time.Now()) })
	defer stop()
	if _, err := c.Write(header(kindTCP, src, dst)); err != nil {
		st.Close()
		return nil, errnoError("tunnel to "+p.name, syscall.ECONNRESET, err)
	}
	var status [1]byte
	if _, err := io.ReadFull(c, status[:]); err != nil {
		st.Close()
		e := syscall.ECONNREFUSED // the peer closed the stream: over its bounds
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			e = syscall.ETIMEDOUT
		}
		return nil, errnoError("tunnel to "+p.name, e, err)
	}
	if status[0] != 0 {
		st.Close()
		return nil, fmt.Errorf("node %s: connect %s: %w", p.name, dst, syscall.Errno(status[0]))
	}
	if !stop() {
		st.Close()
		return nil, errnoError("tunnel to "+p.name, syscall.ETIMEDOUT, ctx.Err())
	}
	st.SetDeadline(time.Time{})
	return c, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// SendDatagram implements network.Remote: the frame is queued (dropped
// past the queue's bound) for the peer's datagram stream.
func (p *peer) SendDatagram(src, dst netip.AddrPort, b []byte) {
	if len(b) > maxDatagram {
		return
	}
	f := make([]byte, frameHead+len(b))
	binary.BigEndian.PutUint16(f, uint16(len(b)))
	putAddr(f[2:], src)
	putAddr(f[2+addrLen:], dst)
	copy(f[frameHead:], b)
	p.dgMu.Lock()
	if p.dgBytes+len(f) > maxQueuedDatagramBytes {
		p.dgMu.Unlock()
		return
	}
	p.dgQ = append(p.dgQ, f)
	p.dgBytes += len(f)
	if p.dgWake == nil {
		p.dgWake = make(chan struct{}, 1)
	}
	start := !p.dgRun
	if start {
		p.dgRun = true
	}
	wake := p.dgWake
	p.dgMu.Unlock()
	select {
	case wake <- struct{}{}:
	default:
	}
	if start {
		if !p.o.goAdd() {
			p.dgMu.Lock()
			p.dgRun = false
			p.dgMu.Unlock()
			return
		}
		go p.sendDatagrams(wake)
	}
}

// sendDatagrams writes queued frames to the datagram stream, opening it
// (and the session) as needed; frames that cannot be sent are dropped.
func (p *peer) sendDatagrams(wake chan struct{}) {
	defer p.o.wg.Done()
	defer func() {
		p.dgMu.Lock()
		p.dgRun = false
		if p.dgStream != nil {
			p.dgStream.Close()
			p.dgStream = nil
		}
		p.dgQ, p.dgBytes = nil, 0
		p.dgMu.Unlock()
	}()
	for {
		p.mu.Lock()
		closed := p.closed
		p.mu.Unlock()
		if closed {
			return
		}
		p.dgMu.Lock()
		q := p.dgQ
		p.dgQ, p.dgBytes = nil, 0
		st := p.dgStream
		p.dgMu.Unlock()
		if len(q) == 0 {
			select {
			case <-wake:
				continue
			case <-time.After(time.Minute):
				return // idle: the next datagram starts a sender again
			}
		}
		if st == nil {
			ctx, cancel := context.WithTimeout(context.Background(), p.o.cfg.DialTimeout)
			s, err := p.session(ctx)
			cancel()
			if err != nil {
				continue // dropped
			}
			raw, err := s.OpenStream()
			if err != nil {
				if errors.Is(err, yamux.ErrRemoteGoAway) {
					p.retire(s)
				}
				continue
			}
			st = &conn{Conn: raw, sess: s}
			st.SetWriteDeadline(time.Now().Add(p.o.cfg.DialTimeout))
			if _, err := st.Write(header(kindUDP, netip.AddrPortFrom(netip.IPv6Unspecified(), 0), netip.AddrPortFrom(netip.IPv6Unspecified(), 0))); err != nil {
				st.Close()
				continue
			}
			p.dgMu.Lock()
			p.dgStream = st
			p.dgMu.Unlock()
		}
		for _, f := range q {
			st.SetWriteDeadline(time.Now().Add(p.o.cfg.DialTimeout))
			if _, err := st.Write(f); err != nil {
				st.Close()
				p.dgMu.Lock()
				p.dgStream = nil
				p.dgMu.Unlock()
				break
			}
		}
	}
}

// retireSession drains the peer's session, if one is open, and reports
// whether one was; the next flow dials a new one. The datagram stream on
// it is closed (the next datagram opens one on the new session).
func (p *peer) retireSession() bool {
	p.mu.Lock()
	s := p.sess
	closed := p.closed
	p.mu.Unlock()
	if s == nil {
		return false
	}
	open := !s.IsClosed()
	p.retire(s)
	return open && !closed
}

// retire drains s, if it is still the peer's session, so that new flows
// dial a new one.
func (p *peer) retire(s *yamux.Session) {
	p.mu.Lock()
	if p.sess == s {
		p.sess = nil
	}
	p.mu.Unlock()
	p.dgMu.Lock()
	if c, ok := p.dgStream.(*conn); ok && c.sess == s {
		c.Close()
		p.dgStream = nil
	}
	p.dgMu.Unlock()
	p.o.drain("out/"+p.name, s)
}

// close ends the peer's session (its flows reset) and its datagram sender.
func (p *peer) close() {
	p.mu.Lock()
	p.closed = true
	s := p.sess
	p.sess = nil
	p.mu.Unlock()
	if s != nil {
		s.Close()
	}
	p.dgMu.Lock()
	if p.dgWake != nil {
		select {
		case p.dgWake <- struct{}{}:
		default:
		}
	}
	p.dgMu.Unlock()
}
