// Package etcd is a store.Store on an etcd v3 cluster, for control planes
// that share one store (several `serve` replicas) or that keep their state
// off the machine. It follows kube-apiserver's storage/etcd3:
//
//   - Every key lives under Options.Prefix (default "/wasmpod"): the store's
//     key k is the etcd key Prefix+"/kv"+k.
//   - etcd's revision is the store's revision and an object's ModRevision
//     its resourceVersion, shifted by a constant: the revision at which the
//     store was first opened on this etcd (recorded in Prefix+"/meta/origin"),
//     so that a fresh store starts at revision 0 as the store contract says.
//     When the etcd cluster is used by this store alone, revisions step by
//     one per write; writes of other etcd users leave gaps, as they do for
//     kube-apiserver, and revisions stay increasing.
//   - Create, Update and Delete are one etcd transaction each, compare on
//     CreateRevision (create) or ModRevision (compare-and-swap); a failed
//     compare reads the key to report ErrNotFound or ErrConflict.
//   - List is a paginated range read at one revision (a consistent snapshot).
//   - Watch is an etcd watch from a revision, with the previous values
//     (prev_kv), on a gRPC stream of its own (store/etcd/internal/etcdwire). A
//     watch that ends for any reason other than compaction (etcd restarted,
//     a leader lost, the connection broken) is opened again from the
//     revision after the last one delivered, so watchers see neither a gap
//     nor a duplicate across an etcd restart.
//   - History: the store compacts etcd to keep the last Options.History
//     revisions (etcd's own auto-compaction may keep fewer). A Watch from a
//     compacted revision returns store.ErrCompacted, which the API server
//     turns into 410 Gone, and the client re-lists.
//   - Durability is etcd's: a write returns once the cluster's quorum has
//     committed it to its log.
//
// A write whose request times out (etcd unreachable) returns an error
// wrapping context.DeadlineExceeded (the API server answers 503); it may
// or may not have been applied, as with any etcd client.
package etcd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmpod/wasmpod/store"
	"github.com/wasmpod/wasmpod/store/etcd/internal/etcdwire"
)

// Defaults of Options.
const (
	DefaultPrefix         = "/wasmpod"
	DefaultHistory        = 100_000
	DefaultWatchBacklog   = 50_000
	DefaultDialTimeout    = 5 * time.Second
	DefaultRequestTimeout = 10 * time.Second
	// DefaultProgressInterval is how often the store asks etcd to confirm
	// its watchers' progress (see Options.ProgressInterval).
	DefaultProgressInterval = time.Second
	// listPage is the number of keys List reads per etcd request, as
	// kube-apiserver pages its own lists, so that one response stays far
	// below gRPC's message size limits.
	listPage = 1000
)

// Options configure Open. Endpoints is required; the rest have defaults.
type Options struct {
	// Endpoints are the etcd client URLs, e.g. https://10.0.0.1:2379.
	Endpoints []string
	// TLS is the client TLS configuration (see TLSConfig); nil for plain
	// http:// endpoints.
	TLS *tls.Config
	// Username and Password authenticate to an etcd with auth enabled.
	Username, Password string
	// Prefix is the root of this store's keys (default DefaultPrefix).
	// Stores with different prefixes can share an etcd cluster.
	Prefix string
	// History is the number of revisions kept for Watch from an older
	// revision; the store compacts etcd below that (default
	// DefaultHistory). Negative turns the store's compaction off (etcd's
	// auto-compaction, if configured, still applies).
	History int64
	// WatchBacklog is the number of undelivered events a watcher may
	// accumulate before it is cut off with an Error event (default
	// DefaultWatchBacklog).
	WatchBacklog int
	// DialTimeout bounds the connection at Open (default DefaultDialTimeout).
	DialTimeout time.Duration
	// RequestTimeout bounds each request (default DefaultRequestTimeout):
	// while etcd is unreachable, calls fail after it rather than hang.
	RequestTimeout time.Duration
	// ProgressInterval is how often the store asks etcd for a progress
	// notification on its watchers (a progress request on each watch's
	// stream, and one answer each, per interval), so that a watcher of a quiet
	// prefix knows how far it is current: re-opened after an etcd
	// restart, it then starts after the latest compaction instead of
	// failing with ErrCompacted (default DefaultProgressInterval; negative
	// turns it off).
	ProgressInterval time.Duration
}

