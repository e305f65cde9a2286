package apiserver

// client.go builds client-go configurations for the three ways to reach
// the HTTP API: in-process (no sockets), a Unix socket, and TCP with a
// bearer token.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"k8s.io/client-go/rest"

	"github.com/wasmpod/wasmpod/internal/restconfig"
)

// InProcessConfig returns a client-go config whose requests are served by
// calling h (normally s.Handler(...)) directly, with no sockets. Responses
// stream: watches and followed logs arrive as the handler flushes them;
// closing the response body cancels the request's context. Upgrades
// (pods/exec over WebSocket) need a real connection: client-go's WebSocket
// executor dials by itself, so use s.PodExec in-process or TCPConfig.
func (s *Server) InProcessConfig(h http.Handler) *rest.Config {
	return &rest.Config{
		Host:          "http://wasmpod.in-process",
		Transport:     &inProcessTransport{h: h},
		ContentConfig: rest.ContentConfig{ContentType: "application/json"},
		QPS:           -1, // no client-side throttling
	}
}

// UnixSocketConfig returns a client-go config that talks HTTP over the Unix
// socket at path (the socket's file mode is the authentication).
func UnixSocketConfig(path string) *rest.Config { return restconfig.UnixSocket(path) }

// TCPConfig returns a client-go config for url (http://host:port) with a
// bearer token (none when empty).
func TCPConfig(url, token string) *rest.Config { return restconfig.TCP(url, token) }

// ListenUnix listens on a Unix socket at path with file mode 0600. A stale
// socket file (nothing listening) is removed first; a socket someone is
// listening on, or a path that is not a socket, is refused. The socket is
// created in a private directory and renamed into place, so it is never
// reachable with a wider mode. Closing the listener removes the file.
func ListenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("listen unix %s: the path exists and is not a socket", path)
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("listen unix %s: another process is listening on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("listen unix %s: removing stale socket: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("listen unix %s: %w", path, err)
	}
	tmpDir, err := os.MkdirTemp(filepath.Dir(path), ".wasmpod-sock-")
	if err != nil {
		return nil, fmt.Errorf("listen unix %s: %w", path, err)
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, "s")
	l, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("listen unix %s: %w", path, err)
	}
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		ul.Close()
		return nil, fmt.Errorf("listen unix %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ul.Close()
		return nil, fmt.Errorf("listen unix %s: %w", path, err)
	}
	return &unixListener{UnixListener: ul, path: path}, nil
}

type unixListener struct {
	*net.UnixListener
	path string
	once sync.Once
}

func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() { os.Remove(l.path) })
	return err
}

// --- in-process transport -------------------------------------------------------

type inProcessTransport struct{ h http.Handler }

func (t *inProcessTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	sreq := req.Clone(ctx)
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "in-process"
	if sreq.Host == "" {
		sreq.Host = req.URL.Host
	}
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	pr, pw := io.Pipe()
	rw := &pipeResponseWriter{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	handlers.run(func() {
		defer func() {
			p := recover()
			rw.start()
			if p != nil && p != http.ErrAbortHandler {
				pw.CloseWithError(fmt.Errorf("handler panic: %v", p))
			} else {
				pw.Close()
			}
		}()
		t.h.ServeHTTP(rw, sreq)
	})
	select {
	case <-rw.ready:
	case <-ctx.Done():
		cancel()
		pr.CloseWithError(ctx.Err())
		return nil, ctx.Err()
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", rw.code, http.StatusText(rw.code)),
		StatusCode:    rw.code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rw.sent,
		Body:          &cancelBody{PipeReader: pr, cancel: cancel},
		ContentLength: -1,
		Request:       req,
	}, nil
}

// handlers runs the in-process requests' handlers on goroutines kept for
// the next request, as net/http's connection goroutines serve one request
// after another: a new goroutine per request started on a small stack
// and grew it, copying, through the field manager's deep recursion
// (runtime.newstack was ~5% of the CPU in BenchmarkJobCompletions).
var handlers = &handlerPool{work: make(chan func())}

// handlerPool hands a function to an idle worker goroutine, or starts
// one; at most handlerPoolIdle wait for work, each for handlerPoolLinger
// (the rest end).
type handlerPool struct {
	work chan func()
	idle atomic.Int32
}

const (
	handlerPoolIdle   = 64
	handlerPoolLinger = time.Second
)

func (p *handlerPool) run(f func()) {
	select {
	case p.work <- f:
	default:
		go p.worker(f)
	}
}

func (p *handlerPool) worker(f func()) {
	var linger *time.Timer
	for {
		f()
		if p.idle.Add(1) > handlerPoolIdle {
			p.idle.Add(-1)
			return
		}
		if linger == nil {
			linger = time.NewTimer(handlerPoolLinger)
		} else {
			linger.Reset(handlerPoolLinger)
		}
		select {
		case f = <-p.work:
			p.idle.Add(-1)
		case <-linger.C:
			p.idle.Add(-1)
			return
		}
	}
}

type cancelBody struct {
	*io.PipeReader
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	b.cancel()
	return b.PipeReader.CloseWithError(io.ErrClosedPipe)
}

// pipeResponseWriter is an http.ResponseWriter whose body goes through a
// pipe to the client; the response is handed over at the first write,
// WriteHeader, Flush or the handler's return.
type pipeResponseWriter struct {
	header http.Header
	sent   http.Header
	pw     *io.PipeWriter
	code   int
	once   sync.Once
	ready  chan struct{}
}

func (w *pipeResponseWriter) Header() http.Header { return w.header }

func (w *pipeResponseWriter) WriteHeader(code int) {
	if code < 200 && code >= 100 {
		return // informational; nothing to do in-process
	}
	w.once.Do(func() {
		w.code = code
		w.sent = w.header.Clone()
		w.sent.Del("Transfer-Encoding")
		close(w.ready)
	})
}

func (w *pipeResponseWriter) start() { w.WriteHeader(http.StatusOK) }

func (w *pipeResponseWriter) Write(p []byte) (int, error) {
	w.start()
	n, err := w.pw.Write(p)
	if errors.Is(err, io.ErrClosedPipe) {
		err = syscall.EPIPE
	}
	return n, err
}

// Flush sends the header; the body is unbuffered already.
func (w *pipeResponseWriter) Flush() { w.start() }
