package wasmpod

// The module store of an HA control plane, shared through etcd
// (images/shared.go, etcdModules): a module uploaded to one replica is
// read by another with an empty cache, in chunks under etcd's request
// limit; a corrupt, missing or lying record is refused, never cached;
// the shared bounds hold.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/store/etcd"
	"github.com/wasmpod/wasmpod/store/etcd/etcdtest"
)

// wasmOfSize is a WebAssembly module of n bytes: the header and one
// custom section of filler.
func wasmOfSize(n int, fill byte) []byte {
	b := []byte{0, 'a', 's', 'm', 1, 0, 0, 0, 0}
	var lenBuf [binary.MaxVarintLen64]byte
	// section size = 1 (name length) + 1 (name) + payload; pick the
	// payload so the whole is n bytes.
	for payload := n - 9 - 2; payload > 0; payload-- {
		size := binary.PutUvarint(lenBuf[:], uint64(payload+2))
		if 9+size+2+payload == n {
			b = append(b, lenBuf[:size]...)
			b = append(b, 1, 'x')
			return append(b, bytes.Repeat([]byte{fill}, payload)...)
		}
	}
	panic("no such size")
}

func TestSharedModuleStore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
	replica := func(maxBytes int64, maxModules int) (*images.Store, *etcd.Store) {
		st, err := openEtcdStore(ctx, EtcdConfig{Servers: srv.Endpoints()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		ms, err := images.OpenStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		ms.SetShared(sharedModules(st), maxBytes, maxModules)
		return ms, st.(*etcd.Store)
	}
	a, es := replica(0, 0)
	b, _ := replica(0, 0)

	// 3.5 MiB: four chunks, each under etcd's 1.5 MiB request bound
	// (one put of the whole is refused by etcd).
	mod := wasmOfSize(3<<20+512<<10, 7)
	d, size, err := a.Put(ctx, "", bytes.NewReader(mod))
	if err != nil {
		t.Fatalf("put to replica a: %v", err)
	}
	if err := a.Tag("big", "v1", d); err != nil {
		t.Fatal(err)
	}
	if n, ok := b.Published(d); !ok || n != size {
		t.Fatalf("replica b: published %d %v, want %d", n, ok, size)
	}
	if got, err := b.Lookup("big", "v1"); got != d || err != nil {
		t.Fatalf("replica b: big:v1 is %q %v, want %s", got, err, d)
	}
	if tags := b.Tags(); len(tags) != 1 || tags[0] != [2]string{"big:v1", d} {
		t.Fatalf("replica b: tags %v", tags)
	}
	got, err := b.Get(d)
	if err != nil || !bytes.Equal(got, mod) {
		t.Fatalf("replica b: get %s: %d bytes, %v", d, len(got), err)
	}
	if _, ok := b.Has(d); !ok {
		t.Fatal("replica b did not keep the module it read")
	}
	if _, err := b.Lookup("big", "v2"); !errors.Is(err, images.ErrUnknown) {
		t.Fatalf("an unknown tag: %v", err)
	}

	// Hostile records, each read by a replica with an empty cache: the
	// read fails naming what is wrong and nothing is kept.
	hex := strings.TrimPrefix(d, "sha256:")
	chunk := func(i int) string { return fmt.Sprintf("modules/chunks/%s/%d", hex, i) }
	orig, _, err := es.MetaGet(ctx, chunk(2))
	if err != nil || len(orig) != images.SharedChunkSize {
		t.Fatalf("chunk 2: %d bytes, %v", len(orig), err)
	}
	flipped := bytes.Clone(orig)
	flipped[100] ^= 1
	rec, _, _ := es.MetaGet(ctx, "modules/blobs/"+hex)
	for _, tc := range []struct {
		name, key string
		value     []byte
		want      string
	}{
		{"a flipped byte", chunk(2), flipped, "digest"},
		{"a short chunk", chunk(2), orig[:1000], "is missing or 1000 bytes"},
		{"a long last chunk", chunk(3), append(bytes.Clone(orig), 1), "bytes, not"},
		{"a size over the bound", "modules/blobs/" + hex, []byte(`{"size":1099511627776,"chunks":1048576}`), "not a module this store takes"},
		{"a chunk count not the size's", "modules/blobs/" + hex, []byte(`{"size":3670016,"chunks":1}`), "not a module this store takes"},
		{"a record not JSON", "modules/blobs/" + hex, []byte(`{"size":`), "shared record"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keep, _, _ := es.MetaGet(ctx, tc.key)
			if err := es.MetaPut(ctx, tc.key, tc.value); err != nil {
				t.Fatal(err)
			}
			defer es.MetaPut(ctx, tc.key, keep)
			c, _ := replica(0, 0)
			if b, err := c.Get(d); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("get: %d bytes, %v; want an error with %q", len(b), err, tc.want)
			}
			if c.Usage() != 0 {
				t.Fatalf("the refused module was kept (%d bytes)", c.Usage())
			}
		})
	}
	if rec2, _, _ := es.MetaGet(ctx, "modules/blobs/"+hex); !bytes.Equal(rec, rec2) {
		t.Fatalf("the record was not restored: %s", rec2)
	}
	// Intact again: a fresh replica reads it.
	if c, _ := replica(0, 0); true {
		if got, err := c.Get(d); err != nil || !bytes.Equal(got, mod) {
			t.Fatalf("fresh replica: %d bytes, %v", len(got), err)
		}
	}

	// The shared bounds: 4 MiB and 3 modules in all, counted across
	// replicas (the 3.5 MiB module counts).
	small, _ := replica(4<<20, 3)
	if _, _, err := small.Put(ctx, "", bytes.NewReader(wasmOfSize(1<<20, 1))); !errors.Is(err, images.ErrStoreFull) {
		t.Fatalf("a 1 MiB module past the 4 MiB bound: %v", err)
	}
	for i := byte(0); i < 2; i++ {
		if _, _, err := small.Put(ctx, "", bytes.NewReader(wasmOfSize(100<<10, 10+i))); err != nil {
			t.Fatalf("module %d under the bounds: %v", i, err)
		}
	}
	if _, _, err := small.Put(ctx, "", bytes.NewReader(wasmOfSize(1000, 20))); !errors.Is(err, images.ErrStoreFull) || !strings.Contains(err.Error(), "3 modules") {
		t.Fatalf("a fourth module: %v", err)
	}
	// The same bytes again are no new module.
	if _, _, err := small.Put(ctx, "", bytes.NewReader(wasmOfSize(100<<10, 10))); err != nil {
		t.Fatalf("an uploaded module again: %v", err)
	}
}

