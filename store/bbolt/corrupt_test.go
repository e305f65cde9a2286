package bbolt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/store"
	"github.com/wasmpod/wasmpod/store/bbolt"
)

// populate writes n keys with values of a few hundred bytes (so the file
// spans many pages, branch pages included) and closes the store.
func populate(t testing.TB, path string, n int) map[string]string {
	t.Helper()
	s, err := bbolt.Open(path, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[string]string{}
	for i := range n {
		want[fmt.Sprintf("/pods/default/pod-%05d", i)] = fmt.Sprintf("{\"i\":%d,\"pad\":%q}", i, strings.Repeat("x", 200+i%300))
	}
	// Concurrent writers share commits (group commit), as a server's do.
	var wg sync.WaitGroup
	errs := make(chan error, n)
	keys := make(chan string, n)
	for k := range want {
		keys <- k
	}
	close(keys)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range keys {
				if _, err := s.Create(context.Background(), k, []byte(want[k])); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return want
}

// openWithin opens path and fails the test if Open takes more than 10 s
// (a hang) instead of answering.
func openWithin(t testing.TB, path string, opts bbolt.Options) (*bbolt.Store, error) {
	t.Helper()
	type res struct {
		s   *bbolt.Store
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := bbolt.Open(path, opts)
		ch <- res{s, err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("Open(%s) hung", path)
		return nil, nil
	}
}

func contents(t testing.TB, s *bbolt.Store) map[string]string {
	t.Helper()
	kvs, _, err := s.List(context.Background(), "/")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range kvs {
		got[kv.Key] = string(kv.Value)
	}
	return got
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// wantCorrupt checks err reports path as corrupt with the way to restore
// it, and that the file was left as it was.
func wantCorrupt(t *testing.T, err error, path string, before []byte) {
	t.Helper()
	if err == nil {
		t.Fatalf("Open of a corrupt %s succeeded", path)
	}
	// A lost meta page takes bbolt back one transaction, which the marker
	// catches (ErrReset); anything else is ErrCorrupt.
	if !errors.Is(err, store.ErrCorrupt) && !errors.Is(err, bbolt.ErrReset) {
		t.Fatalf("error %q wraps neither store.ErrCorrupt nor bbolt.ErrReset", err)
	}
	for _, w := range []string{path, "wasmpod backup", "wasmpod restore"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	after, rerr := os.ReadFile(path)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if !bytes.Equal(before, after) {
		t.Fatalf("Open modified the corrupt file %s", path)
	}
}

func TestOpenTruncatedHalf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	populate(t, path, 400)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{len(b) / 2, len(b) / 3, 5000} {
		if err := os.WriteFile(path, b[:size], 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := openWithin(t, path, testOpts)
		wantCorrupt(t, err, path, b[:size])
		if !errors.Is(err, store.ErrCorrupt) || size >= 8192 && !strings.Contains(err.Error(), "truncated") {
			t.Errorf("size %d: error %q does not say the file is truncated", size, err)
		}
	}
}

// TestOpenOverwrittenPages overwrites one page at a time with random bytes:
// Open must refuse the file, or (a free page) open it with every key intact.
func TestOpenOverwrittenPages(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	want := populate(t, path, 400)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const ps = 4096
	rng := rand.New(rand.NewPCG(1, 2))
	refused := 0
	for pg := 0; pg < len(orig)/ps; pg++ {
		b := bytes.Clone(orig)
		for i := pg * ps; i < (pg+1)*ps; i++ {
			b[i] = byte(rng.Uint32())
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := openWithin(t, path, testOpts)
		if err != nil {
			wantCorrupt(t, err, path, b)
			refused++
			continue
		}
		if got := contents(t, s); !sameMap(got, want) {
			t.Errorf("page %d overwritten: Open succeeded with %d keys, want the %d written", pg, len(got), len(want))
		}
		s.Close()
	}
	if refused < len(orig)/ps/2 {
		t.Fatalf("only %d of %d overwritten pages were refused", refused, len(orig)/ps)
	}
}

func TestOpenNotAStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	b := bytes.Repeat([]byte("not a bolt file "), 1024)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := openWithin(t, path, testOpts)
	wantCorrupt(t, err, path, b)
}

// TestOpenEmptiedStoreRefused: the marker remembers that the store held
// data, so a lost, emptied or rolled-back file is refused, unless allowed.
func TestOpenEmptiedStoreRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	populate(t, path, 50)
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bbolt.MarkerPath(path)); err != nil {
		t.Fatalf("no marker after writes: %v", err)
	}
	// An older copy of the store: taken, then more writes happen.
	older := filepath.Join(dir, "older.db")
	if err := os.WriteFile(older, full, 0o600); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, dir)
	if _, err := s.Create(context.Background(), "/later", []byte("v")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	fresh := filepath.Join(dir, "fresh.db")
	f, err := bbolt.Open(fresh, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	freshBytes, _ := os.ReadFile(fresh)

	for name, content := range map[string][]byte{"missing": nil, "empty (0 bytes)": {}, "freshly initialised": freshBytes, "older": full} {
		os.Remove(path)
		if content != nil {
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		_, err := openWithin(t, path, testOpts)
		if !errors.Is(err, bbolt.ErrReset) {
			t.Fatalf("%s store: Open error %v, want ErrReset", name, err)
		}
		for _, w := range []string{path, bbolt.MarkerPath(path), "revision 51", "wasmpod restore", "--allow-store-reset"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s store: error %q lacks %q", name, err, w)
			}
		}
		if st, err := os.Stat(path); content != nil && (err != nil || st.Size() != int64(len(content))) {
			t.Fatalf("%s store: Open changed the file", name)
		}
	}
	// Starting over, explicitly.
	os.Remove(path)
	opts := testOpts
	opts.AllowReset = true
	s, err = bbolt.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openAt(t, dir) // the marker now says revision 0
	defer s.Close()
	if rev, _ := s.Revision(context.Background()); rev != 0 {
		t.Fatalf("revision %d after a reset", rev)
	}
}

// TestMarkerNotPerWrite: the marker is written when the store first holds
// data, then at most once per MarkerInterval, not on every write.
func TestMarkerNotPerWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	opts := testOpts
	opts.MarkerInterval = time.Hour
	s, err := bbolt.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bbolt.MarkerPath(path)); err == nil {
		t.Fatal("marker written for an empty store")
	}
	ctx := context.Background()
	if _, err := s.Create(ctx, "/a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	st1, err := os.Stat(bbolt.MarkerPath(path))
	if err != nil {
		t.Fatalf("no marker after the first write: %v", err)
	}
	m1, _ := os.ReadFile(bbolt.MarkerPath(path))
	for i := range 20 {
		if _, err := s.Create(ctx, fmt.Sprintf("/b%d", i), []byte("1")); err != nil {
			t.Fatal(err)
		}
	}
	m2, _ := os.ReadFile(bbolt.MarkerPath(path))
	if !bytes.Equal(m1, m2) {
		t.Fatalf("marker rewritten by later writes: %s then %s", m1, m2)
	}
	s.Close()
	m3, _ := os.ReadFile(bbolt.MarkerPath(path))
	if !strings.Contains(string(m3), `"revision":21`) {
		t.Fatalf("marker after Close = %s, want revision 21", m3)
	}
	if st1.Mode().Perm()&0o077 != 0 {
		t.Errorf("marker mode %v is group/world accessible", st1.Mode())
	}
}

func TestSnapshotAndRestore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	want := populate(t, path, 300)
	s := openAt(t, dir)
	// Snapshot while writers keep going: the copy is one consistent revision.
	ctx := context.Background()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			s.Create(ctx, fmt.Sprintf("/during/%d", i), []byte("v"))
		}
	}()
	backup := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(backup)
	if err != nil {
		t.Fatal(err)
	}
	var size, rev int64
	if err := s.Snapshot(ctx, f, func(sz, r int64) { size, rev = sz, r }); err != nil {
		t.Fatal(err)
	}
	f.Close()
	close(stop)
	<-done
	if st, _ := os.Stat(backup); st.Size() != size {
		t.Fatalf("snapshot announced %d bytes, wrote %d", size, st.Size())
	}
	// Restoring into the live store is refused.
	if _, _, err := bbolt.Restore(backup, path, 200*time.Millisecond, nil); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("Restore into a store in use: %v, want a locked error", err)
	}
	s.Close()

	var last int64
	got, aside, err := bbolt.Restore(backup, path, 0, func(done, total int64) { last = done })
	if err != nil {
		t.Fatal(err)
	}
	if got != rev || last != size {
		t.Fatalf("Restore: revision %d, copied %d; want %d, %d", got, last, rev, size)
	}
	if _, err := os.Stat(aside); err != nil {
		t.Fatalf("the replaced store was not kept aside: %v", err)
	}
	// Later writes are gone (that is what a restore means), yet the older
	// store opens: the marker follows the restore.
	r := openAt(t, dir)
	defer r.Close()
	if n, _ := r.Revision(ctx); n != rev {
		t.Fatalf("restored store at revision %d, want %d", n, rev)
	}
	all := contents(t, r)
	for k, v := range want {
		if all[k] != v {
			t.Fatalf("key %s lost in the restore", k)
		}
	}

	// A corrupt backup is refused before anything is touched.
	b, _ := os.ReadFile(backup)
	if err := os.WriteFile(backup, b[:len(b)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "x.db")
	if _, _, err := bbolt.Restore(backup, other, 0, nil); !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), backup) {
		t.Fatalf("Restore of a truncated backup: %v", err)
	}
	if _, err := os.Stat(other); err == nil {
		t.Fatal("Restore of a corrupt backup created the store")
	}
}

