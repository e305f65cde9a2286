package apiserver

// serving.go builds the http.Server every wasmpod API endpoint runs on (the
// Unix socket and TCP of `wasmpod serve`, and embedders who serve
// Cluster.Handler themselves), with the bounds a network client must not
// be able to exceed:
//
//   - ReadHeaderTimeout, IdleTimeout and MaxHeaderBytes (kube-apiserver's
//     values by default: 32 s, 90 s, 1 MiB);
//   - a cap on connections that have not yet carried a valid bearer token
//     (LimitUnauthenticated): past the cap the oldest such connection is
//     closed, so a flood of idle or half-open connections can neither use
//     up the process's file descriptors nor lock out a client that
//     connects, sends its token and so becomes authenticated;
//   - request bodies (HandlerOptions.MaxBodyBytes) and JSON nesting depth
//     (HandlerOptions.MaxJSONDepth), enforced by the handler.

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Serving defaults, as kube-apiserver's secure serving.
const (
	DefaultReadHeaderTimeout = 32 * time.Second
	DefaultIdleTimeout       = 90 * time.Second
	DefaultMaxHeaderBytes    = 1 << 20
	// DefaultMaxUnauthenticatedConns is how many connections may be open
	// on a listener wrapped by LimitUnauthenticated before any request on
	// them carried a valid token.
	DefaultMaxUnauthenticatedConns = 256
)

// ServingOptions bounds what clients can hold of an HTTP server. Zero
// fields take the defaults above.
type ServingOptions struct {
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
}

// NewHTTPServer returns an http.Server for h with the serving bounds of
// opts. Serve it on a listener wrapped by LimitUnauthenticated when the
// listener is reachable by untrusted clients (TCP); a Unix socket (file
// permissions are the authentication) needs no wrapper.
func NewHTTPServer(h http.Handler, opts ServingOptions) *http.Server {
	if opts.ReadHeaderTimeout <= 0 {
		opts.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.MaxHeaderBytes <= 0 {
		opts.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    opts.MaxHeaderBytes,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if tc, ok := c.(*trackedConn); ok {
				return context.WithValue(ctx, trackedConnKey{}, tc)
			}
			return ctx
		},
	}
}

// LimitUnauthenticated wraps l so that at most max (<= 0: the default)
// accepted connections are unauthenticated at a time. A connection is
// unauthenticated until a request on it passes the handler's token check
// (the server must come from NewHTTPServer, which lets the handler find
// the connection); from then on it is not counted. When a new connection
// would exceed the cap, the oldest unauthenticated connection is closed:
// idle floods cannot keep new clients out, and authenticated connections
// are never touched.
func LimitUnauthenticated(l net.Listener, max int) net.Listener {
	if max <= 0 {
		max = DefaultMaxUnauthenticatedConns
	}
	return &limitListener{Listener: l, max: max}
}

type limitListener struct {
	net.Listener
	max int

	mu     sync.Mutex
	unauth list.List // of *trackedConn, oldest first
}

// Unauthenticated reports how many accepted connections are counted as
// unauthenticated now (for tests and metrics).
func (l *limitListener) Unauthenticated() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.unauth.Len()
}

func (l *limitListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, l: l}
	var evict *trackedConn
	l.mu.Lock()
	if l.unauth.Len() >= l.max {
		evict = l.unauth.Remove(l.unauth.Front()).(*trackedConn)
		evict.elem = nil
	}
	tc.elem = l.unauth.PushBack(tc)
	l.mu.Unlock()
	if evict != nil {
		evict.Conn.Close()
	}
	return tc, nil
}

type trackedConnKey struct{}

// trackedConn is a connection accepted by a limitListener.
type trackedConn struct {
	net.Conn
	l    *limitListener
	elem *list.Element // in l.unauth; nil once authenticated or closed (guarded by l.mu)
}

func (c *trackedConn) forget() {
	c.l.mu.Lock()
	if c.elem != nil {
		c.l.unauth.Remove(c.elem)
		c.elem = nil
	}
	c.l.mu.Unlock()
}

func (c *trackedConn) Close() error {
	c.forget()
	return c.Conn.Close()
}

// markAuthenticated stops counting the request's connection as
// unauthenticated (a no-op for connections not from LimitUnauthenticated).
func markAuthenticated(ctx context.Context) {
	if tc, ok := ctx.Value(trackedConnKey{}).(*trackedConn); ok {
		tc.forget()
	}
}

// MinTokenLength is the shortest bearer token CheckToken accepts.
const MinTokenLength = 16

// CheckToken refuses bearer tokens an attacker could guess: blank ones,
// ones with spaces or control characters (which cannot travel in an
// Authorization header intact), ones shorter than MinTokenLength, and ones
// whose estimated strength is under 64 bits. The estimate is the length
// times log2 of the alphabet its character classes span (digits 10,
// lower 26, upper 26, other printable ASCII 33), and a token must use at
// least 6 distinct characters. `openssl rand -hex 32` passes.
func CheckToken(tok string) error {
	if strings.TrimSpace(tok) == "" {
		return errors.New("the token is blank")
	}
	var lower, upper, digit, other bool
	distinct := map[rune]bool{}
	for _, r := range tok {
		switch {
		case r > unicode.MaxASCII || r <= ' ' || r == 0x7f:
			return errors.New("the token may hold only printable ASCII characters, without spaces")
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		default:
			other = true
		}
		distinct[r] = true
	}
	if len(tok) < MinTokenLength {
		return fmt.Errorf("the token has %d characters; at least %d are required (for example: openssl rand -hex 32)", len(tok), MinTokenLength)
	}
	alphabet := 0
	for _, c := range []struct {
		set  bool
		size int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {other, 33}} {
		if c.set {
			alphabet += c.size
		}
	}
	bits := float64(len(tok)) * math.Log2(float64(alphabet))
	if bits < 64 || len(distinct) < 6 {
		return fmt.Errorf("the token is too easy to guess (%d characters, %d distinct, about %.0f bits; at least 64 bits and 6 distinct characters are required; for example: openssl rand -hex 32)", len(tok), len(distinct), bits)
	}
	return nil
}

// checkJSONDepth refuses (400) a JSON text whose arrays and objects nest
// deeper than max, without decoding it. It only counts brackets outside
// strings; malformed JSON is left to the decoder to diagnose.
func checkJSONDepth(b []byte, max int) error {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > max {
				return apierrors.NewBadRequest(fmt.Sprintf("the body of the request nests arrays and objects more than %d levels deep", max))
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}
