// Package etcdwire is a small etcd v3 client: the calls of etcd's gRPC API
// that the etcd store makes (KV Range, Txn and Compact, Watch, Auth
// Authenticate), over grpc-go, with the messages encoded by hand
// (proto.go) through a codec of its own, so that the binary links neither
// etcd's clientv3 (and zap) nor etcdserverpb's descriptors.
//
// What it keeps of clientv3: several endpoints behind grpc-go's round_robin
// balancer (a call waits for a ready member; a member that goes away is
// left for the others), TLS, username/password authentication with the
// token refreshed when etcd says it is invalid, reads retried while etcd
// is unavailable, watches that require a leader ("hasleader" metadata) and
// progress requests on a watch's stream. Each Watch has a stream of its
// own (clientv3 multiplexes the watches of one context on one stream).
package etcdwire

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"
)

// Config configures New.
type Config struct {
	// Endpoints are etcd client URLs (http://host:port, https://host:port)
	// or host:port.
	Endpoints []string
	// TLS is the client TLS configuration; nil for http:// endpoints (an
	// https:// endpoint without it verifies with the system's roots).
	TLS *tls.Config
	// Username and Password authenticate to an etcd with auth enabled.
	Username, Password string
	// KeepAliveTime and KeepAliveTimeout are the connection's keepalive
	// pings (defaults 30 s and 10 s).
	KeepAliveTime, KeepAliveTimeout time.Duration
}

// Client is a connection to an etcd cluster. Its methods are safe for
// concurrent use.
type Client struct {
	conn      *grpc.ClientConn
	endpoints []string
	username  string
	password  string

	authMu sync.Mutex             // one authentication at a time
	token  atomic.Pointer[string] // nil: not authenticated yet
}

// Errors of etcd's API that callers tell apart (errors.Is matches an
// *Error by its message, as etcd's rpctypes do).
var (
	ErrCompacted        = &Error{Code: codes.OutOfRange, Message: "etcdserver: mvcc: required revision has been compacted"}
	ErrFutureRev        = &Error{Code: codes.OutOfRange, Message: "etcdserver: mvcc: required revision is a future revision"}
	ErrInvalidAuthToken = &Error{Code: codes.Unauthenticated, Message: "etcdserver: invalid auth token"}
	ErrAuthOldRevision  = &Error{Code: codes.InvalidArgument, Message: "etcdserver: revision of auth store is old"}
	ErrAuthNotEnabled   = &Error{Code: codes.FailedPrecondition, Message: "etcdserver: authentication is not enabled"}
)

// Error is an error etcd answered (a gRPC status).
type Error struct {
	Code    codes.Code
	Message string
}

func (e *Error) Error() string { return e.Message }

// Is matches an *Error with the same message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == e.Message
}

var resolverSeq atomic.Int64

// New makes a client of the cluster at cfg.Endpoints. It does not wait for
// a connection: calls wait for a ready member until their context ends.
func New(cfg Config) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("etcd: no endpoints")
	}
	var eps []resolver.Endpoint
	secure, plain := false, false
	for _, ep := range cfg.Endpoints {
		host := ep
		if strings.Contains(ep, "://") {
			u, err := url.Parse(ep)
			if err != nil {
				return nil, fmt.Errorf("etcd endpoint %q: %w", ep, err)
			}
			switch u.Scheme {
			case "http":
				plain = true
			case "https":
				secure = true
			default:
				return nil, fmt.Errorf("etcd endpoint %q: scheme %q is not http or https", ep, u.Scheme)
			}
			if u.Path != "" && u.Path != "/" {
				return nil, fmt.Errorf("etcd endpoint %q: a client URL has no path", ep)
			}
			host = u.Host
		}
		name, _, err := net.SplitHostPort(host)
		if err != nil || name == "" {
			return nil, fmt.Errorf("etcd endpoint %q: want host:port", ep)
		}
		eps = append(eps, resolver.Endpoint{Addresses: []resolver.Address{{Addr: host, ServerName: name}}})
	}
	if secure && plain {
		return nil, fmt.Errorf("etcd endpoints %q mix http:// and https://", cfg.Endpoints)
	}
	creds := insecure.NewCredentials()
	if cfg.TLS != nil && !plain {
		creds = credentials.NewTLS(cfg.TLS)
	} else if secure {
		creds = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
	}
	if cfg.KeepAliveTime <= 0 {
		cfg.KeepAliveTime = 30 * time.Second
	}
	if cfg.KeepAliveTimeout <= 0 {
		cfg.KeepAliveTimeout = 10 * time.Second
	}
	r := manual.NewBuilderWithScheme(fmt.Sprintf("etcdwire-%d", resolverSeq.Add(1)))
	r.InitialState(resolver.State{Endpoints: eps})
	bo := backoff.DefaultConfig
	bo.MaxDelay = 3 * time.Second // a restarted member is found again within seconds
	conn, err := grpc.NewClient(r.Scheme()+":///etcd",
		grpc.WithResolvers(r),
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: cfg.KeepAliveTime, Timeout: cfg.KeepAliveTimeout}),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: 5 * time.Second}),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(codec{}), grpc.WaitForReady(true),
			// As clientv3's defaults: any size received (a list page or
			// a watch batch of large values), 2 MiB sent (etcd takes
			// 1.5 MiB requests by default).
			grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(2<<20)))
	if err != nil {
		return nil, fmt.Errorf("etcd %v: %w", cfg.Endpoints, err)
	}
	return &Client{conn: conn, endpoints: append([]string(nil), cfg.Endpoints...), username: cfg.Username, password: cfg.Password}, nil
}

