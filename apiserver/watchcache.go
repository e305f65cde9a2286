package apiserver

// watchcache.go: a store event's object decoded once, with its wire
// encodings made once for all watchers (upstream's cachingObject does the
// same). The watch cache (cacher.go) keeps one sharedEvent per current
// object and per recent event, and every watcher it serves shares it: the
// node agents' field-selected watches test its field set, made once
// (fieldSet), and the HTTP watch encoders (serveWatch, serveWatchProtobuf)
// cache its JSON and protobuf bytes in it.
//
// Shared objects are read-only: Server.Watch hands its callers deep copies;
// only the HTTP encoders, which read, see the shared object (watchShared).
//
// An older cache here kept the last 4,096 decoded events by revision for
// the watchers of the store itself; the watch cache serves every resource's
// watches since, so it held nothing but the events of the rare watch the
// store serves (the cache off or re-listing). It is gone: such a watch
// decodes its events for itself (decoded).

import (
	"encoding/json"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/wasmpod/wasmpod/store"
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
		e.s.watchDecodes.Add(1)
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

// decoded is a store event's object decoded for the watch the store
// serves (the watch cache off or re-listing): one watcher's, not shared.
func (s *Server) decoded(r *Resource, kv store.KV) *sharedEvent {
	e := &sharedEvent{r: r, key: kv.Key, rev: kv.ModRevision, size: len(kv.Value), s: s, kv: kv}
	e.decode()
	return e
}

// cachedCopy is a private copy of kv's object if the watch cache has it
// decoded at kv's revision (a revision names one value of one key, so it is
// the same object): the write paths' reads of the current object mostly
// find it, and a deep copy costs a fraction of a JSON decode.
func (s *Server) cachedCopy(r *Resource, kv store.KV) runtime.Object {
	if wc := s.cacherFor(r); wc != nil { // cacher.go
		if e := wc.current(kv.Key, kv.ModRevision); e != nil {
			return e.obj.DeepCopyObject()
		}
	}
	return nil
}
