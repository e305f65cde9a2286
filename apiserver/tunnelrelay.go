package apiserver

// tunnelrelay.go: an HA control plane's replicas reach every agent's
// reverse tunnel (issue 15 §1 with §4). Behind a load balancer an agent's
// tunnel lands on one replica; that replica records itself as the tunnel's
// holder (TunnelRegistry, in the store the replicas share), and a replica
// asked for a node it holds no tunnel of relays the connection through the
// holder: it opens GET TunnelPath+NODE with "Upgrade: wasmpod-relay" at the
// holder, authenticated by its kubelet client certificate (system:masters,
// signed by the cluster CA every replica shares), and the holder bridges
// the upgraded connection to a new stream of the node's tunnel. The TLS to
// the agent's kubelet API runs end to end over it, as over a local
// tunnel's stream, so the holder sees only ciphertext. A holder never
// relays further (no loops); a holder that is gone is 503, as an
// unreachable kubelet, until the agent's next tunnel records another.

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"

	rtunnel "github.com/wasmpod/wasmpod/internal/tunnel"
)

// RelayProtocol is the Upgrade token of a relayed tunnel connection.
const RelayProtocol = "wasmpod-relay"

// TunnelRegistry records which of the replicas holds each node's reverse
// tunnel.
type TunnelRegistry interface {
	// Self is this server's URL as the other replicas reach it ("" while
	// it has none: nothing is recorded).
	Self() string
	// Record makes url the holder of node's tunnel.
	Record(ctx context.Context, node, url string) error
	// Holder is the URL of the server holding node's tunnel, "" if none.
	Holder(ctx context.Context, node string) (string, error)
}

// SetTunnelRegistry makes r the registry of this server's tunnels.
func (s *Server) SetTunnelRegistry(r TunnelRegistry) {
	s.mu.Lock()
	s.tunnelReg = r
	s.mu.Unlock()
}

func (s *Server) tunnelRegistry() TunnelRegistry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tunnelReg
}

// recordTunnel tells the registry this server holds node's tunnel.
func (s *Server) recordTunnel(node string) {
	r := s.tunnelRegistry()
	if r == nil || r.Self() == "" {
		return
	}
	// A store that does not answer is tried again a few times; without
	// the record the other replicas answer 503 for the node.
	for i := 0; i < 5; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := r.Record(ctx, node, r.Self())
		cancel()
		if err == nil {
			return
		}
		time.Sleep(time.Second)
	}
}

// serveRelay bridges a peer API server's connection to a new stream of
// node's tunnel.
func (h *httpHandler) serveRelay(w http.ResponseWriter, req *http.Request, node string) {
	if u := UserFrom(req.Context()); !isMaster(u) {
		writeError(w, statusErr(http.StatusForbidden, "Forbidden", "only the API servers (system:masters) relay tunnel connections"))
		return
	}
	t := h.s.tunnelTo(node)
	if t == nil {
		writeError(w, statusErr(http.StatusServiceUnavailable, "ServiceUnavailable", fmt.Sprintf("node %s has no reverse tunnel to this API server", node)))
		return
	}
	stream, err := rtunnel.OpenStream(t.sess)
	if err != nil {
		writeError(w, statusErr(http.StatusServiceUnavailable, "ServiceUnavailable", fmt.Sprintf("node %s's reverse tunnel: %v", node, err)))
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		stream.Close()
		writeError(w, statusErr(http.StatusInternalServerError, "InternalError", "the connection cannot be taken over: "+err.Error()))
		return
	}
	_ = conn.SetDeadline(time.Time{})
	if _, err := io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+RelayProtocol+"\r\n\r\n"); err != nil {
		conn.Close()
		stream.Close()
		return
	}
	bridge(rtunnel.BufferedConn(conn, brw.Reader), stream)
}

// bridge copies between a and b until either ends, then closes both.
func bridge(a, b net.Conn) {
	var once sync.Once
	done := func() { once.Do(func() { a.Close(); b.Close() }) }
	go func() { io.Copy(a, b); done() }()
	io.Copy(b, a)
	done()
}

// relayTunnel is a tunnel reached through the replica at holder.
func (s *Server) relayTunnel(holder, node string) (*tunnel, error) {
	s.kubelet.mu.RLock()
	cfg := s.kubelet.cfg
	s.kubelet.mu.RUnlock()
	if cfg == nil {
		return nil, fmt.Errorf("this API server has no kubelet client certificate")
	}
	u, err := url.Parse(holder)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("node %s's tunnel holder %q is not an https URL", node, holder)
	}
	peerTLS, err := rest.TLSConfigFor(cfg) // the kubelet client certificate and the cluster CA
	if err != nil {
		return nil, err
	}
	peerTLS = peerTLS.Clone()
	peerTLS.ServerName = u.Hostname()
	peerTLS.NextProtos = []string{"http/1.1"}
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return dialRelay(ctx, u.Host, peerTLS, node)
	}
	return newTunnelClients(cfg, dial)
}

// dialRelay opens a connection to node's kubelet API through the tunnel
// held by the API server at host.
func dialRelay(ctx context.Context, host string, tlsCfg *tls.Config, node string) (net.Conn, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}, Config: tlsCfg}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("relaying through %s: %w", host, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	} else {
		conn.SetDeadline(time.Now().Add(30 * time.Second))
	}
	req := "GET " + TunnelPath + url.PathEscape(node) + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: Upgrade\r\nUpgrade: " + RelayProtocol + "\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		conn.Close()
		return nil, fmt.Errorf("relaying through %s: %w", host, err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("relaying through %s: %w", host, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		conn.Close()
		return nil, fmt.Errorf("relaying through %s: %s: %s", host, resp.Status, b)
	}
	conn.SetDeadline(time.Time{})
	return rtunnel.BufferedConn(conn, br), nil
}

// relayedTunnel is the relay to node's tunnel through the replica holding
// it, nil when no other replica does. Only a node without a kubelet
// endpoint (tunnelOnly) is relayed; one that has one is dialled, as
// before.
func (s *Server) relayedTunnel(ctx context.Context, node string, tunnelOnly bool) (*tunnel, error) {
	r := s.tunnelRegistry()
	if r == nil || !tunnelOnly {
		return nil, nil
	}
	holder, err := r.Holder(ctx, node)
	if err != nil {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %s: which API server holds its reverse tunnel: %v", node, err))
	}
	if holder == "" || holder == r.Self() {
		return nil, nil
	}
	s.mu.RLock()
	t := s.relays[node]
	s.mu.RUnlock()
	if t != nil && t.holder == holder {
		return t, nil
	}
	t, err = s.relayTunnel(holder, node)
	if err != nil {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %s: %v", node, err))
	}
	t.holder = holder
	s.mu.Lock()
	if s.relays == nil {
		s.relays = map[string]*tunnel{}
	}
	old := s.relays[node]
	s.relays[node] = t
	s.mu.Unlock()
	if old != nil {
		old.http.CloseIdleConnections()
		old.upgrade.CloseIdleConnections()
	}
	return t, nil
}
