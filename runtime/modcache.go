package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// ErrEngineClosed is the error of a Compile or Start on a closed Engine.
var ErrEngineClosed = errors.New("engine is closed")

// ParseDigest checks a module digest, "sha256:<64 hex digits>", and returns
// its hex part in lower case.
func ParseDigest(digest string) (string, error) {
	h, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(h) != 64 {
		return "", fmt.Errorf("digest %q: want \"sha256:<64 hex digits>\"", digest)
	}
	return strings.ToLower(h), nil
}

// ModuleCache is an engine's compiled modules by digest, for the engine's
// lifetime: concurrent Gets of one digest compile once (the others wait for
// it), and a failed compilation is forgotten so that a later Get retries.
// The zero value is ready to use; it is safe for concurrent use.
type ModuleCache[M any] struct {
	mu      sync.Mutex
	closed  bool
	modules map[string]*moduleEntry[M]
}

type moduleEntry[M any] struct {
	ready chan struct{}
	mod   M
	err   error
}

// Get returns the module compiled for digest, calling compile (once, on
// this goroutine) when there is none yet. A caller that waits for another's
// compilation stops waiting when ctx is done. On a closed cache it returns
// ErrEngineClosed.
func (c *ModuleCache[M]) Get(ctx context.Context, digest string, compile func() (M, error)) (M, error) {
	var zero M
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return zero, ErrEngineClosed
	}
	if ent, ok := c.modules[digest]; ok {
		c.mu.Unlock()
		moduleCacheHits.Inc() // metrics.go
		select {
		case <-ent.ready:
		case <-ctx.Done():
			return zero, ctx.Err()
		}
		return ent.mod, ent.err
	}
	ent := &moduleEntry[M]{ready: make(chan struct{})}
	if c.modules == nil {
		c.modules = map[string]*moduleEntry[M]{}
	}
	c.modules[digest] = ent
	c.mu.Unlock()

	moduleCacheMisses.Inc()
	start := time.Now()
	ent.mod, ent.err = compile()
	observeCompile(start, ent.err)
	if ent.err != nil {
		ent.mod = zero
		c.mu.Lock()
		delete(c.modules, digest) // let a later Get retry
		c.mu.Unlock()
	}
	close(ent.ready)
	return ent.mod, ent.err
}

// Close makes every later Get fail with ErrEngineClosed, empties the cache
// and returns the modules compiled so far (not those still compiling), for
// the engine to release.
func (c *ModuleCache[M]) Close() []M {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var out []M
	for _, ent := range c.modules {
		select {
		case <-ent.ready:
			if ent.err == nil {
				out = append(out, ent.mod)
			}
		default:
		}
	}
	c.modules = nil
	return out
}

// Instances is the set of an engine's running instances, which its Close
// kills and waits for. The zero value is ready to use; it is safe for
// concurrent use.
type Instances[I interface {
	comparable
	Instance
}] struct {
	mu     sync.Mutex
	closed bool
	set    map[I]struct{}
}

// Add adds in and returns how many instances there are now; it fails with
// ErrEngineClosed after Close.
func (s *Instances[I]) Add(in I) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrEngineClosed
	}
	if s.set == nil {
		s.set = map[I]struct{}{}
	}
	s.set[in] = struct{}{}
	return len(s.set), nil
}

// Remove removes in (an instance that has ended, or failed to start).
func (s *Instances[I]) Remove(in I) {
	s.mu.Lock()
	delete(s.set, in)
	s.mu.Unlock()
}

// Len is the number of instances.
func (s *Instances[I]) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.set)
}

// Close makes every later Add fail, kills every instance and waits until
// each is Done, or until ctx is done (its error). closed is false when the
// set was closed already (and Close did nothing).
func (s *Instances[I]) Close(ctx context.Context) (closed bool, err error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false, nil
	}
	s.closed = true
	insts := make([]I, 0, len(s.set))
	for in := range s.set {
		insts = append(insts, in)
	}
	s.mu.Unlock()
	for _, in := range insts {
		in.Kill()
	}
	for _, in := range insts {
		select {
		case <-in.Done():
		case <-ctx.Done():
			return true, ctx.Err()
		}
	}
	return true, nil
}
