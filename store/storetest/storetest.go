// Package storetest is the conformance suite every store.Store backend
// passes. A backend's test file calls Run (and RunRestart if it persists).
//
// The stores that open returns must be fresh (revision 0, no keys) and
// configured with History and WatchBacklog below, so that compaction and
// slow-watcher behaviour can be exercised in a few thousand writes.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/store"
)

const (
	// History is the number of events the backend under test must keep
	// for Watch resumption (at least; the compaction test writes 2×History).
	History = 1000
	// WatchBacklog is the undelivered-event limit per watcher the backend
	// under test must be configured with.
	WatchBacklog = 2000
)

const wait = 10 * time.Second

// Run runs the conformance suite. open returns a fresh store; the suite
// closes it (Close must be idempotent).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CRUD", testCRUD},
		{"Conflict", testConflict},
		{"Errors", testErrors},
		{"List", testList},
		{"CancelledContext", testCancelledContext},
		{"WatchFromNow", testWatchFromNow},
		{"WatchFromOlderRevision", testWatchFromOlder},
		{"WatchPrefix", testWatchPrefix},
		{"WatchCancel", testWatchCancel},
		{"WatchCompacted", testWatchCompacted},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ContendedCompareAndSwap", testContendedCAS},
		{"SlowWatcher", testSlowWatcher},
		{"CloseUnblocksWatchers", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

// RunRestart checks persistence: open(t, dir) must open the store kept in
// dir, so that a second call after Close sees the first one's data.
func RunRestart(t *testing.T, open func(t *testing.T, dir string) store.Store) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	for i := range 10 {
		mustCreate(t, s, fmt.Sprintf("/pods/p%d", i), "v0")
	}
	kv := mustUpdate(t, s, "/pods/p3", "v1", 0)
	del, err := s.Delete(ctx, "/pods/p4", 0)
	if err != nil {
		t.Fatal(err)
	}
	rev := mustRev(t, s)
	if rev != 12 || del.ModRevision != 12 || kv.ModRevision != 11 {
		t.Fatalf("revisions before restart: store %d, update %d, delete %d; want 12, 11, 12", rev, kv.ModRevision, del.ModRevision)
	}
	before, _, err := s.List(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir)
	t.Cleanup(func() { s.Close() })
	if got := mustRev(t, s); got != rev {
		t.Fatalf("revision after reopen = %d, want %d", got, rev)
	}
	after, lrev, err := s.List(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	if lrev != rev || !equalKVs(before, after) {
		t.Fatalf("after reopen List = %v @%d, want %v @%d", after, lrev, before, rev)
	}
	got, err := s.Get(ctx, "/pods/p3")
	if err != nil || string(got.Value) != "v1" || got.CreateRevision != 4 || got.ModRevision != 11 {
		t.Fatalf("Get after reopen = %+v, %v", got, err)
	}
	if _, err := s.Get(ctx, "/pods/p4"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted key after reopen: err = %v, want ErrNotFound", err)
	}

	// A watch from a pre-restart revision replays, then goes live.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := s.Watch(wctx, "/pods/", 9)
	if err != nil {
		t.Fatal(err)
	}
	kv = mustCreate(t, s, "/pods/new", "n")
	if kv.ModRevision != rev+1 {
		t.Fatalf("first write after reopen got revision %d, want %d", kv.ModRevision, rev+1)
	}
	want := []struct {
		typ store.EventType
		key string
		rev int64
		val string
	}{
		{store.Added, "/pods/p9", 10, "v0"},
		{store.Modified, "/pods/p3", 11, "v1"},
		{store.Deleted, "/pods/p4", 12, "v0"},
		{store.Added, "/pods/new", 13, "n"},
	}
	for _, w := range want {
		ev := recv(t, ch)
		if ev.Type != w.typ || ev.KV.Key != w.key || ev.KV.ModRevision != w.rev || string(ev.KV.Value) != w.val {
			t.Fatalf("replayed event %v %s @%d %q, want %v %s @%d %q", ev.Type, ev.KV.Key, ev.KV.ModRevision, ev.KV.Value, w.typ, w.key, w.rev, w.val)
		}
	}
	expectQuiet(t, ch)
}

func testCRUD(t *testing.T, s store.Store) {
	ctx := context.Background()
	if r := mustRev(t, s); r != 0 {
		t.Fatalf("fresh store revision = %d, want 0", r)
	}
	val := []byte("one")
	kv, err := s.Create(ctx, "/pods/default/web-1", val)
	if err != nil {
		t.Fatal(err)
	}
	val[0] = 'X' // the store must have copied it
	if kv.Key != "/pods/default/web-1" || string(kv.Value) != "one" || kv.CreateRevision != 1 || kv.ModRevision != 1 {
		t.Fatalf("Create = %+v", kv)
	}
	got, err := s.Get(ctx, "/pods/default/web-1")
	if err != nil || string(got.Value) != "one" || got.CreateRevision != 1 || got.ModRevision != 1 {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	kv = mustUpdate(t, s, "/pods/default/web-1", "two", 1)
	if string(kv.Value) != "two" || kv.CreateRevision != 1 || kv.ModRevision != 2 {
		t.Fatalf("Update = %+v", kv)
	}
	kv = mustUpdate(t, s, "/pods/default/web-1", "three", 0)
	if kv.ModRevision != 3 || kv.CreateRevision != 1 {
		t.Fatalf("Update(any) = %+v", kv)
	}
	mustCreate(t, s, "/pods/default/web-2", "")
	del, err := s.Delete(ctx, "/pods/default/web-1", 3)
	if err != nil {
		t.Fatal(err)
	}
	if string(del.Value) != "three" || del.CreateRevision != 1 || del.ModRevision != 5 {
		t.Fatalf("Delete = %+v, want last value with the deletion's revision 5", del)
	}
	if _, err := s.Get(ctx, "/pods/default/web-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after delete: %v, want ErrNotFound", err)
	}
	if r := mustRev(t, s); r != 5 {
		t.Fatalf("revision = %d, want 5", r)
	}
	// Re-create gets a new CreateRevision.
	kv = mustCreate(t, s, "/pods/default/web-1", "again")
	if kv.CreateRevision != 6 || kv.ModRevision != 6 {
		t.Fatalf("re-Create = %+v", kv)
	}
	got, err = s.Get(ctx, "/pods/default/web-2")
	if err != nil || len(got.Value) != 0 || got.ModRevision != 4 {
		t.Fatalf("Get empty value = %+v, %v", got, err)
	}
}

func testConflict(t *testing.T, s store.Store) {
	ctx := context.Background()
	kv := mustCreate(t, s, "/k", "a")
	kv2 := mustUpdate(t, s, "/k", "b", kv.ModRevision)
	if _, err := s.Update(ctx, "/k", []byte("c"), kv.ModRevision); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale Update: %v, want ErrConflict", err)
	}
	if _, err := s.Delete(ctx, "/k", kv.ModRevision); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale Delete: %v, want ErrConflict", err)
	}
	if _, err := s.Update(ctx, "/k", []byte("c"), kv2.ModRevision+100); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("future-revision Update: %v, want ErrConflict", err)
	}
	if r := mustRev(t, s); r != kv2.ModRevision {
		t.Fatalf("failed writes changed the revision: %d, want %d", r, kv2.ModRevision)
	}
	got, _ := s.Get(ctx, "/k")
	if string(got.Value) != "b" {
		t.Fatalf("value after failed writes = %q, want b", got.Value)
	}
	if _, err := s.Delete(ctx, "/k", kv2.ModRevision); err != nil {
		t.Fatalf("Delete with current revision: %v", err)
	}
}

