package pods

// The node agent: the kubelet's API side, over a client-go clientset.
//
// Contracts:
//   - Run registers the Node (creating it, or updating the one that exists),
//     heartbeats through a Lease in kube-node-lease, refreshes the Node's
//     status every 5 heartbeats, and runs a Worker for every pod bound to
//     the node (watched with an informer on spec.nodeName), writing each
//     status change back with UpdateStatus (over the latest pod, keeping
//     the conditions others set, Ready with the readiness gates:
//     readiness_gates.go) and the worker's Events through a client-go
//     EventBroadcaster (source component kubelet).
//   - Pod IPs come from PodCIDR and are set before the first status write;
//     a pod keeps its IP across agent restarts when it is still free. A
//     pod that finds none free stays Pending (ContainerCreating,
//     FailedCreatePodSandBox) until one is released (ipam.go).
//   - A pod with a deletionTimestamp is terminated with the grace left
//     until that timestamp; once its containers have stopped and its final
//     status is written, the agent deletes it with grace period 0 and a UID
//     precondition, which completes the graceful deletion. A pod that
//     disappears from the API has its containers killed.
//   - Run returns when ctx ends; the Node, its Lease and the pods are left
//     as they are in the API (a stopped agent is a rebooted node, not a
//     deleted one): statuses produced by the shutdown are not written. A
//     new agent over the same API resumes the pods as after a reboot (see
//     NewWorker).
//   - Agent implements apiserver.NodeConnector (Logs, Exec) and
//     apiserver.PortForwarder for its pods. Port-forward and hostPort need
//     AgentConfig.Network (a PodDialer, a HostPortMapper); without it
//     port-forward is ServiceUnavailable and a pod with a hostPort gets a
//     FailedToStartHostPort warning. With it, a pod's hostPorts are bound
//     with its sandbox, before its containers start; a port that cannot be
//     bound fails the sandbox (FailedCreatePodSandBox), retried with
//     back-off (agent_net_sandbox.go).
//   - Containers get the Service environment variables from a Service
//     informer, which has synced before the first pod starts.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	goruntime "runtime"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/tools/reference"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"

	"github.com/wasmpod/wasmpod/internal/kube/informers"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes/scheme"
	typedcorev1 "github.com/wasmpod/wasmpod/internal/kube/kubernetes/typed/core/v1"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
	"github.com/wasmpod/wasmpod/internal/streaming"
	wruntime "github.com/wasmpod/wasmpod/runtime"
)

// Node agent constants.
const (
	// NodeLeaseNamespace holds the nodes' heartbeat Leases.
	NodeLeaseNamespace = "kube-node-lease"
	// KubeletVersion is reported in node.status.nodeInfo.
	KubeletVersion = "v1.37.2-wasmpod"
	// nodeStatusEvery: the Node's status is refreshed every that many
	// heartbeats.
	nodeStatusEvery = 5
)

// AgentConfig configures a node agent.
type AgentConfig struct {
	// Client reaches the API server.
	Client kubernetes.Interface
	// NodeName is the Node's name (required).
	NodeName string
	// Capacity is the node's capacity: cpu, memory, pods. Missing entries
	// default to the host's CPUs, its physical memory (4Gi if unknown) and
	// 110.
	Capacity corev1.ResourceList
	// SystemReserved is kept from the guests for the process itself (the
	// kubelet's systemReserved). Default memory: a tenth of the capacity.
	// The guests of the node share a memory budget of capacity minus
	// SystemReserved: growth past it fails (OOMKilled), so a container
	// without limits.memory is bounded by what the others left.
	// Allocatable (node.status.allocatable) is that budget minus the hard
	// eviction threshold of memory.available, as upstream.
	SystemReserved corev1.ResourceList
	// Eviction configures the eviction manager (eviction.go).
	Eviction EvictionConfig
	// Labels are added to kubernetes.io/hostname, os and arch.
	Labels map[string]string
	Taints []corev1.Taint
	// PodCIDR, e.g. 10.244.1.0/24, is where pod IPs come from; empty
	// leaves pods without an IP.
	PodCIDR string
	// Pods configures the workers (engine, images, RootDir, clock...). Its
	// NodeName, HostIP, Allocatable, OnStatus and OnEvent are set by the
	// agent; OnStatus and OnEvent, when set, are still called.
	Pods *Config
	// HeartbeatInterval is how often the Lease is renewed (default 10 s).
	HeartbeatInterval time.Duration
	// LeaseDuration is the Lease's leaseDurationSeconds (default 40 s).
	LeaseDuration time.Duration
	// Clock is the agent's time (default: Pods.Clock, else the real clock).
	Clock clock.WithTicker
	// Network is the node's pod network. The agent uses the capabilities
	// it implements: PodDialer (port-forward) and HostPortMapper
	// (hostPort). Nil: neither.
	Network any
	// HostPortAddress is the host address hostPorts listen on (default
	// 127.0.0.1; a pod's hostIP field overrides it).
	HostPortAddress netip.Addr
	// NodeIP is the node's InternalIP and its pods' hostIP (default
	// 127.0.0.1); KubeletPort, when set, is the port of its kubelet API
	// (status.daemonEndpoints.kubeletEndpoint.port; kubeletapi.go).
	NodeIP      netip.Addr
	KubeletPort int32
}

