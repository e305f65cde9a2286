package streaming

// exec.go serves pods/{name}/exec over WebSocket with the Kubernetes
// channel protocols v5.channel.k8s.io and v4.channel.k8s.io, and over SPDY
// (exec_spdy.go). WebSocket: every binary
// message starts with a channel byte — 0 stdin, 1 stdout, 2 stderr,
// 3 error (a metav1.Status once the command ends), 4 resize (JSON
// {"Width":w,"Height":h}) — and v5 adds 255, the close signal, whose one
// data byte names the stream the peer has closed (0: end of stdin).

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	execProtocolV5 = "v5.channel.k8s.io"
	execProtocolV4 = "v4.channel.k8s.io"

	chanStdin  = 0
	chanStdout = 1
	chanStderr = 2
	chanError  = 3
	chanResize = 4
	chanClose  = 255
)

var execUpgrader = websocket.Upgrader{
	Subprotocols:    []string{execProtocolV5, execProtocolV4},
	ReadBufferSize:  32 * 1024,
	WriteBufferSize: 32 * 1024,
	// The default CheckOrigin (no Origin, or Origin matching Host) keeps
	// browsers on other sites out.
}

// remoteOpts are the streams a remote command (exec, attach) asks for.
type remoteOpts struct {
	stdin, stdout, stderr, tty bool
	errw                       ErrorWriter
}

// remoteSession is an upgraded exec or attach connection, whatever its
// protocol: the command's streams, a context that ends when the client
// goes away, the final status and the teardown.
type remoteSession struct {
	ctx     context.Context
	streams ExecStreams
	// writeStatus sends the command's outcome on the error stream in the
	// protocol's form (a Status JSON from v4 on, text before).
	writeStatus func(st *metav1.Status)
	close       func()
}

// upgradeRemoteCommand upgrades an exec or attach request: WebSocket with
// v5.channel.k8s.io or v4.channel.k8s.io (kubectl's first choice), or
// SPDY/3.1 with the remotecommand protocols v4, v3 and v2 (the fallback of
// kubectl and client-go's SPDY executor; exec_spdy.go). It returns nil
// when it has answered w with an error.
func upgradeRemoteCommand(w http.ResponseWriter, req *http.Request, ro remoteOpts, what string) *remoteSession {
	switch {
	case isSPDYUpgrade(req):
		return spdyRemoteSession(w, req, ro)
	case websocket.IsWebSocketUpgrade(req):
		return wsRemoteSession(w, req, ro)
	}
	ro.errw.write(w, statusErr(http.StatusBadRequest, metav1.StatusReasonBadRequest,
		what+" needs an upgrade: WebSocket with subprotocol "+execProtocolV5+" or "+execProtocolV4+", or SPDY/3.1 (X-Stream-Protocol-Version "+remoteCommandV4+", "+remoteCommandV3+" or "+remoteCommandV2+")"))
	return nil
}

// maxWSMessage bounds a message a client sends on an exec, attach or
// port-forward WebSocket (kubectl sends at most 32 KiB in one).
const maxWSMessage = 16 << 20

// PingPeriod is how often an exec or attach WebSocket is pinged.
var PingPeriod = 5 * time.Second

// wsRemoteSession is the WebSocket channel protocol (v5/v4).
func wsRemoteSession(w http.ResponseWriter, req *http.Request, ro remoteOpts) *remoteSession {
	conn, err := execUpgrader.Upgrade(w, req, nil)
	if err != nil {
		return nil // the upgrader has answered
	}
	// A message is read whole into memory: bounded, as upstream's wsstream
	// bounds a frame (a longer one closes the connection, 1009).
	conn.SetReadLimit(maxWSMessage)
	ctx, cancel := context.WithCancel(context.Background())
	ws := &wsChannels{conn: conn, v5: conn.Subprotocol() == execProtocolV5}

	var stdinR *io.PipeReader
	var stdinW *io.PipeWriter
	if ro.stdin {
		stdinR, stdinW = io.Pipe()
	}
	var resize chan TerminalSize
	if ro.tty {
		resize = make(chan TerminalSize, 4)
	}
	// The reader below blocks while a command does not read its stdin, and
	// then sees no disconnect: a ping every PingPeriod does (its write
	// fails once the client is gone), ending the command.
	go func() {
		t := time.NewTicker(PingPeriod)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(PingPeriod)) != nil {
					cancel()
					return
				}
			}
		}
	}()
	// Reader: demultiplex stdin, resize and close; a broken connection
	// cancels the command.
	go func() {
		defer cancel()
		for {
			typ, data, err := conn.ReadMessage()
			if err != nil {
				if stdinW != nil {
					stdinW.CloseWithError(io.EOF)
				}
				return
			}
			if typ != websocket.BinaryMessage || len(data) == 0 {
				continue
			}
			switch data[0] {
			case chanStdin:
				if stdinW != nil && len(data) > 1 {
					stdinW.Write(data[1:])
				}
			case chanResize:
				var sz TerminalSize
				if resize != nil && json.Unmarshal(data[1:], &sz) == nil {
					select {
					case resize <- sz:
					default:
					}
				}
			case chanClose:
				if len(data) > 1 && data[1] == chanStdin && stdinW != nil {
					stdinW.Close()
				}
			}
		}
	}()

	sess := &remoteSession{ctx: ctx, streams: ExecStreams{Resize: resize}}
	if stdinR != nil {
		sess.streams.Stdin = stdinR
	}
	if ro.stdout {
		sess.streams.Stdout = ws.channel(chanStdout)
	}
	if ro.stderr {
		sess.streams.Stderr = ws.channel(chanStderr)
	}
	sess.writeStatus = func(st *metav1.Status) {
		if stdinR != nil {
			stdinR.Close()
		}
		st.Kind, st.APIVersion = "Status", "v1"
		b, _ := json.Marshal(st)
		ws.write(chanError, b)
	}
	sess.close = func() {
		if stdinR != nil {
			stdinR.Close()
		}
		ws.mu.Lock()
		conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		ws.mu.Unlock()
		// Give the client a moment to read the close before the TCP close.
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
		cancel()
		conn.Close()
	}
	return sess
}

func joinArgs(a []string) string {
	b, _ := json.Marshal(a)
	return string(b[1 : len(b)-1])
}

// wsChannels writes channel-prefixed messages on one connection.
type wsChannels struct {
	mu   sync.Mutex
	conn *websocket.Conn
	v5   bool
}

func (c *wsChannels) write(ch byte, p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(60 * time.Second))
	w, err := c.conn.NextWriter(websocket.BinaryMessage)
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte{ch}); err != nil {
		return err
	}
	if _, err := w.Write(p); err != nil {
		return err
	}
	return w.Close()
}

type channelWriter struct {
	c  *wsChannels
	ch byte
}

func (c *wsChannels) channel(ch byte) io.Writer { return &channelWriter{c: c, ch: ch} }

func (w *channelWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := w.c.write(w.ch, p); err != nil {
		return 0, errors.Join(io.ErrClosedPipe, err)
	}
	return len(p), nil
}
