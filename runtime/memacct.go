package runtime

import (
	"fmt"
	"sync"
)

// PageSize is the size of a wasm page.
const PageSize = 65536

// MaxMemoryBytes is the wasm32 address space.
const MaxMemoryBytes = 1 << 32

// MemoryAccount is the memory accounting of one instance, as its engine's
// linear memories are made, grow and are freed: every byte is charged to
// the node's budget (ContainerConfig.Memory) and growth is refused past the
// container's limit (all memories of the instance together) or the budget;
// the first refusal is remembered (HitLimit), to report the guest OOMKilled
// if it then exits non-zero (Status). It is safe for concurrent use.
type MemoryAccount struct {
	limit uint64  // bytes
	node  *Budget // nil: no budget

	mu      sync.Mutex
	prepaid int64  // taken by NewMemoryAccount, not yet grown into
	charged uint64 // bytes of linear memory now
	hit     string // why growth was refused, "" if never
}

// NewMemoryAccount checks cfg.MemoryLimitBytes against a module whose
// initial memory is minBytes, and returns the instance's account with
// minBytes already taken from cfg.Memory ("prepaid": an engine may not be
// able to fail the initial allocation, and another start could take what a
// mere check saw left). A start that fails must Refund it.
func NewMemoryAccount(cfg ContainerConfig, minBytes uint64) (*MemoryAccount, error) {
	if cfg.MemoryLimitBytes < 0 {
		return nil, fmt.Errorf("memoryLimitBytes %d: must not be negative", cfg.MemoryLimitBytes)
	}
	limit := uint64(MaxMemoryBytes)
	if cfg.MemoryLimitBytes > 0 {
		limit = min(uint64(cfg.MemoryLimitBytes)/PageSize*PageSize, MaxMemoryBytes)
		if limit < minBytes {
			return nil, fmt.Errorf("memoryLimitBytes %d is below the module's initial memory of %d bytes",
				cfg.MemoryLimitBytes, minBytes)
		}
	}
	a := &MemoryAccount{limit: limit, node: cfg.Memory}
	if !a.node.Acquire(int64(minBytes)) {
		return nil, fmt.Errorf("the module's initial memory of %d bytes exceeds what is left of %s (%d of %d bytes)",
			minBytes, cfg.Memory.Name(), cfg.Memory.Available(), cfg.Memory.Limit())
	}
	a.prepaid = int64(minBytes)
	return a, nil
}

// Limit is the container's limit in bytes (at most MaxMemoryBytes).
func (a *MemoryAccount) Limit() uint64 { return a.limit }

// Charge accounts n more bytes of linear memory, from what was prepaid
// first; false (nothing charged, the refusal remembered) past the limit or
// the budget.
func (a *MemoryAccount) Charge(n uint64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.charged+n > a.limit {
		a.refuseLocked(fmt.Sprintf("memory limit of %d bytes reached", a.limit))
		return false
	}
	paid := min(int64(n), a.prepaid)
	if by := a.node.TryAcquire(int64(n) - paid); by != nil {
		a.refuseLocked(fmt.Sprintf("%s exhausted (%d of %d bytes in use)", by.Name(), by.Used(), by.Limit()))
		return false
	}
	a.prepaid -= paid
	a.charged += n
	return true
}

// Free gives back n charged bytes (memory freed, or a charge whose growth
// then failed).
func (a *MemoryAccount) Free(n uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.node.Release(int64(n))
	a.charged -= n
}

// Refund gives back what was prepaid and no memory grew into.
func (a *MemoryAccount) Refund() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.node.Release(a.prepaid)
	a.prepaid = 0
}

// Refuse records why a growth failed, unless one was recorded already.
func (a *MemoryAccount) Refuse(why string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refuseLocked(why)
}

func (a *MemoryAccount) refuseLocked(why string) {
	if a.hit == "" {
		a.hit = why
	}
}

// HitLimit returns why growth was refused, "" if it never was.
func (a *MemoryAccount) HitLimit() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hit
}

// Status is st, the status of the guest as it ended, or OOMKilled (exit
// code 137) when it exited non-zero (not killed) after a growth was
// refused.
func (a *MemoryAccount) Status(st ExitStatus) ExitStatus {
	if why := a.HitLimit(); why != "" && st.ExitCode != 0 && !st.Killed {
		return ExitStatus{
			ExitCode:  137,
			OOMKilled: true,
			Message:   fmt.Sprintf("%s (guest exit %d)", why, st.ExitCode),
		}
	}
	return st
}
