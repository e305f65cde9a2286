// Package pods is the node agent (the kubelet's pod workers): it runs one
// pod's containers on a runtime.Engine with Kubernetes lifecycle semantics
// and reports the pod's status.
//
// Contracts:
//   - A Worker owns one pod. Run blocks until the pod is terminal (every
//     container exited for good) or ctx is cancelled; cancelling ctx kills
//     every container at once.
//   - Terminate may be called from any goroutine, any number of times; a
//     later call can only shorten the grace period.
//   - Config callbacks are called from the worker's goroutine, in order;
//     they must not block for long.
//   - Time comes only from Config.Clock, so tests drive back-off, grace
//     periods and deadlines with a fake clock.
package pods

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/logs"
	"github.com/wasmpod/wasmpod/network"
	"github.com/wasmpod/wasmpod/runtime"
)

// AnnotationManifestDir holds the directory that relative image references
// of the pod resolve against (the manifest's directory).
const AnnotationManifestDir = "wasmpod.io/manifest-dir"

// ImageResolver turns an image reference into module bytes.
type ImageResolver interface {
	Resolve(ctx context.Context, ref, baseDir string) (*images.Image, error)
}

// Network is the node's pod network (see package network): each pod gets
// its own namespace there, shared by its containers.
type Network interface {
	AddPod(network.PodInfo) (network.PodNet, error)
	RemovePod(ip netip.Addr)
}

// Config is shared by every worker of a node.
type Config struct {
	// Network, when set, gives every pod with an IP a network namespace
	// (one IP, one port space, localhost between its containers).
	Network Network
	// Engine runs the pods without a runtimeClassName (the node's default
	// runtime handler, named by its Name()); Engines are the node's other
	// runtime handlers, by RuntimeClass handler name, and RuntimeClasses
	// reads a RuntimeClass (runtimeclass.go).
	Engine         runtime.Engine
	Engines        map[string]runtime.Engine
	RuntimeClasses func(ctx context.Context, name string) (*nodev1.RuntimeClass, error)
	Images         ImageResolver
	// Clock is the source of time; clock.RealClock{} when nil.
	Clock clock.WithTicker
	// RootDir holds each pod's state: RootDir/<ns>_<name>_<uid>/{logs,volumes}
	// (see PodDirName for long names).
	RootDir  string
	NodeName string
	HostIP   string
	// Allocatable is the node's capacity, used for resourceFieldRef on
	// containers without limits. Defaults: cpu = host CPUs, memory = 4Gi
	// (the wasm32 address space).
	Allocatable corev1.ResourceList
	// AllowHostPath permits hostPath volumes.
	AllowHostPath bool
	// NodeMemory, when set, is the node's memory budget: every container's
	// linear memory is charged to it (through its pod's budget), so a
	// container without limits.memory is bounded by what is left.
	NodeMemory *runtime.Budget
	// NodeCPU, when set, is the node's CPU: every container instance is
	// metered and throttled by it (cpu.go). Nil: each instance is bounded
	// by its limits.cpu alone.
	NodeCPU *runtime.CPUScheduler
	// ContainerLogMaxSize and ContainerLogMaxFiles bound each container
	// instance's log as the kubelet's settings of the same names: a file
	// is rotated before it passes MaxSize bytes and at most MaxFiles files
	// are kept (defaults 10Mi and 5; see logs.RotatePolicy).
	ContainerLogMaxSize  int64
	ContainerLogMaxFiles int

	// HostPorts, when set, binds the pods' hostPorts as part of their
	// sandbox (agent_net_sandbox.go): a port that cannot be bound fails the
	// sandbox, retried with back-off. HostPortAddress is the host address a
	// port without hostIP binds (default 127.0.0.1).
	HostPorts       HostPortMapper
	HostPortAddress netip.Addr
	// ips, set by the node agent, gives a pod without an IP one when its
	// sandbox is created; none free fails the sandbox (ipam.go).
	ips *ipam

	// OnStatus receives a copy of the pod after each status change.
	OnStatus func(pod *corev1.Pod)
	// OnEvent receives the pod's Events (Pulling, Started, BackOff, ...);
	// fieldPath is the involved object's field path: the container an
	// Event is about (spec.containers{NAME}), or "" for the pod.
	OnEvent func(pod *corev1.Pod, fieldPath, eventType, reason, message string)
	// OnImagePull, when set, is told of each image pull (not of an image
	// the worker or the store already has): its duration, the module's
	// size, and its error (nil for a success). The agent counts them
	// (metrics.go).
	OnImagePull func(d time.Duration, size int, err error)
	// OnLog receives every line a container writes.
	OnLog func(pod *corev1.Pod, container string, stream logs.Stream, line string)
	// Services, when set, lists the Services of a namespace; a container
	// gets the environment variables of those that exist when it starts
	// (see serviceEnv). The node agent fills it from an informer.
	Services func(namespace string) []*corev1.Service
	// ConfigMaps and Secrets, when set, read an object of a namespace
	// through the API, for env and volumes (env_config.go,
	// configvolumes.go); a missing object is a NotFound API error. The
	// node agent fills them with client-go gets.
	ConfigMaps func(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error)
	Secrets    func(ctx context.Context, namespace, name string) (*corev1.Secret, error)
	// ServiceAccountTokens, when set, requests a ServiceAccount token
	// through the API (TokenRequest), for serviceAccountToken projections
	// (configvolumes_token.go). The node agent fills it with client-go.
	ServiceAccountTokens func(ctx context.Context, namespace, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error)
	// ConfigVolumeSyncPeriod is how often configMap, secret, downwardAPI
	// and projected volumes are refreshed (DefaultConfigVolumeSyncPeriod
	// when zero).
	ConfigVolumeSyncPeriod time.Duration
}