// PodDialer connects from the host into a pod, for port-forward.
type PodDialer interface {
	DialPod(ctx context.Context, podIP netip.Addr, port int) (net.Conn, error)
}

// HostPortMapper maps a host port into a pod, for hostPort. proto is
// "TCP" or "UDP"; closing the result unmaps it.
type HostPortMapper interface {
	ListenHostPort(hostAddr netip.AddrPort, proto string, podIP netip.Addr, port int) (io.Closer, error)
}

// Agent is a node agent.
type Agent struct {
	cfg    AgentConfig
	client kubernetes.Interface
	clk    clock.WithTicker
	pcfg   Config
	ipErr  error
	ips    *ipam

	ctx      context.Context // Run's
	recorder record.EventRecorder

	// memory is the node's memory budget for guests; allocatable what the
	// Node reports; eviction the eviction manager (guarded by evictMu).
	memory      *wruntime.Budget
	allocatable corev1.ResourceList
	evictMu     sync.Mutex
	eviction    *evictionManager
	wg          sync.WaitGroup

	mu   sync.Mutex
	pods map[types.UID]*podEntry

	stats statsSampler // stats.go: the Summary API's CPU rates

	metrics *agentMetrics // metrics.go: its /metrics
}

// podEntry is the agent's record of one pod.
type podEntry struct {
	uid       types.UID
	ns, name  string
	w         *Worker
	ctx       context.Context // cancelled when the pod leaves the API or the agent stops
	cancel    context.CancelFunc
	kick      chan struct{}
	loopDone  chan struct{}
	mu        sync.Mutex
	latest    *corev1.Pod // status not yet written
	deleting  bool
	graceSent *metav1.Time // the deletionTimestamp Terminate was called for

	// written is the pod as the last status write returned it, or as the
	// informer had it when the pod started (podLoop's alone; read-only):
	// the next write starts from it instead of a GET, as long as nobody
	// else changed the pod (a conflict says somebody did, and the retry
	// reads the pod). Upstream's status manager GETs the pod before each
	// write; this saves the first one of every pod.
	written *corev1.Pod
	// ownRVs are the resourceVersions of the agent's last status writes
	// (guarded by mu): the informer's echo of one of them is not somebody
	// else's change to write over (sync).
	ownRVs [4]string
	ownN   int
}

// own records a resourceVersion the agent wrote.
func (e *podEntry) own(rv string) {
	e.mu.Lock()
	e.ownRVs[e.ownN%len(e.ownRVs)] = rv
	e.ownN++
	e.mu.Unlock()
}

// isOwn reports whether rv is one the agent wrote lately.
func (e *podEntry) isOwn(rv string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, o := range e.ownRVs {
		if o != "" && o == rv {
			return true
		}
	}
	return false
}