// TLSConfig builds the client TLS configuration from PEM files, as etcd's
// own clients (etcdctl --cert/--key/--cacert) and kube-apiserver
// (--etcd-certfile/--etcd-keyfile/--etcd-cafile) take them. Any may be
// empty: certFile and keyFile together give a client certificate, caFile
// the roots that verify the servers (the system's when empty).
func TLSConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	if (certFile == "") != (keyFile == "") {
		return nil, fmt.Errorf("etcd TLS: a client certificate needs both a cert file and a key file (got cert %q, key %q)", certFile, keyFile)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("etcd TLS: CA file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("etcd TLS: CA file %s holds no PEM certificate", caFile)
		}
	}
	if certFile != "" {
		// Checked now; read again at each handshake, as etcd's own
		// clients do, so that a renewed certificate is used without a
		// restart.
		load := func() (*tls.Certificate, error) {
			c, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return nil, fmt.Errorf("etcd TLS: client certificate (cert %s, key %s): %w", certFile, keyFile, err)
			}
			return &c, nil
		}
		if _, err := load(); err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return load() }
	}
	return cfg, nil
}

// Store is the etcd backend. Open it with Open.
type Store struct {
	cli        *etcdwire.Client
	root       string // etcd key prefix of the store's keys
	origin     string // etcd key whose CreateRevision is the offset
	meta       string // etcd key prefix of records beside the keyspace (MetaKey)
	off        int64  // etcd revision = store revision + off
	history    int64
	backlog    int
	reqTimeout time.Duration

	compacted  atomic.Int64 // etcd revision the store last compacted to
	compacting atomic.Bool
	watchers   atomic.Int64 // open watches
	progress   atomic.Int64 // highest etcd revision of a progress notification a watcher received

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // watchers and the progress requester
	mu     sync.Mutex     // orders wg.Add of a new watcher before Close's wg.Wait
	closed atomic.Bool
	once   sync.Once

	streamsMu sync.Mutex
	streams   map[*etcdwire.Watch]struct{} // open etcd watches, for RequestProgress
}

var _ store.Store = (*Store)(nil)