// Worker runs one pod.
type Worker struct {
	cfg *Config
	// summaryDisk: the pod directory's usage for the stats Summary.
	summaryDisk diskReading
	clk         clock.WithTicker
	state       *podState
	podDir      string

	// podNet is the pod's network namespace (nil without a network).
	podNet network.PodNet
	podIP  netip.Addr
	// netStats reads the pod network's counters (guarded by mu; nil
	// without a network).
	netStats network.StatsReader
	// netLabels are its series' namespace and pod labels (metrics.go;
	// guarded by mu).
	netLabels *[2]*dto.LabelPair
	// hostPorts are the pod's bound hostPorts (worker goroutine only).
	hostPorts hostPortSet

	mu   sync.Mutex
	pod  *corev1.Pod    // last published
	eng  runtime.Engine // the pod's RuntimeClass's (runtimeclass.go)
	done chan struct{}

	termCh chan time.Duration
	exits  chan exitEvent
	insts  map[*ctr]*instance
	images map[string]*images.Image
	// backoffSeen remembers the exit a BackOff event was emitted for.
	backoffSeen map[*ctr]*corev1.ContainerStateTerminated
	// pullBackoffSeen remembers the retry time an image pull's BackOff
	// event was emitted for.
	pullBackoffSeen map[*ctr]time.Time

	// finished: the pod was already Succeeded or Failed when the worker
	// was made; Run returns at once.
	finished bool
	// mods holds each started container's compiled module, for Exec
	// (guarded by mu).
	mods map[string]runtime.CompiledModule
	// logCh is closed and replaced whenever a log line is written or a
	// container instance exits (guarded by mu); Logs with follow waits on it.
	logCh chan struct{}
	// logFiles are the running instances' log files by path (guarded by
	// mu): Logs opens a log under its file's rotation lock.
	logFiles map[string]*logs.RotatingFile
	// attach is each container's current instance's attach point, by
	// container name (attach.go; guarded by mu).
	attach map[string]*attachState
	// quotas bounds the pod's sized emptyDirs, by volume name (volumes.go;
	// set by setupVolumes, guarded by mu).
	quotas map[string]*runtime.VolumeQuota
	// rootfs are the containers' current root file system layers, by
	// name (rootfs.go).
	rootfs map[string]*rootfsLayer
	// subdirs are the directories of podDir this worker made (podfs.go),
	// under dirMu (taken with or without mu).
	dirMu   sync.Mutex
	subdirs map[string]bool
	// cpu is each container's CPU account, by name (cpu.go; guarded by mu).
	cpu map[string]*cpuAccount

	// evictCh carries an eviction to Run (eviction.go); evictMsg is the
	// pod's eviction message once evicted (guarded by mu).
	evictCh  chan string
	evictMsg string

	// deadlineCh carries an updated activeDeadlineSeconds to Run
	// (termination_deadline.go).
	deadlineCh chan *int64
	// pinned holds the subPath mounts of each running container's
	// instance, which its execs use (subpath.go; guarded by mu).
	pinned map[string][]runtime.Mount
	// imageCh carries the pod's updated container images to Run (SetImages).
	imageCh chan map[string]string
	// mem is the pod's memory budget within Config.NodeMemory, ctrMem
	// each container's within it (guarded by mu; see containerMemory).
	mem    *runtime.Budget
	ctrMem map[string]*runtime.Budget
	// cfgVols is what the config volumes hold (configvolumes.go).
	cfgVols configVolumes
	// probes runs the probes and hooks (probe.go, hooks.go).
	probes probeSet
}

type instance struct {
	inst     runtime.Instance
	termSent bool
	// turn, while not nil, holds a stopping sidecar's TERM until its turn
	// (termination_order.go).
	turn     chan struct{}
	closeLog func()
	// termFile and logPath: the instance's termination-message file and
	// log (termination.go).
	termFile, logPath string
}

type exitEvent struct {
	c      *ctr
	status runtime.ExitStatus
}

// NewWorker prepares a worker for pod, which must be defaulted and valid.
//
// A pod whose status already has container statuses was running when the
// node stopped (wasmpod was stopped or killed): the worker resumes it as the
// kubelet does after a reboot (see podState.restore): the old instances are
// gone, init containers run again and app containers start again per
// restartPolicy with restartCount + 1. A pod already Succeeded or Failed is
// left as it is: Run returns at once.
func NewWorker(cfg *Config, pod *corev1.Pod) *Worker {
	clk := cfg.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	pod = pod.DeepCopy()
	w := &Worker{
		cfg:    cfg,
		clk:    clk,
		state:  newPodState(pod),
		podDir: filepath.Join(cfg.RootDir, PodDirName(pod)),
		pod:    pod,
		done:   make(chan struct{}),
		termCh: make(chan time.Duration, 8),
		exits:  make(chan exitEvent, 8),
		insts:  map[*ctr]*instance{},
		images: map[string]*images.Image{},

		backoffSeen: map[*ctr]*corev1.ContainerStateTerminated{},
		mods:        map[string]runtime.CompiledModule{},
		logCh:       make(chan struct{}),
		evictCh:     make(chan string, 1),
		deadlineCh:  make(chan *int64, 1),
		imageCh:     make(chan map[string]string, 1),
		probes:      newProbeSet(),
	}
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed:
		w.finished = true
	default:
		w.state.restore(&pod.Status, clk.Now())
	}
	return w
}

// notifyLog wakes the followers of the pod's logs.
func (w *Worker) notifyLog() {
	w.mu.Lock()
	close(w.logCh)
	w.logCh = make(chan struct{})
	w.mu.Unlock()
}

func (w *Worker) logWait() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.logCh
}

// Pod returns a copy of the pod with its latest status.
func (w *Worker) Pod() *corev1.Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod.DeepCopy()
}

// Done is closed when Run has returned.
func (w *Worker) Done() <-chan struct{} { return w.done }

// Terminate asks for graceful termination with the given grace period; a
// negative grace means the pod's terminationGracePeriodSeconds.
func (w *Worker) Terminate(grace time.Duration) {
	select {
	case w.termCh <- grace:
	case <-w.done:
	}
}

// Dir is the pod's state directory (logs and volumes).
func (w *Worker) Dir() string { return w.podDir }

// LogPath is the CRI log file of a container instance.
func (w *Worker) LogPath(container string, restart int32) string {
	return filepath.Join(w.podDir, "logs", container, fmt.Sprintf("%d.log", restart))
}

