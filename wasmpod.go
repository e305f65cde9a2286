// Package wasmpod runs Kubernetes pods of WebAssembly (WASI preview 1)
// modules inside a Go program: an in-process control plane (API server over
// a memory or bbolt store, scheduler, node lifecycle controller) and N node
// agents that run the pods on wazero.
//
//	c, err := wasmpod.New(ctx, wasmpod.Config{Nodes: 1})
//	defer c.Close()
//	objs, err := wasmpod.LoadFile("pod.yaml", wasmpod.LoadOptions{})
//	_, err = c.Apply(ctx, objs[0])
//	pod, err := c.WaitPod(ctx, "default", "hello", wasmpod.PodTerminal)
//
// Contracts:
//   - A Cluster is safe for concurrent use and holds no global state; Close
//     stops everything New started. Stopping a Cluster is a node reboot, not
//     a deletion: with a bbolt store, pods that were running start again
//     (restartCount incremented, per restartPolicy) when the next Cluster
//     opens the same DataDir.
//   - Every operation goes through the API server, as a remote client's
//     would: defaulting, validation, resourceVersion conflicts and Events.
//   - ctx cancels the call, not the Cluster.
package wasmpod

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"github.com/wasmpod/wasmpod/api"
	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/controllers/kubernetesservice"
	"github.com/wasmpod/wasmpod/controllers/nodeipam"
	"github.com/wasmpod/wasmpod/controllers/rootcacertpublisher"
	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
	"github.com/wasmpod/wasmpod/internal/nodeutil"
	"github.com/wasmpod/wasmpod/logs"
	"github.com/wasmpod/wasmpod/network"
	"github.com/wasmpod/wasmpod/pods"
	wruntime "github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/wasi/wasisock"
	"github.com/wasmpod/wasmpod/runtime/wazero"
	"github.com/wasmpod/wasmpod/store"
	"github.com/wasmpod/wasmpod/store/bbolt"
	"github.com/wasmpod/wasmpod/store/memory"
)

// Store backends.
const (
	StoreMemory = "memory"
	StoreBbolt  = "bbolt"
	StoreEtcd   = "etcd"
)