// Open connects to etcd and opens the store under o.Prefix, recording its
// origin revision on first use. It fails with an error naming the
// endpoints if etcd cannot be reached within DialTimeout.
func Open(ctx context.Context, o Options) (*Store, error) {
	if len(o.Endpoints) == 0 {
		return nil, errors.New("etcd store: no endpoints")
	}
	for _, ep := range o.Endpoints {
		if strings.TrimSpace(ep) == "" {
			return nil, fmt.Errorf("etcd store: empty endpoint in %q", o.Endpoints)
		}
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	o.Prefix = strings.TrimSuffix(o.Prefix, "/")
	if o.Prefix == "" || !strings.HasPrefix(o.Prefix, "/") {
		return nil, fmt.Errorf("etcd store: prefix %q must start with / and name more than the root", o.Prefix)
	}
	if o.History == 0 {
		o.History = DefaultHistory
	}
	if o.WatchBacklog <= 0 {
		o.WatchBacklog = DefaultWatchBacklog
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.ProgressInterval == 0 {
		o.ProgressInterval = DefaultProgressInterval
	}
	cli, err := etcdwire.New(etcdwire.Config{
		Endpoints:        o.Endpoints,
		TLS:              o.TLS,
		Username:         o.Username,
		Password:         o.Password,
		KeepAliveTime:    30 * time.Second,
		KeepAliveTimeout: 10 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("etcd store %v: %w", o.Endpoints, err)
	}
	s := &Store{cli: cli, root: o.Prefix + "/kv", origin: o.Prefix + "/meta/origin", meta: o.Prefix + "/meta/", history: o.History,
		backlog: o.WatchBacklog, reqTimeout: o.RequestTimeout, streams: map[*etcdwire.Watch]struct{}{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	octx, cancel := context.WithTimeout(ctx, max(o.DialTimeout, o.RequestTimeout))
	defer cancel()
	// The origin is recorded once, when the prefix holds no key: an origin
	// missing beside existing keys (deleted by hand, or keys written by
	// something else) would restart the revisions, so resourceVersions
	// would go backwards; that is refused.
	resp, err := cli.Txn(octx, &etcdwire.TxnRequest{
		Compare: []etcdwire.Compare{
			{Target: etcdwire.TargetCreate, Key: []byte(s.origin)},
			{Target: etcdwire.TargetCreate, Key: []byte(s.root), RangeEnd: prefixEnd([]byte(s.root))},
		},
		Success: []etcdwire.Op{{Put: &etcdwire.PutRequest{Key: []byte(s.origin)}}},
		Failure: []etcdwire.Op{{Range: &etcdwire.RangeRequest{Key: []byte(s.origin)}},
			{Range: &etcdwire.RangeRequest{Key: []byte(s.root), RangeEnd: prefixEnd([]byte(s.root)), CountOnly: true}}},
	})
	fail := func(err error) (*Store, error) {
		cli.Close()
		s.cancel()
		return nil, err
	}
	if err != nil {
		return fail(fmt.Errorf("etcd store %v: opening %s: %w", o.Endpoints, o.Prefix, err))
	}
	if resp.Succeeded {
		s.off = resp.Header.Revision
	} else {
		origin := rangeKvs(resp, 0)
		if len(origin) != 1 {
			var n int64
			if len(resp.Responses) > 1 && resp.Responses[1].Range != nil {
				n = resp.Responses[1].Range.Count
			}
			return fail(fmt.Errorf("etcd store %v: %d keys under %s but no origin record %s: refusing to start, as revisions would restart "+
				"and resourceVersions go backwards (restore the etcd snapshot, or use another --etcd-prefix)", o.Endpoints, n, s.root, s.origin))
		}
		s.off = origin[0].CreateRevision
	}
	s.compacted.Store(s.off)
	if o.ProgressInterval > 0 {
		s.wg.Add(1)
		go s.requestProgress(o.ProgressInterval)
	}
	return s, nil
}

// prefixEnd is the end of the range of keys that start with prefix.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return []byte{0} // every key from prefix on
}

// rangeKvs are the keys of a transaction's i-th response, a range read's.
func rangeKvs(resp *etcdwire.TxnResponse, i int) []*etcdwire.KeyValue {
	if i >= len(resp.Responses) || resp.Responses[i].Range == nil {
		return nil
	}
	return resp.Responses[i].Range.Kvs
}

// requestProgress asks etcd every interval, while watches are open, to
// send their stream a progress notification (the current revision, once
// every watcher on it has caught up with it).
func (s *Store) requestProgress(interval time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			if s.watchers.Load() > 0 {
				s.RequestProgress()
			}
		}
	}
}

// RequestProgress asks etcd for a progress notification on each of the
// store's watch streams now (the store does it every
// Options.ProgressInterval).
func (s *Store) RequestProgress() {
	s.streamsMu.Lock()
	ws := make([]*etcdwire.Watch, 0, len(s.streams))
	for w := range s.streams {
		ws = append(ws, w)
	}
	s.streamsMu.Unlock()
	for _, w := range ws {
		w.RequestProgress() // an error (the stream ended) is the watch's to handle
	}
}

// MetaKey is the etcd key of a record named name that users of the store
// keep beside its keyspace (<prefix>/meta/<name>): the store's methods,
// and so the API, never reach it. Read it with MetaGet, write it with
// MetaCreate.
func (s *Store) MetaKey(name string) string { return s.meta + name }

// MetaGet reads the record name (MetaKey); found is false when there is
// none.
func (s *Store) MetaGet(ctx context.Context, name string) (value []byte, found bool, err error) {
	if err := s.check(ctx); err != nil {
		return nil, false, err
	}
	rctx, cancel := s.readCtx(ctx)
	defer cancel()
	resp, err := s.cli.Range(rctx, &etcdwire.RangeRequest{Key: []byte(s.MetaKey(name))})
	if err != nil {
		return nil, false, s.fail("get", s.MetaKey(name), err)
	}
	if len(resp.Kvs) == 0 {
		return nil, false, nil
	}
	return clone(resp.Kvs[0].Value), true, nil
}

// MetaCreate records value as the record name (MetaKey) unless there is
// one, atomically: stored is the record as it then is, created tells
// whether it is value.
func (s *Store) MetaCreate(ctx context.Context, name string, value []byte) (stored []byte, created bool, err error) {
	if err := s.check(ctx); err != nil {
		return nil, false, err
	}
	k := []byte(s.MetaKey(name))
	wctx, cancel := s.writeCtx(ctx)
	defer cancel()
	resp, err := s.cli.Txn(wctx, &etcdwire.TxnRequest{
		Compare: []etcdwire.Compare{{Target: etcdwire.TargetCreate, Key: k}},
		Success: []etcdwire.Op{{Put: &etcdwire.PutRequest{Key: k, Value: value}}},
		Failure: []etcdwire.Op{{Range: &etcdwire.RangeRequest{Key: k}}},
	})
	if err != nil {
		return nil, false, s.fail("create", string(k), err)
	}
	if resp.Succeeded {
		return clone(value), true, nil
	}
	kvs := rangeKvs(resp, 0)
	if len(kvs) != 1 {
		return nil, false, fmt.Errorf("store: create %s: etcd returned %d records after a failed create", k, len(kvs))
	}
	return clone(kvs[0].Value), false, nil
}

// MetaPut records value as the record name (MetaKey), replacing any.
func (s *Store) MetaPut(ctx context.Context, name string, value []byte) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	wctx, cancel := s.writeCtx(ctx)
	defer cancel()
	if _, err := s.cli.Txn(wctx, &etcdwire.TxnRequest{Success: []etcdwire.Op{{Put: &etcdwire.PutRequest{Key: []byte(s.MetaKey(name)), Value: value}}}}); err != nil {
		return s.fail("put", s.MetaKey(name), err)
	}
	return nil
}

// MetaUpdate replaces the record name (MetaKey) by f of its value (found
// false and old nil when there is none) with a compare-and-swap on its
// ModRevision, calling f again when another writer came first. An error
// of f is returned as it is, and nothing is written.
func (s *Store) MetaUpdate(ctx context.Context, name string, f func(old []byte, found bool) ([]byte, error)) error {
	k := []byte(s.MetaKey(name))
	for {
		if err := s.check(ctx); err != nil {
			return err
		}
		rctx, cancel := s.readCtx(ctx)
		resp, err := s.cli.Range(rctx, &etcdwire.RangeRequest{Key: k})
		cancel()
		if err != nil {
			return s.fail("get", string(k), err)
		}
		var old []byte
		var mod int64
		if len(resp.Kvs) > 0 {
			old, mod = clone(resp.Kvs[0].Value), resp.Kvs[0].ModRevision
		}
		value, err := f(old, len(resp.Kvs) > 0)
		if err != nil {
			return err
		}
		cmp := etcdwire.Compare{Target: etcdwire.TargetMod, Key: k, Operand: mod}
		wctx, cancel := s.writeCtx(ctx)
		tresp, err := s.cli.Txn(wctx, &etcdwire.TxnRequest{Compare: []etcdwire.Compare{cmp},
			Success: []etcdwire.Op{{Put: &etcdwire.PutRequest{Key: k, Value: value}}}})
		cancel()
		if err != nil {
			return s.fail("update", string(k), err)
		}
		if tresp.Succeeded {
			return nil
		}
	}
}

// MetaList returns the records whose names start with prefix, by name
// without the prefix, reading at most limit of them (ErrTooMany past it).
func (s *Store) MetaList(ctx context.Context, prefix string, limit int) (map[string][]byte, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	rctx, cancel := s.readCtx(ctx)
	defer cancel()
	from := []byte(s.MetaKey(prefix))
	resp, err := s.cli.Range(rctx, &etcdwire.RangeRequest{Key: from, RangeEnd: prefixEnd(from), Limit: int64(limit)})
	if err != nil {
		return nil, s.fail("list", string(from), err)
	}
	if resp.More {
		return nil, fmt.Errorf("store: list %s: %w: more than %d records", from, ErrTooMany, limit)
	}
	out := make(map[string][]byte, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[string(kv.Key[len(from):])] = clone(kv.Value)
	}
	return out, nil
}

// ErrTooMany: MetaList found more records than its limit.
var ErrTooMany = errors.New("too many records")

func (s *Store) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	return nil
}

