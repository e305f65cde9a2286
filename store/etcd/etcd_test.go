package etcd_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wasmpod/wasmpod/store"
	"github.com/wasmpod/wasmpod/store/bbolt"
	"github.com/wasmpod/wasmpod/store/etcd"
	"github.com/wasmpod/wasmpod/store/etcd/etcdtest"
	"github.com/wasmpod/wasmpod/store/storetest"
)

func testOpts(srv *etcdtest.Server) etcd.Options {
	return etcd.Options{Endpoints: srv.Endpoints(), History: storetest.History, WatchBacklog: storetest.WatchBacklog,
		RequestTimeout: 5 * time.Second}
}

// etcdClient is a clientv3 client of srv, for what the tests do to etcd
// beside the store (as an operator's etcdctl would).
func etcdClient(t testing.TB, srv *etcdtest.Server) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: srv.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func openStore(t testing.TB, o etcd.Options) *etcd.Store {
	t.Helper()
	s, err := etcd.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		srv := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
		return openStore(t, testOpts(srv))
	})
}

// withServer closes the embedded etcd with the store, so that RunRestart's
// reopen is a restart of etcd on the same data.
type withServer struct {
	*etcd.Store
	srv *etcdtest.Server
}

func (w withServer) Close() error {
	err := w.Store.Close()
	w.srv.Stop()
	return err
}

func TestRestart(t *testing.T) {
	storetest.RunRestart(t, func(t *testing.T, dir string) store.Store {
		srv := etcdtest.Start(t, dir, etcdtest.Options{Fsync: true})
		return withServer{openStore(t, testOpts(srv)), srv}
	})
}

// TestPrefixesShareEtcd: two stores under different prefixes of one etcd
// see only their own keys, and each keeps its own origin.
func TestPrefixesShareEtcd(t *testing.T) {
	srv := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
	ctx := context.Background()
	oa, ob := testOpts(srv), testOpts(srv)
	oa.Prefix, ob.Prefix = "/a", "/b"
	a, b := openStore(t, oa), openStore(t, ob)
	if _, err := a.Create(ctx, "/pods/x", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "/pods/x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("store b sees store a's key: %v", err)
	}
	kvs, _, err := b.List(ctx, "")
	if err != nil || len(kvs) != 0 {
		t.Fatalf("store b List = %v, %v; want empty", kvs, err)
	}
	// Revisions are etcd's, shifted by each store's origin: b's write is a
	// gap in a's revisions, which stay increasing.
	ka, _ := a.Get(ctx, "/pods/x")
	if _, err := b.Create(ctx, "/pods/x", []byte("b")); err != nil {
		t.Fatal(err)
	}
	ra, err := a.Revision(ctx)
	if err != nil || ra <= ka.ModRevision {
		t.Fatalf("a's revision after b's write = %d, %v; want > %d", ra, err, ka.ModRevision)
	}
	// A reopened store keeps its origin: its revisions do not move.
	a.Close()
	a2 := openStore(t, oa)
	got, err := a2.Get(ctx, "/pods/x")
	if err != nil || string(got.Value) != "a" || got.ModRevision != ka.ModRevision {
		t.Fatalf("reopened a: Get = %+v, %v; want a @%d", got, err, ka.ModRevision)
	}
	if r, _ := a2.Revision(ctx); r != ra {
		t.Fatalf("reopened a: revision %d, want %d", r, ra)
	}
}