// Config configures a Cluster. The zero value is usable: memory store, one
// node, state in a temporary directory.
type Config struct {
	// Store is StoreMemory (default), StoreBbolt (DataDir/wasmpod.db) or
	// StoreEtcd (an etcd cluster, Etcd); Etcd.Servers alone selects etcd.
	Store string
	// Etcd configures the etcd store (store/etcd).
	Etcd EtcdConfig
	// LeaderElection configures the election of the replica that runs the
	// scheduler and of the one that runs the controllers, among the
	// control planes that share an etcd (an HA control plane): on by
	// default with the etcd store, as upstream's --leader-elect.
	LeaderElection LeaderElectionConfig
	// DataDir holds the store file and pod state (logs, emptyDirs). A
	// temporary directory, removed by Close, when empty. It is made private
	// (0700); one owned by another user is refused.
	DataDir string
	// AllowStoreReset accepts a bbolt store that is missing, empty or older
	// than the revision its marker recorded (see store/bbolt), to start
	// over deliberately; by default such a store is refused.
	AllowStoreReset bool
	// OpaqueImageErrors reports every failure to find or read a path image,
	// or a go:// package, as one "not found" that does not say whether the
	// host path is missing, unreadable or not a module, so that API clients
	// cannot probe the host's files (details go to Progress). `serve` sets
	// it; `run`, whose manifest is the local user's own, does not.
	OpaqueImageErrors bool
	// CacheDir holds built images and compiled modules; DefaultCacheDir()
	// when empty.
	CacheDir string
	// Modules is the module store that wasmpod.local images resolve from
	// and clients upload to (images.Store); when nil, DataDir/modules with
	// the bbolt store, else a memory store.
	Modules *images.Store
	// Registry configures pulls of OCI images (images.RegistryConfig:
	// insecure registries, the node's credentials, the layer size bound).
	Registry *images.RegistryConfig
	// ImageGC, when set, collects unused OCI images of Modules as the
	// kubelet's image GC (images.GCPolicy), after each pull and every
	// images.ImageGCPeriod.
	ImageGC *images.GCPolicy
	// RefuseRelativeImages refuses pods whose relative images (./x.wasm,
	// go://./pkg) have no wasmpod.io/manifest-dir annotation to resolve
	// against, rather than resolving them against the working directory
	// (apiserver.Options.RefuseRelativeImages). serve sets it.
	RefuseRelativeImages bool
	// RootCA, when set, is the PEM bundle that verifies the API server's
	// serving certificate: see Cluster.SetRootCA, which serve calls once
	// its TLS certificate is made.
	RootCA []byte
	// Nodes is the number of node agents (default 1), named node-1, node-2…
	// NodeSpecs, when set, describes each node instead.
	Nodes     int
	NodeSpecs []NodeSpec
	// NoLocalNodes runs the control plane without node agents in this
	// process (serve --nodes 0): nodes join over the API as `wasmpod
	// agent` processes, and the API server reaches their kubelet API
	// (apiserver/remotenode.go). Nodes and NodeSpecs are ignored.
	NoLocalNodes bool
	// NodeCapacity is each node's capacity (default: cpu = host CPUs,
	// memory = the host's physical memory divided among the nodes, pods
	// MaxPods).
	NodeCapacity corev1.ResourceList
	// MaxPods is each node's pod capacity, the kubelet's maxPods (default
	// 110); NodeCapacity's and a NodeSpec's "pods" override it.
	MaxPods int
	// ClusterCIDR and NodeCIDRMaskSize are kube-controller-manager's
	// --cluster-cidr and --node-cidr-mask-size: the nodes' pod ranges
	// (node.spec.podCIDR) are the cluster CIDR's ranges of that mask size,
	// the first node the first. Defaults 10.244.0.0/16 and /24 (/64 for
	// IPv6): 253 pods a node. A range smaller than a node's pod capacity
	// is accepted, as upstream: the pods that find no address stay
	// ContainerCreating (FailedCreatePodSandBox) until one is freed.
	ClusterCIDR      string
	NodeCIDRMaskSize int
	// SystemReserved is kept from each node's guests for the process
	// (default memory: a tenth of the node's capacity). A node's guests
	// share a memory budget of capacity minus SystemReserved.
	SystemReserved corev1.ResourceList
	// EvictionHard are the nodes' hard eviction thresholds, as the
	// kubelet's evictionHard: "memory.available" (of the guests' budget)
	// and "nodefs.available" (of the data dir's filesystem), each a
	// quantity or a percentage. Default: memory.available<100Mi (at most a
	// tenth of the budget), nodefs.available<10%.
	EvictionHard map[string]string
	// AllowHostPath permits hostPath volumes.
	AllowHostPath bool
	// NodeMonitorGracePeriod: a node whose lease is older is marked
	// Unknown (default 40 s).
	NodeMonitorGracePeriod time.Duration
	// HeartbeatInterval: how often node agents renew their lease (10 s).
	HeartbeatInterval time.Duration
	// TerminatedPodGCThreshold is kube-controller-manager's
	// --terminated-pod-gc-threshold: the pod GC deletes the oldest
	// terminated pods beyond it. 0 is upstream's default (12500); negative
	// turns that collection off (upstream's <= 0).
	TerminatedPodGCThreshold int
	// DenyEgress refuses pods' connections to addresses outside the
	// cluster (the guest gets EACCES); by default egress is allowed, as in
	// Kubernetes.
	DenyEgress bool
	// HostPortAddress is the host address that hostPorts and NodePorts
	// listen on (default 127.0.0.1: reachable from this machine only).
	HostPortAddress netip.Addr
	// Clock is the source of time; the real clock when nil.
	Clock clock.WithTicker
	// ClusterSigningDuration is the longest certificate serve's CSR signer
	// issues and a joined node's credential's life (a year when 0;
	// kube-controller-manager's --cluster-signing-duration).
	ClusterSigningDuration time.Duration
	// Engine overrides the runtime (default: wazero over CacheDir). It runs
	// the pods without a runtimeClassName; its Name() is a runtime handler.
	Engine wruntime.Engine
	// Engines are the nodes' other runtime handlers, by RuntimeClass
	// handler name: a pod picks one with spec.runtimeClassName naming a
	// RuntimeClass of that handler. Nil: "wasmtime" when the build has it
	// (-tags wasmtime, CGO_ENABLED=1; engines.go), else none.
	Engines map[string]wruntime.Engine
	// Progress receives progress lines of long work (image builds).
	Progress io.Writer
	// OnLog, when set, receives every container log line of every node.
	OnLog func(pod *corev1.Pod, container string, stream logs.Stream, line string)
	// ContainerLogMaxSize (bytes) and ContainerLogMaxFiles bound each
	// container instance's log, as the kubelet's containerLogMaxSize and
	// containerLogMaxFiles: the file is rotated before it would pass
	// MaxSize, and at most MaxFiles files (the current one included) are
	// kept. Defaults 10Mi and 5; MaxFiles must be at least 2.
	ContainerLogMaxSize  int64
	ContainerLogMaxFiles int
}