// Run runs the pod until it is terminal or ctx is cancelled.
func (w *Worker) Run(ctx context.Context) error {
	defer close(w.done)
	if w.finished {
		return nil
	}
	s := w.state
	if s.startTime.IsZero() {
		s.startTime = w.clk.Now()
	}
	if err := w.setupVolumes(); err != nil {
		// The pod cannot start at all: every container reports the error.
		for _, c := range s.ctrs {
			c.waitReason, c.waitMessage = "CreateContainerConfigError", err.Error()
		}
		w.event(corev1.EventTypeWarning, "FailedMount", err.Error())
		s.terminal = true
		w.publish()
		return nil
	}
	defer w.releaseVolumeCharges() // after the volumes are removed
	// Without volumes no volumes directory was ever made.
	if len(w.state.pod.Spec.Volumes) > 0 {
		defer os.RemoveAll(filepath.Join(w.podDir, "volumes"))
	}
	if stop := w.watchVolumes(); stop != nil {
		defer stop()
	}
	if stop := w.watchRootfs(); stop != nil { // rootfs.go
		defer stop()
	}
	// configMap, secret, downwardAPI and projected volumes (configvolumes.go).
	if ok, err := w.mountConfigVolumes(ctx); !ok {
		return err
	}
	if stop := w.watchConfigVolumes(); stop != nil {
		defer stop()
	}
	// The sandbox (network namespace, hostPorts): retried with back-off
	// until it is created or the pod ends (agent_net_sandbox.go).
	if ok, err := w.createSandbox(ctx); !ok {
		return err
	}
	defer w.teardownNetwork()
	s.sandboxReady = true
	w.publish()
	select {
	case imgs := <-w.imageCh: // changed while the pod was being set up
		w.setImages(imgs)
	default:
	}
	for {
		now := w.clk.Now()
		a := s.plan(now)
		// Each start runs under a context a termination request cancels
		// (startWatched): as the kubelet's pod workers cancel the running
		// SyncPod when the pod starts terminating, a pod deleted while its
		// image is pulled or its module compiled starts no container.
		var graces []time.Duration
		for _, c := range a.start {
			if graces = w.startWatched(ctx, c); len(graces) > 0 {
				break
			}
		}
		if ctx.Err() != nil {
			return w.abort(ctx) // a start cut short by it
		}
		if len(graces) > 0 {
			for _, g := range graces {
				w.terminate(g)
			}
			continue // plan again: the pod is terminating
		}
		w.deliverTermination(a) // termination_order.go: Killing, preStop, then TERM in order
		if a.kill {
			w.killAll()
		}
		for _, c := range s.ctrs {
			if c.waitReason == "CrashLoopBackOff" && c.exited != nil && w.backoffSeen[c] != c.exited {
				w.backoffSeen[c] = c.exited
				w.ctrEvent(c, corev1.EventTypeWarning, "BackOff", fmt.Sprintf("Back-off restarting failed container %s in pod %s", c.spec.Name, podRef(s.pod)))
			}
			if c.waitReason == "ImagePullBackOff" && w.pullBackoffSeen[c] != c.retryAt {
				// As the kubelet's image manager while the pull backs off,
				// and its caller's "Error: " event.
				if w.pullBackoffSeen == nil {
					w.pullBackoffSeen = map[*ctr]time.Time{}
				}
				w.pullBackoffSeen[c] = c.retryAt
				w.ctrEvent(c, corev1.EventTypeNormal, "BackOff", fmt.Sprintf("Back-off pulling image %q", c.spec.Image))
				w.ctrEvent(c, corev1.EventTypeWarning, "Failed", "Error: ImagePullBackOff")
			}
		}
		w.publish()
		w.launchProbes(ctx) // postStart and probes of the instances just published
		if s.terminal {
			return nil
		}
		if !s.terminating && w.phaseTerminal() {
			// As the kubelet's syncPod: a pod whose status is Failed or
			// Succeeded ends (a restartPolicy Never container restarted
			// for a changed image whose new image cannot be pulled).
			s.beginTermination(w.clk.Now(), "", s.gracePeriod())
			continue
		}
		if len(a.start) > 0 {
			continue // plan again: an init container may have finished starting
		}
		var timer <-chan time.Time
		var t clock.Timer
		if !a.wake.IsZero() {
			t = w.clk.NewTimer(a.wake.Sub(now))
			timer = t.C()
		}
		select {
		case ev := <-w.exits:
			w.recordExit(ev)
		case g := <-w.termCh:
			w.terminate(g)
		case m := <-w.probes.ch:
			w.onProbe(m)
		case msg := <-w.evictCh:
			w.beginEviction(msg)
		case d := <-w.deadlineCh:
			w.setActiveDeadline(d) // termination_deadline.go
		case imgs := <-w.imageCh:
			w.setImages(imgs)
		case <-timer:
		case <-ctx.Done():
			return w.abort(ctx)
		}
		if t != nil {
			t.Stop()
		}
	}
}

// abort, in Run, ends the pod when Run's ctx is cancelled: every container
// is killed at once.
func (w *Worker) abort(ctx context.Context) error {
	w.killAll()
	for len(w.insts) > 0 {
		w.recordExit(<-w.exits)
	}
	w.state.terminal = true
	w.publish()
	return ctx.Err()
}

// terminate, in Run, begins the pod's termination for a Terminate request
// of grace g (negative: the pod's own grace period).
func (w *Worker) terminate(g time.Duration) {
	s := w.state
	if g < 0 {
		g = s.gracePeriod()
	}
	now := w.clk.Now()
	s.beginTermination(now, "", g)
	w.mu.Lock()
	if w.pod.DeletionTimestamp == nil {
		ts := metav1.NewTime(now)
		w.pod.DeletionTimestamp = &ts
	}
	secs := int64(s.deadline.Sub(now) / time.Second)
	w.pod.DeletionGracePeriodSeconds = &secs
	w.mu.Unlock()
}

// startWatched runs start(ctx, setup, c) with setup a context of ctx that a
// Terminate arriving meanwhile cancels; it returns the grace periods of the
// Terminate requests it took (none when start ran to its end untouched).
// A cancelled start creates and starts no container and records nothing
// of the attempt (start).
func (w *Worker) startWatched(ctx context.Context, c *ctr) []time.Duration {
	setup, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	got := make(chan []time.Duration, 1)
	go func() {
		var gs []time.Duration
		defer func() { got <- gs }()
		for {
			select {
			case g := <-w.termCh:
				gs = append(gs, g)
				cancel()
			case <-stop:
				return
			}
		}
	}()
	w.start(ctx, setup, c)
	close(stop)
	return <-got
}

