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
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/yamux"
	"k8s.io/client-go/rest"

	rtunnel "github.com/wasmpod/wasmpod/internal/tunnel"
)

const (
	// TunnelPath + NODE is where an agent opens its reverse tunnel.
	TunnelPath = rtunnel.Path
	// TunnelProtocol is the Upgrade token of a tunnel.
	TunnelProtocol = rtunnel.Protocol
)

// TunnelConfig is the yamux configuration of both ends of a tunnel.
func TunnelConfig() *yamux.Config { return rtunnel.Config() }

// TunnelListener is the agent's end of a tunnel (internal/tunnel.Listener).
func TunnelListener(sess *yamux.Session) net.Listener { return rtunnel.Listener(sess) }

// RunTunnel is the agent's end of a reverse tunnel (internal/tunnel.Run).
func RunTunnel(ctx context.Context, api *rest.Config, node string, srv *http.Server, tlsCfg *tls.Config, logf func(string, ...any)) {
	rtunnel.Run(ctx, api, node, srv, tlsCfg, logf)
}

// DialTunnel opens a tunnel's connection (internal/tunnel.Dial).
func DialTunnel(ctx context.Context, api *rest.Config, node string) (net.Conn, error) {
	return rtunnel.Dial(ctx, api, node)
}

// tunnel is one node's open reverse tunnel, with the kubelet client that
// dials through it.
type tunnel struct {
	sess    *yamux.Session
	cfg     *rest.Config
	http    *http.Client
	upgrade *http.Transport // for streaming upgrades (remoteNode.spdyTransport)
	holder  string          // a relayed tunnel (tunnelrelay.go): the replica holding it
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
	if strings.EqualFold(req.Header.Get("Upgrade"), RelayProtocol) { // tunnelrelay.go: a peer API server
		h.serveRelay(w, req, node)
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
	sess, err := yamux.Client(rtunnel.BufferedConn(conn, brw.Reader), TunnelConfig())
	if err != nil {
		conn.Close()
		return
	}
	t, err := newTunnelClients(cfg, func(ctx context.Context, _, _ string) (net.Conn, error) { return rtunnel.OpenStream(sess) })
	if err != nil {
		sess.Close()
		return
	}
	t.sess = sess
	hc, ut := t.http, t.upgrade
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
	go h.s.recordTunnel(node) // tunnelrelay.go: the other replicas relay through this one
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

// newTunnelClients are the kubelet clients of cfg that reach the node
// through dial.
func newTunnelClients(cfg *rest.Config, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (*tunnel, error) {
	tc := rest.CopyConfig(cfg)
	tc.Dial = dial
	hc, err := rest.HTTPClientFor(tc)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := rest.TLSConfigFor(tc)
	if err != nil {
		return nil, err
	}
	return &tunnel{cfg: tc, http: hc, upgrade: &http.Transport{TLSClientConfig: tlsCfg, DialContext: tc.Dial}}, nil
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