func (e *podEntry) poke() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// NewAgent prepares a node agent; Run starts it.
func NewAgent(cfg AgentConfig) *Agent {
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 10 * time.Second
	}
	if cfg.LeaseDuration <= 0 {
		cfg.LeaseDuration = 40 * time.Second
	}
	if cfg.Pods == nil {
		cfg.Pods = &Config{}
	}
	if !cfg.HostPortAddress.IsValid() {
		cfg.HostPortAddress = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	clk := cfg.Clock
	if clk == nil {
		clk = cfg.Pods.Clock
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	capacity := corev1.ResourceList{}
	for k, v := range cfg.Capacity {
		capacity[k] = v.DeepCopy()
	}
	if _, ok := capacity[corev1.ResourceCPU]; !ok {
		capacity[corev1.ResourceCPU] = *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI)
	}
	if _, ok := capacity[corev1.ResourceMemory]; !ok {
		capacity[corev1.ResourceMemory] = DefaultNodeMemory(1)
	}
	if _, ok := capacity[corev1.ResourcePods]; !ok {
		capacity[corev1.ResourcePods] = resource.MustParse("110")
	}
	cfg.Capacity = capacity
	a := &Agent{cfg: cfg, client: cfg.Client, clk: clk, pods: map[types.UID]*podEntry{}}
	a.metrics = newAgentMetrics(a)
	a.ips, a.ipErr = newIPAM(cfg.PodCIDR)
	a.pcfg = *cfg.Pods
	a.pcfg.ips = a.ips
	a.pcfg.Clock = clk
	a.pcfg.NodeName = cfg.NodeName
	a.pcfg.HostIP = a.nodeIP()
	if m, ok := cfg.Network.(HostPortMapper); ok && a.pcfg.HostPorts == nil {
		a.pcfg.HostPorts = m
	}
	if !a.pcfg.HostPortAddress.IsValid() {
		a.pcfg.HostPortAddress = cfg.HostPortAddress
	}
	a.setupResources()
	if a.pcfg.Allocatable == nil {
		a.pcfg.Allocatable = a.allocatable
	}
	onStatus, onEvent, onPull := cfg.Pods.OnStatus, cfg.Pods.OnEvent, cfg.Pods.OnImagePull
	a.pcfg.OnImagePull = func(d time.Duration, size int, err error) {
		a.metrics.imagePull(d, size, err)
		if onPull != nil {
			onPull(d, size, err)
		}
	}
	a.pcfg.OnStatus = func(p *corev1.Pod) {
		a.onStatus(p)
		if onStatus != nil {
			onStatus(p)
		}
	}
	a.pcfg.OnEvent = func(p *corev1.Pod, fieldPath, typ, reason, msg string) {
		if a.recorder != nil {
			a.recorder.Event(eventObject(p, fieldPath), typ, reason, msg)
		}
		if onEvent != nil {
			onEvent(p, fieldPath, typ, reason, msg)
		}
	}
	return a
}

// eventObject is what an Event about the pod's field fieldPath (a
// container, as the kubelet's container references; "" for the pod
// itself) is recorded against.
func eventObject(p *corev1.Pod, fieldPath string) k8sruntime.Object {
	if fieldPath == "" {
		return p
	}
	ref, err := reference.GetPartialReference(scheme.Scheme, p, fieldPath)
	if err != nil {
		return p
	}
	return ref
}