// Endpoints are the configured endpoints.
func (c *Client) Endpoints() []string { return append([]string(nil), c.endpoints...) }

// Close closes the connection; calls in flight fail.
func (c *Client) Close() error { return c.conn.Close() }

// Range reads a key or range.
func (c *Client) Range(ctx context.Context, req *RangeRequest) (*RangeResponse, error) {
	resp := new(RangeResponse)
	if err := c.invoke(ctx, "/etcdserverpb.KV/Range", outMsg{req.encode}, inMsg{resp.decode}, true); err != nil {
		return nil, err
	}
	return resp, nil
}

// Txn runs a transaction. It is not retried after it may have reached
// etcd (a write could apply twice).
func (c *Client) Txn(ctx context.Context, req *TxnRequest) (*TxnResponse, error) {
	resp := new(TxnResponse)
	if err := c.invoke(ctx, "/etcdserverpb.KV/Txn", outMsg{req.encode}, inMsg{resp.decode}, false); err != nil {
		return nil, err
	}
	return resp, nil
}

// Compact compacts etcd's history below rev.
func (c *Client) Compact(ctx context.Context, rev int64) (*CompactionResponse, error) {
	req := &CompactionRequest{Revision: rev}
	resp := new(CompactionResponse)
	if err := c.invoke(ctx, "/etcdserverpb.KV/Compact", outMsg{req.encode}, inMsg{resp.decode}, false); err != nil {
		return nil, err
	}
	return resp, nil
}

// invoke makes a unary call with the auth token: once more with a new
// token when etcd says it is invalid, and, for a read, again while etcd
// is unavailable (a member restarting, a leader being elected) until ctx
// ends.
func (c *Client) invoke(ctx context.Context, method string, req outMsg, resp inMsg, read bool) error {
	refreshed := false
	for attempt := 1; ; attempt++ {
		cctx, tok, err := c.withToken(ctx)
		if err != nil {
			return err
		}
		err = c.conn.Invoke(cctx, method, req, resp)
		if err == nil {
			return nil
		}
		err = toErr(ctx, err)
		var e *Error
		switch {
		case !refreshed && c.username != "" && (errors.Is(err, ErrInvalidAuthToken) || errors.Is(err, ErrAuthOldRevision)):
			refreshed = true
			if err := c.refreshToken(ctx, tok); err != nil {
				return err
			}
		case read && errors.As(err, &e) && e.Code == codes.Unavailable:
			t := time.NewTimer(min(time.Duration(attempt)*25*time.Millisecond, time.Second))
			select {
			case <-ctx.Done():
				t.Stop()
				return toErr(ctx, err)
			case <-t.C:
			}
		default:
			return err
		}
	}
}

// toErr turns a call's error into an *Error, or, when ctx ended, into an
// error wrapping ctx's.
func toErr(ctx context.Context, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			return fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return err
	}
	if ctx.Err() != nil && (st.Code() == codes.DeadlineExceeded || st.Code() == codes.Canceled || st.Code() == codes.Unavailable) {
		if msg := st.Message(); msg != ctx.Err().Error() {
			return fmt.Errorf("%w (%s)", ctx.Err(), msg)
		}
		return ctx.Err()
	}
	return &Error{Code: st.Code(), Message: st.Message()}
}

// withToken adds the auth token to ctx's metadata, authenticating first
// if no token was had yet; tok is the token added.
func (c *Client) withToken(ctx context.Context) (context.Context, string, error) {
	if c.username == "" {
		return ctx, "", nil
	}
	p := c.token.Load()
	if p == nil {
		if err := c.refreshToken(ctx, ""); err != nil {
			return nil, "", err
		}
		p = c.token.Load()
	}
	if *p == "" { // auth not enabled on the cluster
		return ctx, "", nil
	}
	return metadata.AppendToOutgoingContext(ctx, "token", *p), *p, nil
}

