package controllerutil

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// ExpectationsTimeout is how long expectations hold before a controller
// syncs anyway (upstream's ExpectationsTimeout).
const ExpectationsTimeout = 5 * time.Minute

// Expectations records, per controller key, the pod creations and
// deletions a controller has asked for and not yet seen in its informer,
// as upstream's UIDTrackingControllerExpectations: deletions are tracked
// by pod key so one observed twice (an update with a deletionTimestamp,
// then the delete) counts once.
type Expectations struct {
	clk clock.PassiveClock
	mu  sync.Mutex
	m   map[string]*expectation
}

type expectation struct {
	add, del  int64
	deleting  map[string]bool // pod keys expected to be deleted
	timestamp time.Time
}

// NewExpectations makes an empty set; clk nil is the real clock.
func NewExpectations(clk clock.PassiveClock) *Expectations {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Expectations{clk: clk, m: map[string]*expectation{}}
}

// Satisfied: no expectations for key, all of them observed, or they
// expired (SatisfiedExpectations).
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok {
		return true
	}
	return (x.add <= 0 && x.del <= 0) || e.clk.Since(x.timestamp) > ExpectationsTimeout
}

// ExpectCreations sets the creations expected for key.
func (e *Expectations) ExpectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = &expectation{add: int64(n), timestamp: e.clk.Now()}
}

// ExpectDeletions sets the deletions expected for key, by pod key.
func (e *Expectations) ExpectDeletions(key string, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{del: int64(len(podKeys)), deleting: map[string]bool{}, timestamp: e.clk.Now()}
	for _, k := range podKeys {
		x.deleting[k] = true
	}
	e.m[key] = x
}

// Expect sets both the creations and the deletions (by pod key) expected
// for key (SetExpectations), as a DaemonSet's sync asks for both at once.
func (e *Expectations) Expect(key string, creations int, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{add: int64(creations), del: int64(len(podKeys)), deleting: map[string]bool{}, timestamp: e.clk.Now()}
	for _, k := range podKeys {
		x.deleting[k] = true
	}
	e.m[key] = x
}

// CreationObserved lowers the creations expected for key by one.
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		x.add--
	}
}

// DeletionObserved lowers the deletions expected for key when podKey was
// one of them, once.
func (e *Expectations) DeletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok && x.deleting[podKey] {
		delete(x.deleting, podKey)
		x.del--
	}
}

// Delete forgets key (its controller is gone).
func (e *Expectations) Delete(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}

// Pending returns the creations and deletions still expected for key.
func (e *Expectations) Pending(key string) (add, del int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		return x.add, x.del
	}
	return 0, 0
}