func testErrors(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, "/k", "a")
	if _, err := s.Create(ctx, "/k", []byte("b")); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("Create existing: %v, want ErrAlreadyExists", err)
	}
	if _, err := s.Update(ctx, "/missing", []byte("b"), 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Update missing: %v, want ErrNotFound", err)
	}
	if _, err := s.Delete(ctx, "/missing", 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Delete missing: %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, "/missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get missing: %v, want ErrNotFound", err)
	}
	if r := mustRev(t, s); r != 1 {
		t.Fatalf("failed writes changed the revision to %d", r)
	}
	if _, err := s.Watch(ctx, "/", -1); err == nil {
		t.Fatal("Watch from a negative revision succeeded")
	}
}

func testList(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, k := range []string{"/pods/b/2", "/pods/a/1", "/podsx/a", "/pods/c", "/svc/a", "/pods/a/0"} {
		mustCreate(t, s, k, k)
	}
	mustUpdate(t, s, "/pods/c", "c2", 0)
	kvs, rev, err := s.List(ctx, "/pods/")
	if err != nil {
		t.Fatal(err)
	}
	if rev != 7 {
		t.Fatalf("List revision = %d, want 7", rev)
	}
	want := []string{"/pods/a/0", "/pods/a/1", "/pods/b/2", "/pods/c"}
	if len(kvs) != len(want) {
		t.Fatalf("List(/pods/) = %v, want keys %v", keys(kvs), want)
	}
	for i, kv := range kvs {
		if kv.Key != want[i] {
			t.Fatalf("List(/pods/) = %v, want keys %v", keys(kvs), want)
		}
	}
	if c := kvs[3]; string(c.Value) != "c2" || c.CreateRevision != 4 || c.ModRevision != 7 {
		t.Fatalf("List entry = %+v", c)
	}
	all, _, err := s.List(ctx, "")
	if err != nil || len(all) != 6 {
		t.Fatalf("List(\"\") = %v, %v", keys(all), err)
	}
	none, rev, err := s.List(ctx, "/nothing/")
	if err != nil || len(none) != 0 || rev != 7 {
		t.Fatalf("List(/nothing/) = %v @%d, %v", keys(none), rev, err)
	}
	// Prefixes that end inside a name or a "directory" are prefixes of
	// the keys' bytes, as etcd's.
	for prefix, want := range map[string]string{
		"/pods/a":   "[/pods/a/0 /pods/a/1]",
		"/pods/a/1": "[/pods/a/1]",
		"/pods/c":   "[/pods/c]",
		"/pod":      "[/pods/a/0 /pods/a/1 /pods/b/2 /pods/c /podsx/a]",
		"/s":        "[/svc/a]",
		"/pods/a/2": "[]",
	} {
		kvs, _, err := s.List(ctx, prefix)
		if got := fmt.Sprint(keys(kvs)); err != nil || got != want {
			t.Fatalf("List(%s) = %s, %v; want %s", prefix, got, err, want)
		}
	}
	// A deleted key is listed no more, under any prefix.
	if _, err := s.Delete(ctx, "/pods/b/2", 0); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"/pods/b/", "/pods/b", "/pods/b/2"} {
		if kvs, _, err := s.List(ctx, prefix); err != nil || len(kvs) != 0 {
			t.Fatalf("List(%s) after delete = %v, %v", prefix, keys(kvs), err)
		}
	}
	if kvs, _, err := s.List(ctx, "/pods/"); err != nil || len(kvs) != 3 {
		t.Fatalf("List(/pods/) after delete = %v, %v", keys(kvs), err)
	}
}

