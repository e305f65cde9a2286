package apiserver

// tunnel_agent.go: the agent's end of a reverse tunnel (tunnel.go): it
// dials the API server with its own credential, upgrades GET TunnelPath+NODE
// to TunnelProtocol, and serves its kubelet API on the streams the API
// server opens, until its context ends, re-dialling when the tunnel drops.

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

// RunTunnel keeps node's reverse tunnel to the API server api open until
// ctx ends, serving srv (the kubelet API, with tlsCfg on each stream) over
// it. A failed dial is retried with a backoff from 0.5 s to 10 s; logf
// reports each failure and each opened tunnel. It returns when ctx ends or
// srv is closed.
func RunTunnel(ctx context.Context, api *rest.Config, node string, srv *http.Server, tlsCfg *tls.Config, logf func(string, ...any)) {
	delay := 500 * time.Millisecond
	for ctx.Err() == nil {
		conn, err := DialTunnel(ctx, api, node)
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
		sess, err := yamux.Server(conn, TunnelConfig())
		if err != nil {
			conn.Close()
			continue
		}
		delay = 500 * time.Millisecond
		logf("node %s: reverse tunnel to %s open", node, api.Host)
		stop := context.AfterFunc(ctx, func() { sess.Close() })
		err = srv.Serve(tls.NewListener(TunnelListener(sess), tlsCfg)) // until the session ends
		stop()
		sess.Close()
		if errors.Is(err, http.ErrServerClosed) {
			return
		}
	}
}

// DialTunnel opens a tunnel's connection: TLS to the API server with the
// agent's credential (bearer token or client certificate), GET
// TunnelPath+node upgraded to TunnelProtocol. An answer other than 101 is
// an error with the API server's status and message.
func DialTunnel(ctx context.Context, api *rest.Config, node string) (net.Conn, error) {
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
	req, _ := http.NewRequestWithContext(dctx, http.MethodGet, (&url.URL{Scheme: "https", Host: u.Host, Path: strings.TrimSuffix(u.Path, "/") + TunnelPath + node}).String(), nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", TunnelProtocol)
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