// readCtx bounds a read by the request timeout and the caller's ctx.
func (s *Store) readCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.reqTimeout)
}

// writeCtx bounds a write by the request timeout only: once handed to etcd
// a write is carried through to its outcome, whatever the caller's ctx.
func (s *Store) writeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.reqTimeout)
}

// fail wraps an etcd error for key: ErrClosed once the store is closed,
// otherwise the error as it is (a timeout wraps context.DeadlineExceeded).
func (s *Store) fail(op, key string, err error) error {
	if s.closed.Load() {
		return fmt.Errorf("store: %s %s: %w", op, key, store.ErrClosed)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("store: %s %s: etcd did not answer within %v: %w", op, key, s.reqTimeout, err)
	}
	return fmt.Errorf("store: %s %s: etcd: %w", op, key, err)
}

func (s *Store) kv(key string, ekv *etcdwire.KeyValue) store.KV {
	v := ekv.Value
	if v == nil {
		v = []byte{}
	}
	return store.KV{Key: key, Value: v, CreateRevision: ekv.CreateRevision - s.off, ModRevision: ekv.ModRevision - s.off}
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) (store.KV, error) {
	if err := s.check(ctx); err != nil {
		return store.KV{}, err
	}
	rctx, cancel := s.readCtx(ctx)
	defer cancel()
	resp, err := s.cli.Range(rctx, &etcdwire.RangeRequest{Key: []byte(s.root + key)})
	if err != nil {
		return store.KV{}, s.fail("get", key, err)
	}
	if len(resp.Kvs) == 0 {
		return store.KV{}, fmt.Errorf("store: %s: %w", key, store.ErrNotFound)
	}
	return s.kv(key, resp.Kvs[0]), nil
}

