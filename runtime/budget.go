package runtime

import (
	"fmt"
	"math"
	"sync"
)

// Budget is a count of a host resource shared by instances (the bytes of
// memory of a node's guests, the host file descriptors of a process's
// guests) with a limit. Instances Acquire before they use the resource and
// Release when they stop; a refused Acquire is the guest's failure (a failed
// memory.grow, EMFILE), never the host's. It is safe for concurrent use.
type Budget struct {
	name   string
	parent *Budget

	mu    sync.Mutex
	limit int64
	used  int64
	peak  int64
}

// NewBudget returns a Budget of limit units (limit <= 0: nothing can be
// acquired). name is for diagnostics ("node-1 memory").
func NewBudget(name string, limit int64) *Budget {
	return &Budget{name: name, limit: max(limit, 0)}
}

// NewChildBudget returns a Budget of limit units (limit <= 0: no limit of
// its own) whose every unit is also taken from parent: e.g. a pod's memory
// within its node's.
func NewChildBudget(name string, limit int64, parent *Budget) *Budget {
	if limit <= 0 {
		limit = math.MaxInt64
	}
	return &Budget{name: name, limit: limit, parent: parent}
}

// Acquire takes n units; false (and nothing taken) when fewer than n are
// left here or in a parent. A nil Budget has no limit.
func (b *Budget) Acquire(n int64) bool { return b.TryAcquire(n) == nil }

// TryAcquire is Acquire that returns the Budget that refused (b or a
// parent), nil on success.
func (b *Budget) TryAcquire(n int64) *Budget {
	if b == nil || n <= 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.limit-b.used {
		return b
	}
	if by := b.parent.TryAcquire(n); by != nil {
		return by
	}
	b.used += n
	b.peak = max(b.peak, b.used)
	return nil
}

// Release returns n units (to the parents too).
func (b *Budget) Release(n int64) {
	if b == nil || n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if b.used < 0 {
		panic(fmt.Sprintf("runtime: budget %q released more than it acquired", b.name))
	}
	b.parent.Release(n)
}

// Used is the number of units acquired now.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Peak is the largest Used so far.
func (b *Budget) Peak() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}

// Limit is the budget's limit.
func (b *Budget) Limit() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.limit
}

// Available is what Acquire can take now: Limit minus Used, or less when
// a parent has less left (never negative).
func (b *Budget) Available() int64 {
	b.mu.Lock()
	avail := max(b.limit-b.used, 0)
	b.mu.Unlock()
	if b.parent != nil {
		avail = min(avail, b.parent.Available())
	}
	return avail
}

// Name is the budget's name.
func (b *Budget) Name() string { return b.name }
