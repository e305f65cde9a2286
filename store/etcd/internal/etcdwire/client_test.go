package etcdwire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/wasmpod/wasmpod/store/etcd/etcdtest"
)

func newClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// deadEndpoint is a loopback address nothing listens on.
func deadEndpoint(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func create(t testing.TB, c *Client, key, value string) *TxnResponse {
	t.Helper()
	k := []byte(key)
	resp, err := c.Txn(ctxT(t), &TxnRequest{Compare: []Compare{{Target: TargetCreate, Key: k}},
		Success: []Op{{Put: &PutRequest{Key: k, Value: []byte(value)}}}, Failure: []Op{{Range: &RangeRequest{Key: k}}}})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func recvWatch(t *testing.T, w *Watch) *WatchResponse {
	t.Helper()
	select {
	case r, ok := <-w.C:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("no watch response within 20s")
	}
	return nil
}

// TestClientAgainstEtcd: the calls the store makes, against a real etcd,
// with a dead endpoint listed first (the balancer uses the live one).
func TestClientAgainstEtcd(t *testing.T) {
	srv := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
	c := newClient(t, Config{Endpoints: append([]string{deadEndpoint(t)}, srv.Endpoints()...)})
	ctx := ctxT(t)

	first := create(t, c, "/kv/a", "1")
	if !first.Succeeded || first.Header.Revision < 2 {
		t.Fatalf("create: %+v", first)
	}
	again := create(t, c, "/kv/a", "2")
	if again.Succeeded || len(again.Responses) != 1 || again.Responses[0].Range == nil || string(again.Responses[0].Range.Kvs[0].Value) != "1" {
		t.Fatalf("second create: %+v", again)
	}
	w, err := c.Watch(ctx, &WatchCreateRequest{Key: []byte("/kv/"), RangeEnd: []byte("/kv0"), StartRevision: first.Header.Revision, PrevKv: true}, true)
	if err != nil {
		t.Fatal(err)
	}
	// Compare-and-swap on the mod revision, with the previous value back.
	put, err := c.Txn(ctx, &TxnRequest{Compare: []Compare{{Target: TargetMod, Key: []byte("/kv/a"), Operand: first.Header.Revision}},
		Success: []Op{{Put: &PutRequest{Key: []byte("/kv/a"), Value: []byte("3"), PrevKv: true}}}})
	if err != nil || !put.Succeeded || put.Responses[0].Put.PrevKv == nil || string(put.Responses[0].Put.PrevKv.Value) != "1" {
		t.Fatalf("cas: %+v, %v", put, err)
	}
	del, err := c.Txn(ctx, &TxnRequest{Success: []Op{{Delete: &DeleteRangeRequest{Key: []byte("/kv/a"), PrevKv: true}}}})
	if err != nil || del.Responses[0].Delete.Deleted != 1 || string(del.Responses[0].Delete.PrevKvs[0].Value) != "3" {
		t.Fatalf("delete: %+v, %v", del, err)
	}
	var evs []*Event
	for len(evs) < 3 {
		r := recvWatch(t, w)
		if r.Err != nil || r.Canceled {
			t.Fatalf("watch: %+v", r)
		}
		evs = append(evs, r.Events...)
	}
	if !evs[0].IsCreate() || string(evs[0].Kv.Value) != "1" || evs[1].IsCreate() || string(evs[1].PrevKv.Value) != "1" ||
		evs[2].Type != EventDelete || string(evs[2].PrevKv.Value) != "3" {
		t.Fatalf("events: %+v %+v %+v", evs[0], evs[1], evs[2])
	}
	// A progress request is answered on the stream with the current revision.
	if err := w.RequestProgress(); err != nil {
		t.Fatal(err)
	}
	if r := recvWatch(t, w); !r.IsProgressNotify() || r.Header.Revision != del.Header.Revision {
		t.Fatalf("progress: %+v, want a notification at %d", r, del.Header.Revision)
	}

	// Pages of a range.
	for i := range 5 {
		create(t, c, fmt.Sprintf("/p/%d", i), "v")
	}
	page, err := c.Range(ctx, &RangeRequest{Key: []byte("/p/"), RangeEnd: []byte("/p0"), Limit: 2})
	if err != nil || len(page.Kvs) != 2 || !page.More || page.Count != 5 {
		t.Fatalf("page: %+v, %v", page, err)
	}
	n, err := c.Range(ctx, &RangeRequest{Key: []byte("/p/"), RangeEnd: []byte("/p0"), CountOnly: true})
	if err != nil || n.Count != 5 || len(n.Kvs) != 0 {
		t.Fatalf("count: %+v, %v", n, err)
	}

	// Compaction: reads and watches below it fail as etcd says.
	head := n.Header.Revision
	if _, err := c.Compact(ctx, head); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Range(ctx, &RangeRequest{Key: []byte("/p/0"), Revision: head - 1}); !errors.Is(err, ErrCompacted) {
		t.Fatalf("range below the compaction: %v, want ErrCompacted", err)
	}
	if _, err := c.Range(ctx, &RangeRequest{Key: []byte("/p/0"), Revision: head + 100}); !errors.Is(err, ErrFutureRev) {
		t.Fatalf("range at a future revision: %v, want ErrFutureRev", err)
	}
	if _, err := c.Compact(ctx, head-1); !errors.Is(err, ErrCompacted) {
		t.Fatalf("compact below the compaction: %v, want ErrCompacted", err)
	}
	old, err := c.Watch(ctx, &WatchCreateRequest{Key: []byte("/p/"), RangeEnd: []byte("/p0"), StartRevision: 2}, true)
	if err != nil {
		t.Fatal(err)
	}
	if r := recvWatch(t, old); r.CompactRevision != head || !r.Canceled {
		t.Fatalf("watch from a compacted revision: %+v, want compact revision %d", r, head)
	}

	// Close ends the watch: its channel closes, with no error sent.
	w.Close()
	select {
	case r, ok := <-w.C:
		if ok {
			t.Fatalf("after Close: %+v", r)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("watch channel not closed after Close")
	}
}

// TestClientSendLimit: a request over the 2 MiB send limit (clientv3's; etcd
// takes 1.5 MiB by default) fails at the client, naming the sizes, and the
// client goes on working.
func TestClientSendLimit(t *testing.T) {
	srv := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
	c := newClient(t, Config{Endpoints: srv.Endpoints()})
	big := make([]byte, 2<<20)
	_, err := c.Txn(ctxT(t), &TxnRequest{Success: []Op{{Put: &PutRequest{Key: []byte("/big"), Value: big}}}})
	if err == nil || !strings.Contains(err.Error(), "trying to send message larger than max") {
		t.Fatalf("a request over 2 MiB: %v", err)
	}
	create(t, c, "/small", "v")
}

// TestClientEtcdRestart: a watch ends with an error when etcd stops, reads
// wait for it (within their context) and succeed once it is back.
func TestClientEtcdRestart(t *testing.T) {
	srv := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
	c := newClient(t, Config{Endpoints: srv.Endpoints()})
	create(t, c, "/k", "v")
	w, err := c.Watch(ctxT(t), &WatchCreateRequest{Key: []byte("/k")}, true)
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if r := recvWatch(t, w); r.Err == nil {
		t.Fatalf("watch across a stop: %+v, want an error", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = c.Range(ctx, &RangeRequest{Key: []byte("/k")})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("range while etcd is down: %v, want DeadlineExceeded", err)
	}
	go func() { time.Sleep(200 * time.Millisecond); srv.Restart() }()
	r, err := c.Range(ctxT(t), &RangeRequest{Key: []byte("/k")})
	if err != nil || len(r.Kvs) != 1 {
		t.Fatalf("range after restart: %+v, %v", r, err)
	}
}

// TestClientAuth: username/password against an etcd with auth enabled; a
// token that etcd no longer knows (auth disabled and enabled again drops
// every token) is replaced at the next call, unary or watch; a wrong
// password is refused; credentials given to an etcd without auth work.
func TestClientAuth(t *testing.T) {
	srv := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
	ctx := ctxT(t)
	c := newClient(t, Config{Endpoints: srv.Endpoints(), Username: "root", Password: "pw-1"})
	create(t, c, "/before-auth", "v") // auth not enabled yet: no token
	admin, err := clientv3.New(clientv3.Config{Endpoints: srv.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.UserAdd(ctx, "root", "pw-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.UserGrantRole(ctx, "root", "root"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AuthEnable(ctx); err != nil {
		t.Fatal(err)
	}
	// The client's empty token (auth was off) is refused now: it
	// authenticates.
	c = newClient(t, Config{Endpoints: srv.Endpoints(), Username: "root", Password: "pw-1"})
	create(t, c, "/a", "v")
	tok := *c.token.Load()
	if tok == "" {
		t.Fatal("no token after authenticating")
	}
	rootAdmin, err := clientv3.New(clientv3.Config{Endpoints: srv.Endpoints(), DialTimeout: 5 * time.Second, Username: "root", Password: "pw-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer rootAdmin.Close()
	if _, err := rootAdmin.AuthDisable(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AuthEnable(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Range(ctx, &RangeRequest{Key: []byte("/a")}); err != nil || len(r.Kvs) != 1 {
		t.Fatalf("range with a dropped token: %+v, %v", r, err)
	}
	if now := *c.token.Load(); now == tok || now == "" {
		t.Fatalf("token not renewed (%q, was %q)", now, tok)
	}
	tok = *c.token.Load()
	if _, err := rootAdmin.AuthDisable(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AuthEnable(ctx); err != nil {
		t.Fatal(err)
	}
	w, err := c.Watch(ctx, &WatchCreateRequest{Key: []byte("/a")}, true)
	if err != nil {
		t.Fatalf("watch with a dropped token: %v", err)
	}
	w.Close()
	if now := *c.token.Load(); now == tok {
		t.Fatal("token not renewed by the watch")
	}

	bad := newClient(t, Config{Endpoints: srv.Endpoints(), Username: "root", Password: "wrong"})
	if _, err := bad.Range(ctx, &RangeRequest{Key: []byte("/a")}); err == nil || !strings.Contains(err.Error(), "authentication failed") {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := bad.Watch(ctx, &WatchCreateRequest{Key: []byte("/a")}, true); err == nil || !strings.Contains(err.Error(), "authentication failed") {
		t.Fatalf("wrong password, watch: %v", err)
	}
	anon := newClient(t, Config{Endpoints: srv.Endpoints()})
	if _, err := anon.Range(ctx, &RangeRequest{Key: []byte("/a")}); err == nil {
		t.Fatal("range without credentials on an etcd with auth succeeded")
	}
}

// fakeEtcd is a gRPC server on loopback that answers every call with
// reply's bytes and records the calls' metadata.
func fakeEtcd(t *testing.T, reply []byte) (endpoint string, calls func() []metadata.MD) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var mds []metadata.MD
	s := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(func(_ any, st grpc.ServerStream) error {
		md, _ := metadata.FromIncomingContext(st.Context())
		mu.Lock()
		mds = append(mds, md)
		mu.Unlock()
		var in []byte
		if err := st.RecvMsg(&in); err != nil {
			return err
		}
		if err := st.SendMsg(reply); err != nil {
			return err
		}
		<-st.Context().Done() // a stream stays open; a unary call has ended
		return nil
	}))
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return "http://" + l.Addr().String(), func() []metadata.MD {
		mu.Lock()
		defer mu.Unlock()
		return append([]metadata.MD(nil), mds...)
	}
}

type rawCodec struct{}

func (rawCodec) Name() string                  { return "proto" }
func (rawCodec) Marshal(v any) ([]byte, error) { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}

// TestHostileServer: a server answering garbage gets an error naming the
// field, never a panic; a watch sends "hasleader" when asked to, and a
// stream whose first answer is no creation is an error.
func TestHostileServer(t *testing.T) {
	ep, calls := fakeEtcd(t, []byte{0x0a, 0x7f, 0x01}) // header: length past the end
	c := newClient(t, Config{Endpoints: []string{ep}})
	ctx := ctxT(t)
	if _, err := c.Range(ctx, &RangeRequest{Key: []byte("/k")}); err == nil || !strings.Contains(err.Error(), "field 1") {
		t.Fatalf("range answered with garbage: %v", err)
	}
	if _, err := c.Watch(ctx, &WatchCreateRequest{Key: []byte("/k")}, true); err == nil {
		t.Fatal("watch answered with garbage succeeded")
	}
	md := calls()
	if len(md) != 2 || len(md[0].Get("hasleader")) != 0 || strings.Join(md[1].Get("hasleader"), ",") != "true" {
		t.Fatalf("metadata of the calls: %v, want hasleader=true on the watch only", md)
	}
	// A well-formed answer that is not a creation.
	ep, _ = fakeEtcd(t, []byte{0x10, 0x01}) // watch_id 1, created false
	c = newClient(t, Config{Endpoints: []string{ep}})
	if _, err := c.Watch(ctx, &WatchCreateRequest{Key: []byte("/k")}, false); err == nil || !strings.Contains(err.Error(), "no creation response") {
		t.Fatalf("watch answered without a creation: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		eps  []string
		want string
	}{
		{nil, "no endpoints"},
		{[]string{"ftp://127.0.0.1:2379"}, `"ftp://127.0.0.1:2379"`},
		{[]string{"127.0.0.1"}, `"127.0.0.1": want host:port`},
		{[]string{"http://127.0.0.1:2379/v3"}, "no path"},
		{[]string{"http://127.0.0.1:2379", "https://127.0.0.2:2379"}, "mix http:// and https://"},
	} {
		if _, err := New(Config{Endpoints: tc.eps}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q): %v, want an error with %s", tc.eps, err, tc.want)
		}
	}
}