// NodeSpec describes one node agent.
type NodeSpec struct {
	Name string `json:"name"`
	// Capacity overrides Config.NodeCapacity per resource.
	Capacity corev1.ResourceList `json:"capacity,omitempty"`
	Labels   map[string]string   `json:"labels,omitempty"`
	Taints   []corev1.Taint      `json:"taints,omitempty"`
}

// Cluster is an in-process control plane with its node agents.
type Cluster struct {
	cfg     Config
	store   store.Store
	server  *apiserver.Server
	handler http.Handler
	client  kubernetes.Interface
	restCfg *rest.Config
	images  *memoResolver
	agents  []*pods.Agent
	network *network.Network
	// metrics is the control plane's registry (its /metrics), apiMetrics
	// the API server's requests in it (controlplane.go).
	metrics    *prometheus.Registry
	apiMetrics *apiserver.Metrics
	// The current plane's kubernetes Service reconciler and root CA
	// publisher (nil while this replica does not lead the controllers),
	// and what they were told; under mu.
	kubeSvc   *kubernetesservice.Controller
	rootCA    *rootcacertpublisher.Controller
	apiAddr   netip.AddrPort
	rootCAPEM []byte
	// elected: the scheduler and the controllers run under leader
	// election (leaderelection.go).
	elected bool

	ownsData, ownsEngine bool
	cancel               context.CancelFunc
	wg                   sync.WaitGroup
	mu                   sync.Mutex
	closers              []func()
	closeOnce            sync.Once
	closeErr             error
}

// StorePath is the bbolt store file under dataDir.
func StorePath(dataDir string) string { return filepath.Join(dataDir, "wasmpod.db") }

// DefaultCacheDir is where images and compiled modules are cached.
func DefaultCacheDir() string { return nodeutil.DefaultCacheDir() }