// TestListPaginates: a List larger than one etcd page is one consistent
// snapshot, in key order.
func TestListPaginates(t *testing.T) {
	srv := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
	s := openStore(t, testOpts(srv))
	ctx := context.Background()
	const n = 2500
	for i := range n {
		if _, err := s.Create(ctx, fmt.Sprintf("/pods/p%05d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(ctx, "/podsx", []byte("other")); err != nil {
		t.Fatal(err)
	}
	kvs, rev, err := s.List(ctx, "/pods/")
	if err != nil {
		t.Fatal(err)
	}
	if len(kvs) != n || rev != n+1 {
		t.Fatalf("List = %d keys @%d, want %d @%d", len(kvs), rev, n, n+1)
	}
	for i, kv := range kvs {
		if want := fmt.Sprintf("/pods/p%05d", i); kv.Key != want || kv.ModRevision != int64(i+1) {
			t.Fatalf("List[%d] = %s @%d, want %s @%d", i, kv.Key, kv.ModRevision, want, i+1)
		}
	}
}

// TestCompactionThenRelist: etcd compacted under a watcher's revision (as
// an operator's `etcdctl compact` or another replica does) makes Watch from
// it fail with ErrCompacted — the API server's 410 Gone — and the client's
// re-list and watch from the list's revision then see every later change.
func TestCompactionThenRelist(t *testing.T) {
	srv := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
	o := testOpts(srv)
	o.History = -1 // only the explicit compaction below
	s := openStore(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 10 {
		if _, err := s.Create(ctx, fmt.Sprintf("/pods/p%d", i), []byte("v0")); err != nil {
			t.Fatal(err)
		}
	}
	// A watcher that has caught up, and one from revision 3 opened just
	// before a compaction to revision 8.
	synced, err := s.Watch(ctx, "/pods/", 9)
	if err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, synced); ev.KV.ModRevision != 10 {
		t.Fatalf("synced watcher: revision %d, want 10", ev.KV.ModRevision)
	}
	behind, err := s.Watch(ctx, "/pods/", 3)
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := s.Revision(ctx)
	compactTo(t, srv, s, 8)
	if _, err := s.Watch(ctx, "/pods/", 2); !errors.Is(err, store.ErrCompacted) {
		t.Fatalf("Watch from compacted revision 2: %v, want ErrCompacted", err)
	}
	if _, err := s.Watch(ctx, "/pods/", 6); !errors.Is(err, store.ErrCompacted) {
		t.Fatalf("Watch from compacted revision 6: %v, want ErrCompacted", err)
	}
	// The one opened before the compaction either had its events already
	// (etcd had synced it) or ends with an Error wrapping ErrCompacted:
	// never a gap.
	for r := int64(4); r <= cur; r++ {
		ev := recv(t, behind)
		if ev.Type == store.Error {
			if !errors.Is(ev.Err, store.ErrCompacted) {
				t.Fatalf("behind watcher's Error: %v, want ErrCompacted", ev.Err)
			}
			expectClosed(t, behind)
			break
		}
		if ev.Type != store.Added || ev.KV.ModRevision != r {
			t.Fatalf("behind watcher: %v @%d, want ADDED @%d", ev.Type, ev.KV.ModRevision, r)
		}
	}
	// Relist, then watch from the list revision.
	kvs, rev, err := s.List(ctx, "/pods/")
	if err != nil || len(kvs) != 10 || rev != cur+1 {
		t.Fatalf("relist: %d keys @%d, %v; want 10 @%d", len(kvs), rev, err, cur+1)
	}
	ch, err := s.Watch(ctx, "/pods/", rev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, "/pods/p1", 0); err != nil {
		t.Fatal(err)
	}
	for _, c := range []<-chan store.Event{ch, synced} {
		ev := recv(t, c)
		if ev.Type != store.Deleted || ev.KV.Key != "/pods/p1" || ev.KV.ModRevision != rev+1 || string(ev.KV.Value) != "v0" {
			t.Fatalf("after relist: %v %s @%d %q, want DELETED /pods/p1 @%d v0", ev.Type, ev.KV.Key, ev.KV.ModRevision, ev.KV.Value, rev+1)
		}
	}
}

// TestHistoryCompaction: the store itself compacts below Options.History.
func TestHistoryCompaction(t *testing.T) {
	srv := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
	o := testOpts(srv)
	o.History = 100
	s := openStore(t, o)
	ctx := context.Background()
	for i := range 300 {
		if _, err := s.Create(ctx, fmt.Sprintf("/k%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Watch(ctx, "/", 150); !errors.Is(err, store.ErrCompacted) {
		t.Fatalf("Watch 150 revisions back with History 100: %v, want ErrCompacted", err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := s.Watch(wctx, "/", 200)
	if err != nil {
		t.Fatalf("Watch 100 revisions back with History 100: %v", err)
	}
	if ev := recv(t, ch); ev.KV.ModRevision != 201 {
		t.Fatalf("first replayed revision %d, want 201", ev.KV.ModRevision)
	}
}

func compactTo(t *testing.T, srv *etcdtest.Server, s *etcd.Store, rev int64) {
	t.Helper()
	// The store's revision r is etcd's r+origin; read the origin from a
	// fresh key's revisions.
	kv, err := s.Create(context.Background(), "/compact-probe", nil)
	if err != nil {
		t.Fatal(err)
	}
	ec := etcdClient(t, srv)
	resp, err := ec.Get(context.Background(), "/wasmpod/kv/compact-probe")
	if err != nil {
		t.Fatal(err)
	}
	off := resp.Kvs[0].ModRevision - kv.ModRevision
	if _, err := ec.Compact(context.Background(), rev+off); err != nil {
		t.Fatal(err)
	}
}

// TestEtcdRestartMidWatch: etcd stops and starts again on the same data
// while watchers are open. Writes fail while it is down (within the
// request timeout, with an error wrapping DeadlineExceeded, not a hang),
// and the watchers resume from the last revision they delivered: every
// change before and after the restart arrives once, in order.
func TestEtcdRestartMidWatch(t *testing.T) {
	srv := etcdtest.Start(t, t.TempDir(), etcdtest.Options{Fsync: true})
	o := testOpts(srv)
	o.RequestTimeout = time.Second
	s := openStore(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	live, err := s.Watch(ctx, "/pods/", 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := s.Create(ctx, fmt.Sprintf("/pods/a%d", i), []byte("before")); err != nil {
			t.Fatal(err)
		}
	}
	for r := int64(1); r <= 5; r++ {
		if ev := recv(t, live); ev.KV.ModRevision != r {
			t.Fatalf("before restart: revision %d, want %d", ev.KV.ModRevision, r)
		}
	}
	// Two more changes the live watcher has not read yet when etcd stops.
	if _, err := s.Update(ctx, "/pods/a0", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, "/pods/a1", 0); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	start := time.Now()
	_, err = s.Create(ctx, "/pods/down", []byte("v"))
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Create while etcd is down: %v, want an error wrapping DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Create while etcd is down took %v", d)
	}
	srv.Restart()

	// The watcher resumes; new writes after the restart follow without a gap.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := s.Create(ctx, "/pods/after", []byte("after"))
		if err == nil || errors.Is(err, store.ErrAlreadyExists) {
			break // ErrAlreadyExists: an earlier try committed after all
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes did not recover after the restart: %v", err)
		}
	}
	want := []struct {
		typ store.EventType
		key string
	}{{store.Modified, "/pods/a0"}, {store.Deleted, "/pods/a1"}}
	for i, w := range want {
		ev := recv(t, live)
		if ev.Type != w.typ || ev.KV.Key != w.key || ev.KV.ModRevision != int64(6+i) {
			t.Fatalf("across the restart: %v %s @%d (%v), want %v %s @%d", ev.Type, ev.KV.Key, ev.KV.ModRevision, ev.Err, w.typ, w.key, 6+i)
		}
	}
	// The write attempted while etcd was down either committed (then
	// it is the next event) or did not; /pods/after is last.
	ev := recv(t, live)
	if ev.KV.Key == "/pods/down" {
		ev = recv(t, live)
	}
	rev, _ := s.Revision(ctx)
	if ev.Type != store.Added || ev.KV.Key != "/pods/after" || ev.KV.ModRevision != rev {
		t.Fatalf("after restart: %v %s @%d, want ADDED /pods/after @%d", ev.Type, ev.KV.Key, ev.KV.ModRevision, rev)
	}
	// A watch from before the restart replays the same history.
	old, err := s.Watch(ctx, "/pods/", 5)
	if err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, old); ev.Type != store.Modified || ev.KV.ModRevision != 6 {
		t.Fatalf("replay after restart: %v @%d, want MODIFIED @6", ev.Type, ev.KV.ModRevision)
	}
}

// TestTLSAndAuth: an etcd that requires client certificates is reached
// with TLSConfig's files and refused without them; an etcd with auth
// enabled is reached with Username/Password and refused a wrong password.
func TestTLSAndAuth(t *testing.T) {
	ctx := context.Background()
	files := etcdtest.WriteTLS(t, t.TempDir())
	srv := etcdtest.Start(t, t.TempDir(), etcdtest.Options{TLS: files.ServerTLS()})
	tlsCfg, err := etcd.TLSConfig(files.ClientCert, files.ClientKey, files.CA)
	if err != nil {
		t.Fatal(err)
	}
	o := testOpts(srv)
	o.TLS = tlsCfg
	s := openStore(t, o)
	if kv, err := s.Create(ctx, "/pods/tls", []byte("v")); err != nil || kv.ModRevision != 1 {
		t.Fatalf("Create over TLS: %+v, %v", kv, err)
	}
	caOnly, err := etcd.TLSConfig("", "", files.CA)
	if err != nil {
		t.Fatal(err)
	}
	o.TLS, o.DialTimeout, o.RequestTimeout = caOnly, time.Second, time.Second
	if _, err := etcd.Open(ctx, o); err == nil {
		t.Fatal("Open without a client certificate succeeded against --client-cert-auth")
	}

	plain := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
	admin := etcdClient(t, plain)
	if _, err := admin.UserAdd(ctx, "root", "s3cret-pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.UserGrantRole(ctx, "root", "root"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AuthEnable(ctx); err != nil {
		t.Fatal(err)
	}
	o = testOpts(plain)
	o.Prefix, o.Username, o.Password = "/authed", "root", "s3cret-pw"
	a := openStore(t, o)
	if _, err := a.Create(ctx, "/pods/auth", []byte("v")); err != nil {
		t.Fatalf("Create with username/password: %v", err)
	}
	o.Password = "wrong"
	if _, err := etcd.Open(ctx, o); err == nil || !strings.Contains(err.Error(), "authentication failed") {
		t.Fatalf("Open with a wrong password: %v", err)
	}
}

// TestQuietWatcherSurvivesCompactionAndRestart: a watcher of a prefix
// that sees no change while others are written, compacted away and etcd
// restarts, resumes after the restart (it knows, from etcd's progress
// notifications, that it had missed nothing) instead of failing with
// ErrCompacted.
func TestQuietWatcherSurvivesCompactionAndRestart(t *testing.T) {
	srv := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
	o := testOpts(srv)
	o.History = -1
	o.ProgressInterval = -1 // only the explicit RequestProgress below
	s := openStore(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	quiet, err := s.Watch(ctx, "/quiet/", 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := s.Create(ctx, fmt.Sprintf("/busy/%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	compactTo(t, srv, s, mustRevision(t, s))
	// Wait until the progress notification has reached the watcher.
	for want, deadline := etcd.EtcdRevision(s, mustRevision(t, s)), time.Now().Add(10*time.Second); etcd.ProgressRevision(s) < want; {
		if time.Now().After(deadline) {
			t.Fatalf("no progress notification up to etcd revision %d (have %d)", want, etcd.ProgressRevision(s))
		}
		s.RequestProgress()
		time.Sleep(10 * time.Millisecond)
	}
	srv.Stop()
	srv.Restart()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err = s.Create(ctx, "/quiet/a", []byte("v")); err == nil || errors.Is(err, store.ErrAlreadyExists) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes did not recover: %v", err)
		}
	}
	ev := recv(t, quiet)
	if ev.Type != store.Added || ev.KV.Key != "/quiet/a" {
		t.Fatalf("quiet watcher after compaction and restart: %v %s (%v), want ADDED /quiet/a", ev.Type, ev.KV.Key, ev.Err)
	}
}

func mustRevision(t *testing.T, s *etcd.Store) int64 {
	t.Helper()
	r, err := s.Revision(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestMissingOriginRefused: keys under the prefix without the origin
// record (deleted by hand) are refused at Open, naming the key, since the
// revisions would restart and resourceVersions go backwards.
func TestMissingOriginRefused(t *testing.T) {
	srv := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
	o := testOpts(srv)
	s := openStore(t, o)
	if _, err := s.Create(context.Background(), "/pods/a", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := etcdClient(t, srv).Delete(context.Background(), "/wasmpod/meta/origin"); err != nil {
		t.Fatal(err)
	}
	_, err := etcd.Open(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "/wasmpod/meta/origin") || !strings.Contains(err.Error(), "1 keys under /wasmpod/kv") {
		t.Fatalf("Open with keys and no origin: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := etcd.Open(context.Background(), etcd.Options{}); err == nil {
		t.Fatal("Open with no endpoints succeeded")
	}
	if _, err := etcd.Open(context.Background(), etcd.Options{Endpoints: []string{"http://127.0.0.1:1"}, Prefix: "nope"}); err == nil {
		t.Fatal("Open with a relative prefix succeeded")
	}
	// Nothing listens: Open fails within its timeouts and names the endpoint.
	ep := "http://127.0.0.1:1"
	start := time.Now()
	_, err := etcd.Open(context.Background(), etcd.Options{Endpoints: []string{ep}, DialTimeout: 500 * time.Millisecond, RequestTimeout: 500 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), ep) {
		t.Fatalf("Open of an unreachable etcd: %v, want an error naming %s", err, ep)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Open of an unreachable etcd took %v", d)
	}
	if _, err := etcd.TLSConfig("cert.pem", "", ""); err == nil {
		t.Fatal("TLSConfig with a cert and no key succeeded")
	}
	if _, err := etcd.TLSConfig("", "", filepath.Join(t.TempDir(), "missing-ca.pem")); err == nil || !strings.Contains(err.Error(), "missing-ca.pem") {
		t.Fatalf("TLSConfig with a missing CA file: %v", err)
	}
}

func expectClosed(t *testing.T, ch <-chan store.Event) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if ok {
			t.Fatalf("event %v after the final Error", ev.Type)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("watch channel not closed")
	}
}

func recv(t *testing.T, ch <-chan store.Event) store.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return ev
	case <-time.After(20 * time.Second):
		t.Fatal("no watch event within 20s")
	}
	panic("unreachable")
}

// BenchmarkCreate reports writes/s and, as x-baseline, the ratio to a bbolt
// store (in a temporary file) under the same load, measured in the same run.
func BenchmarkCreate(b *testing.B) {
	storetest.BenchCreate(b,
		func(b *testing.B) store.Store {
			srv := etcdtest.Start(b, b.TempDir(), etcdtest.Options{Fsync: true})
			return openStore(b, etcd.Options{Endpoints: srv.Endpoints()})
		},
		func() store.Store {
			s, err := bbolt.Open(filepath.Join(b.TempDir(), "state.db"), bbolt.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return s
		})
}

// TestSnapshotRefusal: the etcd store is no Snapshotter (the API's backup
// answers 501) and says how it is backed up instead, naming its etcd.
func TestSnapshotRefusal(t *testing.T) {
	srv := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
	var s store.Store = openStore(t, testOpts(srv))
	if _, ok := s.(store.Snapshotter); ok {
		t.Fatal("the etcd store is a Snapshotter")
	}
	r, ok := s.(store.SnapshotRefuser)
	if !ok {
		t.Fatal("the etcd store is no SnapshotRefuser")
	}
	if msg := r.SnapshotRefusal(); !strings.Contains(msg, "etcdctl snapshot save") || !strings.Contains(msg, srv.Endpoints()[0]) {
		t.Errorf("refusal %q: want etcdctl snapshot save and the endpoint", msg)
	}
}