func testCancelledContext(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Create(ctx, "/k", []byte("v")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Create with cancelled ctx: %v", err)
	}
	if _, err := s.Get(ctx, "/k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with cancelled ctx: %v", err)
	}
	if _, err := s.Watch(ctx, "/", 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch with cancelled ctx: %v", err)
	}
	if r := mustRev(t, s); r != 0 {
		t.Fatalf("cancelled write changed the revision to %d", r)
	}
}

func testWatchFromNow(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mustCreate(t, s, "/a", "before")
	ch, err := s.Watch(ctx, "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, "/a", "u", 0)
	mustCreate(t, s, "/b", "b")
	if _, err := s.Delete(context.Background(), "/a", 0); err != nil {
		t.Fatal(err)
	}
	expect(t, recv(t, ch), store.Modified, "/a", 2, "u")
	expect(t, recv(t, ch), store.Added, "/b", 3, "b")
	ev := recv(t, ch)
	expect(t, ev, store.Deleted, "/a", 4, "u")
	if ev.KV.CreateRevision != 1 {
		t.Fatalf("Deleted event CreateRevision = %d, want 1", ev.KV.CreateRevision)
	}
	expectQuiet(t, ch)
}

func testWatchFromOlder(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 5 {
		mustCreate(t, s, fmt.Sprintf("/k%d", i), "v")
	}
	ch, err := s.Watch(ctx, "/", 2)
	if err != nil {
		t.Fatal(err)
	}
	// Writes race with the replay: there must be no gap and no duplicate.
	done := make(chan error, 1)
	go func() {
		for i := 5; i < 200; i++ {
			if _, err := s.Create(context.Background(), fmt.Sprintf("/k%d", i), []byte("v")); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for rev := int64(3); rev <= 200; rev++ {
		ev := recv(t, ch)
		expect(t, ev, store.Added, fmt.Sprintf("/k%d", rev-1), rev, "v")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	expectQuiet(t, ch)

	// List then watch from the list revision: the standard informer pattern.
	_, lrev, err := s.List(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, "/k7", "x", 0)
	ch2, err := s.Watch(ctx, "/", lrev)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, recv(t, ch2), store.Modified, "/k7", lrev+1, "x")
	// A watch from the current revision delivers only later changes.
	ch3, err := s.Watch(ctx, "/", lrev+1)
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, "/k8", "y", 0)
	expect(t, recv(t, ch3), store.Modified, "/k8", lrev+2, "y")
	expect(t, recv(t, ch2), store.Modified, "/k8", lrev+2, "y")
	// A watch from a future revision skips the changes up to it.
	ch4, err := s.Watch(ctx, "/", lrev+3)
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, "/k9", "skipped", 0)
	mustUpdate(t, s, "/k9", "seen", 0)
	expect(t, recv(t, ch4), store.Modified, "/k9", lrev+4, "seen")
}

func testWatchPrefix(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mustCreate(t, s, "/pods/a", "1")
	mustCreate(t, s, "/svc/a", "2")
	mustCreate(t, s, "/podsx", "3")
	live, err := s.Watch(ctx, "/pods/", 0)
	if err != nil {
		t.Fatal(err)
	}
	old, err := s.Watch(ctx, "/svc/", 1) // replays /svc/a only
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "/svc/b", "4")
	mustCreate(t, s, "/pods/b", "5")
	mustCreate(t, s, "/podsy", "6")
	mustUpdate(t, s, "/pods/a", "7", 0)
	expect(t, recv(t, live), store.Added, "/pods/b", 5, "5")
	expect(t, recv(t, live), store.Modified, "/pods/a", 7, "7")
	expectQuiet(t, live)
	expect(t, recv(t, old), store.Added, "/svc/a", 2, "2")
	expect(t, recv(t, old), store.Added, "/svc/b", 4, "4")
	expectQuiet(t, old)
}