// compile compiles img on the pod's engine, giving up when setup is done.
// The engine's Compile is given setup, but a compilation may not stop for
// it (wazero's does not): it then goes on, on its own goroutine, to its
// end and into the engine's module cache, where the next start of that
// module finds it. A worker leaves at most one such compilation behind: a
// cancelled setup means the pod is ending and starts nothing more.
func (w *Worker) compile(setup context.Context, img *images.Image) (runtime.CompiledModule, error) {
	type result struct {
		mod runtime.CompiledModule
		err error
	}
	eng := w.engine()
	done := make(chan result, 1)
	go func() {
		mod, err := eng.Compile(setup, img.Digest, img.Bytes)
		done <- result{mod, err}
	}()
	select {
	case r := <-done:
		return r.mod, r.err
	case <-setup.Done():
		return nil, setup.Err()
	}
}

func (w *Worker) killAll() {
	for _, in := range w.insts {
		in.inst.Kill()
	}
}

func (w *Worker) recordExit(ev exitEvent) {
	c := ev.c
	in := w.insts[c]
	delete(w.insts, c)
	if in != nil && in.closeLog != nil {
		in.closeLog()
	}
	w.unpinMounts(c.spec.Name) // subpath.go
	term := &corev1.ContainerStateTerminated{
		ExitCode:    int32(ev.status.ExitCode),
		StartedAt:   metav1.NewTime(c.started),
		FinishedAt:  metav1.NewTime(w.clk.Now()),
		ContainerID: c.containerID,
		Message:     ev.status.Message,
	}
	switch {
	case ev.status.OOMKilled:
		term.Reason = "OOMKilled"
	case ev.status.ExitCode == 0:
		term.Reason = "Completed"
	default:
		term.Reason = "Error"
	}
	if in != nil {
		if m := w.terminationMessage(c, term, in.termFile, in.logPath); m != "" { // termination.go
			if term.Message != "" {
				term.Message += ": "
			}
			term.Message += m
		}
	}
	c.running = false
	c.exited = term
	c.waitReason, c.waitMessage = "", ""
	w.notifyLog()
}

// start resolves, compiles and starts one container, recording a waiting
// reason and a retry time when it cannot. The image and the compilation
// are had under setup; once setup is cancelled (the pod is terminating,
// startWatched) start returns without creating or starting the container
// and without recording a failure. The instance itself runs under ctx.
func (w *Worker) start(ctx, setup context.Context, c *ctr) {
	now := w.clk.Now()
	// failWith waits with reason and msg until the pull back-off's retry,
	// and records the Event event; fail's Event is msg itself.
	failWith := func(reason, msg, event string) {
		c.pull.next(now, now)
		c.retryAt = now.Add(c.pull.delay)
		c.waitReason, c.waitMessage = reason, msg
		w.ctrEvent(c, corev1.EventTypeWarning, "Failed", event)
	}
	fail := func(reason, msg string) { failWith(reason, msg, msg) }
	img, err := w.image(setup, c)
	if setup.Err() != nil {
		return // terminating: the pull's outcome does not matter
	}
	if errors.Is(err, images.ErrNeverPull) {
		// As the kubelet's image manager: no back-off, the message alone.
		msg := err.Error()
		if e := (*images.Error)(nil); errors.As(err, &e) {
			msg = e.Err.Error()
		}
		c.pull.next(now, now)
		c.retryAt = now.Add(c.pull.delay)
		c.waitReason, c.waitMessage = "ErrImageNeverPull", msg
		w.ctrEvent(c, corev1.EventTypeWarning, "ErrImageNeverPull", msg)
		return
	}
	if err != nil {
		reason := "ErrImagePull"
		if errors.Is(err, images.ErrInvalid) {
			reason = "InvalidImageName"
		}
		// The whole cause (a build's compiler output) is the waiting
		// message; the Event gets one line of it.
		msg, summary := imageFailure(c.spec.Image, err)
		failWith(reason, msg, summary)
		w.ctrEvent(c, corev1.EventTypeWarning, "Failed", "Error: "+reason) // the kubelet's startContainer
		return
	}
	w.mu.Lock() // Exec reads it
	c.image = img.ImageID()
	w.mu.Unlock()
	mod, err := w.compile(setup, img)
	if setup.Err() != nil {
		return // terminating: no container is created
	}
	if err != nil {
		fail("CreateContainerError", "Error: "+err.Error())
		return
	}
	w.unpinMounts(c.spec.Name) // subpath.go: a new instance resolves its subPaths again
	// rootfs.go: a new instance, a new writable layer.
	if err := w.freshRootfs(c); err != nil {
		fail("CreateContainerError", "Error: "+err.Error())
		return
	}
	cfg, err := w.containerConfig(c)
	if err == nil && len(c.spec.Command) == 0 { // an OCI image's Entrypoint and Cmd
		var argv []string
		if argv, err = img.Argv(cfg.Args, len(c.spec.Args) > 0, MaxEnvArgsBytes); err != nil {
			closeMounts(cfg.Mounts)
		} else {
			cfg.Args = argv
		}
	}
	if err != nil {
		failWith("CreateContainerConfigError", err.Error(), "Error: "+err.Error())
		return
	}
	defer func() { closeMounts(cfg.Mounts) }() // the engine holds its own handles
	restarts := c.restarts
	if c.exited != nil {
		restarts++
	}
	closeLog, err := w.openLog(c, restarts, &cfg)
	if err != nil {
		fail("CreateContainerError", "Error: "+err.Error())
		return
	}
	termFile, err := w.terminationMount(c, &cfg) // termination.go
	if err != nil {
		closeLog()
		fail("CreateContainerError", "Error: "+err.Error())
		return
	}
	if setup.Err() != nil {
		closeLog() // terminating: no container is created
		return
	}
	w.ctrEvent(c, corev1.EventTypeNormal, "Created", "Created container: "+c.spec.Name)
	endStdin := w.attachInstance(c, restarts, &cfg) // attach.go
	inst, err := w.engine().Start(ctx, mod, cfg)
	if err != nil {
		endStdin()
		closeLog()
		fail("CreateContainerError", "Error: "+err.Error())
		return
	}
	if c.exited != nil {
		c.crash.next(now, c.exited.FinishedAt.Time)
		c.last = c.exited
		c.exited = nil
		c.restarts = restarts
	}
	c.retryAt = time.Time{}
	c.pull = backoff{}
	c.restored = false
	c.respawn = false
	c.runImage = c.spec.Image
	w.mu.Lock()
	w.mods[c.spec.Name] = mod
	w.mu.Unlock()
	c.running, c.ever, c.started = true, true, now
	c.waitReason, c.waitMessage = "", ""
	c.containerID = fmt.Sprintf("%s://%s-%s-%d", w.engine().Name(), w.state.pod.UID, c.spec.Name, restarts)
	w.insts[c] = &instance{inst: inst, closeLog: closeLog, termFile: termFile, logPath: w.LogPath(c.spec.Name, restarts)}
	w.pinMounts(c, cfg.Mounts) // subpath.go
	w.queueProbes(c, w.insts[c])
	w.ctrEvent(c, corev1.EventTypeNormal, "Started", "Started container "+c.spec.Name)
	go func() {
		<-inst.Done()
		endStdin()
		w.exits <- exitEvent{c: c, status: inst.Status()}
	}()
}

