package apiserver

// watchcache.go: a watch event is decoded and serialized once, whoever
// watches it (upstream's watch cache does the same with its cachingObject).
//
// Every watcher has its own store watch, so without sharing each store event
// was decoded from JSON once per watcher (the node agents' field-selected
// watches decode every pod event to test spec.nodeName) and its object
// encoded again once per HTTP watcher: with ~15 pod watchers that was ~30%
// of the control plane's CPU while a ReplicaSet scaled to 1,000 pods
// (BenchmarkReplicaSetScale). Now the first watcher to reach a store event
// decodes it into a sharedEvent, which the others find by revision; the
// HTTP watch encoders (serveWatch, serveWatchProtobuf) cache the event's
// JSON and protobuf bytes in it.
//
// Shared objects are read-only: Server.Watch hands its callers deep copies;
// only the HTTP encoders, which read, see the shared object (watchShared).
// The cache is bounded by count and by bytes (a few large ConfigMaps must
// not pin much memory); an event that is not, or no longer, cached is
// decoded by the watcher that needs it, as before.

import (
	"encoding/json"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/wasmpod/wasmpod/store"
)

const (
	// watchCacheEntries bounds the events kept decoded; watchers lagging
	// further behind decode for themselves. On etcd every watcher has its
	// own etcd watch, so 500 node agents' watches drift apart by seconds:
	// with 512 entries and 4 MiB most of them missed and decoded each pod
	// event for themselves (57% of the control plane's CPU in
	// BenchmarkHollowNodes on etcd, 500 nodes; 4,096 and 32 MiB: 0.32x
	// the CPU a pod, +45 MB RSS).
	watchCacheEntries = 4096
	// watchCacheBytes bounds the stored bytes of the events kept (the
	// decoded object and its encodings are a small multiple of it).
	watchCacheBytes = 32 << 20
)

// sharedEvent is one store event's object, decoded once, with its wire
// encodings made on first use. It is a runtime.Object only so that it can
// travel in a watch.Event between Server.watch and the HTTP encoders;
// anything else must unwrap it (object()).
type sharedEvent struct {
	r    *Resource
	key  string
	rev  int64
	size int

	// s and kv: the value decoded on first use (decode), then dropped.
	s  *Server
	kv store.KV

	once  sync.Once
	obj   runtime.Object
	err   error
	ready atomic.Bool // obj decoded without error

	jsonOnce sync.Once
	json     []byte
	jsonErr  error

	pbOnce sync.Once
	pb     []byte
	pbErr  error

	// The object's field set, made once for every field-selected watcher
	// (each node agent's spec.nodeName watch tests every pod event: with
	// 500 hollow nodes, building it per watcher was ~18% of the control
	// plane's CPU in BenchmarkHollowNodes).
	fieldsOnce sync.Once
	fields     fields.Set
}

// decode decodes the object once for everyone; false if it failed (err).
func (e *sharedEvent) decode() bool {
	e.once.Do(func() {
		e.s.watchEvents.decodes.Add(1)
		e.obj, e.err = e.s.decodeKV(e.r, e.kv)
		e.kv.Value = nil
		e.ready.Store(e.err == nil)
	})
	return e.err == nil
}

// decodedShared is a sharedEvent of an object already decoded.
func decodedShared(r *Resource, key string, rev int64, obj runtime.Object) *sharedEvent {
	e := &sharedEvent{r: r, key: key, rev: rev, obj: obj}
	e.once.Do(func() {})
	e.ready.Store(true)
	return e
}

// fieldSet is objectFields of the decoded object, made once; read-only.
func (e *sharedEvent) fieldSet() fields.Set {
	e.fieldsOnce.Do(func() { e.fields = objectFields(e.r, e.obj) })
	return e.fields
}

func (e *sharedEvent) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// DeepCopyObject returns a private copy of the decoded object.
func (e *sharedEvent) DeepCopyObject() runtime.Object { return e.obj.DeepCopyObject() }

// encodedJSON is json.Marshal of the object, made once.
func (e *sharedEvent) encodedJSON() ([]byte, error) {
	e.jsonOnce.Do(func() {
		e.json, e.jsonErr = json.Marshal(e.obj)
	})
	return e.json, e.jsonErr
}

// encodedProtobuf is encodeProtobuf of the object, made once.
func (e *sharedEvent) encodedProtobuf() ([]byte, error) {
	e.pbOnce.Do(func() { e.pb, e.pbErr = encodeProtobuf(e.obj) })
	return e.pb, e.pbErr
}

// watchCache holds the most recent shared events by revision (a store
// revision names one write of one key).
type watchCache struct {
	mu    sync.Mutex
	byRev map[int64]*sharedEvent
	ring  [watchCacheEntries]*sharedEvent // insertion order from head
	head  int                             // oldest entry
	n     int
	bytes int

	decodes atomic.Int64 // store events decoded for watchers (tests)
	off     bool         // every watcher decodes for itself (benchmark baseline)
}

// decoded returns the event's object decoded once for all watchers of r.
func (s *Server) decoded(r *Resource, kv store.KV) *sharedEvent {
	c := &s.watchEvents
	c.mu.Lock()
	e := c.byRev[kv.ModRevision]
	if e == nil || e.r != r || e.key != kv.Key || c.off {
		e = &sharedEvent{r: r, key: kv.Key, rev: kv.ModRevision, size: len(kv.Value), s: s, kv: kv}
		if e.size <= watchCacheBytes/16 && !c.off {
			if c.byRev == nil {
				c.byRev = map[int64]*sharedEvent{}
			}
			for c.n == watchCacheEntries || (c.n > 0 && c.bytes+e.size > watchCacheBytes) {
				old := c.ring[c.head]
				c.ring[c.head] = nil
				c.head = (c.head + 1) % watchCacheEntries
				c.n--
				c.bytes -= old.size
				if c.byRev[old.rev] == old {
					delete(c.byRev, old.rev)
				}
			}
			c.byRev[e.rev] = e
			c.ring[(c.head+c.n)%watchCacheEntries] = e
			c.n++
			c.bytes += e.size
		}
	}
	c.mu.Unlock()
	e.decode()
	return e
}

// cachedCopy is a private copy of kv's object if a watcher has decoded
// it (a revision names one value of one key, so it is the same object):
// the write paths' reads of the current object mostly find the one their
// previous write's watchers decoded, and a deep copy costs a fraction of a
// JSON decode.
func (s *Server) cachedCopy(r *Resource, kv store.KV) runtime.Object {
	c := &s.watchEvents
	if c.off {
		return nil
	}
	if wc := s.cacherFor(r); wc != nil { // the watch cache's current object (cacher.go)
		if e := wc.current(kv.Key, kv.ModRevision); e != nil {
			return e.obj.DeepCopyObject()
		}
	}
	c.mu.Lock()
	e := c.byRev[kv.ModRevision]
	c.mu.Unlock()
	if e == nil || e.r != r || e.key != kv.Key || !e.ready.Load() {
		return nil
	}
	return e.obj.DeepCopyObject()
}
