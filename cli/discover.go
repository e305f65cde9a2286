package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// serverLookupHelp is the App's description: how the client commands find
// the server, in order of precedence.
const serverLookupHelp = `The client commands (get, describe, apply, create, delete, logs, exec,
port-forward) talk to a wasmpod API server; "run" needs none. They use the
first of these that applies:

  1. --server (or $WASMPOD_SERVER): unix:///path/to.sock or http(s)://host:port,
     with --token (or $WASMPOD_TOKEN) on TCP; the https:// address of a running
     serve is trusted with the CA that serve recorded.
  2. --kubeconfig (or $KUBECONFIG), with --context: the server, token, client
     certificates and CA of that kubeconfig's context (credentials are sent
     only over https, as kubectl does; --token is sent on http too).
     ~/.kube/config is never read unless named this way. "wasmpod serve
     --listen" writes one to <data-dir>/kubeconfig (it prints the path).
  3. The socket of the default data dir, if a server answers on it:
     $WASMPOD_DATA_DIR/wasmpod.sock, else $XDG_DATA_HOME/wasmpod/wasmpod.sock,
     else ~/.local/share/wasmpod/wasmpod.sock.
  4. A "wasmpod serve" of this user started with another --data-dir or
     --socket: each serve records its socket in $XDG_RUNTIME_DIR/wasmpod/servers
     (else $XDG_STATE_HOME/wasmpod/servers, else ~/.local/state/wasmpod/servers)
     while it runs. If several are running, choose one with --server.`

// kubeconfigFlags are --kubeconfig and --context (part of connFlags).
func kubeconfigFlags() []cmdline.Flag {
	return []cmdline.Flag{
		&cmdline.StringFlag{Name: "kubeconfig", Usage: "path to a kubeconfig file to take the server and credentials from (default: $KUBECONFIG; ~/.kube/config is never read implicitly)"},
		&cmdline.StringFlag{Name: "context", Usage: "the name of the kubeconfig context to use"},
	}
}

// locateServer finds the server as serverLookupHelp says: its config, its
// address as shown in messages and the kubeconfig context's namespace (""
// without one: the default of -n, as kubectl takes it).
func locateServer(c *cmdline.Context) (*rest.Config, string, string, error) {
	server, token := c.String("server"), c.String("token")
	if server != "" {
		cfg, addr, err := serverConfig(server, token)
		if err == nil {
			trustRecordedCA(cfg, server)
		}
		return cfg, addr, "", err
	}
	kubeconfig := c.String("kubeconfig")
	var paths []string
	if kubeconfig == "" {
		paths = filepath.SplitList(os.Getenv("KUBECONFIG"))
	}
	if kubeconfig != "" || len(paths) > 0 {
		return kubeconfigServer(kubeconfig, paths, c.String("context"), token)
	}
	if ctxName := c.String("context"); ctxName != "" {
		return nil, "", "", fmt.Errorf("--context %q needs a kubeconfig: pass --kubeconfig or set KUBECONFIG (wasmpod never reads ~/.kube/config implicitly)", ctxName)
	}
	cfg, addr, err := discoverServer()
	return cfg, addr, "", err
}

// kubeconfigServer reads the kubeconfig named by --kubeconfig (explicit) or
// $KUBECONFIG (a list, merged as kubectl does) with client-go's clientcmd.
func kubeconfigServer(explicit string, paths []string, context, token string) (*rest.Config, string, string, error) {
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: explicit, Precedence: paths}
	what := "--kubeconfig " + explicit
	if explicit == "" {
		what = "KUBECONFIG=" + strings.Join(paths, string(filepath.ListSeparator))
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: context}
	if token != "" {
		overrides.AuthInfo.Token = token
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, "", "", fmt.Errorf("%s: %v", what, err)
	}
	if len(raw.Clusters) == 0 {
		return nil, "", "", fmt.Errorf("%s: no clusters defined (file missing or empty?)", what)
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", "", fmt.Errorf("%s: %v", what, err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, "", "", fmt.Errorf("%s: %v", what, err)
	}
	if strings.HasPrefix(cfg.Host, "unix:") {
		// client-go cannot dial a socket from a kubeconfig; wasmpod can
		// (the socket's file mode is the authentication).
		ucfg, addr, err := serverConfig(cfg.Host, "")
		return ucfg, addr, ns, err
	}
	if token != "" && !rest.IsConfigTransportTLS(*cfg) {
		// clientcmd, like kubectl, sends a kubeconfig's credentials only
		// over TLS; an explicit --token is sent as with --server.
		cfg.BearerToken = token
	}
	return cfg, cfg.Host, ns, nil
}

// probeTimeout bounds the dial that tells a live socket from a stale one.
const probeTimeout = 2 * time.Second