// TestSnapshotFile: the offline backup of a store no server holds is a
// checked copy; one held by a server is refused as locked.
func TestSnapshotFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	want := populate(t, path, 100)
	var buf bytes.Buffer
	var rev int64
	if err := bbolt.SnapshotFile(path, &buf, 0, func(_, r int64) { rev = r }); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(t.TempDir(), "snap.db")
	if err := os.WriteFile(snap, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := bbolt.Open(snap, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if got := contents(t, s); !sameMap(got, want) || rev != 100 {
		t.Fatalf("offline snapshot: %d keys at revision %d, want %d at 100", len(got), rev, len(want))
	}
	s.Close()
	live := openAt(t, dir)
	defer live.Close()
	if err := bbolt.SnapshotFile(path, io.Discard, 200*time.Millisecond, nil); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("offline snapshot of a store in use: %v, want locked", err)
	}
}

// BenchmarkOpen measures Open of a store of 20,000 keys (16 MiB) and the
// read-only check it starts with (Check), against two baselines measured in
// the same run: bbolt's own consistency check (Tx.Check) of the same file,
// and opening it with bbolt alone (no check, no write). Open also commits
// one transaction and may write the marker, each with an fsync, which the
// x-unchecked ratio includes.
func BenchmarkOpen(b *testing.B) {
	path := filepath.Join(b.TempDir(), "state.db")
	populate(b, path, 20_000)
	b.ResetTimer()
	st, _ := os.Stat(path)
	b.ReportMetric(float64(st.Size())/(1<<20), "MiB")
	timeIt := func(f func()) time.Duration {
		start := time.Now()
		f()
		return time.Since(start)
	}
	var open, check, raw, bcheck time.Duration
	for range b.N {
		open += timeIt(func() {
			s, err := bbolt.Open(path, testOpts)
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		})
		check += timeIt(func() {
			if _, err := bbolt.Check(path, 0); err != nil {
				b.Fatal(err)
			}
		})
		raw += timeIt(func() { rawOpen(b, path, false) })
		bcheck += timeIt(func() { rawOpen(b, path, true) })
	}
	b.ReportMetric(float64(check.Microseconds())/1000/float64(b.N), "check-ms")
	b.ReportMetric(float64(check)/float64(bcheck), "check-x-bbolt-check")
	b.ReportMetric(float64(open.Microseconds())/1000/float64(b.N), "open-ms")
	b.ReportMetric(float64(open)/float64(raw), "open-x-unchecked")
}
