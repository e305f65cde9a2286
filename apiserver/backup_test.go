package apiserver

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wasmpod/wasmpod/store"
	"github.com/wasmpod/wasmpod/store/bbolt"
	"github.com/wasmpod/wasmpod/store/memory"
)

// TestBackupEndpoint: GET BackupPath streams a checked snapshot of a bbolt
// store, behind the token; a memory store answers 501.
func TestBackupEndpoint(t *testing.T) {
	ctx := context.Background()
	st, err := bbolt.Open(filepath.Join(t.TempDir(), "wasmpod.db"), bbolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := New(ctx, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, res(t, s, "", "pods"), "default", testPod("kept")); err != nil {
		t.Fatal(err)
	}
	const token = "backup-test-token-0123456789abcdef"
	srv := httptest.NewServer(s.Handler(HandlerOptions{Token: token}))
	defer srv.Close()
	get := func(auth string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+BackupPath, nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := get(""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("backup without the token: %s", resp.Status)
	}
	if resp := get("wrong-token-wrong-token-wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("backup with a wrong token: %s", resp.Status)
	}
	resp := get(token)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("backup: %s", resp.Status)
	}
	path := filepath.Join(t.TempDir(), "snap.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(f, resp.Body)
	f.Close()
	if err != nil || n != resp.ContentLength {
		t.Fatalf("copied %d of %d bytes: %v", n, resp.ContentLength, err)
	}
	rev, err := bbolt.Check(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := st.Revision(ctx); rev != want || resp.Header.Get(BackupRevisionHeader) != strconv.FormatInt(want, 10) {
		t.Fatalf("snapshot at revision %d (header %s), store at %d", rev, resp.Header.Get(BackupRevisionHeader), want)
	}
	snap, err := bbolt.Open(path, bbolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if _, err := snap.Get(ctx, res(t, s, "", "pods").key("default", "kept")); err != nil {
		kvs, _, _ := snap.List(ctx, "/")
		t.Fatalf("pod not in the snapshot (%d keys): %v", len(kvs), err)
	}

	// A POST, even with the token, is refused; a memory store cannot be
	// backed up.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+BackupPath, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	post, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST %s with the token: %s, want 405", BackupPath, post.Status)
	}
	m, _ := newServer(t)
	msrv := httptest.NewServer(m.Handler(HandlerOptions{}))
	defer msrv.Close()
	if resp, err := http.Get(msrv.URL + BackupPath); err != nil || resp.StatusCode != http.StatusNotImplemented {
		t.Fatalf("backup of a memory store: %v %v, want 501", resp.Status, err)
	}
}

// refusingStore is a store that is no Snapshotter and says why.
type refusingStore struct{ store.Store }

func (refusingStore) SnapshotRefusal() string { return "back it up with etcdctl snapshot save" }

// TestBackupRefusalMessage: a store that cannot snapshot through the API
// but says how it is backed up (the etcd store) gets its message in the
// 501, not the memory store's "not persistent".
func TestBackupRefusalMessage(t *testing.T) {
	ctx := context.Background()
	s, err := New(ctx, refusingStore{memory.New()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler(HandlerOptions{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + BackupPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNotImplemented || !strings.Contains(string(b), "etcdctl snapshot save") || strings.Contains(string(b), "not persistent") {
		t.Fatalf("backup: %s %s", resp.Status, b)
	}
}