// Run runs the agent until ctx ends. It returns an error when the
// configuration is invalid or the Node cannot be registered.
func (a *Agent) Run(ctx context.Context) error {
	switch {
	case a.client == nil:
		return errors.New("node agent: Client is required")
	case a.cfg.NodeName == "":
		return errors.New("node agent: NodeName is required")
	case a.ipErr != nil:
		return fmt.Errorf("node agent %s: %w", a.cfg.NodeName, a.ipErr)
	case a.pcfg.Engine == nil || a.pcfg.Images == nil:
		return fmt.Errorf("node agent %s: Pods.Engine and Pods.Images are required", a.cfg.NodeName)
	}
	a.ctx = ctx
	bc := record.NewBroadcaster(record.WithContext(ctx), record.WithCorrelatorOptions(record.CorrelatorOptions{Clock: a.clk}))
	bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: a.client.CoreV1().Events("")})
	defer bc.Shutdown()
	a.recorder = bc.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: a.cfg.NodeName})
	// As the kubelet: Starting, the conditions' events as the Node's
	// status is first written (register), then NodeAllocatableEnforced
	// (the guests' shared memory budget is the node's allocatable).
	a.recorder.Event(a.nodeRef(), corev1.EventTypeNormal, "Starting", "Starting kubelet.")
	if err := a.register(ctx); err != nil {
		return fmt.Errorf("node agent %s: registering the Node: %w", a.cfg.NodeName, err)
	}
	a.recorder.Event(a.nodeRef(), corev1.EventTypeNormal, "NodeAllocatableEnforced", "Updated Node Allocatable limit across pods")
	if err := a.renewLease(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("node agent %s: creating the Lease: %w", a.cfg.NodeName, err)
	}

	// Services for the containers' environment: synced before pods start.
	if a.cfg.Pods.Services == nil {
		sf := informers.NewSharedInformerFactory(a.client, 0)
		svcs := sf.Core().V1().Services()
		svcInf := svcs.Informer()
		lister := svcs.Lister()
		sf.Start(ctx.Done())
		defer sf.Shutdown()
		if !cache.WaitForCacheSync(ctx.Done(), svcInf.HasSynced) {
			return nil
		}
		a.pcfg.Services = func(ns string) []*corev1.Service {
			list, _ := lister.Services(ns).List(labels.Everything())
			return list
		}
	}

	// ConfigMaps and Secrets for env and volumes: read through the API
	// when a container starts and at each volume sync (env_config.go).
	if a.pcfg.ConfigMaps == nil {
		a.pcfg.ConfigMaps = func(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
			return a.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		}
	}
	if a.pcfg.Secrets == nil {
		a.pcfg.Secrets = func(ctx context.Context, ns, name string) (*corev1.Secret, error) {
			return a.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		}
	}
	if a.pcfg.RuntimeClasses == nil { // runtimeclass.go
		a.pcfg.RuntimeClasses = a.getRuntimeClass
	}
	if a.pcfg.ServiceAccountTokens == nil { // projected tokens, as the kubelet's token manager
		a.pcfg.ServiceAccountTokens = func(ctx context.Context, ns, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
			return a.client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, tr, metav1.CreateOptions{})
		}
	}

	// Remove the directories of pods deleted while no agent ran, as the
	// kubelet's orphaned pod directory cleanup (pods/cleanup.go).
	if err := a.cleanupOrphanedPodDirs(ctx); err != nil && ctx.Err() == nil {
		a.recorder.Event(a.nodeRef(), corev1.EventTypeWarning, "FailedPodDirCleanup", err.Error())
	}

	factory := informers.NewSharedInformerFactoryWithOptions(a.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", a.cfg.NodeName).String()
		}))
	inf := factory.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.sync(obj) },
		UpdateFunc: func(_, obj any) { a.sync(obj) },
		DeleteFunc: func(obj any) { a.forget(obj) },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.runEviction(ctx)
	}()
	defer func() {
		factory.Shutdown()
		a.mu.Lock()
		for _, e := range a.pods {
			e.cancel()
		}
		a.mu.Unlock()
		a.wg.Wait()
	}()

	tick := a.clk.NewTicker(a.cfg.HeartbeatInterval)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C():
		}
		_ = a.renewLease(ctx) // retried at the next heartbeat
		if n%nodeStatusEvery == 0 {
			_ = a.updateNodeStatus(ctx)
		}
	}
}

// --- node -------------------------------------------------------------------