// List implements store.Store: pages of listPage keys, all read at the
// revision of the first page.
func (s *Store) List(ctx context.Context, prefix string) ([]store.KV, int64, error) {
	if err := s.check(ctx); err != nil {
		return nil, 0, err
	}
	for attempt := 0; ; attempt++ {
		kvs, rev, err := s.list(ctx, prefix)
		// A compaction between two pages (History revisions written
		// while one list ran) restarts the list at the new revision.
		if errors.Is(err, etcdwire.ErrCompacted) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, 0, s.fail("list", prefix, err)
		}
		return kvs, rev, nil
	}
}

func (s *Store) list(ctx context.Context, prefix string) ([]store.KV, int64, error) {
	rctx, cancel := s.readCtx(ctx)
	defer cancel()
	from := []byte(s.root + prefix)
	end := prefixEnd(from)
	var out []store.KV
	var rev int64
	for {
		resp, err := s.cli.Range(rctx, &etcdwire.RangeRequest{Key: from, RangeEnd: end, Limit: listPage, Revision: rev})
		if err != nil {
			return nil, 0, err
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, ekv := range resp.Kvs {
			out = append(out, s.kv(string(ekv.Key[len(s.root):]), ekv))
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return out, rev - s.off, nil
		}
		last := resp.Kvs[len(resp.Kvs)-1].Key
		from = append(last[:len(last):len(last)], 0)
	}
}

// Revision implements store.Store: a linearizable read's header revision.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	rev, err := s.etcdRevision(ctx)
	if err != nil {
		return 0, err
	}
	return rev - s.off, nil
}

func (s *Store) etcdRevision(ctx context.Context) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	rctx, cancel := s.readCtx(ctx)
	defer cancel()
	resp, err := s.cli.Range(rctx, &etcdwire.RangeRequest{Key: []byte(s.origin), CountOnly: true})
	if err != nil {
		return 0, s.fail("revision", s.origin, err)
	}
	return resp.Header.Revision, nil
}

// Create implements store.Store.
func (s *Store) Create(ctx context.Context, key string, value []byte) (store.KV, error) {
	if err := s.check(ctx); err != nil {
		return store.KV{}, err
	}
	k := []byte(s.root + key)
	wctx, cancel := s.writeCtx(ctx)
	defer cancel()
	resp, err := s.cli.Txn(wctx, &etcdwire.TxnRequest{
		Compare: []etcdwire.Compare{{Target: etcdwire.TargetCreate, Key: k}},
		Success: []etcdwire.Op{{Put: &etcdwire.PutRequest{Key: k, Value: value}}},
	})
	if err != nil {
		return store.KV{}, s.fail("create", key, err)
	}
	if !resp.Succeeded {
		return store.KV{}, fmt.Errorf("store: %s: %w", key, store.ErrAlreadyExists)
	}
	rev := resp.Header.Revision
	s.maybeCompact(rev)
	return store.KV{Key: key, Value: clone(value), CreateRevision: rev - s.off, ModRevision: rev - s.off}, nil
}