// imageFailure words a failed resolve as the kubelet words a failed pull
// ("Failed to pull image %q: cause"; "Failed to build image" for a go://
// build): msg with the whole cause, for the container's waiting message,
// and summary in one line, for the Event (whose message must not break
// describe's table).
func imageFailure(ref string, err error) (msg, summary string) {
	verb := "pull"
	if errors.Is(err, images.ErrBuild) {
		verb = "build"
	}
	cause, first, more := err.Error(), "", 0
	if e := (*images.Error)(nil); errors.As(err, &e) {
		cause = e.Err.Error() // e names the ref, as the prefix does
		first, more = e.Summary()
	} else {
		first, more = (&images.Error{Ref: ref, Err: err}).Summary()
	}
	msg = fmt.Sprintf("Failed to %s image %q: %s", verb, ref, cause)
	summary = fmt.Sprintf("Failed to %s image %q: %s", verb, ref, first)
	if more == 1 {
		summary += " (and 1 more line; see the container's waiting message)"
	} else if more > 1 {
		summary += fmt.Sprintf(" (and %d more lines; see the container's waiting message)", more)
	}
	return msg, summary
}

func (w *Worker) image(ctx context.Context, c *ctr) (*images.Image, error) {
	oci := images.AliasOf(c.spec.Image) == "" && images.IsOCIRef(c.spec.Image)
	// As the kubelet's image manager, an OCI image of pull policy Always is
	// pulled at every start of the container (the registry is asked for
	// its manifest; the module is fetched again only if that changed).
	always := oci && (c.spec.ImagePullPolicy == corev1.PullAlways ||
		c.spec.ImagePullPolicy == "" && images.DefaultPullPolicy(c.spec.Image) == images.PullAlways)
	if img := w.images[c.spec.Image]; img != nil && !always {
		w.alreadyPresent(c) // as the kubelet's image manager for an image it has
		return img, nil
	}
	if oci {
		// images/pull.go: the pull policy, imagePullSecrets and the events.
		secrets, missing := w.pullSecrets()
		img, err := images.PullForPod(ctx, w.cfg.Images.Resolve, images.PodPull{Ref: c.spec.Image,
			Policy: string(c.spec.ImagePullPolicy), Secrets: secrets, Missing: missing, Event: w.event, Now: w.clk.Now,
			Observe: w.cfg.OnImagePull})
		if err == nil {
			w.images[c.spec.Image] = img
		}
		return img, err
	}
	// A path, file:// or go:// image is read (or built) at each first use
	// in the pod: a pull. A wasmpod.local module is on the node's module
	// store, or fetched from the control plane's (images.StoreSource): as
	// the kubelet's image manager, an image already on the node is no
	// pull, and the events and pull metrics are a pull's only when the
	// module had to be fetched (OnPull).
	t0 := w.clk.Now()
	pulling := func() {
		t0 = w.clk.Now()
		w.ctrEvent(c, corev1.EventTypeNormal, "Pulling", fmt.Sprintf("Pulling image %q", c.spec.Image))
	}
	pulled := !images.IsStoreRef(c.spec.Image)
	if pulled {
		pulling()
	} else {
		ctx = images.WithPullOptions(ctx, images.PullOptions{OnPull: func() { pulled = true; pulling() }})
	}
	img, err := w.resolveImage(ctx, c.spec.Image) // exec.go: knows the busybox alias
	if err != nil {
		if pulled && w.cfg.OnImagePull != nil {
			w.cfg.OnImagePull(w.clk.Since(t0), 0, err)
		}
		return nil, err
	}
	w.images[c.spec.Image] = img
	if !pulled {
		w.alreadyPresent(c)
		return img, nil
	}
	if w.cfg.OnImagePull != nil {
		w.cfg.OnImagePull(w.clk.Since(t0), len(img.Bytes), nil)
	}
	w.ctrEvent(c, corev1.EventTypeNormal, "Pulled", fmt.Sprintf("Successfully pulled image %q in %s. Image size: %d bytes.",
		c.spec.Image, w.clk.Since(t0).Round(time.Millisecond), len(img.Bytes)))
	return img, nil
}

// alreadyPresent records the kubelet's event for an image the node has.
func (w *Worker) alreadyPresent(c *ctr) {
	w.ctrEvent(c, corev1.EventTypeNormal, "Pulled", fmt.Sprintf("Container image %q already present on machine and can be accessed by the pod", c.spec.Image))
}

// pullSecrets reads the docker configs of the pod's imagePullSecrets;
// missing names those that could not be read.
func (w *Worker) pullSecrets() (data [][]byte, missing []string) {
	for _, ref := range w.state.pod.Spec.ImagePullSecrets {
		s, err := w.secret(ref.Name)
		if err != nil || s == nil {
			missing = append(missing, fmt.Sprintf("%s/%s", w.state.pod.Namespace, ref.Name))
			continue
		}
		if b := images.PullSecretData(s.Data); b != nil {
			data = append(data, b)
		}
	}
	return data, missing
}

