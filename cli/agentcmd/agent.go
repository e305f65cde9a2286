// Package agentcmd is `wasmpod agent`, a node agent as its own process
// joining a control plane (`wasmpod serve`, with --nodes 0 for one without
// nodes of its own) over HTTPS (nodeagent.Run): the command of the full
// CLI (package cli) and, alone, of cmd/wasmpod-agent (Main), with one
// implementation and one set of flags. It links neither the control plane
// nor the rest of the CLI.
package agentcmd

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	"github.com/wasmpod/wasmpod/cli/internal/locate"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/rest"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"

	"github.com/wasmpod/wasmpod/bootstrap"
	"github.com/wasmpod/wasmpod/internal/nodeutil"
	"github.com/wasmpod/wasmpod/nodeagent"
	"github.com/wasmpod/wasmpod/pods"
)

// Command is the agent command (`wasmpod agent`).
func Command() *cmdline.Command {
	return &cmdline.Command{
		Name:  "agent",
		Usage: "Run a node agent that joins a control plane over HTTPS",
		Description: `Registers a Node with the API server, heartbeats through its Lease, and runs
the pods bound to it with its own engine, image cache and pod network. It serves
the kubelet API on --kubelet-port (HTTPS), through which the API server reaches
its pods for logs, exec, attach, port-forward and nodes/NAME/proxy: callers
present a client certificate of the cluster CA (the API server's) or a bearer
token, which the API server reviews.

The agent joins in one of two ways:

  - with a bootstrap token, as kubeadm join: on the control plane,
    'wasmpod token create --print-join-command' prints the command to run on
    the node:

      wasmpod agent --join https://HOST:6443 --token abcdef.0123456789abcdef \
        --discovery-token-ca-cert-hash sha256:<hex>

    The agent trusts the cluster CA only when the token signed it and its hash
    is the pinned one, then trades the token for its own node credential (user
    system:node:<node-name>, which may act only as that node): the
    certificate and its key go to --cert-dir as kubelet-client-current.pem
    and <data-dir>/kubeconfig names that file, as the kubelet's bootstrap
    writes its kubeconfig. A restarted agent uses it and needs no token; when
    its certificate has expired (or the file is gone), an agent given
    --token joins again, and one without says which file expired when. An
    API server not reachable yet is retried. The agent renews that
    certificate through a CertificateSigningRequest at 70-90% of its
    lifetime into the same file (serve approves a node's request for
    itself), so the kubeconfig always names the current one, also for an
    agent restarted with --rotate-certificates=false; the pod network's
    open tunnels are then made again with it (their connections reset).
  - with an existing credential: --kubeconfig (e.g. serve's admin kubeconfig,
    <data-dir>/kubeconfig of 'wasmpod serve --listen'), or --server with
    --token and --certificate-authority.

  wasmpod serve --listen 0.0.0.0:6443 --nodes 0 &
  wasmpod agent --kubeconfig <serve's data-dir>/kubeconfig --node-name edge-1

An agent that cannot be dialled (behind NAT) runs with --reverse-tunnel: it
opens no kubelet port and keeps a multiplexed tunnel open to the API server,
which reaches its kubelet API through it; with --failover-server it keeps one
to each API server, so that every replica of an HA control plane reaches it.

Pods on different agents reach each other's pod IPs and Services when the
agents run with --tunnel-port (mutual-TLS tunnels between agents,
authenticated by their node credentials: it needs --join, or a kubeconfig
whose user is the node's client certificate). Pods that use wasmpod.local
images (uploaded to serve's module store) cannot run on an agent: use OCI
images, go:// references or absolute paths present on the agent's machine.`,
		Flags: append(locate.ConnFlags(),
			&cmdline.StringFlag{Name: "join", Usage: "join the cluster whose API server is at this https://HOST:PORT with the bootstrap token --token (kubeadm join); excludes --kubeconfig, --server and --certificate-authority"},
			&cmdline.StringSliceFlag{Name: "discovery-token-ca-cert-hash", Usage: "with --join: the pin of the cluster CA, sha256:<hex of its public key> as 'wasmpod token create --print-join-command' prints it (repeatable, or comma-separated: any one matching is trusted)"},
			&cmdline.BoolFlag{Name: "discovery-token-unsafe-skip-ca-verification", Usage: "with --join: trust the cluster CA that the token signed without a --discovery-token-ca-cert-hash pin (anyone who knows the token could then pose as the API server)"},
			&cmdline.StringFlag{Name: "certificate-authority", Usage: "PEM file of the cluster CA that verifies --server (a kubeconfig carries its own)"},
			&cmdline.StringFlag{Name: "node-name", Usage: "the Node's name", DefaultText: "the host name"},
			&cmdline.StringFlag{Name: "data-dir", Usage: "directory for the node's pod state and, with --join, its credential (made 0700)", DefaultText: "<default data dir>/agent-<node-name>"},
			&cmdline.StringFlag{Name: "cache-dir", Usage: "directory for built images and compiled modules", Value: nodeutil.DefaultCacheDir(), DefaultText: "$XDG_CACHE_HOME/wasmpod"},
			&cmdline.IntFlag{Name: "kubelet-port", Usage: "TCP port of the kubelet API (0: any free port, reported in the Node's status)", Value: 10250},
			&cmdline.StringFlag{Name: "tls-cert-file", Usage: "serving certificate (PEM, with its chain) of the kubelet API, instead of one the cluster CA issues through a kubelet-serving CertificateSigningRequest (the kubelet's flag); serve verifies it against the cluster CA"},
			&cmdline.StringFlag{Name: "tls-private-key-file", Usage: "private key (PEM) of --tls-cert-file"},
			&cmdline.BoolFlag{Name: "rotate-certificates", Value: true, Usage: "renew the node's client certificate (its credential from --join, or a kubeconfig's for system:node:<node-name>) through a kube-apiserver-client-kubelet CertificateSigningRequest at 70-90% of its lifetime, and keep the kubelet serving certificate across restarts, both in --cert-dir (the kubelet's --rotate-certificates, on as kubeadm's kubelets); --rotate-certificates=false keeps the credential as it is"},
			&cmdline.StringFlag{Name: "cert-dir", Usage: "directory of the node's certificates: kubelet-client-current.pem and kubelet-server-current.pem (the kubelet's --cert-dir)", DefaultText: "<data-dir>/pki"},
			&cmdline.BoolFlag{Name: "reverse-tunnel", Usage: "serve the kubelet API only through tunnels the agent keeps open to the API server and to each --failover-server (for an agent behind NAT): no TCP port is opened, and the Node reports port 0"},
			&cmdline.IntFlag{Name: "tunnel-port", Usage: "serve the pod network's tunnel on this TCP port (0: any free port; published in the Node's annotation wasmpod.io/tunnel-port), so that pods of other agents reach this node's pods and this node's pods reach theirs; needs the node's own certificate (--join); without it the node's pods reach only each other, Services' endpoints on this node and egress"},
			&cmdline.StringFlag{Name: "address", Usage: "IP address the kubelet API listens on and the Node reports (InternalIP)", DefaultText: "the local address of the route to the API server"},
			&cmdline.StringFlag{Name: "pod-cidr", Usage: "the node's pod range (the kubelet's --pod-cidr)", DefaultText: "the Node's spec.podCIDR, as the control plane's node IPAM controller assigns it"},
			&cmdline.StringFlag{Name: "cluster-cidr", Usage: "the pods' address range of the whole cluster", Value: pods.DefaultClusterCIDR},
			&cmdline.IntFlag{Name: "node-cidr-mask-size", Usage: "mask size of the cluster's pod ranges (checked against --cluster-cidr; the node's range comes from --pod-cidr or the control plane)", DefaultText: "24, or 64 for IPv6"},
			&cmdline.StringSliceFlag{Name: "node-labels", Usage: "labels to add to the Node, KEY=VALUE (repeatable, or comma-separated)"},
			&cmdline.StringSliceFlag{Name: "register-with-taints", Usage: "taints of the Node, KEY[=VALUE]:EFFECT (repeatable, or comma-separated)"},
			&cmdline.StringSliceFlag{Name: "failover-server", Usage: "another API server of the same HA control plane (https://HOST:PORT, repeatable, or comma-separated): the agent's connections go to the first server that accepts one, starting from the last that did; its certificate must name the kubeconfig's server host"},
			&cmdline.BoolFlag{Name: "wasm-arch", Usage: "register the Node by the Krustlet convention for a WebAssembly node among container nodes: label kubernetes.io/arch=wasm32-wasi and taints kubernetes.io/arch=wasm32-wasi:NoSchedule and :NoExecute, so that only pods that select and tolerate it land there"},
			&cmdline.IntFlag{Name: "max-pods", Usage: "pods the node can run (its pods capacity)", Value: pods.DefaultMaxPods},
			&cmdline.DurationFlag{Name: "heartbeat-interval", Usage: "how often the Node's Lease is renewed", Value: 10 * time.Second},
			&cmdline.StringFlag{Name: "host-port-address", Usage: "host address that hostPorts and NodePorts listen on", Value: "127.0.0.1"},
			&cmdline.BoolFlag{Name: "allow-host-path", Usage: "permit hostPath volumes"},
			&cmdline.BoolFlag{Name: "deny-egress", Usage: "refuse pods' connections to addresses outside the cluster"},
		),
		Action: agentAction,
	}
}

