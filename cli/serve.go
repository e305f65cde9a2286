package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	"k8s.io/apiserver/pkg/authentication/authenticator"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/pods"
	"github.com/wasmpod/wasmpod/ui"
	"k8s.io/utils/clock"
)

func serveCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:  "serve",
		Usage: "Run the control plane (API server, store, scheduler, controllers) and node agents",
		Description: `Serves the Kubernetes-style API on a Unix socket (mode 0600: file permissions are
the authentication) and, with --listen, on HTTPS with a bearer token. Objects live
in a bbolt file under --data-dir and survive restarts: pods that were running
start again as after a node reboot (restartCount incremented, per restartPolicy).

With --listen, serve creates a CA and a serving certificate in <data-dir>/pki
on first start (reused later; the serving certificate is renewed when the
listen host changes or it nears expiry) unless --tls-cert-file and
--tls-private-key-file are given, generates a token in <data-dir>/token when
none is given, and writes an admin kubeconfig to <data-dir>/kubeconfig
(mode 0600), which kubectl and wasmpod both use:

  wasmpod serve --listen 127.0.0.1:6443 &
  export KUBECONFIG=<data-dir>/kubeconfig

Without --listen there is no kubeconfig: the Unix socket has no TLS.

With --listen and serve's own CA, nodes on other machines join as with
kubeadm: 'wasmpod token create --print-join-command' prints the
'wasmpod agent --join ...' command to run on them; serve signs their node
credentials with its CA and authenticates them by those certificates.

With --etcd-servers, several serve replicas share the cluster and elect the
one that runs the scheduler and the controllers (--leader-elect*).

Use the other commands (get, apply, logs, exec, delete…) against it.`,
		Flags: []cmdline.Flag{
			&cmdline.StringFlag{Name: "config", Usage: "YAML configuration file (dataDir, socket, listen, token, nodes: [{name, capacity, labels, taints}], maxPods, clusterCIDR, nodeCIDRMaskSize, leaderElection: {leaderElect, leaseDuration, renewDeadline, retryPeriod}, ...; and, with no flag: systemReserved, evictionHard, containerLogMaxSize, containerLogMaxFiles); flags override it"},
			&cmdline.StringFlag{Name: "data-dir", Usage: "directory for the store, pod logs and volumes (made 0700; one owned by another user is refused)", Value: DefaultDataDir(), EnvVars: []string{"WASMPOD_DATA_DIR"}},
			&cmdline.StringFlag{Name: "socket", Usage: "Unix socket to serve the API on (default: <data-dir>/wasmpod.sock)"},
			&cmdline.StringFlag{Name: "listen", Usage: "also serve HTTPS on this TCP address (host:port) and write <data-dir>/kubeconfig for it"},
			&cmdline.StringFlag{Name: "token", Usage: "bearer token required on TCP: at least 16 random characters (e.g. openssl rand -hex 32); weak tokens are refused (default: generated once into <data-dir>/token)", EnvVars: []string{"WASMPOD_TOKEN"}},
			&cmdline.StringFlag{Name: "token-auth-file", Usage: "static token file of other users, in kube-apiserver's format (CSV lines token,user,uid,\"group1,group2\"), read once at start; RBAC (rbac.authorization.k8s.io Roles and bindings) authorizes them, while --token is the admin (system:masters)"},
			&cmdline.StringFlag{Name: "tls-cert-file", Usage: "serving certificate (PEM, with its chain) for --listen instead of the generated one in <data-dir>/pki"},
			&cmdline.StringFlag{Name: "tls-private-key-file", Usage: "private key (PEM) of --tls-cert-file"},
			&cmdline.StringFlag{Name: "write-kubeconfig", Usage: "also write the admin kubeconfig for --listen to this file (merged into it if it is a kubeconfig already)"},
			&cmdline.StringFlag{Name: "insecure-http-listen", Usage: "also serve plain HTTP (bearer token required) on this loopback address (127.0.0.1, ::1 or localhost only)"},
			&cmdline.IntFlag{Name: "nodes", Usage: "number of node agents in this process (0: none, a control plane that `wasmpod agent` nodes join over --listen)", Value: 1},
			&cmdline.StringFlag{Name: "cache-dir", Usage: "directory for built images and compiled modules", Value: wasmpod.DefaultCacheDir(), DefaultText: "$XDG_CACHE_HOME/wasmpod"},
			&cmdline.BoolFlag{Name: "allow-host-path", Usage: "permit hostPath volumes"},
			&cmdline.StringFlag{Name: "host-port-address", Usage: "host address that hostPorts and NodePorts listen on", Value: "127.0.0.1"},
			&cmdline.BoolFlag{Name: "deny-egress", Usage: "refuse pods' connections to addresses outside the cluster (the guest gets EACCES)"},
			&cmdline.BoolFlag{Name: "allow-store-reset", Usage: "start even though the store under --data-dir is missing, empty or older than the revision it last recorded (its data is lost): only to start over deliberately; restore a backup with \"wasmpod restore\" instead"},
			&cmdline.DurationFlag{Name: "node-monitor-grace-period", Usage: "mark a node Unknown when its lease is older than this", Value: 40 * time.Second},
			&cmdline.DurationFlag{Name: "heartbeat-interval", Usage: "how often node agents renew their lease", Value: 10 * time.Second},
			&cmdline.IntFlag{Name: "max-pods", Usage: "pods each node can run (its pods capacity, the kubelet's --max-pods); a node's capacity.pods in --config overrides it", Value: pods.DefaultMaxPods},
			&cmdline.StringFlag{Name: "cluster-cidr", Usage: "the pods' address range, split into the nodes' pod ranges (kube-controller-manager's --cluster-cidr)", Value: pods.DefaultClusterCIDR},
			&cmdline.IntFlag{Name: "node-cidr-mask-size", Usage: "mask size of each node's pod range (node.spec.podCIDR) within --cluster-cidr; a /N range holds 2^(32-N)-3 pods, and the pods past that wait for an address (ContainerCreating)", DefaultText: "24, or 64 for IPv6"},
			&cmdline.StringSliceFlag{Name: "etcd-servers", Usage: "keep the cluster's state in etcd instead of <data-dir>: its client URLs, comma-separated (kube-apiserver's --etcd-servers); several serve processes may share it"},
			&cmdline.StringFlag{Name: "etcd-cafile", Usage: "CA (PEM) that verifies the etcd servers' certificates"},
			&cmdline.StringFlag{Name: "etcd-certfile", Usage: "client certificate (PEM) for etcd"},
			&cmdline.StringFlag{Name: "etcd-keyfile", Usage: "private key (PEM) of --etcd-certfile"},
			&cmdline.StringFlag{Name: "etcd-username", Usage: "user for an etcd with auth enabled (its password from $WASMPOD_ETCD_PASSWORD)", EnvVars: []string{"WASMPOD_ETCD_USERNAME"}},
			&cmdline.StringFlag{Name: "etcd-prefix", Usage: "root of the cluster's keys in etcd", Value: "/wasmpod"},
			&cmdline.BoolFlag{Name: "leader-elect", Usage: "with --etcd-servers: elect, among the serve replicas sharing the etcd, the one that runs the scheduler and the one that runs the controllers, through the Leases kube-system/kube-scheduler and kube-system/kube-controller-manager (kube-scheduler's and kube-controller-manager's flag); --leader-elect=false runs them here without an election, only for a control plane that is the etcd's single user", Value: true},
			&cmdline.DurationFlag{Name: "leader-elect-lease-duration", Usage: "how long a replica waits after the leader's last renewal before it takes the Lease over (at least 1s, more than --leader-elect-renew-deadline)", Value: wasmpod.DefaultLeaseDuration},
			&cmdline.DurationFlag{Name: "leader-elect-renew-deadline", Usage: "how long the leader retries a renewal before it stops leading (more than 1.2 times --leader-elect-retry-period)", Value: wasmpod.DefaultRenewDeadline},
			&cmdline.DurationFlag{Name: "leader-elect-retry-period", Usage: "the interval between a replica's attempts to acquire or renew the Lease", Value: wasmpod.DefaultRetryPeriod},
		},
		Action: serveAction,
	}
}