// SetImages gives the worker the pod's current container images, as the
// API allows them to change on a live pod (spec.containers[*].image and
// spec.initContainers[*].image). Run then acts as the kubelet's
// computePodActions does on a changed container definition:
//   - a running app container is stopped as killContainer stops it (preStop,
//     TERM, KILL after the pod's grace period; Killing "Container NAME
//     definition changed, will be restarted") and started again with the new
//     image whatever the restartPolicy, without crash back-off (upstream's
//     back-off key includes the container's spec hash);
//   - a running sidecar (restartable init container) likewise, with the
//     Killing message "Init container NAME definition changed";
//   - a regular init container is never run again for it: the new image is
//     used only if it has to run again anyway;
//   - a container waiting to start (ErrImagePull, ImagePullBackOff,
//     CrashLoopBackOff) tries the new image at once.
//
// A pod that is terminating only records the new image.
func (w *Worker) SetImages(pod *corev1.Pod) {
	want := map[string]string{}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			want[cs[i].Name] = cs[i].Image
		}
	}
	w.mu.Lock()
	changed := false
	for _, c := range w.state.ctrs {
		if img, ok := want[c.spec.Name]; ok && img != "" && img != c.spec.Image {
			changed = true
		}
	}
	w.mu.Unlock()
	if !changed {
		return // unchanged: every pod update passes here
	}
	for {
		select {
		case w.imageCh <- want:
			return
		case <-w.imageCh: // a value Run has not taken yet: replace it
		case <-w.done:
			return
		}
	}
}

// setImages, in Run, applies SetImages's images.
func (w *Worker) setImages(want map[string]string) {
	s := w.state
	for _, c := range s.ctrs {
		img, ok := want[c.spec.Name]
		if !ok || img == "" || img == c.spec.Image {
			continue
		}
		w.mu.Lock()
		c.spec.Image = img
		if w.pod != s.pod {
			setContainerImage(w.pod, c.spec.Name, img)
		}
		w.mu.Unlock()
		if s.terminating || s.terminal {
			continue
		}
		in := w.insts[c]
		switch {
		case in == nil:
			// Not running: the next start uses the new image, now. A pull
			// back-off and a crash back-off were for the old one.
			if c.kind != kindInit || !s.initialized {
				c.retryAt, c.pull, c.crash = time.Time{}, backoff{}, backoff{}
			}
		case c.kind == kindInit:
			// A running regular init container finishes as it is.
		default:
			c.respawn = c.kind == kindApp
			c.crash = backoff{}
			if in.termSent {
				continue // already stopping: it starts again with the new image
			}
			msg := fmt.Sprintf("Container %s definition changed, will be restarted", c.spec.Name)
			if c.kind == kindSidecar {
				msg = fmt.Sprintf("Init container %s definition changed", c.spec.Name)
			}
			w.ctrEvent(c, corev1.EventTypeNormal, "Killing", msg)
			w.stopInstance(c, in, s.gracePeriod()) // probe.go: preStop, TERM, KILL
		}
	}
	w.publish()
}

// phaseTerminal reports whether the published status is Failed or
// Succeeded.
func (w *Worker) phaseTerminal() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod.Status.Phase == corev1.PodFailed || w.pod.Status.Phase == corev1.PodSucceeded
}

// setContainerImage sets the image of pod's (init) container name.
func setContainerImage(pod *corev1.Pod, name, img string) {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if cs[i].Name == name {
				cs[i].Image = img
			}
		}
	}
}

// openLog creates the instance's CRI log file and points cfg's streams at it.
func (w *Worker) openLog(c *ctr, restart int32, cfg *runtime.ContainerConfig) (func(), error) {
	path := w.LogPath(c.spec.Name, restart)
	if err := w.logDir(c.spec.Name); err != nil {
		return nil, err
	}
	// As the kubelet's container garbage collection keeps one dead
	// instance per container: only this instance's log and the previous
	// one's are kept (none is older than the previous one before the
	// third instance).
	if restart >= 2 {
		if err := removeOldInstanceLogs(filepath.Dir(path), restart-1); err != nil {
			return nil, err
		}
	}
	f, err := logs.OpenRotating(path, w.cfg.logPolicy(), w.clk)
	if err != nil {
		return nil, err
	}
	pod, name := w.state.pod, c.spec.Name
	sink := func(s logs.Stream, line string) {
		w.notifyLog()
		if w.cfg.OnLog != nil {
			w.cfg.OnLog(pod, name, s, line)
		}
	}
	lf := logs.NewFile(f, w.clk, sink)
	out, errw := lf.Stream(logs.Stdout), lf.Stream(logs.Stderr)
	cfg.Stdout, cfg.Stderr = out, errw
	w.mu.Lock()
	if w.logFiles == nil {
		w.logFiles = map[string]*logs.RotatingFile{}
	}
	w.logFiles[path] = f
	w.mu.Unlock()
	return func() {
		out.Close()
		errw.Close()
		w.mu.Lock()
		delete(w.logFiles, path)
		w.mu.Unlock()
		f.Close()
	}, nil
}

// event records an Event about the pod.
func (w *Worker) event(eventType, reason, msg string) {
	if w.cfg.OnEvent != nil {
		w.cfg.OnEvent(w.state.pod, "", eventType, reason, msg)
	}
}

// ctrEvent records an Event about container c of the pod: its
// involvedObject.fieldPath names the container, as the kubelet's
// container references do (spec.containers{NAME},
// spec.initContainers{NAME}).
func (w *Worker) ctrEvent(c *ctr, eventType, reason, msg string) {
	if w.cfg.OnEvent != nil {
		w.cfg.OnEvent(w.state.pod, ctrFieldPath(c), eventType, reason, msg)
	}
}

// ctrFieldPath is the field path of c in its pod's spec.
func ctrFieldPath(c *ctr) string {
	if c.kind == kindApp {
		return "spec.containers{" + c.spec.Name + "}"
	}
	return "spec.initContainers{" + c.spec.Name + "}"
}

// publish recomputes the status and reports it when it changed.
func (w *Worker) publish() {
	w.mu.Lock()
	prev := w.pod.Status
	st := w.state.status(w.clk.Now(), &prev)
	w.applyEviction(&st, &prev)
	st.HostIP = w.cfg.HostIP
	if st.HostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: st.HostIP}}
	}
	changed := !equality.Semantic.DeepEqual(prev, st)
	if changed {
		w.pod.Status = st
		w.pod.Spec.NodeName = w.cfg.NodeName
	}
	cp := w.pod.DeepCopy()
	w.mu.Unlock()
	if changed && w.cfg.OnStatus != nil {
		w.cfg.OnStatus(cp)
	}
}

// --- network, volumes, environment, argv -------------------------------------