// agentCredentialFile is where a joined agent keeps its node credential,
// under its data dir (the kubelet's kubelet.conf).
const agentCredentialFile = "kubeconfig"

func agentAction(c *cmdline.Context) error {
	stderr := c.App.ErrWriter
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
		dataDir = locate.DefaultDataDir() + "/agent-" + name
	}
	certDir := c.String("cert-dir")
	if certDir == "" {
		certDir = filepath.Join(dataDir, "pki")
	}
	join := c.String("join")
	var cfg *rest.Config // nil with --join until the agent has joined
	var apiHost string   // the API server's URL
	var joinOpts bootstrap.Options
	if join != "" {
		var err error
		if joinOpts, err = joinOptions(c, join, name, filepath.Join(dataDir, agentCredentialFile)); err != nil {
			return cmdline.Exit(err.Error(), 2)
		}
		joinOpts.CertDir = certDir
		joinOpts.Logf = func(f string, a ...any) {
			fmt.Fprintf(stderr, "wasmpod agent: node %s: "+f+"\n", append([]any{name}, a...)...)
		}
		apiHost = join
	} else {
		for _, f := range []string{"discovery-token-ca-cert-hash", "discovery-token-unsafe-skip-ca-verification"} {
			if c.IsSet(f) {
				return cmdline.Exit(fmt.Sprintf("--%s needs --join (it pins the CA of the cluster joined with a bootstrap token)", f), 2)
			}
		}
		var server string
		var err error
		cfg, server, _, err = locate.Server(c)
		if err != nil {
			return cmdline.Exit(fmt.Sprintf("wasmpod agent: the API server: %v", err), 2)
		}
		if u, err := url.Parse(cfg.Host); err != nil || u.Scheme != "https" {
			return cmdline.Exit(fmt.Sprintf("wasmpod agent: the API server %s: an agent joins over HTTPS (--server https://HOST:PORT, or a kubeconfig, or --join)", server), 2)
		}
		if f := c.String("certificate-authority"); f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				return cmdline.Exit(fmt.Sprintf("--certificate-authority: %v", err), 2)
			}
			cfg.CAData, cfg.CAFile, cfg.Insecure = b, "", false
		}
		apiHost = cfg.Host
	}
	reverse := c.Bool("reverse-tunnel")
	port := c.Int("kubelet-port")
	if port < 0 || port > 65535 {
		return cmdline.Exit(fmt.Sprintf("--kubelet-port %d: must be between 0 and 65535", port), 2)
	}
	if reverse && c.IsSet("kubelet-port") {
		return cmdline.Exit("--kubelet-port and --reverse-tunnel exclude each other: with --reverse-tunnel no kubelet port is opened", 2)
	}
	tunnelPort := -1
	if c.IsSet("tunnel-port") {
		if tunnelPort = c.Int("tunnel-port"); tunnelPort < 0 || tunnelPort > 65535 {
			return cmdline.Exit(fmt.Sprintf("--tunnel-port %d: must be between 0 and 65535", tunnelPort), 2)
		}
		if cfg != nil && !hasClientCert(cfg) {
			return cmdline.Exit("--tunnel-port needs the node's own certificate, which the agents' tunnels authenticate each other with: join with --join and --token (or use a kubeconfig whose user is the node's client certificate)", 2)
		}
	}
	var ip netip.Addr
	var err error
	if a := c.String("address"); a != "" {
		if ip, err = netip.ParseAddr(a); err != nil {
			return cmdline.Exit(fmt.Sprintf("--address %q: not an IP address", a), 2)
		}
	} else if ip, err = routeAddr(apiHost); err != nil {
		return cmdline.Exit(fmt.Sprintf("--address: cannot find the local address towards %s (%v): give --address", apiHost, err), 2)
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
	failover := splitList(c.StringSlice("failover-server"))
	for _, f := range failover {
		if u, err := url.Parse(f); err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return cmdline.Exit(fmt.Sprintf("--failover-server %q: want another API server as https://HOST:PORT", f), 2)
		}
	}
	if c.Int("max-pods") < 1 {
		return cmdline.Exit(fmt.Sprintf("--max-pods %d: must be at least 1", c.Int("max-pods")), 2)
	}
	var kubeletCert *tls.Certificate
	if certFile, keyFile := c.String("tls-cert-file"), c.String("tls-private-key-file"); certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return cmdline.Exit("--tls-cert-file and --tls-private-key-file go together", 2)
		}
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return cmdline.Exit(fmt.Sprintf("--tls-cert-file/--tls-private-key-file: %v", err), 2)
		}
		kubeletCert = &pair
	}
	privateUmask()
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg == nil {
		path := filepath.Join(dataDir, agentCredentialFile)
		if cfg, err = joinWithRetry(ctx, path, joinOpts, stderr); err != nil {
			if ctx.Err() != nil {
				fmt.Fprintln(stderr, "wasmpod agent: stopped")
				return nil
			}
			return cmdline.Exit(fmt.Sprintf("wasmpod agent: joining %s: %v", join, err), 1)
		}
	}
	var l, tl net.Listener
	if !reverse {
		if l, err = net.Listen("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(port))); err != nil {
			return cmdline.Exit(fmt.Sprintf("wasmpod agent: the kubelet API (--kubelet-port): %v", err), 1)
		}
	}
	if tunnelPort >= 0 {
		if tl, err = net.Listen("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(tunnelPort))); err != nil {
			if l != nil {
				l.Close()
			}
			return cmdline.Exit(fmt.Sprintf("wasmpod agent: the pod network tunnel (--tunnel-port): %v", err), 1)
		}
	}
	err = nodeagent.Run(ctx, nodeagent.Options{
		API:                cfg,
		APIServers:         failover,
		NodeName:           name,
		DataDir:            dataDir,
		CacheDir:           c.String("cache-dir"),
		NodeIP:             ip,
		KubeletListener:    l,
		KubeletCert:        kubeletCert,
		RotateCertificates: c.Bool("rotate-certificates"),
		CertDir:            certDir,
		ReverseTunnel:      reverse,
		TunnelListener:     tl,
		PodCIDR:            c.String("pod-cidr"),
		ClusterCIDR:        c.String("cluster-cidr"),
		NodeCIDRMaskSize:   c.Int("node-cidr-mask-size"),
		Capacity:           corev1.ResourceList{corev1.ResourcePods: *resource.NewQuantity(int64(c.Int("max-pods")), resource.DecimalSI)},
		Labels:             labels,
		Taints:             taints,
		WasmArch:           c.Bool("wasm-arch"),
		HeartbeatInterval:  c.Duration("heartbeat-interval"),
		HostPortAddress:    hostPortAddr,
		AllowHostPath:      c.Bool("allow-host-path"),
		DenyEgress:         c.Bool("deny-egress"),
		Progress:           stderr,
	})
	if err != nil && ctx.Err() == nil {
		return cmdline.Exit("wasmpod agent: "+err.Error(), 1)
	}
	fmt.Fprintln(stderr, "wasmpod agent: stopped")
	return nil
}

