package overlay

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/yamux"
)

// serve accepts tunnel connections until the listener closes.
func (o *Overlay) serve() {
	defer o.wg.Done()
	var delay time.Duration
	for {
		raw, err := o.cfg.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			time.Sleep(delay)
			continue
		}
		delay = 0
		select {
		case o.hsSem <- struct{}{}:
		default:
			raw.Close() // too many handshakes at once
			continue
		}
		if !o.track(raw) || !o.goAdd() {
			<-o.hsSem
			raw.Close()
			return
		}
		go o.handshake(raw)
	}
}

func (o *Overlay) track(c io.Closer) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false
	}
	o.conns[c] = struct{}{}
	return true
}

func (o *Overlay) untrack(c io.Closer) {
	o.mu.Lock()
	delete(o.conns, c)
	o.mu.Unlock()
}

// handshake authenticates a peer and serves its session.
func (o *Overlay) handshake(raw net.Conn) {
	defer o.wg.Done()
	tc := tls.Server(raw, o.server)
	ctx, cancel := context.WithTimeout(context.Background(), o.cfg.HandshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	<-o.hsSem
	o.untrack(raw)
	if err != nil {
		o.cfg.Logf("tunnel from %s refused: %v", raw.RemoteAddr(), err)
		raw.Close()
		return
	}
	node := strings.TrimPrefix(tc.ConnectionState().PeerCertificates[0].Subject.CommonName, NodeUserPrefix)
	s, err := yamux.Server(tc, o.muxCfg)
	if err != nil {
		tc.Close()
		return
	}
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		s.Close()
		return
	}
	// One session a peer: a new one (the peer rotated its certificate,
	// restarted, or lost its connection) replaces the old, which drains
	// (a dead one ends by itself: its connection reset, or keepalives).
	old := o.inbound[node]
	o.inbound[node] = s
	o.wg.Add(1)
	o.mu.Unlock()
	if old != nil {
		o.drain("in/"+node, old)
	}
	o.cfg.Logf("tunnel from node %s (%s) open (its certificate serial %s)", node, raw.RemoteAddr(), tc.ConnectionState().PeerCertificates[0].SerialNumber)
	o.serveSession(node, s)
}

// serveSession accepts the streams of a peer's session.
func (o *Overlay) serveSession(node string, s *yamux.Session) {
	defer o.wg.Done()
	defer func() {
		o.mu.Lock()
		if o.inbound[node] == s {
			delete(o.inbound, node)
		}
		o.mu.Unlock()
		s.Close()
	}()
	var open, dgram atomic.Int64
	for {
		st, err := s.AcceptStream()
		if err != nil {
			return
		}
		if open.Add(1) > int64(o.cfg.MaxStreamsPerPeer) || !o.goAdd() {
			open.Add(-1)
			st.Close()
			continue
		}
		go func() {
			defer o.wg.Done()
			defer open.Add(-1)
			o.serveStream(node, &conn{Conn: st, sess: s}, &dgram)
		}()
	}
}

// allowedSource reports whether node's flows may come from a.
func (o *Overlay) allowedSource(node string, a netip.Addr) bool {
	for _, p := range (*o.allowed.Load())[node] {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// serveStream reads a stream's header and serves it. A malformed header
// closes the stream; a source the peer may not claim is refused (EACCES).
func (o *Overlay) serveStream(node string, c *conn, dgram *atomic.Int64) {
	var h [headerLen]byte
	c.SetReadDeadline(time.Now().Add(o.cfg.HeaderTimeout))
	if _, err := io.ReadFull(c, h[:]); err != nil || h[0] != version || (h[1] != kindTCP && h[1] != kindUDP) {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	if h[1] == kindUDP {
		// A peer needs one datagram stream; each holds a 64 KiB buffer.
		if dgram.Add(1) > maxDatagramStreams {
			dgram.Add(-1)
			c.Close()
			return
		}
		defer dgram.Add(-1)
		o.serveDatagrams(node, c)
		return
	}
	src, dst := getAddr(h[2:]), getAddr(h[2+addrLen:])
	c.src, c.dst = dst, src
	reply := func(err error) error {
		var b [1]byte
		if err != nil {
			var e syscall.Errno
			if !errors.As(err, &e) || e > 255 {
				e = syscall.ECONNREFUSED
			}
			b[0] = byte(e)
		}
		c.SetWriteDeadline(time.Now().Add(o.cfg.HeaderTimeout))
		_, werr := c.Write(b[:])
		c.SetWriteDeadline(time.Time{})
		return werr
	}
	if !o.allowedSource(node, src.Addr()) {
		o.cfg.Logf("tunnel from node %s: a flow from %s, outside its pod range, refused", node, src)
		reply(syscall.EACCES)
		c.Close()
		return
	}
	o.cfg.Network.AcceptRemote(src, dst, c, reply)
}

// serveDatagrams delivers the frames of a peer's datagram stream until it
// ends or a frame is malformed. Frames from a source the peer may not
// claim are dropped.
func (o *Overlay) serveDatagrams(node string, c *conn) {
	defer c.Close()
	buf := make([]byte, frameHead+maxDatagram)
	for {
		if _, err := io.ReadFull(c, buf[:frameHead]); err != nil {
			return
		}
		k := int(binary.BigEndian.Uint16(buf))
		if k > maxDatagram {
			o.cfg.Logf("tunnel from node %s: a datagram of %d bytes: stream closed", node, k)
			return
		}
		if _, err := io.ReadFull(c, buf[frameHead:frameHead+k]); err != nil {
			return
		}
		src, dst := getAddr(buf[2:]), getAddr(buf[2+addrLen:])
		if !o.allowedSource(node, src.Addr()) {
			continue
		}
		o.cfg.Network.DeliverDatagram(src, dst, buf[frameHead:frameHead+k])
	}
}