// setupNetwork creates the pod's network namespace (its sandbox) when the
// node has a network and the pod an IP.
func (w *Worker) setupNetwork() error {
	if err := w.allocateIP(); err != nil {
		return err
	}
	if w.cfg.Network == nil {
		return nil
	}
	pod := w.Pod()
	ip, err := netip.ParseAddr(pod.Status.PodIP)
	if err != nil {
		return nil // no IP assigned: the pod runs without a network
	}
	host := pod.Name
	if pod.Spec.Hostname != "" {
		host = pod.Spec.Hostname
	}
	// Socket buffers are host memory: a quarter of the pod's memory limit.
	// They count as the pod's memory on the node too.
	info := network.PodInfo{Namespace: pod.Namespace, Name: pod.Name, Hostname: host, Subdomain: pod.Spec.Subdomain, IP: ip,
		SocketBuffers: network.SocketBuffersFor(w.podMemoryLimit())}
	if m := w.podMemory(); m != nil {
		info.Memory = m
	}
	pn, err := w.cfg.Network.AddPod(info)
	if err != nil {
		return err
	}
	w.podNet, w.podIP = pn, ip
	if sr, ok := pn.(network.StatsReader); ok {
		w.mu.Lock()
		w.netStats = sr // kept after the sandbox goes, for the last reading
		w.mu.Unlock()
	}
	return nil
}

func (w *Worker) teardownNetwork() {
	w.closeHostPorts()
	if w.podNet != nil {
		w.cfg.Network.RemovePod(w.podIP)
		w.podNet = nil
	}
}

// --- volumes, environment, argv -------------------------------------------

func (w *Worker) volumeDir(v *corev1.Volume) string {
	return filepath.Join(w.podDir, "volumes", v.Name)
}

func (w *Worker) setupVolumes() error {
	for i := range w.state.pod.Spec.Volumes {
		v := &w.state.pod.Spec.Volumes[i]
		switch {
		case v.EmptyDir != nil:
			if err := os.MkdirAll(w.volumeDir(v), 0o777); err != nil {
				return fmt.Errorf("volume %q: %w", v.Name, err)
			}
			q, err := w.newVolumeQuota(v)
			if err != nil {
				return fmt.Errorf("volume %q: %w", v.Name, err)
			}
			if q != nil {
				w.mu.Lock()
				if w.quotas == nil {
					w.quotas = map[string]*runtime.VolumeQuota{}
				}
				w.quotas[v.Name] = q
				w.mu.Unlock()
			}
		case v.HostPath != nil:
			if !w.cfg.AllowHostPath {
				return fmt.Errorf("volume %q: hostPath volumes are disabled on this node", v.Name)
			}
			if err := checkHostPath(v); err != nil { // subpath.go
				return err
			}
		case isConfigVolume(v):
			// written by mountConfigVolumes (configvolumes.go)
		default:
			return fmt.Errorf("volume %q: unsupported volume source", v.Name)
		}
	}
	return nil
}

func (w *Worker) containerConfig(c *ctr) (runtime.ContainerConfig, error) {
	env, lookup, err := w.env(c.spec)
	if err != nil {
		return runtime.ContainerConfig{}, err
	}
	args, err := boundedArgv(c.spec, env, lookup) // env_bound.go
	if err != nil {
		return runtime.ContainerConfig{}, err
	}
	cfg := runtime.ContainerConfig{
		Name:       w.state.pod.Name + "/" + c.spec.Name,
		Args:       args,
		Env:        env,
		WorkingDir: c.spec.WorkingDir,
	}
	if w.podNet != nil {
		cfg.Net = withHostAliases(w.podNet, w.state.pod.Spec.HostAliases) // env_hostaliases.go
	}
	if m, ok := c.spec.Resources.Limits[corev1.ResourceMemory]; ok {
		cfg.MemoryLimitBytes = m.Value()
	}
	cfg.Memory = w.containerMemory(c.spec.Name)
	cfg.CPU = w.containerCPU(c.spec) // cpu.go
	for _, vm := range c.spec.VolumeMounts {
		if vm.SubPathExpr != "" { // env_config.go
			if vm.SubPath, err = subPathExpr(vm.SubPathExpr, lookup); err != nil {
				closeMounts(cfg.Mounts)
				return cfg, err
			}
		}
		if vm.SubPath != "" {
			// An exec sees its container's instance's subPath mounts.
			if m, ok := w.pinnedMount(c.spec.Name, vm.MountPath); ok { // subpath.go
				cfg.Mounts = append(cfg.Mounts, m)
				continue
			}
		}
		var host string
		for i := range w.state.pod.Spec.Volumes {
			v := &w.state.pod.Spec.Volumes[i]
			if v.Name != vm.Name {
				continue
			}
			vm.ReadOnly = vm.ReadOnly || isConfigVolume(v) // read-only, as upstream
			if v.HostPath != nil {
				host = v.HostPath.Path
			} else {
				host = w.volumeDir(v)
			}
		}
		if host == "" {
			closeMounts(cfg.Mounts)
			return cfg, fmt.Errorf("volumeMounts %q: no such volume", vm.Name)
		}
		// The directory is opened here, subPath resolved beneath the
		// volume, and the runtime mounts this very handle.
		root, file, err := openVolumePath(host, vm.SubPath) // subpath.go
		if err != nil {
			closeMounts(cfg.Mounts)
			if vm.SubPath != "" {
				return cfg, fmt.Errorf("failed to prepare subPath for volumeMount %q of container %q: %w", vm.Name, c.spec.Name, err)
			}
			return cfg, fmt.Errorf("volumeMounts %q: %w", vm.Name, err)
		}
		if vm.SubPath != "" {
			host = filepath.Join(host, vm.SubPath)
		}
		cfg.Mounts = append(cfg.Mounts, runtime.Mount{HostPath: host, GuestPath: vm.MountPath, ReadOnly: vm.ReadOnly, Root: root,
			File: file, Quota: w.volumeQuota(vm.Name)})
	}
	if err := w.rootfsMount(c, &cfg); err != nil { // subpath.go
		closeMounts(cfg.Mounts)
		return cfg, err
	}
	return cfg, nil
}

// closeMounts closes the directories containerConfig opened.
func closeMounts(ms []runtime.Mount) {
	for _, m := range ms {
		if m.Root != nil {
			m.Root.Close()
		}
		if m.File != nil {
			m.File.Close()
		}
	}
}

