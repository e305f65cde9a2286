package images

// store_hostile_test.go: the module store under attack — concurrent tag
// writes and uploads, lying and failing readers, a crash mid-upload, a
// corrupt blob on disk, paths that try to leave the store, and uploads
// that would fill the disk or memory.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func hostileModule(fill byte, n int) []byte {
	return append([]byte{0, 'a', 's', 'm', 1, 0, 0, 0}, bytes.Repeat([]byte{fill}, n)...)
}

// TestStoreHostileConcurrentTags: 8 writers move 4 tags 50 times each
// while readers look them up; every lookup sees a stored digest, and
// tags.json, reopened, is the last state and valid JSON.
func TestStoreHostileConcurrentTags(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	var digests []string
	for i := 0; i < 4; i++ {
		d, _, err := s.Put(context.Background(), "", bytes.NewReader(hostileModule(byte(i), 10)))
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d)
	}
	valid := map[string]bool{}
	for _, d := range digests {
		valid[d] = true
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := s.Tag("app", fmt.Sprintf("t%d", i%4), digests[(w+i)%4]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if d, err := s.Lookup("app", fmt.Sprintf("t%d", i%4)); err == nil && !valid[d] {
					t.Errorf("lookup saw %q", d)
				}
			}
		}()
	}
	wg.Wait()
	want := s.Tags()
	s2, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.Tags(); fmt.Sprint(got) != fmt.Sprint(want) || len(got) != 4 {
		t.Errorf("reopened tags %v, want %v", got, want)
	}
	if m := tagsJSON(t, dir); len(m) != 4 {
		t.Errorf("tags.json: %v", m)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Errorf("temporary files left: %d", len(ents))
	}
}

// failingReader returns its bytes, then an error.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

// TestStoreHostileConcurrentPuts: 16 concurrent uploads of one module,
// with liars, truncated and failing bodies among them: the honest ones
// succeed, the blob verifies, nothing else is visible, the total counts
// it once.
func TestStoreHostileConcurrentPuts(t *testing.T) {
	for _, mem := range []bool{false, true} {
		t.Run(fmt.Sprintf("memory=%v", mem), func(t *testing.T) {
			s := NewMemoryStore()
			dir := ""
			if !mem {
				dir = t.TempDir()
				var err error
				if s, err = OpenStore(dir); err != nil {
					t.Fatal(err)
				}
			}
			mod := hostileModule(7, 300<<10)
			digest := Digest(mod)
			var wg sync.WaitGroup
			for i := 0; i < 16; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var r io.Reader = bytes.NewReader(mod)
					switch i % 4 {
					case 1: // a lie: other bytes under this digest
						r = bytes.NewReader(hostileModule(8, 300<<10))
					case 2: // cut short
						r = bytes.NewReader(mod[:len(mod)/2])
					case 3: // the connection fails at the end
						r = &failingReader{bytes.NewReader(mod), errors.New("connection reset")}
					}
					_, _, err := s.Put(context.Background(), digest, r)
					if (err == nil) != (i%4 == 0) {
						t.Errorf("put %d: %v", i, err)
					}
				}()
			}
			wg.Wait()
			b, err := s.Get(digest)
			if err != nil || !bytes.Equal(b, mod) {
				t.Fatalf("Get: %v", err)
			}
			if u := s.Usage(); u != int64(len(mod)) {
				t.Errorf("usage %d, want %d", u, len(mod))
			}
			if s.pending != 0 {
				t.Errorf("pending %d after the uploads", s.pending)
			}
			if !mem {
				if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
					t.Errorf("temporary files left: %d", len(ents))
				}
				if ents, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256")); len(ents) != 1 {
					t.Errorf("blobs: %d", len(ents))
				}
			}
		})
	}
}