// New starts a Cluster: store, API server, scheduler, node lifecycle
// controller and cfg.Nodes node agents. It returns when the nodes have
// registered.
func New(ctx context.Context, cfg Config) (_ *Cluster, err error) {
	c := &Cluster{}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Nodes <= 0 {
		cfg.Nodes = 1
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = DefaultCacheDir()
	}
	if cfg.NodeMonitorGracePeriod <= 0 {
		cfg.NodeMonitorGracePeriod = 40 * time.Second
	}
	if err := (logs.RotatePolicy{MaxSize: cfg.ContainerLogMaxSize, MaxFiles: cfg.ContainerLogMaxFiles}).Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxPods < 0 {
		return nil, fmt.Errorf("invalid configuration: maxPods (--max-pods) %d must not be a negative number", cfg.MaxPods)
	}
	if cfg.MaxPods == 0 {
		cfg.MaxPods = pods.DefaultMaxPods
	}
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = pods.DefaultClusterCIDR
	}
	specs := cfg.NodeSpecs
	if cfg.NoLocalNodes {
		specs = nil
	} else if len(specs) == 0 {
		for i := 1; i <= cfg.Nodes; i++ {
			specs = append(specs, NodeSpec{Name: fmt.Sprintf("node-%d", i)})
		}
	}
	clusterCIDR, podCIDRs, err := pods.NodePodCIDRs(cfg.ClusterCIDR, cfg.NodeCIDRMaskSize, len(specs))
	if err != nil {
		return nil, err
	}
	if cfg.DataDir == "" {
		d, err := os.MkdirTemp("", "wasmpod-")
		if err != nil {
			return nil, err
		}
		cfg.DataDir, c.ownsData = d, true
	} else if err := prepareDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	if err := cfg.LeaderElection.setDefaults(); err != nil {
		return nil, err
	}
	c.cfg = cfg
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	defer func() {
		if err != nil {
			c.Close()
		}
	}()

	if len(cfg.Etcd.Servers) > 0 && cfg.Store != StoreEtcd {
		if cfg.Store != "" {
			return nil, fmt.Errorf("Etcd.Servers is set but Store is %q: etcd servers select the etcd store", cfg.Store)
		}
		cfg.Store = StoreEtcd
	}
	lasting := cfg.Store == StoreBbolt || cfg.Store == StoreEtcd
	switch cfg.Store {
	case StoreEtcd:
		if c.store, err = openEtcdStore(ctx, cfg.Etcd); err != nil {
			return nil, err
		}
		// The replicas sharing this etcd share the cluster's secrets
		// (etcd.go), and elect who runs the scheduler and the controllers.
		if err := shareClusterSecrets(ctx, c.store, cfg.DataDir); err != nil {
			c.store.Close()
			return nil, err
		}
		c.elected = !cfg.LeaderElection.Disabled
	case "", StoreMemory:
		c.store = memory.New()
	case StoreBbolt:
		st, err := bbolt.Open(StorePath(cfg.DataDir), bbolt.Options{AllowReset: cfg.AllowStoreReset})
		if err != nil {
			return nil, err
		}
		c.store = st
	default:
		return nil, fmt.Errorf("unknown store %q (want %q, %q or %q)", cfg.Store, StoreMemory, StoreBbolt, StoreEtcd)
	}
	c.onClose(func() { c.store.Close() })
	if cfg.Modules == nil {
		if lasting { // a lasting store keeps its modules too
			cfg.Modules, err = images.OpenStore(filepath.Join(cfg.DataDir, "modules"))
			if err != nil {
				return nil, err
			}
		} else {
			cfg.Modules = images.NewMemoryStore()
		}
		c.cfg.Modules = cfg.Modules
	}
	if kv := sharedModules(c.store); kv != nil {
		// The replicas of an HA control plane share their modules through
		// etcd (images/shared.go): any replica serves a module uploaded to
		// another, also once that one is gone.
		cfg.Modules.SetShared(kv, 0, 0)
	}
	// ServiceAccount tokens: a lasting store keeps its signing key beside
	// it (<data-dir>/pki/sa.key), so tokens outlive a restart; otherwise
	// the server makes one in memory.
	var saTokens *apiserver.TokenIssuer
	if lasting {
		key, err := apiserver.LoadOrCreateServiceAccountKey(filepath.Join(cfg.DataDir, "pki", "sa.key"))
		if err != nil {
			return nil, fmt.Errorf("service account key: %w", err)
		}
		if saTokens, err = apiserver.NewTokenIssuer(key, ""); err != nil {
			return nil, err
		}
	}
	if c.server, err = apiserver.New(ctx, c.store, apiserver.Options{Clock: cfg.Clock, ClusterSigningDuration: cfg.ClusterSigningDuration, Validation: api.Options{AllowHostPath: cfg.AllowHostPath},
		Modules: cfg.Modules, RefuseRelativeImages: cfg.RefuseRelativeImages, ServiceAccountTokens: saTokens}); err != nil {
		return nil, err
	}
	if reg := c.tunnelRegistry(); reg != nil { // tunnels.go: replicas relay to each other's tunnels
		c.server.SetTunnelRegistry(reg)
	}
	if err := c.setupMetrics(); err != nil { // controlplane.go
		return nil, err
	}
	c.handler = c.server.Handler(apiserver.HandlerOptions{Metrics: c.apiMetrics})
	// The control plane's clients speak protobuf, as kube-controller-manager's
	// and the kubelet's do (--kube-api-content-type): decoding its watch
	// events from JSON was a quarter of its CPU while a ReplicaSet scaled to
	// 1,000 pods (BenchmarkReplicaSetScale), and JSON request bodies were
	// half the API server's decoding while Jobs ran (BenchmarkJobCompletions).
	inProc := c.server.InProcessConfig(c.handler)
	inProc.ContentType = "application/vnd.kubernetes.protobuf"
	inProc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	if c.client, err = kubernetes.NewForConfig(inProc); err != nil {
		return nil, err
	}
	c.restCfg = c.server.InProcessConfig(c.handler)

	hostAddr := cfg.HostPortAddress
	if !hostAddr.IsValid() {
		hostAddr = netip.MustParseAddr("127.0.0.1")
	}
	if cfg.Engine == nil {
		eng, err := wazero.New(ctx, wazero.Config{CacheDir: filepath.Join(cfg.CacheDir, "compiled"), Extensions: wasisock.Functions()})
		if err != nil {
			return nil, err
		}
		cfg.Engine, c.ownsEngine = eng, true
		c.cfg.Engine = eng
	}
	if cfg.Engines, err = c.defaultEngines(ctx, &cfg); err != nil { // engines.go
		return nil, err
	}
	c.cfg.Engines = cfg.Engines
	// hostPort and NodePort connections hold host fds: charge them to at
	// most half of the guests' host fd budget (units come out of it), so
	// neither guests nor host clients take the fds the process needs.
	var hostFDs network.FDBudget
	if hf, ok := cfg.Engine.(interface{ HostFDs() *wruntime.Budget }); ok && hf.HostFDs() != nil {
		b := hf.HostFDs()
		hostFDs = wruntime.NewChildBudget("the host fd budget for hostPort connections", max(b.Limit()/2, 1), b)
	}
	c.network = network.New(network.Config{
		ServiceCIDR:   netip.MustParsePrefix("10.96.0.0/12"),
		PodCIDRs:      []netip.Prefix{clusterCIDR},
		ClusterDomain: "cluster.local",
		DenyEgress:    cfg.DenyEgress,
		HostIP:        hostAddr,
		HostFDs:       hostFDs,
	})
	c.onClose(func() { c.network.Close() })
	// One informer factory for the scheduler, the service proxy and the
	// controllers, as kube-controller-manager's: one watch and one cache per
	// resource (kubeutil.NewSharedFactory).
	shared := kubeutil.NewSharedFactory(c.client)
	c.onClose(shared.Shutdown)
	if err := nodeutil.StartServiceProxy(runCtx, shared, c.network); err != nil {
		return nil, err
	}
	c.images = nodeutil.NewMemoResolver(&images.Resolver{CacheDir: filepath.Join(cfg.CacheDir, "images"), Progress: cfg.Progress, Opaque: cfg.OpaqueImageErrors, Store: cfg.Modules, Registry: cfg.Registry})
	if cfg.ImageGC != nil {
		logf := func(format string, args ...any) {
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, format+"\n", args...)
			}
		}
		c.goRun(func() { cfg.Modules.RunImageGC(runCtx, *cfg.ImageGC, 0, c.imagesInUse, logf) })
	}

	if len(cfg.RootCA) > 0 {
		c.SetRootCA(cfg.RootCA)
	}
	// The in-process nodes' pod ranges, which the node IPAM controller
	// does not hand out.
	reserved := make([]string, len(specs))
	for i := range specs {
		reserved[i] = podCIDRs[i].String()
	}
	if c.elected {
		// An HA control plane (leaderelection.go): the scheduler and the
		// controllers run in the replica that holds their Lease, each
		// term on informers of its own.
		if _, err := nodeipam.New(c.client, cfg.ClusterCIDR, cfg.NodeCIDRMaskSize, reserved); err != nil {
			return nil, err // a configuration error, found before the election
		}
		c.goRun(func() { c.elect(runCtx, SchedulerLease, c.startScheduler) })
		c.goRun(func() {
			c.elect(runCtx, ControllerManagerLease, func(p *plane) error { return c.startControllers(p, reserved) })
		})
	} else {
		// One plane for the cluster's life, on the informer factory the
		// service proxy shares.
		p := &plane{ctx: runCtx, informers: shared}
		c.onClose(p.stop)
		if err := c.startScheduler(p); err != nil {
			return nil, err
		}
		if err := c.startControllers(p, reserved); err != nil {
			return nil, err
		}
	}

	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory: pods.DefaultNodeMemory(len(specs)),
		corev1.ResourcePods:   *resource.NewQuantity(int64(cfg.MaxPods), resource.DecimalSI),
	}
	for k, v := range cfg.NodeCapacity {
		capacity[k] = v
	}
	var evictionHard []pods.Threshold
	if cfg.EvictionHard != nil {
		if evictionHard, err = pods.ParseEvictionHard(cfg.EvictionHard); err != nil {
			return nil, err
		}
	}
	for i, spec := range specs {
		name := spec.Name
		if name == "" {
			return nil, fmt.Errorf("nodes[%d].name: Required value", i)
		}
		nodeCap := corev1.ResourceList{}
		for k, v := range capacity {
			nodeCap[k] = v
		}
		for k, v := range spec.Capacity {
			nodeCap[k] = v
		}
		a := pods.NewAgent(pods.AgentConfig{
			Client:            c.client,
			NodeName:          name,
			Capacity:          nodeCap,
			Labels:            spec.Labels,
			Taints:            spec.Taints,
			PodCIDR:           podCIDRs[i].String(),
			HeartbeatInterval: cfg.HeartbeatInterval,
			SystemReserved:    cfg.SystemReserved,
			Eviction:          pods.EvictionConfig{Hard: evictionHard},
			Clock:             cfg.Clock,
			Network:           c.network,
			HostPortAddress:   hostAddr,
			Pods: &pods.Config{
				Engine:        cfg.Engine,
				Engines:       cfg.Engines,
				Images:        c.images,
				Clock:         cfg.Clock,
				RootDir:       filepath.Join(cfg.DataDir, "nodes", name, "pods"),
				NodeName:      name,
				HostIP:        "127.0.0.1",
				AllowHostPath: cfg.AllowHostPath,
				OnLog:         cfg.OnLog,
				Network:       c.network,

				ContainerLogMaxSize:  cfg.ContainerLogMaxSize,
				ContainerLogMaxFiles: cfg.ContainerLogMaxFiles,
			},
		})
		c.agents = append(c.agents, a)
		c.server.RegisterNode(name, a)
		c.goRun(func() { a.Run(runCtx) })
	}
	// Wait for the nodes to register, so the first pods find them.
	for _, spec := range specs {
		if err := waitFor(ctx, 30*time.Second, func() bool {
			_, err := c.client.CoreV1().Nodes().Get(ctx, spec.Name, metav1.GetOptions{})
			return err == nil
		}); err != nil {
			return nil, fmt.Errorf("node %s did not register: %w", spec.Name, err)
		}
	}
	return c, nil
}