// env resolves the container's environment in order, as the kubelet does:
// HOSTNAME first, then the Service variables (serviceEnv), then env
// entries, each expanded against those before it (an entry of the same
// name overrides a Service variable). The environment is bounded by
// MaxEnvArgsBytes as it is built (env_bound.go).
func (w *Worker) env(c *corev1.Container) ([]string, func(string) (string, bool), error) {
	pod := w.state.pod
	ev := newEnvVars(c.Name)
	set, lookup := ev.set, ev.lookup
	host := pod.Name
	if pod.Spec.Hostname != "" {
		host = pod.Spec.Hostname
	}
	set("HOSTNAME", host)
	for _, kv := range w.serviceEnv() {
		set(kv[0], kv[1])
	}
	if err := w.envFrom(c, ev); err != nil { // env_config.go
		return nil, nil, err
	}
	for _, e := range c.Env {
		if ev.over {
			return nil, nil, ev.err()
		}
		if e.ValueFrom == nil {
			set(e.Name, ev.expand(e.Name, e.Value))
			continue
		}
		v, err := w.envSource(c, e)
		if errors.Is(err, errSkipEnv) {
			continue
		}
		if err != nil && (e.ValueFrom.ConfigMapKeyRef != nil || e.ValueFrom.SecretKeyRef != nil) {
			return nil, nil, err // the kubelet's message as it is
		}
		if err != nil {
			return nil, nil, fmt.Errorf("env %q: %w", e.Name, err)
		}
		set(e.Name, v)
	}
	if ev.over {
		return nil, nil, ev.err()
	}
	return ev.list(), lookup, nil
}

// serviceEnv is the kubelet's Service environment (getServiceEnvVarMap
// and envvars.FromServices): for every Service of the pod's namespace with
// a cluster IP when enableServiceLinks is true (the default), and for the
// "kubernetes" Service of the default namespace always,
// {SVC}_SERVICE_HOST, {SVC}_SERVICE_PORT, {SVC}_SERVICE_PORT_{NAME} and the
// Docker link variables {SVC}_PORT, {SVC}_PORT_{port}_{PROTO}[_PROTO|_PORT|_ADDR],
// with names upper-cased and '-' turned into '_'. Sorted by name.
func (w *Worker) serviceEnv() [][2]string {
	if w.cfg.Services == nil {
		return nil
	}
	pod := w.state.pod
	links := pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks
	chosen := map[string]*corev1.Service{}
	consider := func(svcs []*corev1.Service) {
		for _, svc := range svcs {
			if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone || len(svc.Spec.Ports) == 0 {
				continue
			}
			if svc.Namespace == metav1.NamespaceDefault && svc.Name == "kubernetes" {
				if _, ok := chosen[svc.Name]; !ok {
					chosen[svc.Name] = svc
				}
			} else if svc.Namespace == pod.Namespace && links {
				chosen[svc.Name] = svc
			}
		}
	}
	consider(w.cfg.Services(pod.Namespace))
	if pod.Namespace != metav1.NamespaceDefault {
		consider(w.cfg.Services(metav1.NamespaceDefault))
	}
	var out [][2]string
	for _, svc := range chosen {
		out = append(out, serviceVars(svc)...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

func envName(s string) string { return strings.ToUpper(strings.ReplaceAll(s, "-", "_")) }

// serviceVars is envvars.FromServices for one Service.
func serviceVars(svc *corev1.Service) [][2]string {
	prefix := envName(svc.Name)
	ip := svc.Spec.ClusterIP
	out := [][2]string{
		{prefix + "_SERVICE_HOST", ip},
		{prefix + "_SERVICE_PORT", strconv.Itoa(int(svc.Spec.Ports[0].Port))},
	}
	for _, sp := range svc.Spec.Ports {
		if sp.Name != "" {
			out = append(out, [2]string{prefix + "_SERVICE_PORT_" + envName(sp.Name), strconv.Itoa(int(sp.Port))})
		}
	}
	for i, sp := range svc.Spec.Ports {
		proto := string(corev1.ProtocolTCP)
		if sp.Protocol != "" {
			proto = string(sp.Protocol)
		}
		url := strings.ToLower(proto) + "://" + net.JoinHostPort(ip, strconv.Itoa(int(sp.Port)))
		if i == 0 {
			out = append(out, [2]string{prefix + "_PORT", url})
		}
		pp := fmt.Sprintf("%s_PORT_%d_%s", prefix, sp.Port, strings.ToUpper(proto))
		out = append(out,
			[2]string{pp, url},
			[2]string{pp + "_PROTO", strings.ToLower(proto)},
			[2]string{pp + "_PORT", strconv.Itoa(int(sp.Port))},
			[2]string{pp + "_ADDR", ip},
		)
	}
	return out
}

func (w *Worker) envSource(c *corev1.Container, e corev1.EnvVar) (string, error) {
	// As the kubelet, from the pod as it is now: the labels and
	// annotations the API changed since the pod started (downward.go).
	pod := w.podForDownward()
	src := e.ValueFrom
	switch {
	case src.FieldRef != nil:
		return fieldRef(pod, src.FieldRef.FieldPath)
	case src.ResourceFieldRef != nil:
		return w.resourceField(pod, c, src.ResourceFieldRef)
	case src.ConfigMapKeyRef != nil, src.SecretKeyRef != nil:
		return w.keyRefValue(src) // env_config.go
	}
	return "", fmt.Errorf("valueFrom has no source")
}

// fieldRef resolves a downward-API field path.
func fieldRef(pod *corev1.Pod, path string) (string, error) {
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP":
		return pod.Status.PodIP, nil
	case "status.hostIP":
		return pod.Status.HostIP, nil
	case "status.podIPs":
		var ips []string
		for _, ip := range pod.Status.PodIPs {
			ips = append(ips, ip.IP)
		}
		return strings.Join(ips, ","), nil
	case "status.hostIPs":
		var ips []string
		for _, ip := range pod.Status.HostIPs {
			ips = append(ips, ip.IP)
		}
		return strings.Join(ips, ","), nil
	}
	for prefix, m := range map[string]map[string]string{"metadata.labels": pod.Labels, "metadata.annotations": pod.Annotations} {
		if strings.HasPrefix(path, prefix+"['") && strings.HasSuffix(path, "']") {
			return m[path[len(prefix)+2:len(path)-2]], nil
		}
	}
	return "", fmt.Errorf("unsupported fieldPath %q", path)
}
