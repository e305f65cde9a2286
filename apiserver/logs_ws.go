package apiserver

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
)

// Logs over a WebSocket, as kube-apiserver streams a pod's log to a
// client that asks for an upgrade (wsstream.Reader): each chunk is a
// binary message (subprotocol binary.k8s.io, or none), or with
// base64.binary.k8s.io a text message holding it in base64; the server
// closes the socket when the log ends. Upstream's conformance test "Pods
// should support retrieving logs from the container over websockets"
// reads a log this way.
const (
	logProtocolBinary = "binary.k8s.io"
	logProtocolBase64 = "base64.binary.k8s.io"
)

var logUpgrader = websocket.Upgrader{
	Subprotocols:    []string{logProtocolBinary, logProtocolBase64},
	ReadBufferSize:  1024,
	WriteBufferSize: 32 * 1024,
}

func isWebSocketUpgrade(req *http.Request) bool { return websocket.IsWebSocketUpgrade(req) }

// serveLogWebSocket streams the log of opts to a WebSocket; the options
// were checked by serveLog.
func (h *httpHandler) serveLogWebSocket(w http.ResponseWriter, req *http.Request, rq *request, opts *corev1.PodLogOptions) {
	// Errors before the first byte (no such pod or container) are answered
	// as on plain HTTP: the client sees the Status, not a closed socket.
	if _, _, err := h.s.podNode(req.Context(), rq.ns, rq.name, opts.Container); err != nil {
		writeError(w, err)
		return
	}
	conn, err := logUpgrader.Upgrade(w, req, nil)
	if err != nil {
		return // the upgrader has answered
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	// The client sends nothing; reading notices its close.
	conn.SetReadLimit(4096)
	go func() {
		defer cancel()
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()
	ww := &wsLogWriter{conn: conn, base64: conn.Subprotocol() == logProtocolBase64}
	var out io.Writer = ww
	if opts.LimitBytes != nil {
		out = &limitWriter{w: ww, n: *opts.LimitBytes, done: cancel}
	}
	h.s.PodLogs(ctx, rq.ns, rq.name, opts, out)
	ww.mu.Lock()
	conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	ww.mu.Unlock()
}

type wsLogWriter struct {
	mu     sync.Mutex
	conn   *websocket.Conn
	base64 bool
}

func (w *wsLogWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.conn.SetWriteDeadline(time.Now().Add(30 * time.Second)) // a client that stops reading
	var err error
	if w.base64 {
		err = w.conn.WriteMessage(websocket.TextMessage, []byte(base64.StdEncoding.EncodeToString(p)))
	} else {
		err = w.conn.WriteMessage(websocket.BinaryMessage, p)
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}
