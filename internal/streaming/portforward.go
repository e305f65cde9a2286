package streaming

// portforward.go serves pods/{name}/portforward?ports=P1[,P2...] over
// WebSocket with the Kubernetes channel framing (kubelet's websocket
// port-forward): every binary message starts with a channel byte; port i
// of the request has data channel 2i and error channel 2i+1. When the
// connection opens, the server sends on each of those channels one
// message holding the port as 2 bytes little-endian. Data written by the
// client on a data channel goes to the pod's port; what the pod sends
// comes back on the same channel; a failure (connection refused, no pod
// network) is sent as text on the error channel. One WebSocket carries one
// connection per port; the server closes it when every port's connection
// has ended.
//
// (kubectl's SPDY protocol, plain or tunnelled in WebSocket, is in
// portforward_spdy.go.)
//
// Subprotocols: "v4.channel.k8s.io" (upstream's); "v5.channel.k8s.io"
// adds the close signal of exec's v5: a message {255, c} from the client
// says it has no more data for data channel c, which the server passes to
// the pod as a half-close (v4 clients cannot half-close).

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// PortForwardProtocols are the WebSocket subprotocols of port-forward,
// most preferred first.
var PortForwardProtocols = []string{execProtocolV5, execProtocolV4}

var portForwardUpgrader = websocket.Upgrader{
	Subprotocols:    PortForwardProtocols,
	ReadBufferSize:  32 * 1024,
	WriteBufferSize: 32 * 1024,
}

// parsePorts reads the "ports" (apiserver) or "port" (kubelet) query
// parameters, each a comma-separated list.
func parsePorts(req *http.Request) ([]int32, error) {
	q := req.URL.Query()
	vals := append(q["ports"], q["port"]...)
	if len(vals) == 0 {
		return nil, apierrors.NewBadRequest(`query parameter "ports" is required`)
	}
	var ports []int32
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 16)
			if err != nil || n < 1 {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("unable to parse %q as a port: must be between 1 and 65535", p))
			}
			ports = append(ports, int32(n))
		}
	}
	if len(ports) > 127 {
		return nil, apierrors.NewBadRequest("too many ports (at most 127)")
	}
	return ports, nil
}

// pfTarget is what a port-forward connection reaches: check tells before
// the upgrade whether port can be forwarded (an error is the plain HTTP
// answer); forward is PortForwarder.PortForward of the pod.
type pfTarget struct {
	check   func(ctx context.Context, port int32) error
	forward func(ctx context.Context, port int32, conn io.ReadWriteCloser) error
	errw    ErrorWriter
}

// servePortForwardStreams is the protocol part of port-forward (SPDY,
// tunnelled SPDY and WebSocket), shared with the kubelet API
// (ServePortForward).
func servePortForwardStreams(w http.ResponseWriter, req *http.Request, t pfTarget) {
	if len(spdyTunnelProtocols(req)) > 0 || isSPDYUpgrade(req) {
		// kubectl's protocol: ports travel in stream headers
		// (portforward_spdy.go).
		servePortForwardSPDY(w, req, t)
		return
	}
	ports, err := parsePorts(req)
	if err != nil {
		t.errw.write(w, err)
		return
	}
	if !websocket.IsWebSocketUpgrade(req) {
		t.errw.write(w, statusErr(http.StatusBadRequest, "BadRequest",
			"pods/portforward needs an upgrade: SPDY/3.1 (X-Stream-Protocol-Version "+portForwardProtocolV1+"), or WebSocket with subprotocol "+spdyTunnelPrefix+portForwardProtocolV1+", "+execProtocolV5+" or "+execProtocolV4))
		return
	}
	for _, p := range ports {
		if err = t.check(req.Context(), p); err != nil {
			t.errw.write(w, err)
			return
		}
	}
	conn, err := portForwardUpgrader.Upgrade(w, req, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	conn.SetReadLimit(maxWSMessage) // exec.go
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ws := &wsChannels{conn: conn, v5: conn.Subprotocol() == execProtocolV5}
	streams := make([]*pfStream, len(ports))
	for i, p := range ports {
		streams[i] = &pfStream{ws: ws, ch: byte(2 * i)}
		streams[i].in, streams[i].inW = io.Pipe()
		var b [2]byte
		binary.LittleEndian.PutUint16(b[:], uint16(p))
		if ws.write(byte(2*i), b[:]) != nil || ws.write(byte(2*i+1), b[:]) != nil {
			return
		}
	}
	// Reader: demultiplex the client's data and close signals.
	go func() {
		defer cancel()
		defer func() {
			for _, st := range streams {
				st.inW.Close()
			}
		}()
		for {
			typ, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if typ != websocket.BinaryMessage || len(data) == 0 {
				continue
			}
			ch := data[0]
			if ch == chanClose && ws.v5 && len(data) > 1 && int(data[1]) < 2*len(streams) && data[1]%2 == 0 {
				streams[data[1]/2].inW.Close()
				continue
			}
			if int(ch) < 2*len(streams) && ch%2 == 0 && len(data) > 1 {
				// A write to a finished stream is dropped.
				streams[ch/2].inW.Write(data[1:])
			}
		}
	}()
	var wg sync.WaitGroup
	for i, p := range ports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := streams[i]
			err := t.forward(ctx, p, st)
			st.in.CloseWithError(io.ErrClosedPipe)
			if err != nil {
				ws.write(byte(2*i+1), []byte(err.Error()))
			}
		}()
	}
	wg.Wait()
	ws.mu.Lock()
	conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	ws.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
	}
}

// pfStream is one port's connection as the node connector sees it.
type pfStream struct {
	ws  *wsChannels
	ch  byte
	in  *io.PipeReader
	inW *io.PipeWriter
}

func (s *pfStream) Read(p []byte) (int, error) { return s.in.Read(p) }

func (s *pfStream) Write(p []byte) (int, error) {
	for off := 0; off < len(p); {
		n := min(len(p)-off, 32*1024)
		if err := s.ws.write(s.ch, p[off:off+n]); err != nil {
			return off, io.ErrClosedPipe
		}
		off += n
	}
	return len(p), nil
}

func (s *pfStream) Close() error {
	s.in.CloseWithError(io.ErrClosedPipe)
	return nil
}
