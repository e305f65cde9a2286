package cli

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/logs"
	"github.com/wasmpod/wasmpod/pods"
)

// ServeConfig is the file given to `wasmpod serve --config`. Flags that are
// set on the command line override it.
type ServeConfig struct {
	DataDir                string             `json:"dataDir,omitempty"`
	CacheDir               string             `json:"cacheDir,omitempty"`
	Socket                 string             `json:"socket,omitempty"`
	Listen                 string             `json:"listen,omitempty"`
	Token                  string             `json:"token,omitempty"`
	TokenAuthFile          string             `json:"tokenAuthFile,omitempty"`
	AllowHostPath          bool               `json:"allowHostPath,omitempty"`
	DenyEgress             bool               `json:"denyEgress,omitempty"`
	HostPortAddress        string             `json:"hostPortAddress,omitempty"`
	NodeMonitorGracePeriod string             `json:"nodeMonitorGracePeriod,omitempty"`
	HeartbeatInterval      string             `json:"heartbeatInterval,omitempty"`
	Nodes                  []wasmpod.NodeSpec `json:"nodes,omitempty"`
	// MaxPods, ClusterCIDR and NodeCIDRMaskSize are the flags --max-pods,
	// --cluster-cidr and --node-cidr-mask-size (the kubelet's maxPods,
	// kube-controller-manager's flags).
	MaxPods          *int   `json:"maxPods,omitempty"`
	ClusterCIDR      string `json:"clusterCIDR,omitempty"`
	NodeCIDRMaskSize *int   `json:"nodeCIDRMaskSize,omitempty"`
	// SystemReserved and EvictionHard are wasmpod.Config's (the kubelet's
	// systemReserved and evictionHard), for every node.
	SystemReserved corev1.ResourceList `json:"systemReserved,omitempty"`
	EvictionHard   map[string]string   `json:"evictionHard,omitempty"`
	// ContainerLogMaxSize (a quantity, e.g. 10Mi) and ContainerLogMaxFiles
	// bound each container's log (the kubelet's settings of the same
	// names; defaults 10Mi and 5).
	ContainerLogMaxSize  string `json:"containerLogMaxSize,omitempty"`
	ContainerLogMaxFiles int    `json:"containerLogMaxFiles,omitempty"`
	logMaxSize           int64  // ContainerLogMaxSize in bytes
	// OCI image pulls (images/oci.go): InsecureRegistries are reached over
	// plain HTTP (host or host:port; every other registry is HTTPS only),
	// ImageCredentialsFile is the node's docker config.json (credentials
	// tried after a pod's imagePullSecrets), MaxImageLayerSize bounds a
	// layer (a quantity; default 256Mi).
	InsecureRegistries   []string `json:"insecureRegistries,omitempty"`
	ImageCredentialsFile string   `json:"imageCredentialsFile,omitempty"`
	MaxImageLayerSize    string   `json:"maxImageLayerSize,omitempty"`
	// Image garbage collection (images/gc.go), as the kubelet's settings of
	// the same names; ImageStoreSize (a quantity) is the "disk" the
	// thresholds are percentages of (default: the store's bound).
	ImageGCHighThresholdPercent *int   `json:"imageGCHighThresholdPercent,omitempty"`
	ImageGCLowThresholdPercent  *int   `json:"imageGCLowThresholdPercent,omitempty"`
	ImageStoreSize              string `json:"imageStoreSize,omitempty"`
	registry                    *images.RegistryConfig
	imageGC                     *images.GCPolicy

	// TerminatedPodGCThreshold is kube-controller-manager's
	// --terminated-pod-gc-threshold: terminated pods kept before the pod
	// GC deletes the oldest (default 12500; 0 or less turns it off).
	TerminatedPodGCThreshold *int `json:"terminatedPodGCThreshold,omitempty"`
	// ClusterSigningDuration is kube-controller-manager's
	// --cluster-signing-duration (a Go duration, default a year): the
	// longest certificate the CSR signer issues, and the life of a joined
	// node's credential, which agents renew at 70-90% of it.
	ClusterSigningDuration string `json:"clusterSigningDuration,omitempty"`

	// LeaderElection is kube-scheduler's and kube-controller-manager's
	// leaderElection (component-base's LeaderElectionConfiguration):
	// the flags --leader-elect, --leader-elect-lease-duration,
	// --leader-elect-renew-deadline and --leader-elect-retry-period.
	LeaderElection *ServeLeaderElection `json:"leaderElection,omitempty"`
}

// ServeLeaderElection is ServeConfig.LeaderElection; durations are Go
// durations ("15s"), as metav1.Duration in upstream's files.
type ServeLeaderElection struct {
	LeaderElect   *bool  `json:"leaderElect,omitempty"`
	LeaseDuration string `json:"leaseDuration,omitempty"`
	RenewDeadline string `json:"renewDeadline,omitempty"`
	RetryPeriod   string `json:"retryPeriod,omitempty"`
}