// cas runs op on key if it exists with ModRevision expectedRev (0 = any),
// and otherwise reads it to tell ErrNotFound from ErrConflict.
func (s *Store) cas(ctx context.Context, verb, key string, expectedRev int64, op etcdwire.Op) (*etcdwire.TxnResponse, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	k := []byte(s.root + key)
	cmp := etcdwire.Compare{Result: etcdwire.Greater, Target: etcdwire.TargetCreate, Key: k}
	if expectedRev != 0 {
		cmp = etcdwire.Compare{Target: etcdwire.TargetMod, Key: k, Operand: expectedRev + s.off}
	}
	wctx, cancel := s.writeCtx(ctx)
	defer cancel()
	resp, err := s.cli.Txn(wctx, &etcdwire.TxnRequest{Compare: []etcdwire.Compare{cmp},
		Success: []etcdwire.Op{op}, Failure: []etcdwire.Op{{Range: &etcdwire.RangeRequest{Key: k}}}})
	if err != nil {
		return nil, s.fail(verb, key, err)
	}
	if !resp.Succeeded {
		kvs := rangeKvs(resp, 0)
		if len(kvs) == 0 {
			return nil, fmt.Errorf("store: %s: %w", key, store.ErrNotFound)
		}
		return nil, fmt.Errorf("store: %s: %w (have %d, expected %d)", key, store.ErrConflict, kvs[0].ModRevision-s.off, expectedRev)
	}
	s.maybeCompact(resp.Header.Revision)
	return resp, nil
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, key string, value []byte, expectedRev int64) (store.KV, error) {
	resp, err := s.cas(ctx, "update", key, expectedRev, etcdwire.Op{Put: &etcdwire.PutRequest{Key: []byte(s.root + key), Value: value, PrevKv: true}})
	if err != nil {
		return store.KV{}, err
	}
	var prev *etcdwire.KeyValue
	if len(resp.Responses) == 1 && resp.Responses[0].Put != nil {
		prev = resp.Responses[0].Put.PrevKv
	}
	if prev == nil {
		return store.KV{}, fmt.Errorf("store: update %s: etcd returned no previous value", key)
	}
	rev := resp.Header.Revision - s.off
	return store.KV{Key: key, Value: clone(value), CreateRevision: prev.CreateRevision - s.off, ModRevision: rev}, nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string, expectedRev int64) (store.KV, error) {
	resp, err := s.cas(ctx, "delete", key, expectedRev, etcdwire.Op{Delete: &etcdwire.DeleteRangeRequest{Key: []byte(s.root + key), PrevKv: true}})
	if err != nil {
		return store.KV{}, err
	}
	var prevs []*etcdwire.KeyValue
	if len(resp.Responses) == 1 && resp.Responses[0].Delete != nil {
		prevs = resp.Responses[0].Delete.PrevKvs
	}
	if len(prevs) != 1 {
		return store.KV{}, fmt.Errorf("store: delete %s: etcd returned %d previous values", key, len(prevs))
	}
	kv := s.kv(key, prevs[0])
	kv.ModRevision = resp.Header.Revision - s.off
	return kv, nil
}

// maybeCompact compacts etcd to keep s.history revisions below etcdRev,
// once every tenth of the history, from one writer at a time. It is in the
// write path (not a timer) so that the history bound holds as the store
// contract states; a compaction is one small raft entry.
func (s *Store) maybeCompact(etcdRev int64) {
	if s.history < 0 {
		return
	}
	target := etcdRev - s.history
	if target-s.compacted.Load() < max(s.history/10, 1) || !s.compacting.CompareAndSwap(false, true) {
		return
	}
	defer s.compacting.Store(false)
	ctx, cancel := context.WithTimeout(s.ctx, s.reqTimeout)
	defer cancel()
	_, err := s.cli.Compact(ctx, target)
	// ErrCompacted: another replica (or etcd's auto-compaction) got there
	// first. Other errors are left for the next write to retry.
	if err == nil || errors.Is(err, etcdwire.ErrCompacted) {
		s.compacted.Store(target)
	}
}

