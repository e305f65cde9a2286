// Package runtime is the WASM sandbox: an engine-neutral interface for
// compiling WASI preview-1 modules and running container instances of them.
//
// Contracts:
//   - An Engine is safe for concurrent use. Compile is idempotent per digest:
//     compiling the same digest twice returns the cached module.
//   - Start instantiates the module synchronously (link errors, bad config
//     and missing mounts are returned from Start) and then runs the guest's
//     _start in its own goroutine.
//   - Cancelling the ctx given to Start kills the instance, exactly as Kill.
//   - Terminate delivers TERM: the guest's stdin pipe is closed, so a guest
//     blocked reading stdin sees EOF (see wasm-examples/term). Kill stops the
//     guest promptly, whatever it is doing (busy loop, sleep, blocked read),
//     and its status reports exit code 137.
//   - Mounts are confined: a guest cannot reach host files outside its mounts
//     through "..", absolute paths or symlinks, and cannot make a symlink
//     that points outside (created, renamed or linked). A Mount with Root
//     is that opened directory (no re-resolution of HostPath); one with a
//     Quota is bounded in bytes (ENOSPC past it).
package runtime

import (
	"context"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/wasmpod/wasmpod/runtime/wasi"
)

// Engine compiles and runs WASM modules. Backends: wazero (default).
type Engine interface {
	// Name identifies the backend, e.g. "wazero".
	Name() string
	// Compile compiles wasm (whose sha256 digest is digest, "sha256:<hex>")
	// or returns the cached compiled module for that digest.
	Compile(ctx context.Context, digest string, wasm []byte) (CompiledModule, error)
	// Start instantiates mod with cfg and runs it in the background.
	Start(ctx context.Context, mod CompiledModule, cfg ContainerConfig) (Instance, error)
	// Close releases every compiled module and kills running instances.
	Close(ctx context.Context) error
}

// CompiledModule is a module ready to instantiate.
type CompiledModule interface {
	Digest() string
}

// Mount makes a host directory visible to the guest at GuestPath.
type Mount struct {
	// HostPath is the host directory; with Root set it only names the
	// mount in diagnostics.
	HostPath  string
	GuestPath string
	ReadOnly  bool
	// Root, when set, is the host directory already opened by the caller
	// (e.g. a subPath resolved beneath its volume): the engine uses it
	// instead of opening HostPath, so the directory checked is the
	// directory mounted (no check-then-use race). The engine takes its own
	// handle on it; the caller keeps Root and closes it after Start.
	Root *os.Root
	// Quota, when set, bounds the bytes of the volume (an emptyDir's
	// sizeLimit): shared by every mount of the volume, in every instance;
	// writes, fd_allocate and set_size past it fail with ENOSPC.
	Quota *VolumeQuota
	// File, when set, makes this a single-file mount (a subPath naming a
	// file, the termination-message file): the regular file the caller
	// opened is shown at GuestPath, over a mount point (made if missing)
	// in the directory mount holding GuestPath's directory, so one such
	// mount must be there (e.g. at "/"). The engine takes its own handle
	// (reopened per guest open, so later renames or symlinks at the
	// file's name in its volume change nothing); the caller closes File.
	File *os.File
	// FileByPath makes this a single-file mount of the regular file at
	// HostPath, opened by that path at each guest use rather than held
	// open (an idle instance holds no fd for it). Only for a file in a host
	// directory no guest reaches (the termination-message file); a file a
	// guest could rename or replace needs File.
	FileByPath bool
}

// VolumeQuota bounds the bytes a volume holds (see wasi.Quota): create one
// per volume with NewVolumeQuota and put it in every Mount of the volume.
type VolumeQuota = wasi.Quota

// NewVolumeQuota returns the quota of a volume of limit bytes whose host
// directory is dir (what it holds already counts). name is for
// diagnostics, e.g. `pod ns/name volume "cache"`.
func NewVolumeQuota(name string, limit int64, dir string) (*VolumeQuota, error) {
	return wasi.NewQuota(name, limit, dir)
}

// MeasureVolume is a volume directory's usage as a VolumeQuota counts it:
// per file, directory and symlink wasi.InodeCost bytes plus a regular
// file's size, holes included.
func MeasureVolume(dir string) (int64, error) { return wasi.MeasureDir(dir) }

// ContainerConfig is everything an instance needs from the pod worker.
type ContainerConfig struct {
	// Name is for diagnostics only ("pod/container").
	Name string
	// Args is argv, argv[0] included.
	Args []string
	// Env is "KEY=VALUE" pairs, in order.
	Env []string
	// WorkingDir is the guest's current directory, exported to the guest
	// as PWD (which Go's wasip1 port honours; wasi-libc starts in "/"
	// whatever PWD says). Empty means "/" and no PWD.
	WorkingDir string
	// Mounts are the guest's preopened directories.
	Mounts []Mount
	// MemoryLimitBytes caps the guest's linear memory, rounded down to whole
	// 64 KiB pages. 0 means no limit beyond the wasm32 maximum.
	MemoryLimitBytes int64
	// Memory, when set, is the node's memory budget in bytes: the guest's
	// linear memory is charged to it as it grows (and released when the
	// instance ends); growth it refuses fails as growth past
	// MemoryLimitBytes does (OOMKilled).
	Memory *Budget
	// Stdin, when non-nil, is copied to the guest's stdin; when it reaches
	// EOF the guest's stdin is closed. When nil the guest's stdin stays open
	// until Terminate or Kill.
	Stdin io.Reader
	// Stdout and Stderr receive the guest's output. Nil discards it.
	Stdout, Stderr io.Writer
	// Net is the pod's network namespace (a network.PodNet), handed
	// unchanged to the engine's WASI socket extension. Nil means no
	// network: socket calls fail with an errno; files and stdio work.
	Net Network
	// CPU is the instance's CPU account and throttle (cpu.go): a meter of
	// the node's CPUScheduler with the container's requests and limits.
	// Nil: the engine measures with a meter of its own, with no limit.
	CPU *CPUMeter
}

// Network is the pod network namespace as the runtime sees it: an opaque
// value (a network.PodNet) for the WASI socket extension, which
// type-asserts it. Declared here so that runtime does not import network.
type Network interface {
	IP() netip.Addr
}

// Instance is one running container instance.
type Instance interface {
	// Done is closed when the guest has exited and its resources are freed.
	Done() <-chan struct{}
	// Status is the final status; valid after Done is closed.
	Status() ExitStatus
	// Terminate delivers TERM (closes the guest's stdin). Idempotent.
	Terminate()
	// Kill stops the guest promptly. Idempotent; a no-op after exit.
	Kill()
}

// CPUReporter is implemented by every engine's Instance: the CPU time its
// guest code has used so far (cpu.go).
type CPUReporter interface {
	CPUUsage() time.Duration
}

// CPUUsage is inst's CPU time, and false when its engine does not measure.
func CPUUsage(inst Instance) (time.Duration, bool) {
	if r, ok := inst.(CPUReporter); ok {
		return r.CPUUsage(), true
	}
	return 0, false
}

// ExitStatus is how an instance ended.
type ExitStatus struct {
	// ExitCode is the guest's proc_exit code (0 when _start returned),
	// 137 when it was killed or ran out of memory, 134 when it trapped.
	ExitCode int
	// OOMKilled is true when the guest tried to grow its memory past
	// MemoryLimitBytes and exited non-zero as a result.
	OOMKilled bool
	// Killed is true when Kill (or ctx cancellation) ended the guest.
	Killed bool
	// Message describes a trap or failure, empty for a normal exit.
	Message string
}
