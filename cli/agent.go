package cli

// agent.go: `wasmpod agent`, a node agent as its own process joining a
// control plane (`wasmpod serve`, with --nodes 0 for one without nodes of
// its own) over HTTPS (wasmpod.RunAgent).

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/pods"
)

func agentCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:  "agent",
		Usage: "Run a node agent that joins a control plane over HTTPS",
		Description: `Registers a Node with the API server given by --kubeconfig (or --server with
--token and --certificate-authority), heartbeats through its Lease, and runs the
pods bound to it with its own engine, image cache and pod network. It serves the
kubelet API on --kubelet-port (HTTPS), through which the API server reaches its
pods for logs, exec, attach, port-forward and nodes/NAME/proxy: callers present
a client certificate of the cluster CA (the API server's) or a bearer token,
which the API server reviews.

  wasmpod serve --listen 0.0.0.0:6443 --nodes 0 &
  wasmpod agent --kubeconfig <serve's data-dir>/kubeconfig --node-name edge-1

Pods on different agents cannot reach each other's pod IPs yet. Pods that use
wasmpod.local images (uploaded to serve's module store) cannot run on an agent:
use OCI images, go:// references or absolute paths present on the agent's
machine.`,
		Flags: append(connFlags(),
			&cmdline.StringFlag{Name: "certificate-authority", Usage: "PEM file of the cluster CA that verifies --server (a kubeconfig carries its own)"},
			&cmdline.StringFlag{Name: "node-name", Usage: "the Node's name", DefaultText: "the host name"},
			&cmdline.StringFlag{Name: "data-dir", Usage: "directory for the node's pod state (made 0700)", DefaultText: "<default data dir>/agent-<node-name>"},
			&cmdline.StringFlag{Name: "cache-dir", Usage: "directory for built images and compiled modules", Value: wasmpod.DefaultCacheDir(), DefaultText: "$XDG_CACHE_HOME/wasmpod"},
			&cmdline.IntFlag{Name: "kubelet-port", Usage: "TCP port of the kubelet API (0: any free port, reported in the Node's status)", Value: 10250},
			&cmdline.StringFlag{Name: "address", Usage: "IP address the kubelet API listens on and the Node reports (InternalIP)", DefaultText: "the local address of the route to the API server"},
			&cmdline.StringFlag{Name: "pod-cidr", Usage: "the node's pod range (the kubelet's --pod-cidr)", DefaultText: "the Node's spec.podCIDR, as the control plane's node IPAM controller assigns it"},
			&cmdline.StringFlag{Name: "cluster-cidr", Usage: "the pods' address range of the whole cluster", Value: pods.DefaultClusterCIDR},
			&cmdline.IntFlag{Name: "node-cidr-mask-size", Usage: "mask size of the cluster's pod ranges (checked against --cluster-cidr; the node's range comes from --pod-cidr or the control plane)", DefaultText: "24, or 64 for IPv6"},
			&cmdline.StringSliceFlag{Name: "node-labels", Usage: "labels to add to the Node, KEY=VALUE (repeatable, or comma-separated)"},
			&cmdline.StringSliceFlag{Name: "register-with-taints", Usage: "taints of the Node, KEY[=VALUE]:EFFECT (repeatable, or comma-separated)"},
			&cmdline.IntFlag{Name: "max-pods", Usage: "pods the node can run (its pods capacity)", Value: pods.DefaultMaxPods},
			&cmdline.DurationFlag{Name: "heartbeat-interval", Usage: "how often the Node's Lease is renewed", Value: 10 * time.Second},
			&cmdline.StringFlag{Name: "host-port-address", Usage: "host address that hostPorts and NodePorts listen on", Value: "127.0.0.1"},
			&cmdline.BoolFlag{Name: "allow-host-path", Usage: "permit hostPath volumes"},
			&cmdline.BoolFlag{Name: "deny-egress", Usage: "refuse pods' connections to addresses outside the cluster"},
		),
		Action: agentAction,
	}
}