// refreshToken authenticates again, unless the token is no longer old
// (another call refreshed it meanwhile).
func (c *Client) refreshToken(ctx context.Context, old string) error {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	if p := c.token.Load(); p != nil && *p != old {
		return nil
	}
	req := &AuthenticateRequest{Name: c.username, Password: c.password}
	resp := new(AuthenticateResponse)
	err := c.conn.Invoke(ctx, "/etcdserverpb.Auth/Authenticate", outMsg{req.encode}, inMsg{resp.decode})
	if err != nil {
		err = toErr(ctx, err)
		if errors.Is(err, ErrAuthNotEnabled) {
			empty := ""
			c.token.Store(&empty)
			return nil
		}
		return fmt.Errorf("etcd authentication as %q: %w", c.username, err)
	}
	c.token.Store(&resp.Token)
	return nil
}

// Watch is an open etcd watch: one gRPC stream.
type Watch struct {
	// C receives the watch's responses after the creation's. The last
	// one, before C closes, carries the error that ended the stream (in
	// Err), unless the watch's context ended.
	C      <-chan *WatchResponse
	stream grpc.ClientStream
	sendMu sync.Mutex
	cancel context.CancelFunc
}

var watchDesc = &grpc.StreamDesc{StreamName: "Watch", ServerStreams: true, ClientStreams: true}

// Watch opens a watch stream and creates req's watch on it, returning once
// etcd has registered it. With requireLeader, etcd ends the stream when
// its member loses its leader (clientv3's WithRequireLeader). The watch
// ends with ctx, or with Close.
func (c *Client) Watch(ctx context.Context, req *WatchCreateRequest, requireLeader bool) (*Watch, error) {
	refreshed := false
	for {
		w, tok, err := c.openWatch(ctx, req, requireLeader)
		if err != nil && !refreshed && c.username != "" && (errors.Is(err, ErrInvalidAuthToken) || errors.Is(err, ErrAuthOldRevision) ||
			strings.Contains(err.Error(), "invalid auth token")) {
			refreshed = true
			if err := c.refreshToken(ctx, tok); err != nil {
				return nil, err
			}
			continue
		}
		return w, err
	}
}

func (c *Client) openWatch(ctx context.Context, req *WatchCreateRequest, requireLeader bool) (*Watch, string, error) {
	sctx, cancel := context.WithCancel(ctx)
	tctx, tok, err := c.withToken(sctx)
	if err != nil {
		cancel()
		return nil, "", err
	}
	if requireLeader {
		tctx = metadata.AppendToOutgoingContext(tctx, "hasleader", "true")
	}
	st, err := c.conn.NewStream(tctx, watchDesc, "/etcdserverpb.Watch/Watch")
	if err != nil {
		cancel()
		return nil, tok, toErr(ctx, err)
	}
	fail := func(err error) (*Watch, string, error) {
		cancel()
		return nil, tok, toErr(ctx, err)
	}
	if err := st.SendMsg(outMsg{(&watchRequest{create: req}).encode}); err != nil {
		if err == io.EOF {
			// The stream ended: RecvMsg has its status.
			err = st.RecvMsg(inMsg{new(WatchResponse).decode})
		}
		return fail(err)
	}
	created := new(WatchResponse)
	if err := st.RecvMsg(inMsg{created.decode}); err != nil {
		return fail(err)
	}
	if !created.Created || created.Canceled {
		cancel()
		reason := created.CancelReason
		if reason == "" {
			reason = "no creation response"
		}
		return nil, tok, fmt.Errorf("etcd watch of %q from revision %d: %s", req.Key, req.StartRevision, reason)
	}
	ch := make(chan *WatchResponse)
	w := &Watch{C: ch, stream: st, cancel: cancel}
	go func() {
		defer close(ch)
		defer cancel()
		for {
			r := new(WatchResponse)
			if err := st.RecvMsg(inMsg{r.decode}); err != nil {
				if sctx.Err() != nil {
					return
				}
				r = &WatchResponse{Err: toErr(sctx, err)}
			}
			select {
			case ch <- r:
			case <-sctx.Done():
				return
			}
			if r.Err != nil {
				return
			}
		}
	}()
	return w, tok, nil
}

// RequestProgress asks etcd for a progress notification on the watch's
// stream (sent once the watch has caught up with the current revision).
func (w *Watch) RequestProgress() error {
	w.sendMu.Lock()
	defer w.sendMu.Unlock()
	return w.stream.SendMsg(outMsg{(&watchRequest{progress: true}).encode})
}

// Close ends the watch.
func (w *Watch) Close() { w.cancel() }
