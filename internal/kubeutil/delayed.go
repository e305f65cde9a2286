package kubeutil

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Delayed adds keys to a work queue later, on a controller's injected
// clock (a fake clock in tests, where the queue's own AddAfter would wait
// for its rate limiter's real clock). A key already due sooner is left
// alone and a sooner time replaces a later one, as the workqueue's
// AddAfter does; nothing is added once done is closed.
type Delayed struct {
	clk  clock.WithTicker
	add  func(string)
	done <-chan struct{}

	mu      sync.Mutex
	pending map[string]*pendingAdd
}

type pendingAdd struct {
	at   time.Time
	stop chan struct{}
}

// NewDelayed adds through add (a queue's Add) on clk until done closes.
func NewDelayed(clk clock.WithTicker, add func(string), done <-chan struct{}) *Delayed {
	return &Delayed{clk: clk, add: add, done: done, pending: map[string]*pendingAdd{}}
}

// AddAfter adds k after d (at once when d <= 0).
func (l *Delayed) AddAfter(k string, d time.Duration) { l.AddAt(k, l.clk.Now().Add(d)) }

// AddAt adds k at time at (at once when that has come).
func (l *Delayed) AddAt(k string, at time.Time) {
	d := at.Sub(l.clk.Now())
	if d <= 0 {
		l.add(k)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if p := l.pending[k]; p != nil {
		if !p.at.After(at) {
			return
		}
		close(p.stop)
	}
	p := &pendingAdd{at: at, stop: make(chan struct{})}
	l.pending[k] = p
	t := l.clk.NewTimer(d)
	go func() {
		defer t.Stop()
		select {
		case <-t.C():
			l.mu.Lock()
			if l.pending[k] == p {
				delete(l.pending, k)
			}
			l.mu.Unlock()
			l.add(k)
		case <-p.stop:
		case <-l.done:
		}
	}()
}

// Forget drops k's pending add (its object is gone).
func (l *Delayed) Forget(k string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p := l.pending[k]; p != nil {
		close(p.stop)
		delete(l.pending, k)
	}
}
