package apiserver

// cacher.go: the watch cache (upstream's storage/cacher, written for this
// store). One store watch over the whole keyspace feeds, per resource, an
// in-memory copy of the current objects and a bounded ring of its recent
// events; LISTs and WATCHes are served from them rather than from the store.
//
//   - One watch, not one a resource: the store has one revision that every
//     write steps by one and no progress notification, so seeing every
//     revision is what tells the cache that it is fresh. A consistent LIST
//     (resourceVersion "") reads the store's revision and waits (up to
//     cacheFreshWait) until the cache has applied it, as upstream's
//     consistent reads from cache wait for a progress notification; one that
//     does not catch up (an etcd written by someone else too) is served by
//     the store. resourceVersion "0" is served at once; resourceVersion N
//     once the cache has reached N (else by the store);
//     resourceVersionMatch=Exact by the store.
//   - A WATCH from a revision older than the ring of its resource is
//     410 Gone "too old resource version", as upstream; the client re-lists
//     (from the cache). Watches with resourceVersion ""/"0" or
//     sendInitialEvents start from the cache's objects.
//   - Pods are indexed by spec.nodeName: a watch or list with
//     fieldSelector spec.nodeName=N (a node agent's) is registered under N,
//     and an event is handed only to the watchers of its pod's node before
//     and after it (and to the unindexed ones), not tested by every
//     watcher. Selector transitions are as upstream's: a pod that starts
//     matching is ADDED, one that stops is DELETED (with its previous
//     content at the event's resourceVersion).
//   - With allowWatchBookmarks a watcher gets a BOOKMARK of the cache's
//     revision every cacheBookmarkEvery and just before its timeout, so an
//     informer resumes without a 410 after its watch times out.
//   - Objects are decoded lazily, once (sharedEvent): the pods for the
//     index, other resources' events only when someone watches or lists
//     them. Each event's wire encodings are made once for all HTTP
//     watchers (watchcache.go).
//   - When the store watch ends (a watcher that fell behind, etcd
//     compaction) the cache resumes it from the last revision applied; if
//     that is compacted too it re-lists every resource, ends its watchers
//     with 410 (they re-list) and serves from the store meanwhile. The
//     cache stops when the store is closed.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/wasmpod/wasmpod/store"
)

const (
	// cacheRingEvents and cacheRingBytes bound each resource's ring of
	// recent events (the stored size of their values).
	cacheRingEvents = 8192
	cacheRingBytes  = 32 << 20
	// cacheWatcherBacklog is the number of undelivered events a cache
	// watcher may have before it is ended with 410 (as the store's).
	cacheWatcherBacklog = 50_000
	// cacheFreshWait bounds how long a consistent read waits for the cache
	// to reach the store's revision before the store serves it (upstream:
	// 3 s).
	cacheFreshWait = 3 * time.Second
	// cacheBookmarkEvery is how often a watcher that allows bookmarks gets
	// one (upstream: about once a minute).
	cacheBookmarkEvery = time.Minute
	// podNodeField is the field pods are indexed by.
	podNodeField = "spec.nodeName"
)

// watchCacheSet is the Server's watch cache: the store watch and a cacher
// per resource.
type watchCacheSet struct {
	s        *Server
	byPrefix map[string]*cacher // r.prefix("")

	seen atomic.Int64 // every event up to seen is applied to every cacher
	live atomic.Bool  // the store watch is open: seen is advancing

	waitMu sync.Mutex
	tick   chan struct{} // closed and replaced when seen advances with waiters
	nwait  atomic.Int32

	bookmarkEvery time.Duration
	freshWait     time.Duration // cacheFreshWait; tests shorten it
	ringSize      int           // events kept a resource

	// tests: cancelWatch ends the current store watch; hold, when set,
	// is received from before the watch is resumed.
	cancelMu sync.Mutex
	cancel   context.CancelFunc
	hold     chan struct{}
	relists  atomic.Int64
}

// cacher is one resource's cache.
type cacher struct {
	set    *watchCacheSet
	r      *Resource
	prefix string
	index  string // field indexed ("" none)

	mu       sync.RWMutex
	ready    bool
	rev      int64 // last event applied, or the list's revision
	objs     map[string]*sharedEvent
	idx      map[string]map[string]*sharedEvent // index value -> key -> object
	ring     []*cacheEvent                      // circular, cacheRingEvents
	head, n  int
	bytes    int
	startRev int64 // the ring holds every event after startRev

	all       map[*cacheWatcher]struct{}
	unindexed map[*cacheWatcher]struct{}
	byValue   map[string]map[*cacheWatcher]struct{}
}