// applyTo sets the fields of cfg that have no flag.
func (c *ServeConfig) applyTo(cfg *wasmpod.Config) {
	if c == nil {
		return
	}
	cfg.SystemReserved = c.SystemReserved
	cfg.EvictionHard = c.EvictionHard
	cfg.ContainerLogMaxSize, cfg.ContainerLogMaxFiles = c.logMaxSize, c.ContainerLogMaxFiles
	cfg.Registry, cfg.ImageGC = c.registry, c.imageGC
	if d, err := time.ParseDuration(c.ClusterSigningDuration); err == nil {
		cfg.ClusterSigningDuration = d
	}
	if v := c.TerminatedPodGCThreshold; v != nil {
		cfg.TerminatedPodGCThreshold = *v
		if *v <= 0 {
			cfg.TerminatedPodGCThreshold = -1 // off, as upstream's <= 0
		}
	}
}

func loadServeConfig(path string) (*ServeConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cfg ServeConfig
	if err := yaml.UnmarshalStrict(b, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	durations := []struct{ name, v string }{{"nodeMonitorGracePeriod", cfg.NodeMonitorGracePeriod}, {"heartbeatInterval", cfg.HeartbeatInterval}}
	if le := cfg.LeaderElection; le != nil {
		durations = append(durations, []struct{ name, v string }{{"leaderElection.leaseDuration", le.LeaseDuration},
			{"leaderElection.renewDeadline", le.RenewDeadline}, {"leaderElection.retryPeriod", le.RetryPeriod}}...)
	}
	for _, d := range durations {
		if d.v == "" {
			continue
		}
		if _, err := time.ParseDuration(d.v); err != nil {
			return nil, fmt.Errorf("%s: %s: invalid duration %q", path, d.name, d.v)
		}
	}
	if v := cfg.ClusterSigningDuration; v != "" {
		if d, err := time.ParseDuration(v); err != nil || d < 10*time.Minute {
			return nil, fmt.Errorf("%s: clusterSigningDuration: %q: want a duration of at least 10m (a Go duration, e.g. 8760h)", path, v)
		}
	}
	if _, err := pods.ParseEvictionHard(cfg.EvictionHard); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if cfg.ContainerLogMaxSize != "" {
		q, err := resource.ParseQuantity(cfg.ContainerLogMaxSize)
		if err != nil || q.Sign() <= 0 {
			return nil, fmt.Errorf("%s: containerLogMaxSize: invalid size %q: want a positive quantity such as 10Mi", path, cfg.ContainerLogMaxSize)
		}
		cfg.logMaxSize = q.Value()
	}
	if err := (logs.RotatePolicy{MaxSize: cfg.logMaxSize, MaxFiles: cfg.ContainerLogMaxFiles}).Validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if err := cfg.parseImages(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	for i, n := range cfg.Nodes {
		if n.Name == "" {
			return nil, fmt.Errorf("%s: nodes[%d].name: Required value", path, i)
		}
	}
	return &cfg, nil
}

// applyServeConfig sets flags the command line left unset from cfg.
func applyServeConfig(c *cmdline.Context, cfg *ServeConfig) error {
	set := func(flag, v string) error {
		if v == "" || c.IsSet(flag) {
			return nil
		}
		return c.Set(flag, v)
	}
	for _, kv := range [][2]string{
		{"data-dir", cfg.DataDir}, {"cache-dir", cfg.CacheDir}, {"socket", cfg.Socket}, {"listen", cfg.Listen},
		{"token", cfg.Token}, {"token-auth-file", cfg.TokenAuthFile}, {"host-port-address", cfg.HostPortAddress}, {"node-monitor-grace-period", cfg.NodeMonitorGracePeriod}, {"heartbeat-interval", cfg.HeartbeatInterval},
	} {
		if err := set(kv[0], kv[1]); err != nil {
			return err
		}
	}
	for _, n := range []struct {
		flag string
		v    *int
	}{{"max-pods", cfg.MaxPods}, {"node-cidr-mask-size", cfg.NodeCIDRMaskSize}} {
		if n.v != nil {
			if err := set(n.flag, strconv.Itoa(*n.v)); err != nil {
				return err
			}
		}
	}
	if err := set("cluster-cidr", cfg.ClusterCIDR); err != nil {
		return err
	}
	if le := cfg.LeaderElection; le != nil {
		for _, kv := range [][2]string{{"leader-elect-lease-duration", le.LeaseDuration}, {"leader-elect-renew-deadline", le.RenewDeadline}, {"leader-elect-retry-period", le.RetryPeriod}} {
			if err := set(kv[0], kv[1]); err != nil {
				return err
			}
		}
		if le.LeaderElect != nil {
			if err := set("leader-elect", strconv.FormatBool(*le.LeaderElect)); err != nil {
				return err
			}
		}
	}
	for _, b := range []struct {
		flag string
		v    bool
	}{{"allow-host-path", cfg.AllowHostPath}, {"deny-egress", cfg.DenyEgress}} {
		if b.v && !c.IsSet(b.flag) {
			if err := c.Set(b.flag, "true"); err != nil {
				return err
			}
		}
	}
	return nil
}