func testWatchCancel(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := s.Watch(ctx, "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "/a", "1")
	expect(t, recv(t, ch), store.Added, "/a", 1, "1")
	cancel()
	expectClosed(t, ch)
	// A cancelled watcher, never drained, must not block writers.
	ctx2, cancel2 := context.WithCancel(context.Background())
	ch2, err := s.Watch(ctx2, "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	cancel2()
	for i := range 20 {
		mustCreate(t, s, fmt.Sprintf("/b%d", i), "v")
	}
	expectClosed(t, ch2)
}

func testWatchCompacted(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	writeConcurrently(t, s, 2*History+10, 16)
	rev := mustRev(t, s)
	if _, err := s.Watch(ctx, "/", 1); !errors.Is(err, store.ErrCompacted) {
		t.Fatalf("Watch from compacted revision 1: %v, want ErrCompacted", err)
	}
	// The recent history is still there.
	ch, err := s.Watch(ctx, "/", rev-10)
	if err != nil {
		t.Fatal(err)
	}
	for r := rev - 9; r <= rev; r++ {
		if ev := recv(t, ch); ev.KV.ModRevision != r {
			t.Fatalf("replay after compaction: got revision %d, want %d", ev.KV.ModRevision, r)
		}
	}
}

func testConcurrentWriters(t *testing.T, s store.Store) {
	const writers, updates = 8, 200
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := s.Watch(ctx, "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	revs := make(chan int64, writers*updates)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("/w/%d", w)
			kv, err := s.Create(ctx, key, []byte("0"))
			if err != nil {
				errs <- err
				return
			}
			revs <- kv.ModRevision
			for i := 1; i < updates; i++ {
				kv, err = s.Update(ctx, key, []byte(strconv.Itoa(i)), kv.ModRevision)
				if err != nil {
					errs <- fmt.Errorf("writer %d update %d: %w", w, i, err)
					return
				}
				revs <- kv.ModRevision
			}
		}()
	}
	next := map[string]int{}
	for rev := int64(1); rev <= writers*updates; rev++ {
		ev := recv(t, ch)
		if ev.Type == store.Error || ev.KV.ModRevision != rev {
			t.Fatalf("watch: got %v @%d (%v), want revision %d", ev.Type, ev.KV.ModRevision, ev.Err, rev)
		}
		if want := strconv.Itoa(next[ev.KV.Key]); string(ev.KV.Value) != want {
			t.Fatalf("watch: %s @%d has value %q, want %q (per-key order broken)", ev.KV.Key, rev, ev.KV.Value, want)
		}
		next[ev.KV.Key]++
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	close(revs)
	seen := map[int64]bool{}
	for r := range revs {
		if seen[r] {
			t.Fatalf("revision %d returned to two writes", r)
		}
		seen[r] = true
	}
	if len(seen) != writers*updates || mustRev(t, s) != writers*updates {
		t.Fatalf("%d distinct revisions returned, store at %d; want %d", len(seen), mustRev(t, s), writers*updates)
	}
	expectQuiet(t, ch)
}

// testContendedCAS has goroutines increment one counter with
// read-modify-write and compare-and-swap: no increment may be lost.
func testContendedCAS(t *testing.T, s store.Store) {
	const workers, incs = 6, 40
	ctx := context.Background()
	mustCreate(t, s, "/counter", "0")
	var wg sync.WaitGroup
	var conflicts sync.Map
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range incs {
				for {
					kv, err := s.Get(ctx, "/counter")
					if err != nil {
						errs <- err
						return
					}
					n, _ := strconv.Atoi(string(kv.Value))
					_, err = s.Update(ctx, "/counter", []byte(strconv.Itoa(n+1)), kv.ModRevision)
					if err == nil {
						break
					}
					if !errors.Is(err, store.ErrConflict) {
						errs <- err
						return
					}
					conflicts.Store(w, true)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	kv, err := s.Get(ctx, "/counter")
	if err != nil {
		t.Fatal(err)
	}
	if string(kv.Value) != strconv.Itoa(workers*incs) || kv.ModRevision != workers*incs+1 {
		t.Fatalf("counter = %s @%d, want %d @%d", kv.Value, kv.ModRevision, workers*incs, workers*incs+1)
	}
}

func testSlowWatcher(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow, err := s.Watch(ctx, "/", 0) // never read until the writes are done
	if err != nil {
		t.Fatal(err)
	}
	n := 2*WatchBacklog + 100
	done := make(chan struct{})
	go func() {
		defer close(done)
		writeConcurrently(t, s, n, 32)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("writers blocked by a watcher that does not read")
	}
	var last int64
	for {
		ev := recv(t, slow)
		if ev.Type == store.Error {
			if !errors.Is(ev.Err, store.ErrCompacted) {
				t.Fatalf("slow watcher's Error event: %v, want it to wrap ErrCompacted", ev.Err)
			}
			break
		}
		if ev.KV.ModRevision != last+1 {
			t.Fatalf("slow watcher: revision %d after %d", ev.KV.ModRevision, last)
		}
		last = ev.KV.ModRevision
		if last >= int64(n) {
			t.Fatalf("slow watcher received all %d events and no Error event", n)
		}
	}
	expectClosed(t, slow)
}

func testClose(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, "/a", "1")
	ch, err := s.Watch(ctx, "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	ch2, err := s.Watch(ctx, "/", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, ch)
	expectClosed(t, ch2)
	if _, err := s.Get(ctx, "/a"); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Get after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Create(ctx, "/b", nil); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Create after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Watch(ctx, "/", 0); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Watch after Close: %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// writeConcurrently creates n keys /n/<i> from the given number of goroutines.
func writeConcurrently(t testing.TB, s store.Store, n, goroutines int) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	work := make(chan int)
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if _, err := s.Create(context.Background(), fmt.Sprintf("/n/%d", i), []byte("v")); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		t.Error(firstErr)
	}
}

func mustCreate(t testing.TB, s store.Store, key, val string) store.KV {
	t.Helper()
	kv, err := s.Create(context.Background(), key, []byte(val))
	if err != nil {
		t.Fatalf("Create %s: %v", key, err)
	}
	return kv
}

func mustUpdate(t testing.TB, s store.Store, key, val string, rev int64) store.KV {
	t.Helper()
	kv, err := s.Update(context.Background(), key, []byte(val), rev)
	if err != nil {
		t.Fatalf("Update %s: %v", key, err)
	}
	return kv
}

func mustRev(t testing.TB, s store.Store) int64 {
	t.Helper()
	r, err := s.Revision(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func recv(t testing.TB, ch <-chan store.Event) store.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed unexpectedly")
		}
		return ev
	case <-time.After(wait):
		t.Fatal("no watch event within", wait)
	}
	panic("unreachable")
}

func expect(t testing.TB, ev store.Event, typ store.EventType, key string, rev int64, val string) {
	t.Helper()
	if ev.Type != typ || ev.KV.Key != key || ev.KV.ModRevision != rev || string(ev.KV.Value) != val {
		t.Fatalf("event %v %s @%d %q (err %v), want %v %s @%d %q", ev.Type, ev.KV.Key, ev.KV.ModRevision, ev.KV.Value, ev.Err, typ, key, rev, val)
	}
}

// expectQuiet checks that no further event arrives within a short time.
func expectQuiet(t testing.TB, ch <-chan store.Event) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if ok {
			t.Fatalf("unexpected extra event %v %s @%d", ev.Type, ev.KV.Key, ev.KV.ModRevision)
		}
		t.Fatal("watch channel closed unexpectedly")
	case <-time.After(50 * time.Millisecond):
	}
}

func expectClosed(t testing.TB, ch <-chan store.Event) {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return
			}
			if ev.Type == store.Error {
				t.Fatalf("unexpected Error event before close: %v", ev.Err)
			}
		case <-timeout:
			t.Fatal("watch channel not closed within", wait)
		}
	}
}

func keys(kvs []store.KV) []string {
	out := make([]string, len(kvs))
	for i, kv := range kvs {
		out[i] = kv.Key
	}
	return out
}

func equalKVs(a, b []store.KV) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Value, b[i].Value) || a[i].CreateRevision != b[i].CreateRevision || a[i].ModRevision != b[i].ModRevision {
			return false
		}
	}
	return true
}