func (a *Agent) nodeConditions(now metav1.Time) []corev1.NodeCondition {
	c := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	memPressure, diskPressure := a.pressureConditions()
	mem := c(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available")
	if memPressure {
		mem = c(corev1.NodeMemoryPressure, corev1.ConditionTrue, "KubeletHasInsufficientMemory", "kubelet has insufficient memory available")
	}
	disk := c(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure")
	if diskPressure {
		disk = c(corev1.NodeDiskPressure, corev1.ConditionTrue, "KubeletHasDiskPressure", "kubelet has disk pressure")
	}
	return []corev1.NodeCondition{
		mem,
		disk,
		c(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		c(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"),
	}
}

// setNodeStatus writes the agent's view into node's status, keeping the
// lastTransitionTime of conditions whose status did not change.
func (a *Agent) setNodeStatus(node *corev1.Node) {
	now := metav1.NewTime(a.clk.Now())
	conds := a.nodeConditions(now)
	for i := range conds {
		for _, old := range node.Status.Conditions {
			if old.Type == conds[i].Type && old.Status == conds[i].Status && !old.LastTransitionTime.IsZero() {
				conds[i].LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	runtimeVersion := a.pcfg.runtimeVersion() // runtimeclass.go
	node.Status.RuntimeHandlers = a.pcfg.runtimeHandlers()
	node.Status.Capacity = a.cfg.Capacity.DeepCopy()
	node.Status.Allocatable = a.allocatable.DeepCopy()
	node.Status.Conditions = conds
	node.Status.Phase = ""
	node.Status.Addresses = []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: a.nodeIP()},
		{Type: corev1.NodeHostName, Address: a.cfg.NodeName},
	}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = a.cfg.KubeletPort
	node.Status.NodeInfo = corev1.NodeSystemInfo{
		MachineID:               a.cfg.NodeName,
		KubeletVersion:          KubeletVersion,
		ContainerRuntimeVersion: runtimeVersion,
		OperatingSystem:         goruntime.GOOS,
		Architecture:            goruntime.GOARCH,
		OSImage:                 "wasmpod",
		KernelVersion:           goruntime.Version(),
	}
}

// setNodeSpec writes labels, taints and podCIDR. Taints under
// node.kubernetes.io/ that are already there belong to the node lifecycle
// controller and are kept.
func (a *Agent) setNodeSpec(node *corev1.Node) {
	if node.Labels == nil {
		node.Labels = map[string]string{}
	}
	node.Labels[corev1.LabelHostname] = a.cfg.NodeName
	node.Labels[corev1.LabelOSStable] = goruntime.GOOS
	node.Labels[corev1.LabelArchStable] = goruntime.GOARCH
	for k, v := range a.cfg.Labels {
		node.Labels[k] = v
	}
	taints := append([]corev1.Taint(nil), a.cfg.Taints...)
	for _, t := range node.Spec.Taints {
		if len(t.Key) > len("node.kubernetes.io/") && t.Key[:len("node.kubernetes.io/")] == "node.kubernetes.io/" && !hasTaint(taints, t) {
			taints = append(taints, t)
		}
	}
	node.Spec.Taints = taints
	if a.cfg.PodCIDR != "" {
		node.Spec.PodCIDR = a.cfg.PodCIDR
		node.Spec.PodCIDRs = []string{a.cfg.PodCIDR}
	}
}

func hasTaint(ts []corev1.Taint, t corev1.Taint) bool {
	for _, x := range ts {
		if x.Key == t.Key && x.Effect == t.Effect {
			return true
		}
	}
	return false
}

func (a *Agent) register(ctx context.Context) error {
	nodes := a.client.CoreV1().Nodes()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := nodes.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
		var before []corev1.NodeCondition
		if apierrors.IsNotFound(err) {
			node = &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName}}
			a.setNodeSpec(node)
			a.setNodeStatus(node)
			node, err = nodes.Create(ctx, node, metav1.CreateOptions{})
			if err != nil {
				return err
			}
		} else if err != nil {
			return err
		} else {
			before = node.Status.Conditions
			// As the kubelet's --register-with-taints, the taints are the
			// registration's: an existing Node's stay as they are (a real
			// cluster's NodeRestriction refuses a node's changes to its
			// own taints; kubectl taint changes them).
			taints := node.Spec.Taints
			a.setNodeSpec(node)
			node.Spec.Taints = taints
			if node, err = nodes.Update(ctx, node, metav1.UpdateOptions{}); err != nil {
				return err
			}
		}
		// The status subresource: an API server may ignore status on create.
		a.setNodeStatus(node)
		if _, err = nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{}); err == nil {
			a.nodeStatusEvents(before, node.Status.Conditions)
		}
		return err
	})
}

func (a *Agent) updateNodeStatus(ctx context.Context) error {
	nodes := a.client.CoreV1().Nodes()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := nodes.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return a.register(ctx) // the Node was deleted: register again
		}
		if err != nil {
			return err
		}
		before := node.Status.Conditions
		a.setNodeStatus(node)
		if _, err = nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{}); err == nil {
			a.nodeStatusEvents(before, node.Status.Conditions)
		}
		return err
	})
}

// nodeRef is the Node as the involved object of its Events (the
// kubelet's nodeRef: the node's name as its UID).
func (a *Agent) nodeRef() *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: "Node", Name: a.cfg.NodeName, UID: types.UID(a.cfg.NodeName)}
}

// nodeConditionEvents are the kubelet's Event reasons of a node condition
// whose status is not True and True.
var nodeConditionEvents = map[corev1.NodeConditionType][2]string{
	corev1.NodeMemoryPressure: {"NodeHasSufficientMemory", "NodeHasInsufficientMemory"},
	corev1.NodeDiskPressure:   {"NodeHasNoDiskPressure", "NodeHasDiskPressure"},
	corev1.NodePIDPressure:    {"NodeHasSufficientPID", "NodeHasInsufficientPID"},
	corev1.NodeReady:          {"NodeNotReady", "NodeReady"},
}

// nodeStatusEvents records, as the kubelet's condition setters, an Event
// for each condition whose status the agent has just written differs
// from before (or was not there): NodeHasSufficientMemory,
// NodeHasNoDiskPressure, NodeHasSufficientPID, NodeReady and their
// opposites, "Node NAME status is now: REASON".
func (a *Agent) nodeStatusEvents(before, after []corev1.NodeCondition) {
	if a.recorder == nil {
		return
	}
	for _, c := range after {
		changed := true
		for _, b := range before {
			if b.Type == c.Type && b.Status == c.Status {
				changed = false
			}
		}
		if !changed {
			continue
		}
		reasons, ok := nodeConditionEvents[c.Type]
		if !ok {
			continue
		}
		reason := reasons[0]
		if c.Status == corev1.ConditionTrue {
			reason = reasons[1]
		}
		a.recorder.Eventf(a.nodeRef(), corev1.EventTypeNormal, reason, "Node %s status is now: %s", a.cfg.NodeName, reason)
	}
}