// TestStoreHostileCrashAndCorruption: what a crash leaves (half uploads,
// a half-written tags.json in tmp/) is cleaned at open; a blob corrupted
// on disk is never returned and is dropped, so that the module can be
// uploaded again (before, Has kept saying it was there and an upload was
// answered "already stored", forever).
func TestStoreHostileCrashAndCorruption(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	mod := hostileModule(3, 1000)
	digest, _, err := s.Put(context.Background(), "", bytes.NewReader(mod))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tag("app", "v1", digest); err != nil {
		t.Fatal(err)
	}
	// The crash: an upload and a tags.json replacement half written.
	os.WriteFile(filepath.Join(dir, "tmp", "upload-123"), mod[:500], 0o600)
	os.WriteFile(filepath.Join(dir, "tmp", "tags-456"), []byte(`{"app:v1": "sha256:00`), 0o600)
	// A disk that flipped a byte of the blob.
	bad := append([]byte(nil), mod...)
	bad[900] ^= 0xff
	if err := os.WriteFile(s.blobPath(digest), bad, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Errorf("tmp/ after open: %d entries", len(ents))
	}
	if d, err := s.Lookup("app", "v1"); err != nil || d != digest {
		t.Errorf("tag after the crash: %q %v", d, err)
	}
	res := &Resolver{Store: s}
	if _, err := res.Resolve(context.Background(), "wasmpod.local/app:v1", ""); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("resolving a corrupt blob: %v", err)
	}
	if _, ok := s.Has(digest); ok {
		t.Errorf("a corrupt blob is still reported as stored (uploads of it would be skipped)")
	}
	if u := s.Usage(); u != 0 {
		t.Errorf("usage after dropping the corrupt blob: %d", u)
	}
	if _, _, err := s.Put(context.Background(), digest, bytes.NewReader(mod)); err != nil {
		t.Fatal(err)
	}
	if img, err := res.Resolve(context.Background(), "wasmpod.local/app:v1", ""); err != nil || !bytes.Equal(img.Bytes, mod) {
		t.Errorf("after the upload again: %v", err)
	}
	// A blob whose header was destroyed is dropped too.
	copy(bad, "#!/bin/s")
	os.WriteFile(s.blobPath(digest), bad, 0o600)
	if _, err := s.Get(digest); err == nil {
		t.Error("a blob with a destroyed header was returned")
	}
	if _, ok := s.Has(digest); ok {
		t.Error("a blob with a destroyed header is still stored")
	}
}

// TestStoreHostileNames: names, tags and digests that try to leave the
// store are refused before any file is touched; a tags.json naming a
// path is refused by Lookup's callers (ParseStoreRef) and never opened.
func TestStoreHostileNames(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	mod := hostileModule(1, 10)
	digest, _, err := s.Put(context.Background(), "", bytes.NewReader(mod))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"sha256:../../tags.json", "sha256:" + strings.Repeat("0", 63) + "/", "sha256:" + strings.ToUpper(digest[7:]), digest + "\x00", "../" + digest} {
		if _, _, err := s.Put(context.Background(), d, bytes.NewReader(mod)); err == nil {
			t.Errorf("Put(%q) accepted", d)
		}
		if _, ok := s.Has(d); ok {
			t.Errorf("Has(%q)", d)
		}
		if _, err := s.Get(d); err == nil {
			t.Errorf("Get(%q)", d)
		}
		if err := s.Tag("app", "v1", d); err == nil {
			t.Errorf("Tag to %q", d)
		}
	}
	for _, nt := range [][2]string{{"../app", "v1"}, {"app/..", "v1"}, {"app", "../v1"}, {"app", "v1/.."}, {"App", "v1"}, {"app", ""}, {"", "v1"}, {"app\x00", "v1"}, {"a\u0430p", "v1"}} {
		if err := s.Tag(nt[0], nt[1], digest); err == nil {
			t.Errorf("Tag(%q, %q) accepted", nt[0], nt[1])
		}
	}
	if len(s.Tags()) != 0 {
		t.Errorf("tags: %v", s.Tags())
	}
	// A symlink planted in the blobs directory is not a blob.
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, mod, 0o600)
	link := "sha256:" + strings.Repeat("ab", 32)
	if err := os.Symlink(secret, s.blobPath(link)); err == nil {
		if b, err := s.Get(link); err == nil {
			t.Errorf("Get through a planted symlink returned %d bytes", len(b))
		}
	}
}

