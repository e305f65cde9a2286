package etcdwire

import (
	"context"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wasmpod/wasmpod/store/etcd/etcdtest"
)

// storeOps are the etcd calls of one store write cycle: a create (a Txn
// comparing the create revision), an update (a Txn comparing the mod
// revision, with the previous value), a list page of up to 100 keys, and
// the two watch events of the writes.
type storeOps struct {
	create func(key, value string) int64
	update func(key, value string, rev int64) int64
	list   func() int
	events func(n int)
}

func newOps(b *testing.B, c *Client, prefix string) storeOps {
	ctx := context.Background()
	end := []byte(prefix[:len(prefix)-1] + "0")
	w, err := c.Watch(ctx, &WatchCreateRequest{Key: []byte(prefix), RangeEnd: end, PrevKv: true}, true)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(w.Close)
	return storeOps{
		create: func(key, value string) int64 {
			k := []byte(key)
			r, err := c.Txn(ctx, &TxnRequest{Compare: []Compare{{Target: TargetCreate, Key: k}}, Success: []Op{{Put: &PutRequest{Key: k, Value: []byte(value)}}}})
			if err != nil || !r.Succeeded {
				b.Fatalf("create: %v", err)
			}
			return r.Header.Revision
		},
		update: func(key, value string, rev int64) int64 {
			k := []byte(key)
			r, err := c.Txn(ctx, &TxnRequest{Compare: []Compare{{Target: TargetMod, Key: k, Operand: rev}},
				Success: []Op{{Put: &PutRequest{Key: k, Value: []byte(value), PrevKv: true}}}, Failure: []Op{{Range: &RangeRequest{Key: k}}}})
			if err != nil || !r.Succeeded {
				b.Fatalf("update: %v", err)
			}
			return r.Header.Revision
		},
		list: func() int {
			r, err := c.Range(ctx, &RangeRequest{Key: []byte(prefix), RangeEnd: end, Limit: 100})
			if err != nil {
				b.Fatal(err)
			}
			return len(r.Kvs)
		},
		events: func(n int) {
			for n > 0 {
				r := <-w.C
				if r == nil || r.Err != nil {
					b.Fatalf("watch: %+v", r)
				}
				n -= len(r.Events)
			}
		},
	}
}

func newOpsV3(b *testing.B, c *clientv3.Client, prefix string) storeOps {
	ctx := context.Background()
	end := prefix[:len(prefix)-1] + "0"
	wch := c.Watch(clientv3.WithRequireLeader(ctx), prefix, clientv3.WithRange(end), clientv3.WithPrevKV())
	return storeOps{
		create: func(key, value string) int64 {
			r, err := c.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).Then(clientv3.OpPut(key, value)).Commit()
			if err != nil || !r.Succeeded {
				b.Fatalf("create: %v", err)
			}
			return r.Header.Revision
		},
		update: func(key, value string, rev int64) int64 {
			r, err := c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
				Then(clientv3.OpPut(key, value, clientv3.WithPrevKV())).Else(clientv3.OpGet(key)).Commit()
			if err != nil || !r.Succeeded {
				b.Fatalf("update: %v", err)
			}
			return r.Header.Revision
		},
		list: func() int {
			r, err := c.Get(ctx, prefix, clientv3.WithRange(end), clientv3.WithLimit(100))
			if err != nil {
				b.Fatal(err)
			}
			return len(r.Kvs)
		},
		events: func(n int) {
			for n > 0 {
				r, ok := <-wch
				if !ok || r.Err() != nil {
					b.Fatalf("watch: %v", r.Err())
				}
				n -= len(r.Events)
			}
		},
	}
}

// BenchmarkEtcdStore runs the store's write cycle (create, update, list a
// page, receive both watch events) through this client and through
// clientv3 against one embedded etcd, alternating them each iteration,
// and reports each one's time per cycle and new/old, the ratio of this
// client's to clientv3's, measured in the same run.
func BenchmarkEtcdStore(b *testing.B) {
	srv := etcdtest.Start(b, b.TempDir(), etcdtest.Options{})
	c, err := New(Config{Endpoints: srv.Endpoints()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	v3, err := clientv3.New(clientv3.Config{Endpoints: srv.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer v3.Close()
	clients := []storeOps{newOps(b, c, "/new/"), newOpsV3(b, v3, "/old/")}
	names := []string{"/new/", "/old/"}
	value := string(make([]byte, 1024))
	var spent [2]time.Duration
	b.ResetTimer()
	for i := range b.N {
		for j := range 2 {
			k := (i + j) % 2 // alternate which goes first
			ops := clients[k]
			key := fmt.Sprintf("%sk%08d", names[k], i)
			start := time.Now()
			rev := ops.create(key, value)
			ops.update(key, value, rev)
			if n := ops.list(); n == 0 {
				b.Fatal("empty list")
			}
			ops.events(2)
			spent[k] += time.Since(start)
		}
	}
	b.ReportMetric(float64(spent[0].Nanoseconds())/float64(b.N), "new-ns/cycle")
	b.ReportMetric(float64(spent[1].Nanoseconds())/float64(b.N), "clientv3-ns/cycle")
	b.ReportMetric(float64(spent[0])/float64(spent[1]), "new/old")
}
