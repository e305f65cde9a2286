package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/apiserver"
)

func serveCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "serve",
		Usage: "Run the control plane (API server, store, scheduler, controllers) and node agents",
		Description: `Serves the Kubernetes-style API on a Unix socket (mode 0600: file permissions are
the authentication) and, with --listen, on TCP with a bearer token. Objects live
in a bbolt file under --data-dir and survive restarts: pods that were running
start again as after a node reboot (restartCount incremented, per restartPolicy).

Use the other commands (get, apply, logs, exec, delete…) against it.`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "config", Usage: "YAML configuration file (dataDir, socket, listen, token, nodes: [{name, capacity, labels, taints}], ...; and, with no flag: systemReserved, evictionHard, containerLogMaxSize, containerLogMaxFiles); flags override it"},
			&ucli.StringFlag{Name: "data-dir", Usage: "directory for the store, pod logs and volumes (made 0700; one owned by another user is refused)", Value: DefaultDataDir(), EnvVars: []string{"WASMPOD_DATA_DIR"}},
			&ucli.StringFlag{Name: "socket", Usage: "Unix socket to serve the API on (default: <data-dir>/wasmpod.sock)"},
			&ucli.StringFlag{Name: "listen", Usage: "also serve on this TCP address (host:port); requires --token"},
			&ucli.StringFlag{Name: "token", Usage: "bearer token required on TCP: at least 16 random characters (e.g. openssl rand -hex 32); weak tokens are refused", EnvVars: []string{"WASMPOD_TOKEN"}},
			&ucli.IntFlag{Name: "nodes", Usage: "number of node agents in this process", Value: 1},
			&ucli.StringFlag{Name: "cache-dir", Usage: "directory for built images and compiled modules", Value: wasmpod.DefaultCacheDir(), DefaultText: "$XDG_CACHE_HOME/wasmpod"},
			&ucli.BoolFlag{Name: "allow-host-path", Usage: "permit hostPath volumes"},
			&ucli.StringFlag{Name: "host-port-address", Usage: "host address that hostPorts and NodePorts listen on", Value: "127.0.0.1"},
			&ucli.BoolFlag{Name: "deny-egress", Usage: "refuse pods' connections to addresses outside the cluster (the guest gets EACCES)"},
			&ucli.BoolFlag{Name: "allow-store-reset", Usage: "start even though the store under --data-dir is missing, empty or older than the revision it last recorded (its data is lost): only to start over deliberately; restore a backup with \"wasmpod restore\" instead"},
			&ucli.DurationFlag{Name: "node-monitor-grace-period", Usage: "mark a node Unknown when its lease is older than this", Value: 40 * time.Second},
			&ucli.DurationFlag{Name: "heartbeat-interval", Usage: "how often node agents renew their lease", Value: 10 * time.Second},
		},
		Action: serveAction,
	}
}

func serveAction(c *ucli.Context) error {
	stderr := c.App.ErrWriter
	var nodeSpecs []wasmpod.NodeSpec
	var fileCfg *ServeConfig
	if path := c.String("config"); path != "" {
		cfg, err := loadServeConfig(path)
		fileCfg = cfg
		if err != nil {
			return ucli.Exit(err.Error(), 2)
		}
		if err := applyServeConfig(c, cfg); err != nil {
			return ucli.Exit(err.Error(), 2)
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
	if c.String("listen") != "" && c.String("token") == "" {
		return ucli.Exit("--listen serves the API on TCP and needs a bearer token: set --token or WASMPOD_TOKEN", 2)
	}
	if c.String("listen") != "" {
		if err := apiserver.CheckToken(c.String("token")); err != nil {
			return ucli.Exit(fmt.Sprintf("--token (or WASMPOD_TOKEN, or token in --config): %v", err), 2)
		}
	}
	hostPortAddr, err := netip.ParseAddr(c.String("host-port-address"))
	if err != nil {
		return ucli.Exit(fmt.Sprintf("--host-port-address: %v", err), 2)
	}
	if c.Int("nodes") < 1 {
		return ucli.Exit("--nodes must be at least 1", 2)
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
		AllowHostPath:          c.Bool("allow-host-path"),
		DenyEgress:             c.Bool("deny-egress"),
		AllowStoreReset:        c.Bool("allow-store-reset"),
		OpaqueImageErrors:      true, // pods come over the API: no probing of host paths
		HostPortAddress:        hostPortAddr,
		NodeMonitorGracePeriod: c.Duration("node-monitor-grace-period"),
		HeartbeatInterval:      c.Duration("heartbeat-interval"),
		Progress:               stderr,
	}
	fileCfg.applyTo(&wcfg)
	cl, err := wasmpod.New(ctx, wcfg)
	if err != nil {
		return ucli.Exit(err.Error(), 1)
	}
	defer cl.Close()

	ul, err := apiserver.ListenUnix(socket)
	if err != nil {
		return ucli.Exit(err.Error(), 1)
	}
	servers := []*http.Server{apiserver.NewHTTPServer(cl.Handler(), apiserver.ServingOptions{})}
	listeners := []net.Listener{ul}
	fmt.Fprintf(stderr, "wasmpod serve: API on unix://%s\n", socket)
	if addr := c.String("listen"); addr != "" {
		tl, err := net.Listen("tcp", addr)
		if err != nil {
			ul.Close()
			return ucli.Exit(err.Error(), 1)
		}
		servers = append(servers, apiserver.NewHTTPServer(cl.Server().Handler(apiserver.HandlerOptions{Token: c.String("token")}), apiserver.ServingOptions{}))
		listeners = append(listeners, apiserver.LimitUnauthenticated(tl, 0))
		fmt.Fprintf(stderr, "wasmpod serve: API on http://%s (bearer token required)\n", tl.Addr())
	}
	nodes := c.Int("nodes")
	if len(nodeSpecs) > 0 {
		nodes = len(nodeSpecs)
	}
	fmt.Fprintf(stderr, "wasmpod serve: %d node(s), data in %s\n", nodes, dataDir)
	// Record where this serve listens, so that the client commands find it
	// whatever its --data-dir (removed on exit; a killed serve's record is
	// dropped by the next client that finds its pid gone).
	rec := serveRecord{PID: os.Getpid(), Socket: socket, DataDir: dataDir, Started: time.Now().UTC()}
	if abs, err := filepath.Abs(socket); err == nil {
		rec.Socket = abs
	}
	if abs, err := filepath.Abs(dataDir); err == nil {
		rec.DataDir = abs
	}
	if len(listeners) > 1 {
		rec.Listen = "http://" + listeners[1].Addr().String()
	}
	unrecord, err := recordServe(rec)
	if err != nil {
		fmt.Fprintf(stderr, "wasmpod serve: cannot record this server in %s (%v): other commands need --server unix://%s\n", serversDir(), err, rec.Socket)
	}
	defer unrecord()

	errs := make(chan error, len(servers))
	for i, s := range servers {
		go func() { errs <- s.Serve(listeners[i]) }()
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