// discoverServer is steps 3 and 4: the default data dir's socket, else the
// one live serve this user recorded.
func discoverServer() (*rest.Config, string, error) {
	def := DefaultSocketPath()
	why := probeSocket(def)
	if why == "" {
		return serverConfig("unix://"+def, "")
	}
	tried := []string{fmt.Sprintf("unix://%s (%s)", def, why)}
	live, dead := liveServers()
	for _, r := range dead {
		if r.Socket != def {
			tried = append(tried, fmt.Sprintf("unix://%s (%s)", r.Socket, r.why))
		}
	}
	var others []serveRecord
	for _, r := range live {
		if r.Socket != def {
			others = append(others, r)
		}
	}
	switch len(others) {
	case 0:
		return nil, "", &cmdError{code: 1, msg: fmt.Sprintf("error: no wasmpod server found: tried %s; start one with 'wasmpod serve' or pass --server", strings.Join(tried, ", "))}
	case 1:
		return serverConfig("unix://"+others[0].Socket, "")
	}
	lines := []string{fmt.Sprintf("error: %d wasmpod servers are running; choose one with --server:", len(others))}
	for _, r := range others {
		lines = append(lines, fmt.Sprintf("  --server unix://%s   (pid %d, data dir %s)", r.Socket, r.PID, r.DataDir))
	}
	return nil, "", &cmdError{code: 1, msg: strings.Join(lines, "\n")}
}

// probeSocket returns "" if a server accepts connections on path, else
// why not ("no such file", "connection refused", ...).
func probeSocket(path string) string {
	c, err := net.DialTimeout("unix", path, probeTimeout)
	if err == nil {
		c.Close()
		return ""
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

// serveRecord is what a running "wasmpod serve" records about itself in
// serversDir, so that the client commands can find it.
type serveRecord struct {
	PID     int    `json:"pid"`
	Socket  string `json:"socket"`
	DataDir string `json:"dataDir"`
	Listen  string `json:"listen,omitempty"` // https://host:port of --listen
	// CAFile is the CA that signed the --listen serving certificate
	// (generated ones) and Kubeconfig the admin kubeconfig for it: a
	// client reaching the server on TCP trusts it through either.
	CAFile     string    `json:"caFile,omitempty"`
	Kubeconfig string    `json:"kubeconfig,omitempty"`
	Started    time.Time `json:"started"`

	why string // why it is not usable
}

// serversDir is where serve records itself: $XDG_RUNTIME_DIR/wasmpod/servers
// (a per-user tmpfs, emptied at logout), else
// $XDG_STATE_HOME/wasmpod/servers, else ~/.local/state/wasmpod/servers.
func serversDir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "wasmpod", "servers")
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "wasmpod", "servers")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return filepath.Join(os.TempDir(), fmt.Sprintf("wasmpod-%d", os.Getuid()), "servers")
	}
	return filepath.Join(home, ".local", "state", "wasmpod", "servers")
}

// recordServe writes r as serversDir()/serve-<pid>.json (mode 0600, in a
// 0700 directory) and returns the function that removes it.
func recordServe(r serveRecord) (func(), error) {
	dir := serversDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return func() {}, err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return func() {}, err
	}
	path := filepath.Join(dir, fmt.Sprintf("serve-%d.json", r.PID))
	tmp, err := os.CreateTemp(dir, ".serve-*")
	if err != nil {
		return func() {}, err
	}
	_, werr := tmp.Write(append(b, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr, os.Chmod(tmp.Name(), 0o600)); err != nil {
		os.Remove(tmp.Name())
		return func() {}, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return func() {}, err
	}
	return func() { os.Remove(path) }, nil
}

// liveServers reads the records in serversDir: live ones answer on their
// socket; a record whose process is gone is removed (a serve that was
// killed); one whose process lives but whose socket refuses is reported
// dead and left in place.
func liveServers() (live, dead []serveRecord) {
	dir := serversDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, "serve-") || !strings.HasSuffix(name, ".json") {
			continue
		}
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var r serveRecord
		if json.Unmarshal(b, &r) != nil || r.Socket == "" || r.PID <= 0 ||
			name != "serve-"+strconv.Itoa(r.PID)+".json" {
			continue
		}
		if !processAlive(r.PID) {
			os.Remove(path)
			continue
		}
		if r.why = probeSocket(r.Socket); r.why != "" {
			dead = append(dead, r)
			continue
		}
		live = append(live, r)
	}
	sort.Slice(live, func(i, j int) bool { return live[i].Started.Before(live[j].Started) })
	return live, dead
}

// trustRecordedCA makes cfg, for an https:// --server, trust the CA of the
// running serve of this user that recorded that address (the generated
// CA is in no system pool).
func trustRecordedCA(cfg *rest.Config, server string) {
	if !strings.HasPrefix(server, "https://") || len(cfg.TLSClientConfig.CAData) > 0 || cfg.TLSClientConfig.CAFile != "" {
		return
	}
	live, _ := liveServers()
	for _, r := range live {
		if r.CAFile != "" && strings.TrimSuffix(server, "/") == r.Listen {
			cfg.TLSClientConfig.CAFile = r.CAFile
			return
		}
	}
}