func agentAction(c *cmdline.Context) error {
	stderr := c.App.ErrWriter
	cfg, server, _, err := locateServer(c) // discover.go
	if err != nil {
		return cmdline.Exit(fmt.Sprintf("wasmpod agent: the API server: %v", err), 2)
	}
	if u, err := url.Parse(cfg.Host); err != nil || u.Scheme != "https" {
		return cmdline.Exit(fmt.Sprintf("wasmpod agent: the API server %s: an agent joins over HTTPS (--server https://HOST:PORT, or a kubeconfig)", server), 2)
	}
	if f := c.String("certificate-authority"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return cmdline.Exit(fmt.Sprintf("--certificate-authority: %v", err), 2)
		}
		cfg.CAData, cfg.CAFile, cfg.Insecure = b, "", false
	}
	name := c.String("node-name")
	if name == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			return cmdline.Exit("--node-name: required (the host name is unknown)", 2)
		}
		name = strings.ToLower(h)
	}
	dataDir := c.String("data-dir")
	if dataDir == "" {
		dataDir = DefaultDataDir() + "/agent-" + name
	}
	port := c.Int("kubelet-port")
	if port < 0 || port > 65535 {
		return cmdline.Exit(fmt.Sprintf("--kubelet-port %d: must be between 0 and 65535", port), 2)
	}
	var ip netip.Addr
	if a := c.String("address"); a != "" {
		if ip, err = netip.ParseAddr(a); err != nil {
			return cmdline.Exit(fmt.Sprintf("--address %q: not an IP address", a), 2)
		}
	} else if ip, err = routeAddr(cfg.Host); err != nil {
		return cmdline.Exit(fmt.Sprintf("--address: cannot find the local address towards %s (%v): give --address", cfg.Host, err), 2)
	}
	hostPortAddr, err := netip.ParseAddr(c.String("host-port-address"))
	if err != nil {
		return cmdline.Exit(fmt.Sprintf("--host-port-address: %v", err), 2)
	}
	labels := map[string]string{}
	for _, kv := range splitList(c.StringSlice("node-labels")) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return cmdline.Exit(fmt.Sprintf("--node-labels %q: want KEY=VALUE", kv), 2)
		}
		labels[k] = v
	}
	var taints []corev1.Taint
	for _, s := range splitList(c.StringSlice("register-with-taints")) {
		t, err := parseTaint(s)
		if err != nil {
			return cmdline.Exit(fmt.Sprintf("--register-with-taints %q: %v", s, err), 2)
		}
		taints = append(taints, t)
	}
	if c.Int("max-pods") < 1 {
		return cmdline.Exit(fmt.Sprintf("--max-pods %d: must be at least 1", c.Int("max-pods")), 2)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(port)))
	if err != nil {
		return cmdline.Exit(fmt.Sprintf("wasmpod agent: the kubelet API: %v", err), 1)
	}
	privateUmask()
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = wasmpod.RunAgent(ctx, wasmpod.AgentOptions{
		API:               cfg,
		NodeName:          name,
		DataDir:           dataDir,
		CacheDir:          c.String("cache-dir"),
		NodeIP:            ip,
		KubeletListener:   l,
		PodCIDR:           c.String("pod-cidr"),
		ClusterCIDR:       c.String("cluster-cidr"),
		NodeCIDRMaskSize:  c.Int("node-cidr-mask-size"),
		Capacity:          corev1.ResourceList{corev1.ResourcePods: *resource.NewQuantity(int64(c.Int("max-pods")), resource.DecimalSI)},
		Labels:            labels,
		Taints:            taints,
		HeartbeatInterval: c.Duration("heartbeat-interval"),
		HostPortAddress:   hostPortAddr,
		AllowHostPath:     c.Bool("allow-host-path"),
		DenyEgress:        c.Bool("deny-egress"),
		Progress:          stderr,
	})
	if err != nil && ctx.Err() == nil {
		return cmdline.Exit("wasmpod agent: "+err.Error(), 1)
	}
	fmt.Fprintln(stderr, "wasmpod agent: stopped")
	return nil
}

// routeAddr is the local address of the route to the API server's host:
// the node's address as the API server will dial it back.
func routeAddr(host string) (netip.Addr, error) {
	u, err := url.Parse(host)
	if err != nil {
		return netip.Addr{}, err
	}
	hp := u.Host
	if u.Port() == "" {
		hp = net.JoinHostPort(u.Hostname(), "443")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "udp", hp) // no packet is sent
	if err != nil {
		return netip.Addr{}, err
	}
	defer conn.Close()
	ap, err := netip.ParseAddrPort(conn.LocalAddr().String())
	if err != nil {
		return netip.Addr{}, err
	}
	return ap.Addr().Unmap(), nil
}

// splitList splits repeated, comma-separated flag values.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// parseTaint reads KEY[=VALUE]:EFFECT, as the kubelet's
// --register-with-taints.
func parseTaint(s string) (corev1.Taint, error) {
	kv, effect, ok := strings.Cut(s, ":")
	if !ok {
		return corev1.Taint{}, fmt.Errorf("want KEY[=VALUE]:EFFECT")
	}
	k, v, _ := strings.Cut(kv, "=")
	switch e := corev1.TaintEffect(effect); e {
	case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		if k == "" {
			return corev1.Taint{}, fmt.Errorf("empty key")
		}
		return corev1.Taint{Key: k, Value: v, Effect: e}, nil
	}
	return corev1.Taint{}, fmt.Errorf("effect %q: want NoSchedule, PreferNoSchedule or NoExecute", effect)
}
