// Package tunnel is both ends' part of a node agent's reverse tunnel to
// the API server (the API server's side, serving the upgrade and dialling
// the kubelet API through it, is apiserver/tunnel.go): the yamux
// configuration, the streams as connections, and the agent's Run and Dial.
// It imports no part of the control plane, so that the node agent's
// binary links none.
//
// Reverse tunnels from node agents that cannot be dialled
// (behind NAT), issue 15 §1. An agent opens GET Path+NODE with
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
package tunnel

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/yamux"
	"k8s.io/client-go/rest"
)

const (
	// Path + NODE is where an agent opens its reverse tunnel.
	Path = "/wasmpod/tunnel/"
	// Protocol is the Upgrade token of a tunnel.
	Protocol = "wasmpod-tunnel"
)

// Config is the yamux configuration of both ends of a tunnel.
func Config() *yamux.Config {
	c := yamux.DefaultConfig()
	c.LogOutput = io.Discard
	c.ConnectionWriteTimeout = 30 * time.Second
	return c
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

// OpenStream opens a stream of sess as a connection.
func OpenStream(sess *yamux.Session) (net.Conn, error) {
	c, err := sess.Open()
	if err != nil {
		return nil, err
	}
	return tunnelConn{c}, nil
}

// Listener is the agent's end of a tunnel: the streams the API server
// opens on sess, as connections to serve the kubelet API on.
func Listener(sess *yamux.Session) net.Listener { return tunnelListener{sess} }

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

// Run keeps node's reverse tunnel to the API server api open until
// ctx ends, serving srv (the kubelet API, with tlsCfg on each stream) over
// it. A failed dial is retried with a backoff from 0.5 s to 10 s; logf
// reports each failure and each opened tunnel. It returns when ctx ends or
// srv is closed.
func Run(ctx context.Context, api *rest.Config, node string, srv *http.Server, tlsCfg *tls.Config, logf func(string, ...any)) {
	delay := 500 * time.Millisecond
	for ctx.Err() == nil {
		conn, err := Dial(ctx, api, node)
		if err != nil {
			logf("node %s: reverse tunnel: %v", node, err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, 10*time.Second)
			continue
		}
		sess, err := yamux.Server(conn, Config())
		if err != nil {
			conn.Close()
			continue
		}
		delay = 500 * time.Millisecond
		logf("node %s: reverse tunnel to %s open", node, api.Host)
		stop := context.AfterFunc(ctx, func() { sess.Close() })
		err = srv.Serve(tls.NewListener(Listener(sess), tlsCfg)) // until the session ends
		stop()
		sess.Close()
		if errors.Is(err, http.ErrServerClosed) {
			return
		}
	}
}

// Dial opens a tunnel's connection: TLS to the API server with the
// agent's credential (bearer token or client certificate), GET
// Path+node upgraded to Protocol. An answer other than 101 is
// an error with the API server's status and message.
func Dial(ctx context.Context, api *rest.Config, node string) (net.Conn, error) {
	u, err := url.Parse(api.Host)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("the API server %s is not HTTPS", api.Host)
	}
	tlsCfg, err := rest.TLSConfigFor(api)
	if err != nil {
		return nil, err
	}
	if tlsCfg == nil {
		tlsCfg = &tls.Config{}
	}
	tlsCfg = tlsCfg.Clone()
	tlsCfg.NextProtos = []string{"http/1.1"} // an upgrade: never HTTP/2
	if tlsCfg.ServerName == "" {
		tlsCfg.ServerName = u.Hostname()
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := (&tls.Dialer{NetDialer: &net.Dialer{KeepAlive: 30 * time.Second}, Config: tlsCfg}).DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	token := api.BearerToken
	if token == "" && api.BearerTokenFile != "" {
		b, err := os.ReadFile(api.BearerTokenFile)
		if err != nil {
			conn.Close()
			return nil, err
		}
		token = strings.TrimSpace(string(b))
	}
	req, _ := http.NewRequestWithContext(dctx, http.MethodGet, (&url.URL{Scheme: "https", Host: u.Host, Path: strings.TrimSuffix(u.Path, "/") + Path + node}).String(), nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", Protocol)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		conn.Close()
		return nil, fmt.Errorf("the API server answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	_ = conn.SetDeadline(time.Time{})
	return BufferedConn(conn, br), nil
}