func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	// From 0.5 ms doubling to 10 ms: a node agent registers within a
	// millisecond or two, and every `run` waits for it.
	poll := 500 * time.Microsecond
	for !cond() {
		if time.Now().After(deadline) {
			return context.DeadlineExceeded
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
		poll = min(2*poll, 10*time.Millisecond)
	}
	return nil
}

func (c *Cluster) goRun(f func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
}

func (c *Cluster) onClose(f func()) {
	c.mu.Lock()
	c.closers = append(c.closers, f)
	c.mu.Unlock()
}

// Client is a typed clientset talking to the in-process API server: the
// clientset the control plane uses, of the API group-versions wasmpod
// serves, generated as client-go's is and with the same methods (its type
// lives in an internal package; for client-go's own clientset, or any
// other client-go client, use RESTConfig).
func (c *Cluster) Client() kubernetes.Interface { return c.client }

// RESTConfig returns a new client-go configuration of the in-process API
// server, for client-go's clientsets (k8s.io/client-go/kubernetes
// NewForConfig), dynamic client or informers.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.restCfg) }

// Handler serves the Kubernetes-style HTTP API (without authentication:
// wrap it, or use apiserver.Server.Handler with a token, for TCP).
func (c *Cluster) Handler() http.Handler { return c.handler }