// Watch implements store.Store.
func (s *Store) Watch(ctx context.Context, prefix string, afterRev int64) (<-chan store.Event, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if afterRev < 0 {
		return nil, fmt.Errorf("store: watch %s: negative revision %d", prefix, afterRev)
	}
	var start int64 // first etcd revision to deliver
	if afterRev == 0 {
		// "From now": every write that returned before Watch did is
		// excluded, every later one included.
		cur, err := s.etcdRevision(ctx)
		if err != nil {
			return nil, err
		}
		start = cur + 1
	} else {
		start = afterRev + s.off + 1
		// A range read at start fails exactly when a watch from start
		// would be compacted (start < etcd's compact revision). A future
		// revision is fine: the watch waits for it.
		rctx, cancel := s.readCtx(ctx)
		_, err := s.cli.Range(rctx, &etcdwire.RangeRequest{Key: []byte(s.origin), Revision: start, CountOnly: true})
		cancel()
		switch {
		case errors.Is(err, etcdwire.ErrCompacted):
			return nil, fmt.Errorf("store: watch %s from revision %d: %w", prefix, afterRev, store.ErrCompacted)
		case err != nil && !errors.Is(err, etcdwire.ErrFutureRev):
			return nil, s.fail("watch", prefix, err)
		}
	}
	wctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	out := make(chan store.Event)
	opened := make(chan struct{})
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		stop()
		cancel()
		return nil, store.ErrClosed
	}
	s.wg.Add(1)
	s.mu.Unlock()
	s.watchers.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.watchers.Add(-1)
		defer close(out)
		defer stop()
		defer cancel()
		s.watch(wctx, prefix, start, out, opened)
	}()
	// The etcd watch opens once etcd has registered it. Waiting
	// for it here means the watch is live (in sync, if no write came
	// between) when Watch returns, so that neither a compaction nor a
	// progress request finds it still replaying; an etcd that does not
	// answer leaves it opening in the background.
	t := time.NewTimer(s.reqTimeout)
	defer t.Stop()
	select {
	case <-opened:
	case <-t.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.ctx.Done():
		return nil, store.ErrClosed
	}
	return out, nil
}