func (a *Agent) renewLease(ctx context.Context) error {
	leases := a.client.CoordinationV1().Leases(NodeLeaseNamespace)
	now := metav1.NewMicroTime(a.clk.Now())
	secs := int32(a.cfg.LeaseDuration / time.Second)
	holder := a.cfg.NodeName
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		l, err := leases.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			l = &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Namespace: NodeLeaseNamespace},
				Spec: coordinationv1.LeaseSpec{
					HolderIdentity: &holder, LeaseDurationSeconds: &secs, RenewTime: &now,
				},
			}
			if node, err := a.client.CoreV1().Nodes().Get(ctx, a.cfg.NodeName, metav1.GetOptions{}); err == nil {
				l.OwnerReferences = []metav1.OwnerReference{{
					APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
				}}
			}
			_, err = leases.Create(ctx, l, metav1.CreateOptions{})
			if apierrors.IsNotFound(err) {
				// The namespace is missing: create it, then the Lease.
				ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: NodeLeaseNamespace}}
				if _, nerr := a.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); nerr != nil && !apierrors.IsAlreadyExists(nerr) {
					return nerr
				}
				_, err = leases.Create(ctx, l, metav1.CreateOptions{})
			}
			return err
		}
		if err != nil {
			return err
		}
		l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.RenewTime = &holder, &secs, &now
		_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
		return err
	})
}

// --- pods -------------------------------------------------------------------

func (a *Agent) sync(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName != a.cfg.NodeName {
		return
	}
	a.mu.Lock()
	e := a.pods[pod.UID]
	fresh := e == nil
	if fresh {
		if a.ctx.Err() != nil {
			a.mu.Unlock()
			return
		}
		e = a.startPod(pod)
	}
	a.mu.Unlock()
	if !fresh {
		e.w.SetMetadata(pod.Labels, pod.Annotations) // downwardAPI volumes (downward.go)
		e.w.SetActiveDeadlineSeconds(pod.Spec.ActiveDeadlineSeconds)
		e.w.SetImages(pod) // a changed image restarts its container (worker.go)
		// Someone else changed the pod's status (the node lifecycle
		// controller marks pods Unknown while the node is unreachable):
		// write the worker's view again, as the kubelet's status manager
		// does.
		// A status patch from elsewhere (a readiness gate's condition)
		// re-evaluates Ready (readiness_gates.go).
		// The echo of the agent's own write is not such a change: the
		// worker's newer statuses are on their way (podLoop).
		if cur := e.w.Pod(); cur.Status.Phase != "" && !e.isOwn(pod.ResourceVersion) {
			mine := cur.Status.DeepCopy()
			truncateStatusMessages(cur, mine)
			if merged := mergeStatus(&pod.Spec, &pod.Status, mine, a.clk.Now()); statusDiffers(&merged, &pod.Status) {
				a.onStatus(cur)
			}
		}
	}
	if pod.DeletionTimestamp != nil {
		a.requestDelete(e, pod)
	}
}

// startPod makes the pod's entry and starts its worker; a.mu is held.
func (a *Agent) startPod(pod *corev1.Pod) *podEntry {
	api := pod // the informer's (read-only): the first status write starts from it
	pod = pod.DeepCopy()
	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	rejected := !terminal && a.rejectUnderPressure(pod) // eviction.go
	terminal = terminal || rejected
	if a.ips != nil && !terminal {
		// None free: the worker's sandbox fails and waits for one (ipam.go).
		if ip, err := a.ips.allocate(pod.UID, pod.Status.PodIP); err == nil {
			pod.Status.PodIP = ip
			pod.Status.PodIPs = []corev1.PodIP{{IP: ip}}
		} else {
			pod.Status.PodIP, pod.Status.PodIPs = "", nil
		}
	}
	ctx, cancel := context.WithCancel(a.ctx)
	e := &podEntry{
		uid: pod.UID, ns: pod.Namespace, name: pod.Name,
		ctx: ctx, cancel: cancel,
		kick: make(chan struct{}, 1), loopDone: make(chan struct{}),
		written: api,
	}
	a.pods[pod.UID] = e
	a.metrics.podSeen(pod, a.clk.Now())
	e.w = NewWorker(&a.pcfg, pod)
	if rejected {
		e.latest = pod.DeepCopy() // the podLoop writes it
		e.poke()
	}
	a.wg.Add(2)
	go func() {
		defer a.wg.Done()
		_ = e.w.Run(ctx) // releases the pod's hostPorts
	}()
	go func() {
		defer a.wg.Done()
		a.podLoop(e)
	}()
	return e
}