// TestStoreHostileTotalBound: uploads that would take the store past its
// total bound are ErrStoreFull while they stream (the bytes in flight
// count), nothing is left of them, and an upload fits again once the
// bound allows; a reopened store counts what is on disk.
func TestStoreHostileTotalBound(t *testing.T) {
	for _, mem := range []bool{false, true} {
		t.Run(fmt.Sprintf("memory=%v", mem), func(t *testing.T) {
			s := NewMemoryStore()
			dir := ""
			if !mem {
				dir = t.TempDir()
				var err error
				if s, err = OpenStore(dir); err != nil {
					t.Fatal(err)
				}
			}
			if mem && s.MaxTotal() != DefaultMaxMemoryStoreBytes || !mem && s.MaxTotal() != DefaultMaxStoreBytes {
				t.Fatalf("default total bound %d", s.MaxTotal())
			}
			s.SetMaxTotal(1 << 20)
			var stored int64
			for i := 0; ; i++ {
				mod := hostileModule(byte(i), 300<<10)
				_, n, err := s.Put(context.Background(), "", bytes.NewReader(mod))
				if errors.Is(err, ErrStoreFull) {
					if i != 3 || !strings.Contains(err.Error(), "of at most 1048576") {
						t.Errorf("full after %d modules: %v", i, err)
					}
					break
				}
				if err != nil || i > 3 {
					t.Fatalf("put %d: %v", i, err)
				}
				stored += n
			}
			if s.Usage() != stored || s.pending != 0 {
				t.Errorf("usage %d pending %d, want %d 0", s.Usage(), s.pending, stored)
			}
			// Two uploads at once that each fit but not together: one fails.
			s.SetMaxTotal(stored + 400<<10)
			pr1, pw1 := io.Pipe()
			pr2, pw2 := io.Pipe()
			var errs [2]error
			var done [2]chan struct{}
			for i, pr := range []*io.PipeReader{pr1, pr2} {
				done[i] = make(chan struct{})
				go func() {
					defer close(done[i])
					_, _, errs[i] = s.Put(context.Background(), "", pr)
					pr.CloseWithError(io.ErrClosedPipe) // the writer goes on
				}()
			}
			a, b := hostileModule(50, 300<<10), hostileModule(51, 300<<10)
			go func() {
				pw1.Write(a[:200<<10])
				pw2.Write(b[:200<<10])
				pw1.Write(a[200<<10:])
				pw1.Close()
				// The first upload has ended (a write into a consumed pipe
				// returns before Put has given back its reservation): only
				// then the rest of the second, so the outcome does not hang
				// on which goroutine runs first.
				<-done[0]
				pw2.Write(b[200<<10:])
				pw2.Close()
			}()
			<-done[0]
			<-done[1]
			e1, e2 := errs[0], errs[1]
			if (e1 == nil) == (e2 == nil) || !errors.Is(errors.Join(e1, e2), ErrStoreFull) {
				t.Errorf("two uploads over the bound together: %v, %v", e1, e2)
			}
			if s.pending != 0 {
				t.Errorf("pending %d", s.pending)
			}
			if !mem {
				if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
					t.Errorf("temporary files left: %d", len(ents))
				}
				s2, err := OpenStore(dir)
				if err != nil {
					t.Fatal(err)
				}
				if s2.Usage() != s.Usage() {
					t.Errorf("reopened usage %d, want %d", s2.Usage(), s.Usage())
				}
			}
		})
	}
}

// tagsJSON reads tags.json (for debugging failures).
func tagsJSON(t *testing.T, dir string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "tags.json"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
