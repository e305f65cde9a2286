// Package locate finds the wasmpod API server a command talks to (its
// flags --server, --token, --kubeconfig and --context, the default data
// dir's socket, and the servers that "wasmpod serve" records), for the
// CLI's client commands and the node agent (cli/agentcmd), which links no
// other part of the CLI.
package locate

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	"github.com/wasmpod/wasmpod/internal/restconfig"
)

// Help is the App's description: how the client commands find
// the server, in order of precedence.
const Help = `The client commands (get, describe, apply, create, delete, logs, exec,
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

// KubeconfigFlags are --kubeconfig and --context (part of ConnFlags).
func KubeconfigFlags() []cmdline.Flag {
	return []cmdline.Flag{
		&cmdline.StringFlag{Name: "kubeconfig", Usage: "path to a kubeconfig file to take the server and credentials from (default: $KUBECONFIG; ~/.kube/config is never read implicitly)"},
		&cmdline.StringFlag{Name: "context", Usage: "the name of the kubeconfig context to use"},
	}
}

// Server finds the server as Help says: its config, its
// address as shown in messages and the kubeconfig context's namespace (""
// without one: the default of -n, as kubectl takes it).
func Server(c *cmdline.Context) (*rest.Config, string, string, error) {
	server, token := c.String("server"), c.String("token")
	if server != "" {
		cfg, addr, err := ServerConfig(server, token)
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
		return KubeconfigServer(kubeconfig, paths, c.String("context"), token)
	}
	if ctxName := c.String("context"); ctxName != "" {
		return nil, "", "", fmt.Errorf("--context %q needs a kubeconfig: pass --kubeconfig or set KUBECONFIG (wasmpod never reads ~/.kube/config implicitly)", ctxName)
	}
	cfg, addr, err := discoverServer()
	return cfg, addr, "", err
}

// KubeconfigServer reads the kubeconfig named by --kubeconfig (explicit) or
// $KUBECONFIG (a list, merged as kubectl does) with client-go's clientcmd.
func KubeconfigServer(explicit string, paths []string, context, token string) (*rest.Config, string, string, error) {
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
		ucfg, addr, err := ServerConfig(cfg.Host, "")
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
		return ServerConfig("unix://"+def, "")
	}
	tried := []string{fmt.Sprintf("unix://%s (%s)", def, why)}
	live, dead := LiveServers()
	for _, r := range dead {
		if r.Socket != def {
			tried = append(tried, fmt.Sprintf("unix://%s (%s)", r.Socket, r.why))
		}
	}
	var others []ServeRecord
	for _, r := range live {
		if r.Socket != def {
			others = append(others, r)
		}
	}
	switch len(others) {
	case 0:
		return nil, "", &Error{Code: 1, Msg: fmt.Sprintf("error: no wasmpod server found: tried %s; start one with 'wasmpod serve' or pass --server", strings.Join(tried, ", "))}
	case 1:
		return ServerConfig("unix://"+others[0].Socket, "")
	}
	lines := []string{fmt.Sprintf("error: %d wasmpod servers are running; choose one with --server:", len(others))}
	for _, r := range others {
		lines = append(lines, fmt.Sprintf("  --server unix://%s   (pid %d, data dir %s)", r.Socket, r.PID, r.DataDir))
	}
	return nil, "", &Error{Code: 1, Msg: strings.Join(lines, "\n")}
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

// ServeRecord is what a running "wasmpod serve" records about itself in
// ServersDir, so that the client commands can find it.
type ServeRecord struct {
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

// ServersDir is where serve records itself: $XDG_RUNTIME_DIR/wasmpod/servers
// (a per-user tmpfs, emptied at logout), else
// $XDG_STATE_HOME/wasmpod/servers, else ~/.local/state/wasmpod/servers.
func ServersDir() string {
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

// RecordServe writes r as ServersDir()/serve-<pid>.json (mode 0600, in a
// 0700 directory) and returns the function that removes it.
func RecordServe(r ServeRecord) (func(), error) {
	dir := ServersDir()
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

// LiveServers reads the records in ServersDir: live ones answer on their
// socket; a record whose process is gone is removed (a serve that was
// killed); one whose process lives but whose socket refuses is reported
// dead and left in place.
func LiveServers() (live, dead []ServeRecord) {
	dir := ServersDir()
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
		var r ServeRecord
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
	live, _ := LiveServers()
	for _, r := range live {
		if r.CAFile != "" && strings.TrimSuffix(server, "/") == r.Listen {
			cfg.TLSClientConfig.CAFile = r.CAFile
			return
		}
	}
}

// DefaultDataDir is where wasmpod keeps its state: $WASMPOD_DATA_DIR, else
// $XDG_DATA_HOME/wasmpod, else ~/.local/share/wasmpod.
func DefaultDataDir() string {
	if d := os.Getenv("WASMPOD_DATA_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "wasmpod")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return filepath.Join(os.TempDir(), "wasmpod")
	}
	return filepath.Join(home, ".local", "share", "wasmpod")
}

// DefaultSocketPath is the Unix socket the CLI connects to by default and
// "wasmpod serve" listens on: DefaultDataDir()/wasmpod.sock.
func DefaultSocketPath() string { return filepath.Join(DefaultDataDir(), "wasmpod.sock") }

// ConnFlags are the flags that locate the server; every client command
// carries them (so they may follow the command name, as with kubectl) and
// so does the App.
func ConnFlags() []cmdline.Flag {
	return append([]cmdline.Flag{
		&cmdline.StringFlag{Name: "server", Aliases: []string{"s"}, EnvVars: []string{"WASMPOD_SERVER"},
			Usage: "the address of the wasmpod API server: unix:///path/to.sock or http(s)://host:port; wins over --kubeconfig and the default data dir's socket", DefaultText: "found as 'wasmpod --help' lists"},
		&cmdline.StringFlag{Name: "token", EnvVars: []string{"WASMPOD_TOKEN"}, Usage: "bearer token for authentication to the API server (TCP only)"},
	}, KubeconfigFlags()...)
}

// ServerConfig builds a rest.Config for server ("unix:///path",
// "http://host:port", "https://host:port") and token.
func ServerConfig(server, token string) (*rest.Config, string, error) {
	if server == "" {
		server = "unix://" + DefaultSocketPath()
	}
	u, err := url.Parse(server)
	if err != nil {
		return nil, server, fmt.Errorf("invalid --server %q: %v", server, err)
	}
	switch u.Scheme {
	case "unix":
		path := u.Path
		if u.Host != "" { // unix://relative/path
			path = u.Host + u.Path
		}
		if path == "" {
			return nil, server, fmt.Errorf("invalid --server %q: no socket path", server)
		}
		return unixConfig(path), server, nil
	case "http", "https":
		if u.Host == "" {
			return nil, server, fmt.Errorf("invalid --server %q: no host", server)
		}
		return restconfig.TCP(server, token), server, nil
	case "":
		if strings.HasPrefix(server, "/") {
			return unixConfig(server), "unix://" + server, nil
		}
	}
	return nil, server, fmt.Errorf("invalid --server %q: want unix:///path/to.sock or http(s)://host:port", server)
}

// unixConfig is restconfig.UnixSocket plus exec support: client-go's
// WebSocket dialer (pods/exec) cannot be given a dial function, so it is
// pointed at an in-process HTTP CONNECT proxy on loopback that tunnels to
// the socket (started on first use, only by exec).
func unixConfig(path string) *rest.Config {
	cfg := restconfig.UnixSocket(path)
	p := &unixProxy{path: path}
	cfg.Proxy = p.proxy
	return cfg
}

type unixProxy struct {
	path string
	once sync.Once
	url  *url.URL
	err  error
	// auth is the Proxy-Authorization header value the tunnel requires:
	// a random secret known only to this process, so other local users
	// cannot reach the socket (whose file mode is the authentication)
	// through the loopback port.
	auth string
}

func (p *unixProxy) proxy(req *http.Request) (*url.URL, error) {
	if !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
		return nil, nil // plain requests dial the socket directly
	}
	p.once.Do(func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			p.err = err
			return
		}
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			ln.Close()
			p.err = err
			return
		}
		pass := hex.EncodeToString(secret)
		p.url = &url.URL{Scheme: "http", Host: ln.Addr().String(), User: url.UserPassword("wasmpod", pass)}
		p.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte("wasmpod:"+pass))
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go p.serve(c)
			}
		}()
	})
	return p.url, p.err
}

func (p *unixProxy) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil || req.Method != http.MethodConnect {
		fmt.Fprint(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
		return
	}
	if subtle.ConstantTimeCompare([]byte(req.Header.Get("Proxy-Authorization")), []byte(p.auth)) != 1 {
		fmt.Fprint(c, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
		return
	}
	u, err := net.Dial("unix", p.path)
	if err != nil {
		fmt.Fprint(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	defer u.Close()
	fmt.Fprint(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	done := make(chan struct{}, 2)
	go func() { io.Copy(u, br); closeWrite(u); done <- struct{}{} }()
	go func() { io.Copy(c, u); closeWrite(c); done <- struct{}{} }()
	<-done
	<-done
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

// Error is an error already worded for the user ("error: ..."): the CLI
// prints it as is and exits with Code.
type Error struct {
	Msg  string
	Code int
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) ExitCode() int { return e.Code }