// watch feeds out with the events of keys with prefix from etcd revision
// next on, re-opening the etcd watch from the next undelivered revision
// whenever it ends short of a compaction, until ctx is done.
func (s *Store) watch(ctx context.Context, prefix string, next int64, out chan<- store.Event, opened chan<- struct{}) {
	type opening struct {
		w   *etcdwire.Watch
		err error
	}
	var (
		pending []store.Event
		cur     *etcdwire.Watch // the open etcd watch, registered for RequestProgress
		wch     <-chan *etcdwire.WatchResponse
		wcancel context.CancelFunc = func() {}
		retry   <-chan time.Time
		backoff = 50 * time.Millisecond
		openc   = make(chan opening, 1)
		key     = []byte(s.root + prefix)
		end     = prefixEnd(key)
	)
	// open opens the etcd watch from next in the background (the etcd
	// client's Watch waits for etcd to register it), so that events
	// already received keep being delivered meanwhile; the watch comes on
	// openc.
	open := func() {
		wctx, cancel := context.WithCancel(ctx)
		wcancel = cancel
		req := &etcdwire.WatchCreateRequest{Key: key, RangeEnd: end, StartRevision: next, PrevKv: true}
		go func() {
			// requireLeader ends the watch when the member loses its
			// leader, rather than leaving it silent; it is then re-opened.
			w, err := s.cli.Watch(wctx, req, true)
			openc <- opening{w, err}
		}()
	}
	// closeWatch ends the etcd watch and unregisters it.
	closeWatch := func() {
		wcancel()
		wch = nil
		if cur != nil {
			s.streamsMu.Lock()
			delete(s.streams, cur)
			s.streamsMu.Unlock()
			cur = nil
		}
	}
	reopen := func() {
		// Re-open from next after a pause, growing to 2s.
		closeWatch()
		retry = time.After(backoff)
		backoff = min(2*backoff, 2*time.Second)
	}
	defer closeWatch()
	fail := func(err error) {
		closeWatch()
		select {
		case out <- store.Event{Type: store.Error, Err: err}:
		case <-ctx.Done():
		}
	}
	open()
	for {
		var sendc chan<- store.Event
		var first store.Event
		if len(pending) > 0 {
			sendc, first = out, pending[0]
		}
		select {
		case <-ctx.Done():
			return
		case sendc <- first:
			pending[0] = store.Event{}
			pending = pending[1:]
		case <-retry:
			retry = nil
			open()
		case o := <-openc:
			if o.err != nil {
				if ctx.Err() != nil {
					return
				}
				reopen()
				continue
			}
			cur, wch = o.w, o.w.C
			s.streamsMu.Lock()
			s.streams[cur] = struct{}{}
			s.streamsMu.Unlock()
			if opened != nil {
				close(opened)
				opened = nil
			}
		case resp, ok := <-wch:
			if ok && resp.Err == nil && resp.CompactRevision != 0 {
				fail(fmt.Errorf("store: watch %s from revision %d: %w (etcd compacted to %d)", prefix, next-s.off-1, store.ErrCompacted, resp.CompactRevision-s.off))
				return
			}
			if !ok || resp.Canceled || resp.Err != nil {
				if ctx.Err() != nil {
					return
				}
				reopen()
				continue
			}
			backoff = 50 * time.Millisecond
			if resp.IsProgressNotify() {
				// Every event up to the header's revision has been
				// delivered: a re-open may start after it.
				next = max(next, resp.Header.Revision+1)
				for p := s.progress.Load(); p < resp.Header.Revision && !s.progress.CompareAndSwap(p, resp.Header.Revision); p = s.progress.Load() {
				}
				continue
			}
			for _, ev := range resp.Events {
				if ev.Kv != nil && ev.Kv.ModRevision < next {
					continue // already delivered before a re-open
				}
				e, err := s.event(ev)
				if err != nil {
					fail(err)
					return
				}
				next = ev.Kv.ModRevision + 1
				pending = append(pending, e)
			}
			if len(pending) > s.backlog {
				pending = nil
				fail(fmt.Errorf("%w: watcher fell more than %d events behind", store.ErrCompacted, s.backlog))
				return
			}
		}
	}
}

func (s *Store) event(ev *etcdwire.Event) (store.Event, error) {
	if ev.Kv == nil || len(ev.Kv.Key) < len(s.root) {
		return store.Event{}, fmt.Errorf("store: watch: etcd sent an event without a key of %s", s.root)
	}
	key := string(ev.Kv.Key[len(s.root):])
	switch {
	case ev.Type == etcdwire.EventDelete:
		if ev.PrevKv == nil {
			// etcd sends no previous value when it was compacted away;
			// the watcher cannot be told what was deleted, so it re-lists.
			return store.Event{}, fmt.Errorf("store: watch: deletion of %s at %d without its last value: %w", key, ev.Kv.ModRevision-s.off, store.ErrCompacted)
		}
		kv := s.kv(key, ev.PrevKv)
		kv.ModRevision = ev.Kv.ModRevision - s.off
		return store.Event{Type: store.Deleted, KV: kv}, nil
	case ev.IsCreate():
		return store.Event{Type: store.Added, KV: s.kv(key, ev.Kv)}, nil
	default:
		return store.Event{Type: store.Modified, KV: s.kv(key, ev.Kv)}, nil
	}
}

// SnapshotRefusal implements store.SnapshotRefuser: the cluster's state is
// etcd's, backed up as a kube-apiserver's etcd is.
func (s *Store) SnapshotRefusal() string {
	return fmt.Sprintf("this server keeps its state in etcd (%s): back it up with etcd's own tools (etcdctl snapshot save)", strings.Join(s.cli.Endpoints(), ","))
}

var _ store.SnapshotRefuser = (*Store)(nil)

// Close implements store.Store: watch channels close, later calls fail
// with store.ErrClosed, and the etcd client is closed.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.mu.Lock()
		s.closed.Store(true)
		s.mu.Unlock()
		s.cancel()
		s.wg.Wait()
		err = s.cli.Close()
		if errors.Is(err, context.Canceled) {
			err = nil
		}
	})
	return err
}

func clone(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return append([]byte(nil), b...)
}
