package wasi

// FDBudget is a count of host file descriptors shared by Systems (a
// runtime.Budget satisfies it). Every fd table entry that holds host fds
// acquires them when it enters the table and releases them when it leaves:
// a regular file 1, a directory 1 for its os.Root plus 1 for its handle
// for readdir and stat (a preopen opens that handle at its first use, and
// takes the fd from the budget then: an idle guest's mounts hold one fd
// each), a socket 1 (any socket may become an egress connection to a real
// host socket). Pipes, stdio and the virtual "/" hold none. When
// the budget refuses, the guest gets EMFILE (and New fails for a mount), so
// the host process keeps the fds it needs.
type FDBudget interface {
	Acquire(n int64) bool
	Release(n int64)
}

// DefaultFDHeadroom is the share of the process's fd limit that FDBudgetSize
// keeps for the process itself (API server connections, listeners, the
// store, log files), with a minimum of MinFDHeadroom fds.
const (
	DefaultFDHeadroom = 4 // one quarter
	MinFDHeadroom     = 256
)

// FDBudgetSize is the number of host fds guests may hold together in a
// process whose RLIMIT_NOFILE soft limit is rlimit: the limit minus a
// quarter of it (at least MinFDHeadroom) kept for the process. Never
// negative.
func FDBudgetSize(rlimit uint64) int64 {
	headroom := max(rlimit/DefaultFDHeadroom, MinFDHeadroom)
	if rlimit <= headroom {
		return 0
	}
	return int64(rlimit - headroom)
}

// hostFDs is the number of host fds f holds (see FDBudget).
func hostFDs(f File) int64 {
	switch f := f.(type) {
	case *regFile:
		return 1
	case *dirFile:
		if f.root == nil {
			return 0
		}
		if f.f != nil {
			return 2
		}
		return 1 // its handle, opened later, charges itself (dirFile.file)
	case Socket:
		return 1
	}
	return 0
}

// charge acquires the host fds of e from the budget; false when refused.
func (s *System) charge(e *fdEntry) bool {
	n := hostFDs(e.file)
	if n == 0 || s.fdBudget == nil {
		return true
	}
	if !s.fdBudget.Acquire(n) {
		return false
	}
	e.hostFDs = n
	return true
}

// uncharge releases what charge acquired for e.
func (s *System) uncharge(e *fdEntry) {
	if e != nil && e.hostFDs > 0 {
		s.fdBudget.Release(e.hostFDs)
		e.hostFDs = 0
	}
}