// requestDelete terminates the pod's worker with the grace left until the
// deletionTimestamp (which the API server sets to now + grace).
func (a *Agent) requestDelete(e *podEntry, pod *corev1.Pod) {
	e.mu.Lock()
	e.deleting = true
	same := e.graceSent != nil && e.graceSent.Equal(pod.DeletionTimestamp)
	ts := *pod.DeletionTimestamp
	e.graceSent = &ts
	e.mu.Unlock()
	e.poke()
	if same {
		return
	}
	// As the kubelet: the grace period is deletionGracePeriodSeconds from
	// when the deletion is observed (deletionTimestamp has one-second
	// precision on the wire, too coarse to count down from).
	grace := ts.Sub(a.clk.Now())
	if g := pod.DeletionGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	grace = max(grace, 0)
	go e.w.Terminate(grace) // returns at once when the worker is done
}

// forget handles a pod that is gone from the API: its containers are
// killed, its IP freed and its directory removed.
func (a *Agent) forget(obj any) {
	pod, ok := kubeutil.Object[*corev1.Pod](obj)
	if !ok {
		return
	}
	a.mu.Lock()
	e := a.pods[pod.UID]
	delete(a.pods, pod.UID)
	a.mu.Unlock()
	a.metrics.podGone(pod.UID)
	if e == nil {
		return
	}
	e.cancel()
	go func() {
		<-e.w.Done()
		if a.ips != nil {
			a.ips.release(e.uid)
		}
		// The pod is gone from the API: its logs and volumes go too
		// (pods/cleanup.go). A failure is retried at the next start.
		if err := a.removePodDir(e.w); err != nil && a.recorder != nil {
			a.recorder.Event(pod, corev1.EventTypeWarning, "FailedPodDirCleanup", err.Error())
		}
	}()
}

func (a *Agent) onStatus(p *corev1.Pod) {
	a.mu.Lock()
	e := a.pods[p.UID]
	a.mu.Unlock()
	if e == nil || e.ctx.Err() != nil {
		return // the agent is stopping (a reboot) or the pod is gone
	}
	a.metrics.podStatus(p, a.clk.Now())
	e.mu.Lock()
	e.latest = p
	e.mu.Unlock()
	e.poke()
}

// podLoop writes the pod's statuses in order and finalizes its deletion.
func (a *Agent) podLoop(e *podEntry) {
	defer close(e.loopDone)
	done := e.w.Done()
	finished, finalized := false, false
	for {
		select {
		case <-e.kick:
		case <-done:
			done, finished = nil, true
		case <-e.ctx.Done():
			return
		}
		a.writeStatus(e)
		e.mu.Lock()
		deleting := e.deleting
		e.mu.Unlock()
		if finished && deleting && !finalized && e.ctx.Err() == nil {
			finalized = a.finalize(e)
		}
		if finished && a.ips != nil {
			// A terminal pod needs no IP.
			a.ips.release(e.uid)
		}
	}
}