// Server is the API server.
func (c *Cluster) Server() *apiserver.Server { return c.server }

// CPUStats is each node's CPU account (its guests' CPU time, per container
// too: pods.Agent.NodeCPU), in node order.
func (c *Cluster) CPUStats() []pods.NodeCPU {
	out := make([]pods.NodeCPU, 0, len(c.agents))
	for _, a := range c.agents {
		out = append(out, a.NodeCPU())
	}
	return out
}

// SetRootCA gives the PEM bundle that verifies the API server's serving
// certificate (serve's CA): every namespace gets it as the kube-root-ca.crt
// ConfigMap, and pods created from then on get ServiceAccount tokens
// mounted at /var/run/secrets/kubernetes.io/serviceaccount (the
// ServiceAccount admission, apiserver/serviceaccount_admission.go).
func (c *Cluster) SetRootCA(pem []byte) {
	c.server.SetRootCA(pem)
	c.mu.Lock()
	c.rootCAPEM = pem
	rc := c.rootCA
	c.mu.Unlock()
	if rc != nil {
		rc.SetCA(pem)
	}
}

// Modules is the module store of wasmpod.local images.
func (c *Cluster) Modules() *images.Store { return c.cfg.Modules }

// Images resolves image references with the node agents' cache.
func (c *Cluster) Images() pods.ImageResolver { return c.images }

// Engine is the runtime the node agents use.
func (c *Cluster) Engine() wruntime.Engine { return c.cfg.Engine }

// Close stops the node agents (their pods are killed, as in a node reboot),
// the controllers and the store, and removes a temporary DataDir.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		if c.cancel != nil {
			c.cancel()
		}
		c.wg.Wait()
		c.mu.Lock()
		closers := c.closers
		c.mu.Unlock()
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
		if c.ownsEngine {
			c.closeErr = c.cfg.Engine.Close(context.Background())
		}
		if c.ownsData {
			c.closeErr = errors.Join(c.closeErr, os.RemoveAll(c.cfg.DataDir))
		}
	})
	return c.closeErr
}

// --- object operations -------------------------------------------------------

func (c *Cluster) resourceOf(obj runtime.Object) (*apiserver.Resource, error) {
	gvk := obj.GetObjectKind().GroupVersionKind()
	if gvk.Kind == "" {
		kinds, _, err := api.Scheme.ObjectKinds(obj)
		if err != nil || len(kinds) == 0 {
			return nil, fmt.Errorf("unknown object type %T", obj)
		}
		gvk = kinds[0]
	}
	r, ok := c.server.ResourceFor(gvk)
	if !ok {
		return nil, fmt.Errorf("the server doesn't have a resource type for kind %q", gvk.Kind)
	}
	return r, nil
}