// cacheEvent is one event of the ring: the object after it (for a
// deletion, its last content at the deletion's revision) and before it.
type cacheEvent struct {
	typ       store.EventType
	key       string
	rev       int64
	cur, prev *sharedEvent
	size      int

	prevOnce sync.Once
	prevAt   *sharedEvent // prev at rev, for DELETED of a selector transition
}

// prevAtRev is the previous object with the event's resourceVersion, made
// once for every watcher that needs it.
func (ev *cacheEvent) prevAtRev() *sharedEvent {
	ev.prevOnce.Do(func() {
		obj := ev.prev.obj.DeepCopyObject()
		m, _ := meta.Accessor(obj)
		m.SetResourceVersion(strconv.FormatInt(ev.rev, 10))
		ev.prevAt = decodedShared(ev.prev.r, ev.key, ev.rev, obj)
	})
	return ev.prevAt
}

// startWatchCache lists every resource and starts the store watch that
// keeps them current. A failure leaves the cache off (the store serves).
func (s *Server) startWatchCache(ctx context.Context) error {
	cs := &watchCacheSet{s: s, byPrefix: map[string]*cacher{}, tick: make(chan struct{}), bookmarkEvery: cacheBookmarkEvery, freshWait: cacheFreshWait, ringSize: cacheRingEvents}
	if s.opts.WatchCacheEvents > 0 {
		cs.ringSize = s.opts.WatchCacheEvents
	}
	for _, r := range s.resources {
		p := r.prefix("")
		if _, dup := cs.byPrefix[p]; dup {
			continue
		}
		c := &cacher{set: cs, r: r, prefix: p, all: map[*cacheWatcher]struct{}{}, unindexed: map[*cacheWatcher]struct{}{}, byValue: map[string]map[*cacheWatcher]struct{}{}}
		if r.GVR.Group == "" && r.GVR.Resource == "pods" {
			c.index = podNodeField
		}
		cs.byPrefix[p] = c
	}
	wctx, cancel := context.WithCancel(context.Background())
	ch, err := cs.sync(ctx, wctx)
	if err != nil {
		cancel()
		return err
	}
	cs.setCancel(cancel)
	cs.live.Store(true)
	s.cache = cs
	go cs.run(ch)
	return nil
}

func (cs *watchCacheSet) setCancel(c context.CancelFunc) {
	cs.cancelMu.Lock()
	cs.cancel = c
	cs.cancelMu.Unlock()
}

// cancelWatch ends the current store watch (tests).
func (cs *watchCacheSet) cancelWatch() {
	cs.cancelMu.Lock()
	c := cs.cancel
	cs.cancelMu.Unlock()
	if c != nil {
		c()
	}
}

// sync opens the store watch from the store's revision and re-lists every
// resource (each list is at a revision at least that one).
func (cs *watchCacheSet) sync(ctx, wctx context.Context) (<-chan store.Event, error) {
	st := cs.s.store
	rev0, err := st.Revision(ctx)
	if err != nil {
		return nil, err
	}
	ch, err := st.Watch(wctx, "", rev0)
	if err != nil {
		return nil, err
	}
	for _, c := range cs.byPrefix {
		kvs, rev, err := st.List(ctx, c.prefix)
		if err != nil {
			return nil, err
		}
		c.reset(kvs, rev)
	}
	if rev0 > cs.seen.Load() {
		cs.seen.Store(rev0)
	}
	return ch, nil
}

