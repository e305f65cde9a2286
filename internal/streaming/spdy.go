package streaming

// spdy.go: the server side of SPDY/3.1 stream upgrades, as the kubelet
// serves them (k8s.io/streaming's spdystream connection; no framing of
// ours), either plain — "Upgrade: SPDY/3.1" with the protocol negotiated
// in X-Stream-Protocol-Version — or tunnelled in WebSocket binary messages
// with the subprotocol "SPDY/3.1+<protocol>" (kube-apiserver's
// TunnelingHandler; client-go's tunnelling dialer, which kubectl
// port-forward tries first). A connection carries many streams, each
// identified by its headers (streamType, port, requestID).

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
)

// spdyTunnelPrefix prefixes a SPDY protocol to make the WebSocket
// subprotocol that tunnels it (apimachinery's
// portforward.WebsocketsSPDYTunnelingPrefix).
const spdyTunnelPrefix = "SPDY/3.1+"

// The kubelet's streaming timeouts (variables so that tests can shorten
// them): how long a client has to open all the streams of a request once
// it has opened the first, and how long an upgraded connection may carry
// no frame at all (client-go pings every 5 s) before it is closed.
var (
	StreamCreationTimeout = 30 * time.Second
	StreamIdleTimeout     = 4 * time.Hour
)

// isSPDYUpgrade reports whether req asks for a plain SPDY/3.1 upgrade.
func isSPDYUpgrade(req *http.Request) bool {
	return httpstream.IsUpgradeRequest(req) &&
		strings.Contains(strings.ToLower(req.Header.Get(httpstream.HeaderUpgrade)), strings.ToLower(spdy.HeaderSpdy31))
}

// spdyTunnelProtocols returns the SPDY protocols a WebSocket upgrade asks
// to tunnel (its "SPDY/3.1+" subprotocols without the prefix), in the
// client's order; none when req is not such an upgrade.
func spdyTunnelProtocols(req *http.Request) []string {
	if !websocket.IsWebSocketUpgrade(req) {
		return nil
	}
	var ps []string
	for _, p := range websocket.Subprotocols(req) {
		if strings.HasPrefix(p, spdyTunnelPrefix) {
			ps = append(ps, strings.TrimPrefix(p, spdyTunnelPrefix))
		}
	}
	return ps
}

// errUpgradeAnswered says the upgrade failed and w has been answered.
var errUpgradeAnswered = errors.New("upgrade failed")

// upgradeSPDY upgrades req to a SPDY connection speaking one of protocols
// (the server's, most preferred first), plain or tunnelled in WebSocket.
// newStream is called for every stream the client opens. It returns the
// connection and the negotiated protocol; on failure w has been answered
// (an HTTP error, as upstream) and the error is errUpgradeAnswered.
func upgradeSPDY(w http.ResponseWriter, req *http.Request, protocols []string, newStream httpstream.NewStreamHandler) (httpstream.Connection, string, error) {
	w = &deadlineHijacker{w}
	if tunnelled := spdyTunnelProtocols(req); len(tunnelled) > 0 {
		proto := ""
		for _, c := range tunnelled {
			for _, s := range protocols {
				if c == s && proto == "" {
					proto = s
				}
			}
		}
		if proto == "" {
			for _, s := range protocols {
				w.Header().Add(httpstream.HeaderAcceptedProtocolVersions, s)
			}
			http.Error(w, fmt.Sprintf("unable to upgrade: unable to negotiate protocol: client supports %v, server accepts %v", tunnelled, protocols), http.StatusForbidden)
			return nil, "", errUpgradeAnswered
		}
		up := websocket.Upgrader{
			Subprotocols:    []string{spdyTunnelPrefix + proto},
			ReadBufferSize:  32 * 1024,
			WriteBufferSize: 32 * 1024,
		}
		ws, err := up.Upgrade(w, req, nil)
		if err != nil {
			return nil, "", errUpgradeAnswered // the upgrader has answered
		}
		// A SPDY frame is at most 16 MiB plus its header; so is a message.
		ws.SetReadLimit(16<<20 + 64)
		conn, err := spdy.NewServerConnection(portforward.NewTunnelingConnection("server", ws), newStream)
		if err != nil {
			ws.Close()
			return nil, "", errUpgradeAnswered
		}
		conn.SetIdleTimeout(StreamIdleTimeout)
		return conn, proto, nil
	}
	if !isSPDYUpgrade(req) {
		return nil, "", errors.New("not a SPDY upgrade")
	}
	proto, err := httpstream.Handshake(req, w, protocols)
	if err != nil {
		return nil, "", errUpgradeAnswered
	}
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, req, newStream)
	if conn == nil {
		return nil, "", errUpgradeAnswered
	}
	conn.SetIdleTimeout(StreamIdleTimeout)
	return conn, proto, nil
}

// spdyWriteTimeout bounds every write on an upgraded connection: a client
// that stops reading loses its connection instead of blocking the server.
var spdyWriteTimeout = 60 * time.Second

// deadlineHijacker hands out hijacked connections whose writes have a
// deadline (both the SPDY upgrader and the WebSocket upgrader hijack).
type deadlineHijacker struct{ http.ResponseWriter }

func (d *deadlineHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(d.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	dc := &deadlineConn{Conn: c}
	if rw != nil {
		rw.Writer.Reset(dc)
	}
	return dc, rw, nil
}

type deadlineConn struct{ net.Conn }

func (c *deadlineConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(spdyWriteTimeout))
	return c.Conn.Write(p)
}