// joinOptions checks the flags of `agent --join` (kubeadm join's): the
// bootstrap token and the CA pins, or the explicit choice not to pin; an
// agent that has its credential (at credPath) already needs neither.
func joinOptions(c *cmdline.Context, join, node, credPath string) (bootstrap.Options, error) {
	for _, f := range []string{"kubeconfig", "server", "certificate-authority", "context"} {
		if c.IsSet(f) {
			what := "--" + f
			if f == "server" && os.Getenv("WASMPOD_SERVER") != "" {
				what += " (or $WASMPOD_SERVER)"
			}
			return bootstrap.Options{}, fmt.Errorf("--join and %s exclude each other: a joining agent gets its own credential with the bootstrap token (--token) and keeps it in <data-dir>/%s", what, agentCredentialFile)
		}
	}
	if u, err := url.Parse(join); err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return bootstrap.Options{}, fmt.Errorf("--join %q: want the API server's address as https://HOST:PORT", join)
	}
	o := bootstrap.Options{Server: strings.TrimSuffix(join, "/"), Token: c.String("token"), NodeName: node}
	if _, err := os.Stat(credPath); err == nil && o.Token == "" {
		return o, nil // a restart: the token was used up (bootstrap.LoadOrBootstrap)
	}
	token := o.Token
	switch {
	case token == "":
		return bootstrap.Options{}, errors.New("--join needs --token: the bootstrap token that 'wasmpod token create' prints on the control plane")
	case !bootstraputil.IsValidBootstrapToken(token):
		return bootstrap.Options{}, errors.New("--token: with --join, a bootstrap token of the form [a-z0-9]{6}.[a-z0-9]{16}, as 'wasmpod token create' prints it")
	}
	hashes := splitList(c.StringSlice("discovery-token-ca-cert-hash"))
	for _, h := range hashes {
		hexPart, ok := strings.CutPrefix(h, "sha256:")
		if b, err := hex.DecodeString(hexPart); !ok || err != nil || len(b) != sha256.Size {
			return bootstrap.Options{}, fmt.Errorf("--discovery-token-ca-cert-hash %q: want sha256:<64 hex digits>, as 'wasmpod token create --print-join-command' prints it", h)
		}
	}
	if len(hashes) == 0 && !c.Bool("discovery-token-unsafe-skip-ca-verification") {
		return bootstrap.Options{}, errors.New("--join needs --discovery-token-ca-cert-hash sha256:<hex> to pin the cluster CA (as 'wasmpod token create --print-join-command' prints it), or --discovery-token-unsafe-skip-ca-verification to trust the CA the token signed without a pin")
	}
	o.CACertHashes = hashes
	return o, nil
}