// run applies the store's events until the store closes, resuming or
// re-syncing the watch when it ends.
func (cs *watchCacheSet) run(ch <-chan store.Event) {
	backoff := 50 * time.Millisecond
	for {
		for ev := range ch {
			if ev.Type == store.Error {
				break
			}
			cs.apply(ev)
		}
		cs.live.Store(false) // consistent reads go to the store meanwhile
		cs.cancelWatch()
		cs.cancelMu.Lock()
		hold := cs.hold
		cs.cancelMu.Unlock()
		if hold != nil {
			<-hold
		}
		for {
			wctx, cancel := context.WithCancel(context.Background())
			var err error
			ch, err = cs.s.store.Watch(wctx, "", cs.seen.Load())
			if errors.Is(err, store.ErrCompacted) {
				// The events since seen are gone: list again.
				cs.relists.Add(1)
				for _, c := range cs.byPrefix {
					c.stop(apierrors.NewResourceExpired("the watch cache is re-listing after its store watch was compacted"))
				}
				ch, err = cs.sync(context.Background(), wctx)
			}
			if err == nil {
				cs.setCancel(cancel)
				cs.live.Store(true)
				backoff = 50 * time.Millisecond
				break
			}
			cancel()
			if errors.Is(err, store.ErrClosed) {
				for _, c := range cs.byPrefix {
					c.stop(apierrors.NewServiceUnavailable("store closed"))
				}
				return
			}
			time.Sleep(backoff)
			backoff = min(2*backoff, 5*time.Second)
		}
	}
}

// route finds the cacher of a store key ("/pods/ns/n", "/apps/deployments/ns/n").
func (cs *watchCacheSet) route(key string) *cacher {
	i := strings.IndexByte(key[min(1, len(key)):], '/')
	if i < 0 {
		return nil
	}
	if c := cs.byPrefix[key[:i+2]]; c != nil {
		return c
	}
	j := strings.IndexByte(key[i+2:], '/')
	if j < 0 {
		return nil
	}
	return cs.byPrefix[key[:i+2+j+1]]
}

func (cs *watchCacheSet) apply(ev store.Event) {
	if c := cs.route(ev.KV.Key); c != nil {
		c.apply(ev)
	}
	cs.seen.Store(ev.KV.ModRevision)
	if cs.nwait.Load() > 0 {
		cs.waitMu.Lock()
		close(cs.tick)
		cs.tick = make(chan struct{})
		cs.waitMu.Unlock()
	}
}