// BenchmarkSharedModulePut: putting a 4 MiB module to a replica's store
// shared through etcd (written to the replica's disk, then to etcd in
// 1 MiB chunks), and reading it on another replica with an empty cache,
// each as a ratio to a store on disk alone in the same run.
func BenchmarkSharedModulePut(b *testing.B) {
	ctx := context.Background()
	srv := etcdtest.Start(b, b.TempDir(), etcdtest.Options{})
	st, err := openEtcdStore(ctx, EtcdConfig{Servers: srv.Endpoints()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	open := func(shared bool) *images.Store {
		ms, err := images.OpenStore(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		if shared {
			ms.SetShared(sharedModules(st), 0, 0)
		}
		return ms
	}
	local, shared := open(false), open(true)
	var tLocal, tShared, tRead time.Duration
	for i := 0; i < b.N; i++ {
		mod := wasmOfSize(4<<20, byte(i))
		t0 := time.Now()
		if _, _, err := local.Put(ctx, "", bytes.NewReader(mod)); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		d, _, err := shared.Put(ctx, "", bytes.NewReader(mod))
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if _, err := open(true).Get(d); err != nil {
			b.Fatal(err)
		}
		tLocal, tShared, tRead = tLocal+t1.Sub(t0), tShared+t2.Sub(t1), tRead+time.Since(t2)
	}
	b.ReportMetric(float64(tShared)/float64(tLocal), "shared/local-put")
	b.ReportMetric(float64(tRead)/float64(tLocal), "shared-read/local-put")
	b.ReportMetric(float64(tShared)/float64(b.N)/1e6, "ms/shared-put")
}