func serveAction(c *cmdline.Context) error {
	stderr := c.App.ErrWriter
	var nodeSpecs []wasmpod.NodeSpec
	var fileCfg *ServeConfig
	if path := c.String("config"); path != "" {
		cfg, err := loadServeConfig(path)
		fileCfg = cfg
		if err != nil {
			return cmdline.Exit(err.Error(), 2)
		}
		if err := applyServeConfig(c, cfg); err != nil {
			return cmdline.Exit(err.Error(), 2)
		}
		if !c.IsSet("nodes") {
			nodeSpecs = cfg.Nodes
		}
	}
	dataDir := c.String("data-dir")
	socket := c.String("socket")
	if socket == "" {
		socket = filepath.Join(dataDir, "wasmpod.sock")
	}
	listen, insecureListen := c.String("listen"), c.String("insecure-http-listen")
	tcp := listen != "" || insecureListen != ""
	if listen != "" {
		if _, _, err := net.SplitHostPort(listen); err != nil {
			return cmdline.Exit(fmt.Sprintf("--listen %q: %v", listen, err), 2)
		}
	}
	if insecureListen != "" {
		if err := checkLoopbackListen(insecureListen); err != nil {
			return cmdline.Exit(err.Error(), 2)
		}
	}
	if (c.String("tls-cert-file") == "") != (c.String("tls-private-key-file") == "") {
		return cmdline.Exit("--tls-cert-file and --tls-private-key-file go together", 2)
	}
	if listen == "" && (c.String("tls-cert-file") != "" || c.String("write-kubeconfig") != "") {
		return cmdline.Exit("--tls-cert-file and --write-kubeconfig need --listen (the Unix socket has no TLS)", 2)
	}
	if tcp && (c.IsSet("token") || c.String("token") != "") {
		if err := apiserver.CheckToken(c.String("token")); err != nil {
			return cmdline.Exit(fmt.Sprintf("--token (or WASMPOD_TOKEN, or token in --config): %v", err), 2)
		}
	}
	var users authenticator.Token
	if f := c.String("token-auth-file"); f != "" {
		if !tcp {
			return cmdline.Exit("--token-auth-file needs --listen or --insecure-http-listen (on the Unix socket everyone is the admin)", 2)
		}
		var err error
		if users, err = apiserver.LoadTokenFile(f); err != nil {
			return cmdline.Exit(fmt.Sprintf("--token-auth-file: %v", err), 2)
		}
	}
	hostPortAddr, err := netip.ParseAddr(c.String("host-port-address"))
	if err != nil {
		return cmdline.Exit(fmt.Sprintf("--host-port-address: %v", err), 2)
	}
	if c.Int("nodes") < 0 {
		return cmdline.Exit("--nodes must not be negative (0: a control plane alone, which `wasmpod agent` nodes join)", 2)
	}
	noNodes := c.IsSet("nodes") && c.Int("nodes") == 0
	if noNodes {
		if listen == "" {
			return cmdline.Exit("--nodes 0 needs --listen: nodes join over HTTPS (wasmpod agent)", 2)
		}
		nodeSpecs = nil
	}
	if c.Int("max-pods") < 0 {
		return cmdline.Exit(fmt.Sprintf("invalid configuration: maxPods (--max-pods) %d must not be a negative number", c.Int("max-pods")), 2)
	}
	nodeCount := c.Int("nodes")
	if len(nodeSpecs) > 0 {
		nodeCount = len(nodeSpecs)
	}
	if _, _, err := pods.NodePodCIDRs(c.String("cluster-cidr"), c.Int("node-cidr-mask-size"), nodeCount); err != nil {
		return cmdline.Exit(err.Error(), 2)
	}
	privateUmask() // logs, volumes and the store: not readable by other users
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()

	wcfg := wasmpod.Config{
		Store:                  wasmpod.StoreBbolt,
		DataDir:                dataDir,
		CacheDir:               c.String("cache-dir"),
		Nodes:                  c.Int("nodes"),
		NodeSpecs:              nodeSpecs,
		NoLocalNodes:           noNodes,
		AllowHostPath:          c.Bool("allow-host-path"),
		DenyEgress:             c.Bool("deny-egress"),
		AllowStoreReset:        c.Bool("allow-store-reset"),
		OpaqueImageErrors:      true, // pods come over the API: no probing of host paths
		RefuseRelativeImages:   true, // clients upload what they resolve (cli/upload.go)
		HostPortAddress:        hostPortAddr,
		NodeMonitorGracePeriod: c.Duration("node-monitor-grace-period"),
		HeartbeatInterval:      c.Duration("heartbeat-interval"),
		MaxPods:                c.Int("max-pods"),
		ClusterCIDR:            c.String("cluster-cidr"),
		NodeCIDRMaskSize:       c.Int("node-cidr-mask-size"),
		Progress:               stderr,
		LeaderElection: wasmpod.LeaderElectionConfig{
			Disabled:      !c.Bool("leader-elect"),
			LeaseDuration: c.Duration("leader-elect-lease-duration"),
			RenewDeadline: c.Duration("leader-elect-renew-deadline"),
			RetryPeriod:   c.Duration("leader-elect-retry-period"),
		},
	}
	for _, f := range []string{"leader-elect-lease-duration", "leader-elect-renew-deadline", "leader-elect-retry-period"} {
		if d := c.Duration(f); d <= 0 {
			return cmdline.Exit(fmt.Sprintf("invalid configuration: --%s %v: must be positive", f, d), 2)
		}
	}
	fileCfg.applyTo(&wcfg)
	if servers := c.StringSlice("etcd-servers"); len(servers) > 0 { // store/etcd instead of bbolt
		if (c.String("etcd-certfile") == "") != (c.String("etcd-keyfile") == "") {
			return cmdline.Exit("--etcd-certfile and --etcd-keyfile go together", 2)
		}
		wcfg.Store = wasmpod.StoreEtcd
		wcfg.Etcd = wasmpod.EtcdConfig{Servers: servers, CAFile: c.String("etcd-cafile"), CertFile: c.String("etcd-certfile"), KeyFile: c.String("etcd-keyfile"),
			Username: c.String("etcd-username"), Password: os.Getenv("WASMPOD_ETCD_PASSWORD"), Prefix: c.String("etcd-prefix")}
	} else {
		for _, f := range []string{"etcd-cafile", "etcd-certfile", "etcd-keyfile", "etcd-username", "etcd-prefix",
			"leader-elect-lease-duration", "leader-elect-renew-deadline", "leader-elect-retry-period"} {
			if c.IsSet(f) {
				return cmdline.Exit(fmt.Sprintf("--%s needs --etcd-servers", f), 2)
			}
		}
	}
	cl, err := wasmpod.New(ctx, wcfg)
	if err != nil {
		code := 1
		if strings.HasPrefix(err.Error(), "invalid configuration: ") {
			code = 2 // e.g. the --leader-elect-* durations' relations
		}
		return cmdline.Exit(err.Error(), code)
	}
	defer cl.Close()
	// The dashboard's usage history (ui/history.go), as upstream's
	// dashboard-metrics-scraper: one sample a minute per pod, an hour kept.
	// Only where a TCP listener serves the dashboard: without one nobody
	// reads it, and each sample asks every node for its summary.
	hist := ui.NewSampler(cl.Server(), clock.RealClock{}, ui.SamplerOptions{})
	if tcp {
		go hist.Run(ctx)
	}
	token := c.String("token")
	var pki *servingPKI
	if tcp {
		if token == "" {
			if token, err = loadOrCreateToken(dataDir); err != nil {
				return cmdline.Exit(fmt.Sprintf("token: %v", err), 1)
			}
		}
	}
	if listen != "" {
		host, _, _ := net.SplitHostPort(listen)
		if f := c.String("tls-cert-file"); f != "" {
			pki, err = loadServingFiles(f, c.String("tls-private-key-file"))
		} else {
			pki, err = loadOrCreatePKI(filepath.Join(dataDir, pkiDirName), servingHosts(host), time.Now())
		}
		if err != nil {
			return cmdline.Exit(fmt.Sprintf("serving certificate: %v", err), 1)
		}
		// kube-root-ca.crt and the pods' ServiceAccount tokens
		cl.SetRootCA(pki.caPEM)
		// The kubelet client certificate for `wasmpod agent` nodes, and the
		// cluster CA that signs joining nodes' credentials and verifies
		// client certificates (kube-apiserver's --client-ca-file): only
		// with serve's own CA, which the agents' kubeconfig trusts.
		if c.String("tls-cert-file") == "" {
			pkiDir := filepath.Join(dataDir, pkiDirName)
			certPEM, keyPEM, err := kubeletClientCert(pkiDir, time.Now()) // agent_pki.go
			if err == nil {
				err = cl.Server().SetKubeletClient(certPEM, keyPEM)
			}
			if err != nil {
				return cmdline.Exit(fmt.Sprintf("kubelet client certificate: %v", err), 1)
			}
			caKeyPEM, err := os.ReadFile(filepath.Join(pkiDir, caKeyFile))
			if err == nil {
				err = cl.Server().SetClusterCA(pki.caPEM, caKeyPEM)
			}
			if err == nil {
				err = cl.Server().SetKubeletCA(pki.caPEM)
			}
			if err != nil {
				return cmdline.Exit(fmt.Sprintf("cluster CA: %v", err), 1)
			}
		}
	}

	ul, err := apiserver.ListenUnix(socket)
	if err != nil {
		return cmdline.Exit(err.Error(), 1)
	}
	servers := []*http.Server{apiserver.NewHTTPServer(cl.Handler(), apiserver.ServingOptions{})}
	listeners := []net.Listener{ul}
	tlsConfigs := []*tls.Config{nil}
	closeAll := func() {
		for _, l := range listeners {
			l.Close()
		}
	}
	fmt.Fprintf(stderr, "wasmpod serve: API on unix://%s\n", socket)
	rec := serveRecord{PID: os.Getpid(), Socket: socket, DataDir: dataDir, Started: time.Now().UTC()}
	if abs, err := filepath.Abs(dataDir); err == nil {
		rec.DataDir = abs
	}
	if listen != "" {
		tl, err := net.Listen("tcp", listen)
		if err != nil {
			closeAll()
			return cmdline.Exit(err.Error(), 1)
		}
		host, _, _ := net.SplitHostPort(listen)
		url := serverURL(host, tl.Addr())
		// The kubernetes Service's endpoint: the listener's address (a
		// wildcard listen is advertised on loopback, as its kubeconfig).
		if ta, ok := tl.Addr().(*net.TCPAddr); ok {
			ap := ta.AddrPort()
			if ap.Addr().IsUnspecified() {
				ap = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ap.Port())
			}
			cl.SetAPIServerAddress(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
		}
		servers = append(servers, apiserver.NewHTTPServer(ui.MountWithHistory(cl.Server().Handler(apiserver.HandlerOptions{Token: token, Users: users, Metrics: cl.Metrics()}), hist), apiserver.ServingOptions{}))
		listeners = append(listeners, apiserver.LimitUnauthenticated(tl, 0))
		tlsConfigs = append(tlsConfigs, pki.tlsConfig())
		fmt.Fprintf(stderr, "wasmpod serve: API on %s (TLS, bearer token required)\n", url)
		rec.Listen, rec.CAFile = url, pki.caPath
		kubeconfigs := []string{filepath.Join(rec.DataDir, kubeconfigName)}
		if p := c.String("write-kubeconfig"); p != "" {
			kubeconfigs = append(kubeconfigs, p)
		}
		for i, p := range kubeconfigs {
			if err := writeKubeconfig(p, url, pki.caPEM, token); err != nil {
				closeAll()
				return cmdline.Exit(fmt.Sprintf("kubeconfig: %v", err), 1)
			}
			if i == 0 {
				rec.Kubeconfig = p
				fmt.Fprintf(stderr, "wasmpod serve: kubeconfig in %s: export KUBECONFIG=%s\n", p, p)
			} else {
				fmt.Fprintf(stderr, "wasmpod serve: kubeconfig also in %s\n", p)
			}
		}
	}
	if insecureListen != "" {
		hl, err := net.Listen("tcp", insecureListen)
		if err != nil {
			closeAll()
			return cmdline.Exit(err.Error(), 1)
		}
		servers = append(servers, apiserver.NewHTTPServer(ui.MountWithHistory(cl.Server().Handler(apiserver.HandlerOptions{Token: token, Users: users, Metrics: cl.Metrics()}), hist), apiserver.ServingOptions{}))
		listeners = append(listeners, apiserver.LimitUnauthenticated(hl, 0))
		tlsConfigs = append(tlsConfigs, nil)
		fmt.Fprintf(stderr, "wasmpod serve: API on http://%s (plain HTTP on loopback, bearer token required)\n", hl.Addr())
	}
	nodes := c.Int("nodes")
	if len(nodeSpecs) > 0 {
		nodes = len(nodeSpecs)
	}
	if noNodes {
		fmt.Fprintf(stderr, "wasmpod serve: no nodes of its own (nodes join with wasmpod agent), data in %s\n", dataDir)
	} else {
		fmt.Fprintf(stderr, "wasmpod serve: %d node(s), data in %s\n", nodes, dataDir)
	}
	// Record where this serve listens, so that the client commands find it
	// whatever its --data-dir (removed on exit; a killed serve's record is
	// dropped by the next client that finds its pid gone).
	if abs, err := filepath.Abs(socket); err == nil {
		rec.Socket = abs
	}
	unrecord, err := recordServe(rec)
	if err != nil {
		fmt.Fprintf(stderr, "wasmpod serve: cannot record this server in %s (%v): other commands need --server unix://%s\n", serversDir(), err, rec.Socket)
	}
	defer unrecord()

	errs := make(chan error, len(servers))
	for i, s := range servers {
		go func() {
			if tlsConfigs[i] != nil {
				errs <- serveTLS(s, listeners[i], tlsConfigs[i])
				return
			}
			errs <- s.Serve(listeners[i])
		}()
	}
	select {
	case <-ctx.Done():
	case err := <-errs:
		if !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(stderr, "wasmpod serve:", err)
		}
	}
	fmt.Fprintln(stderr, "wasmpod serve: shutting down")
	// Watches and log streams never go idle: give requests a moment, then cut them.
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, s := range servers {
		if s.Shutdown(sctx) != nil {
			s.Close()
		}
	}
	return nil
}