// waitFor waits until the cache has applied rev; false when it has not
// within cacheFreshWait.
func (cs *watchCacheSet) waitFor(ctx context.Context, rev int64) bool {
	if cs.seen.Load() >= rev {
		return true
	}
	if !cs.live.Load() {
		return false
	}
	cs.nwait.Add(1)
	defer cs.nwait.Add(-1)
	t := time.NewTimer(cs.freshWait)
	defer t.Stop()
	for {
		cs.waitMu.Lock()
		tick := cs.tick
		cs.waitMu.Unlock()
		if cs.seen.Load() >= rev {
			return true
		}
		select {
		case <-tick:
		case <-t.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// cacherFor is r's cacher when the cache serves it.
func (s *Server) cacherFor(r *Resource) *cacher {
	if s.cache == nil {
		return nil
	}
	c := s.cache.byPrefix[r.prefix("")]
	if c == nil || c.r != r {
		return nil
	}
	return c
}

// --- one resource ---------------------------------------------------------

func (c *cacher) newShared(kv store.KV) *sharedEvent {
	e := &sharedEvent{r: c.r, key: kv.Key, rev: kv.ModRevision, size: len(kv.Value), s: c.set.s, kv: kv}
	if c.index != "" {
		e.decode() // for the index
	}
	return e
}

// indexValue is the object's index value ("" when not decodable).
func (c *cacher) indexValue(e *sharedEvent) string {
	if e == nil || !e.decode() {
		return ""
	}
	return e.fieldSet()[c.index]
}

func (c *cacher) reset(kvs []store.KV, rev int64) {
	objs := make(map[string]*sharedEvent, len(kvs))
	var idx map[string]map[string]*sharedEvent
	if c.index != "" {
		idx = map[string]map[string]*sharedEvent{}
	}
	for _, kv := range kvs {
		e := c.newShared(kv)
		objs[kv.Key] = e
		if idx != nil {
			v := c.indexValue(e)
			if idx[v] == nil {
				idx[v] = map[string]*sharedEvent{}
			}
			idx[v][kv.Key] = e
		}
	}
	c.mu.Lock()
	c.objs, c.idx, c.rev, c.startRev = objs, idx, rev, rev
	c.ring = nil // grows to ringSize as events come (an idle resource keeps none)
	c.head, c.n, c.bytes = 0, 0, 0
	c.ready = true
	c.mu.Unlock()
}

// stop marks the cache not ready (the store serves) and ends its watchers
// with err.
func (c *cacher) stop(err *apierrors.StatusError) {
	c.mu.Lock()
	c.ready = false
	ws := c.all
	c.all, c.unindexed, c.byValue = map[*cacheWatcher]struct{}{}, map[*cacheWatcher]struct{}{}, map[string]map[*cacheWatcher]struct{}{}
	c.mu.Unlock()
	for w := range ws {
		w.end(err)
	}
}

func (c *cacher) apply(sev store.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ready || sev.KV.ModRevision <= c.rev {
		return // in the list already
	}
	key := sev.KV.Key
	ev := &cacheEvent{typ: sev.Type, key: key, rev: sev.KV.ModRevision, prev: c.objs[key], size: len(sev.KV.Value)}
	ev.cur = c.newShared(sev.KV)
	if ev.prev == nil && ev.typ == store.Modified {
		ev.typ = store.Added // not in the cache: as a creation
	}
	var curV, prevV string
	if c.index != "" {
		prevV = c.indexValue(ev.prev)
		if ev.prev != nil {
			delete(c.idx[prevV], key)
			if len(c.idx[prevV]) == 0 {
				delete(c.idx, prevV)
			}
		}
		curV = c.indexValue(ev.cur)
	}
	if ev.typ == store.Deleted {
		delete(c.objs, key)
	} else {
		c.objs[key] = ev.cur
		if c.index != "" {
			if c.idx[curV] == nil {
				c.idx[curV] = map[string]*sharedEvent{}
			}
			c.idx[curV][key] = ev.cur
		}
	}
	c.rev = ev.rev
	// The ring.
	if c.n == len(c.ring) && len(c.ring) < c.set.ringSize {
		grown := make([]*cacheEvent, min(max(2*len(c.ring), 64), c.set.ringSize))
		for i := range c.n {
			grown[i] = c.ring[(c.head+i)%len(c.ring)]
		}
		c.ring, c.head = grown, 0
	}
	for c.n == len(c.ring) || (c.n > 0 && c.bytes+ev.size > cacheRingBytes) {
		old := c.ring[c.head]
		c.ring[c.head] = nil
		c.head = (c.head + 1) % len(c.ring)
		c.n--
		c.bytes -= old.size
		c.startRev = old.rev
	}
	c.ring[(c.head+c.n)%len(c.ring)] = ev
	c.n++
	c.bytes += ev.size
	// Dispatch: the unindexed watchers and those of the index values
	// before and after.
	for w := range c.unindexed {
		w.add(ev)
	}
	if c.index != "" {
		for w := range c.byValue[curV] {
			w.add(ev)
		}
		if ev.prev != nil && prevV != curV {
			for w := range c.byValue[prevV] {
				w.add(ev)
			}
		}
	}
}

func (c *cacher) isReady() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.ready
}

// snapshotRev is the revision the cache's contents are at (c.mu held).
func (c *cacher) snapshotRev() int64 { return max(c.rev, c.set.seen.Load()) }

// freshFor waits until the cache may serve a read at opts'
// resourceVersion; false when the store must.
func (c *cacher) freshFor(ctx context.Context, rv string) (bool, error) {
	switch rv {
	case "0":
		return true, nil
	case "":
		rev, err := c.set.s.store.Revision(ctx)
		if err != nil {
			return false, err
		}
		return c.set.waitFor(ctx, rev), nil
	}
	rev, err := parseRV(rv)
	if err != nil {
		return false, err
	}
	return c.set.waitFor(ctx, rev), nil
}

// candidates are the current objects that may match sel, under c.mu.
func (c *cacher) candidates(ns string, sel selector, each func(*sharedEvent)) {
	p := c.r.prefix(ns)
	if c.index != "" {
		if v, ok := sel.fields.RequiresExactMatch(c.index); ok {
			for k, e := range c.idx[v] {
				if strings.HasPrefix(k, p) {
					each(e)
				}
			}
			return
		}
	}
	for k, e := range c.objs {
		if strings.HasPrefix(k, p) {
			each(e)
		}
	}
}

// list serves a LIST from the cache; ok false when the store must.
func (c *cacher) list(ctx context.Context, ns string, sel selector, opts metav1.ListOptions) (runtime.Object, bool, error) {
	if opts.ResourceVersionMatch == metav1.ResourceVersionMatchExact {
		return c.listExact(ctx, ns, sel, opts) // exactlist.go
	}
	if ok, err := c.freshFor(ctx, opts.ResourceVersion); !ok || err != nil {
		if err == nil && ctx.Err() == nil {
			// Not older than a revision the store has not reached either:
			// 504 "Too large resource version", as upstream's cacher
			// (waitUntilFreshAndBlock), not the store's older list.
			if want, perr := parseRV(opts.ResourceVersion); perr == nil && want > 0 {
				if have, rerr := c.set.s.store.Revision(ctx); rerr == nil && have < want {
					return nil, true, tooLargeRV(want, have)
				}
			}
		}
		return nil, false, err
	}
	var found []*sharedEvent
	c.mu.RLock()
	if !c.ready {
		c.mu.RUnlock()
		return nil, false, nil
	}
	rev := c.snapshotRev()
	c.candidates(ns, sel, func(e *sharedEvent) { found = append(found, e) })
	c.mu.RUnlock()
	slices.SortFunc(found, func(a, b *sharedEvent) int { return strings.Compare(a.key, b.key) })
	items := make([]runtime.Object, 0, len(found))
	for _, e := range found {
		if !e.decode() {
			return nil, true, e.err
		}
		if sel.matchesWith(e.obj, e.fieldSet) {
			items = append(items, e.obj.DeepCopyObject())
		}
	}
	list := c.r.newList()
	if err := meta.SetList(list, items); err != nil {
		return nil, true, apierrors.NewInternalError(err)
	}
	lm, _ := meta.ListAccessor(list)
	lm.SetResourceVersion(strconv.FormatInt(rev, 10))
	list.GetObjectKind().SetGroupVersionKind(c.r.GVR.GroupVersion().WithKind(c.r.Kind + "List"))
	return list, true, nil
}

// current is the cached object of key at rev, if decoded (write paths'
// reads: cachedCopy).
func (c *cacher) current(key string, rev int64) *sharedEvent {
	c.mu.RLock()
	e := c.objs[key]
	c.mu.RUnlock()
	if e == nil || e.rev != rev || !e.ready.Load() {
		return nil
	}
	return e
}

// --- watchers -------------------------------------------------------------

// cacheWatcher is one WATCH served by a cacher.
type cacheWatcher struct {
	c      *cacher
	prefix string // namespace
	sel    selector
	every  bool  // no selector
	after  int64 // events up to after are skipped
	value  string
	byIdx  bool
	notify chan struct{}
	handed atomic.Int64 // events handed to it (tests)

	mu       sync.Mutex
	pending  []*cacheEvent
	overflow bool
	err      *apierrors.StatusError // ended by the cache
}

func (w *cacheWatcher) add(ev *cacheEvent) {
	if ev.rev <= w.after || !strings.HasPrefix(ev.key, w.prefix) {
		return
	}
	w.handed.Add(1)
	w.mu.Lock()
	if !w.overflow && w.err == nil {
		if len(w.pending) >= cacheWatcherBacklog {
			w.overflow, w.pending = true, nil
		} else {
			w.pending = append(w.pending, ev)
		}
	}
	w.mu.Unlock()
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

func (w *cacheWatcher) end(err *apierrors.StatusError) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

func (c *cacher) register(w *cacheWatcher) {
	c.all[w] = struct{}{}
	if w.byIdx {
		if c.byValue[w.value] == nil {
			c.byValue[w.value] = map[*cacheWatcher]struct{}{}
		}
		c.byValue[w.value][w] = struct{}{}
	} else {
		c.unindexed[w] = struct{}{}
	}
}

func (c *cacher) unregister(w *cacheWatcher) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.all[w]; !ok {
		return
	}
	delete(c.all, w)
	delete(c.unindexed, w)
	if m := c.byValue[w.value]; m != nil {
		delete(m, w)
		if len(m) == 0 {
			delete(c.byValue, w.value)
		}
	}
}

// watch serves a WATCH from the cache; ok false when the store must.
func (c *cacher) watch(ctx context.Context, ns string, sel selector, opts metav1.ListOptions, shared bool) (watch.Interface, bool, error) {
	from, err := parseRV(opts.ResourceVersion)
	if err != nil {
		return nil, true, err
	}
	sendInitial := from == 0 || (opts.SendInitialEvents != nil && *opts.SendInitialEvents)
	if sendInitial && from > 0 && !c.set.waitFor(ctx, from) {
		// A watch-list from a revision the cache has not reached: as
		// upstream's cacher (waitUntilFreshLocked), it waits up to
		// freshWait, then the watch's one event is an ERROR: 504 "Too
		// large resource version" with the ResourceVersionTooLarge cause
		// client-go's reflector looks for. A plain watch from a future
		// revision waits for it silently, as upstream's.
		if err := ctx.Err(); err != nil {
			return nil, true, err
		}
		if !c.set.live.Load() {
			return nil, false, nil
		}
		return errWatcher(tooLargeRV(from, c.set.seen.Load())), true, nil
	}
	if sendInitial && opts.ResourceVersion == "" {
		// Initial events of "now": a consistent read.
		if ok, err := c.freshFor(ctx, ""); !ok || err != nil {
			return nil, false, err
		}
	}
	w := &cacheWatcher{c: c, prefix: c.r.prefix(ns), sel: sel, every: sel.labels.Empty() && sel.fields.Empty(), notify: make(chan struct{}, 1)}
	if c.index != "" {
		w.value, w.byIdx = sel.fields.RequiresExactMatch(c.index)
	}
	var initial []*sharedEvent
	var replayEvs []*cacheEvent
	c.mu.Lock()
	if !c.ready {
		c.mu.Unlock()
		return nil, false, nil
	}
	rev := c.snapshotRev()
	switch {
	case sendInitial:
		c.candidates(ns, sel, func(e *sharedEvent) { initial = append(initial, e) })
		w.after = rev
	case from < c.startRev:
		c.mu.Unlock()
		return nil, true, apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", from, c.startRev))
	default:
		for i := range c.n {
			ev := c.ring[(c.head+i)%len(c.ring)]
			if ev.rev > from && strings.HasPrefix(ev.key, w.prefix) {
				replayEvs = append(replayEvs, ev)
			}
		}
		w.after = max(from, rev)
	}
	c.register(w)
	c.mu.Unlock()
	slices.SortFunc(initial, func(a, b *sharedEvent) int { return strings.Compare(a.key, b.key) })

	ctx, cancel := context.WithCancel(ctx)
	var deadline <-chan time.Time
	if opts.TimeoutSeconds != nil && *opts.TimeoutSeconds != 0 {
		// A negative timeout has passed: the watch ends at once, as upstream's.
		d := time.Duration(*opts.TimeoutSeconds) * time.Second
		ctx, cancel = context.WithTimeout(ctx, d)
		if opts.AllowWatchBookmarks && d > 4*time.Second {
			deadline = time.After(d - 2*time.Second)
		}
	}
	out := &watcher{ch: make(chan watch.Event, 100), cancel: cancel}
	go c.serve(ctx, w, out, opts, shared, initial, replayEvs, rev, deadline)
	return out, true, nil
}

func (c *cacher) serve(ctx context.Context, w *cacheWatcher, out *watcher, opts metav1.ListOptions, shared bool, initial []*sharedEvent, replay []*cacheEvent, rev int64, deadline <-chan time.Time) {
	defer close(out.ch)
	defer out.cancel()
	defer c.unregister(w)
	if ctx.Err() != nil {
		return // a negative timeoutSeconds: nothing is sent
	}
	send := func(ev watch.Event) bool {
		select {
		case out.ch <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	obj := func(e *sharedEvent) runtime.Object {
		if shared {
			return e
		}
		return e.DeepCopyObject()
	}
	fail := func(err error) {
		send(watch.Event{Type: watch.Error, Object: &apierrors.NewInternalError(err).ErrStatus})
	}
	for _, e := range initial {
		if !e.decode() {
			fail(e.err)
			return
		}
		if !w.every && !w.sel.matchesWith(e.obj, e.fieldSet) {
			continue
		}
		if !send(watch.Event{Type: watch.Added, Object: obj(e)}) {
			return
		}
	}
	bookmark := func(rev int64, initialEnd bool) bool {
		bm := c.r.newObj()
		bm.GetObjectKind().SetGroupVersionKind(c.r.GVK())
		m, _ := meta.Accessor(bm)
		m.SetResourceVersion(strconv.FormatInt(rev, 10))
		if initialEnd {
			m.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
		}
		return send(watch.Event{Type: watch.Bookmark, Object: bm})
	}
	if opts.SendInitialEvents != nil && *opts.SendInitialEvents && opts.AllowWatchBookmarks {
		if !bookmark(rev, true) {
			return
		}
	}
	last := w.after // bookmarks never go back
	deliver := func(ev *cacheEvent) bool {
		last = max(last, ev.rev)
		typ, e, ok := w.filter(ev)
		if e != nil && !e.decode() {
			fail(e.err)
			return false
		}
		if !ok {
			return true
		}
		return send(watch.Event{Type: typ, Object: obj(e)})
	}
	for _, ev := range replay {
		if !deliver(ev) {
			return
		}
	}
	var tick <-chan time.Time
	if opts.AllowWatchBookmarks {
		t := time.NewTicker(c.set.bookmarkEvery)
		defer t.Stop()
		tick = t.C
	}
	var spare []*cacheEvent
	for {
		seen := c.set.seen.Load() // every event up to it is pending or sent
		w.mu.Lock()
		batch, overflow, err := w.pending, w.overflow, w.err
		w.pending = spare[:0]
		w.mu.Unlock()
		if overflow {
			send(watch.Event{Type: watch.Error, Object: &apierrors.NewResourceExpired(fmt.Sprintf("watch fell more than %d events behind", cacheWatcherBacklog)).ErrStatus})
			return
		}
		for i, ev := range batch {
			if !deliver(ev) {
				return
			}
			batch[i] = nil
		}
		spare = batch
		if err != nil {
			send(watch.Event{Type: watch.Error, Object: &err.ErrStatus})
			return
		}
		select {
		case <-w.notify:
		case <-ctx.Done():
			return
		case <-tick:
			if !bookmark(max(seen, last), false) {
				return
			}
		case <-deadline:
			deadline = nil
			if !bookmark(max(seen, last), false) {
				return
			}
		}
	}
}

// filter is what the watcher sends of ev, as upstream's cacheWatcher:
// by whether the objects before and after it match the selector.
func (w *cacheWatcher) filter(ev *cacheEvent) (watch.EventType, *sharedEvent, bool) {
	if w.every {
		switch ev.typ {
		case store.Added:
			return watch.Added, ev.cur, true
		case store.Deleted:
			return watch.Deleted, ev.cur, true
		}
		return watch.Modified, ev.cur, true
	}
	matches := func(e *sharedEvent) bool {
		return e != nil && e.decode() && w.sel.matchesWith(e.obj, e.fieldSet)
	}
	if ev.typ == store.Deleted {
		// The deleted object's last content is ev.cur.
		if !ev.cur.decode() {
			return "", ev.cur, false
		}
		if matches(ev.cur) {
			return watch.Deleted, ev.cur, true
		}
		return "", nil, false
	}
	if !ev.cur.decode() {
		return "", ev.cur, false
	}
	cur, prev := matches(ev.cur), ev.typ != store.Added && matches(ev.prev)
	switch {
	case cur && prev:
		return watch.Modified, ev.cur, true
	case cur:
		return watch.Added, ev.cur, true
	case prev:
		return watch.Deleted, ev.prevAtRev(), true
	}
	return "", nil, false
}

// tooLargeRV is upstream's storage.NewTooLargeResourceVersionError: a 504
// Timeout asking the client to retry after a second, with the
// ResourceVersionTooLarge cause.
func tooLargeRV(want, have int64) *apierrors.StatusError {
	err := apierrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %d, current: %d", want, have), 1)
	err.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: metav1.CauseTypeResourceVersionTooLarge, Message: "Too large resource version"}}
	return err
}

// errWatcher is a watch whose one event is err's ERROR (upstream's
// cacher newErrWatcher).
func errWatcher(err *apierrors.StatusError) watch.Interface {
	out := &watcher{ch: make(chan watch.Event, 1), cancel: func() {}}
	out.ch <- watch.Event{Type: watch.Error, Object: &err.ErrStatus}
	close(out.ch)
	return out
}
