package apiserver

// tunnel.go: reverse tunnels from node agents that cannot be dialled
// (behind NAT), issue 15 §1. An agent opens GET TunnelPath+NODE with
// "Upgrade: wasmpod-tunnel" over its usual credential; the API server
// answers 101 and runs a yamux session (github.com/hashicorp/yamux, the
// multiplexer Consul and Nomad use for the same purpose) over the
// connection, as its client: every connection the API server would dial to
// that node's kubelet API is a stream of the session instead, with the same
// TLS and client certificate on top, so the agent's kubelet API serves it
// exactly as a direct one. The latest tunnel of a node wins; yamux's
// keepalives (every 30 s) end a dead one. Authorization is the path's:
// system:masters, or an RBAC rule for the non-resource URL.
//
// Both ends use the session's streams through tunnelConn. A yamux stream's
// deadline error (yamux.ErrTimeout) is a net.Error whose Temporary() is
// false, and crypto/tls records any non-temporary read error as the
// connection's permanent state. net/http's server, when a handler hijacks
// the connection (every SPDY or WebSocket upgrade: exec, attach,
// port-forward), interrupts its background read by setting a read deadline
// in the past; over a yamux stream that read's ErrTimeout poisoned the TLS
// connection, so the upgraded stream's first read failed ("use of closed
// network connection", EOF, or a hang), unless the client's first frames had
// already arrived and the background read returned data instead (the timing
// dependence). tunnelConn reports deadlines as os.ErrDeadlineExceeded, as a
// TCP connection does (TestTunnelCarriesStreams).

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/yamux"
	"k8s.io/client-go/rest"
)

const (
	// TunnelPath + NODE is where an agent opens its reverse tunnel.
	TunnelPath = "/wasmpod/tunnel/"
	// TunnelProtocol is the Upgrade token of a tunnel.
	TunnelProtocol = "wasmpod-tunnel"
)

// TunnelConfig is the yamux configuration of both ends of a tunnel.
func TunnelConfig() *yamux.Config {
	c := yamux.DefaultConfig()
	c.LogOutput = io.Discard
	c.ConnectionWriteTimeout = 30 * time.Second
	return c
}

// tunnel is one node's open reverse tunnel, with the kubelet client that
// dials through it.
type tunnel struct {
	sess    *yamux.Session
	cfg     *rest.Config
	http    *http.Client
	upgrade *http.Transport // for streaming upgrades (remoteNode.spdyTransport)
}

// tunnelConn is a stream of a tunnel's session whose deadline errors are
// os.ErrDeadlineExceeded (see the top of this file).
type tunnelConn struct{ net.Conn }

func (c tunnelConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	return n, deadlineErr(err)
}

func (c tunnelConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	return n, deadlineErr(err)
}

func deadlineErr(err error) error {
	if err == yamux.ErrTimeout {
		return os.ErrDeadlineExceeded
	}
	return err
}

// openStream opens a stream of sess as a connection.
func openStream(sess *yamux.Session) (net.Conn, error) {
	c, err := sess.Open()
	if err != nil {
		return nil, err
	}
	return tunnelConn{c}, nil
}

// TunnelListener is the agent's end of a tunnel: the streams the API server
// opens on sess, as connections to serve the kubelet API on.
func TunnelListener(sess *yamux.Session) net.Listener { return tunnelListener{sess} }

type tunnelListener struct{ *yamux.Session }

func (l tunnelListener) Accept() (net.Conn, error) {
	c, err := l.Session.Accept()
	if err != nil {
		return nil, err
	}
	return tunnelConn{c}, nil
}

// bufferedConn is a connection whose first bytes were read into r.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// BufferedConn is conn, read through r (the reader that already holds its
// first bytes, e.g. after an HTTP upgrade's response).
func BufferedConn(conn net.Conn, r *bufio.Reader) net.Conn {
	if r == nil || r.Buffered() == 0 {
		return conn
	}
	return &bufferedConn{Conn: conn, r: r}
}

func (h *httpHandler) serveTunnel(w http.ResponseWriter, req *http.Request, node string) {
	if req.Method != http.MethodGet {
		writeError(w, methodNotAllowed(req.Method))
		return
	}
	if node == "" || strings.Contains(node, "/") {
		writeError(w, statusErr(http.StatusBadRequest, "BadRequest", "a tunnel is opened at "+TunnelPath+"NODE"))
		return
	}
	if !strings.EqualFold(req.Header.Get("Upgrade"), TunnelProtocol) {
		writeError(w, statusErr(http.StatusBadRequest, "BadRequest", fmt.Sprintf("a tunnel needs Upgrade: %s", TunnelProtocol)))
		return
	}
	h.s.kubelet.mu.RLock()
	cfg := h.s.kubelet.cfg
	h.s.kubelet.mu.RUnlock()
	if cfg == nil {
		writeError(w, statusErr(http.StatusServiceUnavailable, "ServiceUnavailable", "this API server has no kubelet client certificate to reach node agents with"))
		return
	}
	if req.ProtoMajor != 1 {
		writeError(w, statusErr(http.StatusBadRequest, "BadRequest", "a tunnel is opened over HTTP/1.1"))
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		writeError(w, statusErr(http.StatusInternalServerError, "InternalError", "the connection cannot be taken over: "+err.Error()))
		return
	}
	_ = conn.SetDeadline(time.Time{}) // the session's keepalives bound it now
	if _, err := io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+TunnelProtocol+"\r\n\r\n"); err != nil {
		conn.Close()
		return
	}
	sess, err := yamux.Client(BufferedConn(conn, brw.Reader), TunnelConfig())
	if err != nil {
		conn.Close()
		return
	}
	tc := rest.CopyConfig(cfg)
	tc.Dial = func(ctx context.Context, _, _ string) (net.Conn, error) { return openStream(sess) }
	hc, err := rest.HTTPClientFor(tc)
	if err != nil {
		sess.Close()
		return
	}
	tlsCfg, err := rest.TLSConfigFor(tc)
	if err != nil {
		sess.Close()
		return
	}
	ut := &http.Transport{TLSClientConfig: tlsCfg, DialContext: tc.Dial}
	t := &tunnel{sess: sess, cfg: tc, http: hc, upgrade: ut}
	h.s.mu.Lock()
	if h.s.tunnels == nil {
		h.s.tunnels = map[string]*tunnel{}
	}
	old := h.s.tunnels[node]
	h.s.tunnels[node] = t
	h.s.mu.Unlock()
	if old != nil {
		old.sess.Close()
	}
	go func() {
		<-sess.CloseChan()
		hc.CloseIdleConnections()
		ut.CloseIdleConnections()
		h.s.mu.Lock()
		if h.s.tunnels[node] == t {
			delete(h.s.tunnels, node)
		}
		h.s.mu.Unlock()
	}()
}

// tunnelTo is node's open tunnel, nil if none.
func (s *Server) tunnelTo(node string) *tunnel {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.tunnels[node]
	if t != nil && t.sess.IsClosed() {
		return nil
	}
	return t
}