// resource finds a resource by kind ("Pod"), plural ("pods") or short
// name ("po"), case-insensitively.
func (c *Cluster) resource(kind string) (*apiserver.Resource, error) {
	k := strings.ToLower(kind)
	for _, r := range c.server.Resources() {
		if k == strings.ToLower(r.Kind) || k == r.GVR.Resource {
			return r, nil
		}
		for _, s := range r.ShortNames {
			if k == s {
				return r, nil
			}
		}
	}
	return nil, fmt.Errorf("the server doesn't have a resource type %q", kind)
}

// Apply creates obj, or replaces the existing object of that name (keeping
// what the server owns: status, identity). It returns the stored object.
//
// It is a create-or-replace: fields absent from obj are absent from the
// stored object. `wasmpod apply` (and kubectl apply) merge instead, three
// ways, with the last-applied-configuration annotation, so that fields set
// by others survive; use Client() for patches.
func (c *Cluster) Apply(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
	r, err := c.resourceOf(obj)
	if err != nil {
		return nil, err
	}
	obj = obj.DeepCopyObject()
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	out, err := c.server.Create(ctx, r, m.GetNamespace(), obj)
	if !apierrors.IsAlreadyExists(err) {
		return out, err
	}
	cur, err := c.server.Get(ctx, r, m.GetNamespace(), m.GetName())
	if err != nil {
		return nil, err
	}
	cm, _ := meta.Accessor(cur)
	m.SetResourceVersion(cm.GetResourceVersion())
	return c.server.Update(ctx, r, m.GetNamespace(), obj, "")
}

// Get returns one object; kind is a kind, plural or short name.
func (c *Cluster) Get(ctx context.Context, kind, namespace, name string) (runtime.Object, error) {
	r, err := c.resource(kind)
	if err != nil {
		return nil, err
	}
	return c.server.Get(ctx, r, namespace, name)
}

// List returns the objects of a kind in namespace ("" = all).
func (c *Cluster) List(ctx context.Context, kind, namespace string, opts metav1.ListOptions) (runtime.Object, error) {
	r, err := c.resource(kind)
	if err != nil {
		return nil, err
	}
	return c.server.List(ctx, r, namespace, opts)
}

// Watch streams changes of a kind in namespace ("" = all).
func (c *Cluster) Watch(ctx context.Context, kind, namespace string, opts metav1.ListOptions) (watch.Interface, error) {
	r, err := c.resource(kind)
	if err != nil {
		return nil, err
	}
	return c.server.Watch(ctx, r, namespace, opts)
}

// Delete deletes an object; pods terminate gracefully unless
// opts.GracePeriodSeconds is 0.
func (c *Cluster) Delete(ctx context.Context, kind, namespace, name string, opts metav1.DeleteOptions) error {
	r, err := c.resource(kind)
	if err != nil {
		return err
	}
	_, err = c.server.Delete(ctx, r, namespace, name, opts)
	return err
}

// Logs writes a container's log (see corev1.PodLogOptions).
func (c *Cluster) Logs(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions, w io.Writer) error {
	return c.server.PodLogs(ctx, namespace, pod, opts, w)
}

// Exec runs a command in a pod's sandbox and returns its exit code: a new
// instance of the container's module with opts.Command as its argv,
// sharing the container's volumes, environment and network. The container
// is opts.Container, else the one named by the pod's
// kubectl.kubernetes.io/default-container annotation, else the first.
func (c *Cluster) Exec(ctx context.Context, namespace, pod string, opts *corev1.PodExecOptions, streams ExecStreams) (int, error) {
	return c.server.PodExec(ctx, namespace, pod, opts, streams)
}

// PodTerminal is a WaitPod condition: the pod Succeeded or Failed.
func PodTerminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// PodRunning is a WaitPod condition: the pod is Running.
func PodRunning(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning }

// WaitPod watches a pod until cond holds, and returns it. It fails with
// NotFound if the pod is deleted first.
func (c *Cluster) WaitPod(ctx context.Context, namespace, name string, cond func(*corev1.Pod) bool) (*corev1.Pod, error) {
	r, _ := c.resource("pods")
	w, err := c.server.Watch(ctx, r, namespace, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	var last *corev1.Pod
	for {
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return c.WaitPod(ctx, namespace, name, cond)
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				last = ev.Object.(*corev1.Pod)
				if cond(last) {
					return last, nil
				}
			case watch.Deleted:
				return ev.Object.(*corev1.Pod), apierrors.NewNotFound(r.GVR.GroupResource(), name)
			}
		}
	}
}

