// Package watch is the watcher fan-out shared by the store backends.
//
// A Hub hands each watcher its own goroutine and an unbounded-looking but
// capped backlog: Publish never blocks (it appends to each matching watcher's
// backlog), and a watcher whose backlog reaches the cap is cut off with a
// final Error event wrapping store.ErrCompacted. Backends must call Publish
// with events in strictly increasing revision order, after the events are
// durable and visible to readers.
package watch

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/wasmpod/wasmpod/store"
)

// DefaultBacklog is the number of undelivered live events a watcher may
// accumulate before it is cut off.
const DefaultBacklog = 50_000

// Replayer emits, in order, the stored events with from < revision <= to
// whose key has prefix, stopping early when emit returns false. An error it
// returns (e.g. wrapping store.ErrCompacted) ends the watch with an Error event.
type Replayer func(ctx context.Context, prefix string, from, to int64, emit func(store.Event) bool) error

// Hub fans published events out to watchers.
type Hub struct {
	backlog int

	mu     sync.Mutex
	last   int64 // revision of the last published event
	ws     map[*watcher]struct{}
	closed bool
	done   chan struct{}
	wg     sync.WaitGroup
}

type watcher struct {
	prefix string
	min    int64 // live events with revision <= min are skipped (replay covers them)

	mu       sync.Mutex
	pending  []store.Event
	overflow bool
	notify   chan struct{}
}

// New returns a Hub whose last published revision is rev (the store's
// revision at open). backlog <= 0 means DefaultBacklog.
func New(rev int64, backlog int) *Hub {
	if backlog <= 0 {
		backlog = DefaultBacklog
	}
	return &Hub{backlog: backlog, last: rev, ws: map[*watcher]struct{}{}, done: make(chan struct{})}
}

// Last returns the revision of the last published event.
func (h *Hub) Last() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

// Publish delivers events (in increasing revision order, all newer than any
// published before) to matching watchers. It never blocks on a watcher.
func (h *Hub) Publish(evs ...store.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ev := range evs {
		rev := ev.KV.ModRevision
		if rev <= h.last {
			panic(fmt.Sprintf("store/internal/watch: publish out of order: revision %d after %d", rev, h.last))
		}
		h.last = rev
		for w := range h.ws {
			if rev <= w.min || !strings.HasPrefix(ev.KV.Key, w.prefix) {
				continue
			}
			w.mu.Lock()
			if !w.overflow {
				if len(w.pending) >= h.backlog {
					w.overflow = true
					w.pending = nil
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
	}
}

// Add registers a watcher for keys with prefix and revisions > after
// (after 0 = from the last published revision). If after is older than the
// last published revision, replay is called (in the watcher's goroutine) for
// the range (after, last] before live events are delivered. The caller must
// ensure that every event in that range is readable by replay, and that the
// history check for ErrCompacted was done.
func (h *Hub) Add(ctx context.Context, prefix string, after int64, replay Replayer) (<-chan store.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, store.ErrClosed
	}
	if after <= 0 {
		after = h.last
	}
	w := &watcher{prefix: prefix, min: max(after, h.last), notify: make(chan struct{}, 1)}
	from, to := after, h.last
	h.ws[w] = struct{}{}
	ch := make(chan store.Event)
	h.wg.Add(1)
	go h.run(ctx, w, ch, replay, from, to)
	return ch, nil
}

func (h *Hub) run(ctx context.Context, w *watcher, ch chan<- store.Event, replay Replayer, from, to int64) {
	defer h.wg.Done()
	defer close(ch)
	defer func() {
		h.mu.Lock()
		delete(h.ws, w)
		h.mu.Unlock()
	}()
	send := func(ev store.Event) bool {
		select {
		case ch <- ev:
			return true
		case <-ctx.Done():
			return false
		case <-h.done:
			return false
		}
	}
	if from < to && replay != nil {
		err := replay(ctx, w.prefix, from, to, send)
		if err != nil {
			if ctx.Err() == nil && !h.isClosed() {
				send(store.Event{Type: store.Error, Err: err})
			}
			return
		}
		if ctx.Err() != nil || h.isClosed() {
			return
		}
	}
	var spare []store.Event
	for {
		w.mu.Lock()
		batch, overflow := w.pending, w.overflow
		w.pending = spare[:0]
		w.mu.Unlock()
		if overflow {
			send(store.Event{Type: store.Error, Err: fmt.Errorf("%w: watcher fell more than %d events behind", store.ErrCompacted, h.backlog)})
			return
		}
		for i, ev := range batch {
			if !send(ev) {
				return
			}
			batch[i] = store.Event{} // drop references
		}
		spare = batch
		select {
		case <-w.notify:
		case <-ctx.Done():
			return
		case <-h.done:
			return
		}
	}
}

func (h *Hub) isClosed() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}

// Close ends every watcher (their channels close) and waits for their
// goroutines to exit. Later Adds return store.ErrClosed.
func (h *Hub) Close() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
	h.mu.Unlock()
	h.wg.Wait()
}