func (a *Agent) writeStatus(e *podEntry) {
	e.mu.Lock()
	p := e.latest
	e.latest = nil
	e.mu.Unlock()
	if p == nil || e.ctx.Err() != nil {
		return
	}
	defer a.metrics.observeSync(time.Now())
	pods := a.client.CoreV1().Pods(e.ns)
	status := p.Status.DeepCopy()
	truncateStatusMessages(p, status) // statuslimits.go
	write := func() error {
		cached := e.written
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var cur *corev1.Pod
			if cached != nil {
				// A shallow copy: only its status is replaced below, and
				// neither mergeStatus nor the client changes what it
				// shares with e.written (read-only).
				c := *cached
				cur, cached = &c, nil
			} else {
				var err error
				if cur, err = pods.Get(e.ctx, e.name, metav1.GetOptions{}); err != nil {
					return err
				}
			}
			if cur.UID != e.uid {
				return apierrors.NewNotFound(corev1.Resource("pods"), e.name)
			}
			// Keep the conditions others set; Ready with the readiness
			// gates (readiness_gates.go). cur carries the latest metadata.
			cur.Status = mergeStatus(&cur.Spec, &cur.Status, status, a.clk.Now())
			out, err := pods.UpdateStatus(e.ctx, cur, metav1.UpdateOptions{})
			if err == nil {
				e.written = out
				e.own(out.ResourceVersion)
			}
			return err
		})
	}
	err := write()
	if err != nil && refusedForGood(err) && e.ctx.Err() == nil {
		// Refused as it is (too large, invalid): once more without any
		// message; if that is refused too, say so and wait for the next
		// status change rather than retry the same write forever.
		stripStatusMessages(status)
		if err = write(); err != nil && refusedForGood(err) {
			if a.recorder != nil {
				a.recorder.Eventf(p, corev1.EventTypeWarning, "FailedStatusUpdate",
					"the API server refused the pod's status (%v); it is written again when it changes", err)
			}
			return
		}
	}
	if err != nil && !apierrors.IsNotFound(err) && e.ctx.Err() == nil {
		// Try again with the next status change, or keep this one.
		e.mu.Lock()
		if e.latest == nil {
			e.latest = p
		}
		e.mu.Unlock()
		go func() {
			select {
			case <-a.clk.After(time.Second):
				e.poke()
			case <-e.ctx.Done():
			}
		}()
	}
}

// finalize deletes the terminated pod for good (grace 0, UID precondition).
func (a *Agent) finalize(e *podEntry) bool {
	zero := int64(0)
	uid := e.uid
	err := a.client.CoreV1().Pods(e.ns).Delete(e.ctx, e.name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero,
		Preconditions:      &metav1.Preconditions{UID: &uid},
	})
	return err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err)
}

// --- NodeConnector ----------------------------------------------------------

func (a *Agent) worker(pod *corev1.Pod) (*Worker, error) {
	a.mu.Lock()
	e := a.pods[pod.UID]
	a.mu.Unlock()
	if e == nil {
		return nil, apierrors.NewNotFound(corev1.Resource("pods"), pod.Name)
	}
	return e.w, nil
}

// Logs implements apiserver.NodeConnector.
func (a *Agent) Logs(ctx context.Context, pod *corev1.Pod, opts *corev1.PodLogOptions, w io.Writer) error {
	wk, err := a.worker(pod)
	if err != nil {
		return err
	}
	if err := wk.Logs(ctx, opts, w); err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	return nil
}

// Exec implements apiserver.NodeConnector. TTY resizes are ignored (WASI
// has no terminal).
func (a *Agent) Exec(ctx context.Context, pod *corev1.Pod, opts *corev1.PodExecOptions, streams streaming.ExecStreams) (int, error) {
	wk, err := a.worker(pod)
	if err != nil {
		return 0, err
	}
	var stdout, stderr io.Writer
	if streams.Stdout != nil {
		stdout = streams.Stdout
	}
	if streams.Stderr != nil {
		stderr = streams.Stderr
	}
	stdin := streams.Stdin
	if stdin == nil {
		// No stdin asked (exec without -i): an empty one, as a runtime's
		// /dev/null, so a command reading it ends (Worker.Exec keeps a
		// nil stdin open, as a container's, until the instance is killed).
		stdin = strings.NewReader("")
	}
	code, err := wk.Exec(WithExecTTY(ctx, opts.TTY), opts.Container, opts.Command, stdin, stdout, stderr)
	if err != nil {
		return 0, apierrors.NewBadRequest(err.Error())
	}
	return code, nil
}

// PortForward implements apiserver.PortForwarder: it dials port on the
// pod's IP through the node's network and copies both ways.
func (a *Agent) PortForward(ctx context.Context, pod *corev1.Pod, port int32, conn io.ReadWriteCloser) error {
	wk, err := a.worker(pod)
	if err != nil {
		return err
	}
	d, ok := a.cfg.Network.(PodDialer)
	if !ok {
		return apierrors.NewServiceUnavailable(fmt.Sprintf("port-forward needs the pod network, which node %s does not have", a.cfg.NodeName))
	}
	ip, err := netip.ParseAddr(wk.Pod().Status.PodIP)
	if err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("pod %s has no IP", pod.Name))
	}
	c, err := d.DialPod(ctx, ip, int(port))
	if err != nil {
		return fmt.Errorf("error forwarding port %d to pod %s, uid %v: %w", port, pod.Name, pod.UID, err)
	}
	defer c.Close()
	go func() {
		io.Copy(c, conn)
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(conn, c)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		c.Close()
		<-done
	}
	return nil
}