func isConflict(err error) bool { return apierrors.IsConflict(err) }

// --- manifests ---------------------------------------------------------------

// LoadOptions controls LoadFile.
type LoadOptions struct {
	AllowHostPath bool
}

// decodeManifest decodes a manifest file ("-" is standard input) and
// returns the directory its relative images resolve against.
func decodeManifest(path string) ([]api.Document, string, error) {
	if path == "-" {
		docs, err := api.DecodeReader(os.Stdin, "<stdin>")
		return docs, ".", err
	}
	docs, err := api.DecodeFile(path)
	return docs, filepath.Dir(path), err
}

// LoadFile decodes, defaults and validates the Pods of a manifest file
// ("-" reads standard input); relative images resolve against its directory.
func LoadFile(path string, opts LoadOptions) ([]*corev1.Pod, error) {
	docs, base, err := decodeManifest(path)
	if err != nil {
		return nil, err
	}
	return loadDocs(docs, base, opts)
}

// LoadObjects is LoadFile for manifests that mix kinds: Pods are defaulted
// and validated (and anchored to the manifest's directory); other objects
// (Services, ConfigMaps, ...) are returned as decoded, for the API server
// to default and validate. Documents keep their order.
func LoadObjects(path string, opts LoadOptions) ([]runtime.Object, error) {
	docs, err := LoadDocuments(path, opts)
	if err != nil {
		return nil, err
	}
	out := make([]runtime.Object, 0, len(docs))
	for _, d := range docs {
		out = append(out, d.Object)
	}
	return out, nil
}

// LoadDocuments is LoadObjects keeping where each object came from (file,
// document, List item, line), so that later errors about an object, such
// as an image that does not resolve, can name its place in the manifest
// (see api.Error).
func LoadDocuments(path string, opts LoadOptions) ([]Document, error) {
	docs, base, err := decodeManifest(path)
	if err != nil {
		return nil, err
	}
	var podDocs []api.Document
	for _, d := range docs {
		if _, ok := d.Object.(*corev1.Pod); ok {
			podDocs = append(podDocs, d)
		}
	}
	ps, err := loadDocs(podDocs, base, opts)
	if err != nil {
		return nil, err
	}
	out := make([]api.Document, 0, len(docs))
	for _, d := range docs {
		if _, ok := d.Object.(*corev1.Pod); ok {
			d.Object = ps[0]
			ps = ps[1:]
		}
		out = append(out, d)
	}
	return out, nil
}

// LoadBytes is LoadFile over bytes; baseDir anchors relative images.
func LoadBytes(data []byte, source, baseDir string, opts LoadOptions) ([]*corev1.Pod, error) {
	docs, err := api.Decode(data, source)
	if err != nil {
		return nil, err
	}
	return loadDocs(docs, baseDir, opts)
}

func loadDocs(docs []api.Document, base string, opts LoadOptions) ([]*corev1.Pod, error) {
	ps, err := api.LoadPods(docs, api.Options{AllowHostPath: opts.AllowHostPath}, "wasmpod run")
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(base)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		if _, ok := p.Annotations[pods.AnnotationManifestDir]; !ok {
			p.Annotations[pods.AnnotationManifestDir] = abs
		}
	}
	return ps, nil
}

// ExitCode summarises terminal pods as `wasmpod run` does: 0 when every pod
// Succeeded, else the exit code of the first failed container (init
// containers first, in pod order), else 1.
func ExitCode(ps []*corev1.Pod) int {
	all := true
	for _, p := range ps {
		if p.Status.Phase != corev1.PodSucceeded {
			all = false
		}
	}
	if all {
		return 0
	}
	for _, p := range ps {
		if p.Status.Phase == corev1.PodSucceeded {
			continue
		}
		for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			t := cs.State.Terminated
			if t == nil {
				t = cs.LastTerminationState.Terminated
			}
			if t != nil && t.ExitCode != 0 {
				return int(t.ExitCode)
			}
		}
	}
	return 1
}

// imagesInUse names the images of every pod (spec images and container
// status imageIDs), for image GC: a pod's containers use them until it is
// deleted.
func (c *Cluster) imagesInUse(ctx context.Context) ([]string, error) {
	pl, err := c.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return nil, err
	}
	var refs []string
	for _, p := range pl.Items {
		for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
			for _, ct := range cs {
				refs = append(refs, ct.Image)
			}
		}
		for _, st := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
			for _, s := range st {
				refs = append(refs, s.ImageID)
			}
		}
	}
	return refs, nil
}

// memoResolver remembers resolved images (nodeutil.MemoResolver).
type memoResolver = nodeutil.MemoResolver