// joinWithRetry is bootstrap.LoadOrBootstrap retried while the API server
// cannot be reached (as a kubelet waits for its control plane); a refusal
// (wrong token, CA hash mismatch) ends it at once.
func joinWithRetry(ctx context.Context, path string, o bootstrap.Options, progress io.Writer) (*rest.Config, error) {
	if _, err := os.Stat(path); err == nil {
		fmt.Fprintf(progress, "wasmpod agent: node %s: using its credential in %s\n", o.NodeName, path)
	}
	delay := 500 * time.Millisecond
	for {
		cfg, err := bootstrap.LoadOrBootstrap(ctx, path, o)
		if err == nil {
			return cfg, nil
		}
		if !unreachable(err) || ctx.Err() != nil {
			return nil, err
		}
		fmt.Fprintf(progress, "wasmpod agent: waiting for the API server %s to join: %v (retrying in %v)\n", o.Server, err, delay)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// unreachable: err is a failure to reach the API server (refused, reset,
// timed out), worth retrying, and not an answer.
func unreachable(err error) bool {
	var op *net.OpError
	var ue *url.Error
	return errors.As(err, &op) || errors.As(err, &ue) && ue.Timeout() ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// hasClientCert: cfg's user is a client certificate.
func hasClientCert(cfg *rest.Config) bool {
	return len(cfg.CertData) > 0 || cfg.CertFile != ""
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
