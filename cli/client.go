package cli

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/discovery"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
)

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

// connFlags are the flags that locate the server; every client command
// carries them (so they may follow the command name, as with kubectl) and
// so does the App.
func connFlags() []cmdline.Flag {
	return append([]cmdline.Flag{
		&cmdline.StringFlag{Name: "server", Aliases: []string{"s"}, EnvVars: []string{"WASMPOD_SERVER"},
			Usage: "the address of the wasmpod API server: unix:///path/to.sock or http(s)://host:port; wins over --kubeconfig and the default data dir's socket", DefaultText: "found as 'wasmpod --help' lists"},
		&cmdline.StringFlag{Name: "token", EnvVars: []string{"WASMPOD_TOKEN"}, Usage: "bearer token for authentication to the API server (TCP only)"},
	}, kubeconfigFlags()...)
}

// nsFlags are -n and -A.
func nsFlags(all bool) []cmdline.Flag {
	fs := []cmdline.Flag{&cmdline.StringFlag{Name: "namespace", Aliases: []string{"n"}, Usage: "the namespace scope for this request", Value: "default", DefaultText: `the kubeconfig context's namespace, else "default"`}}
	if all {
		fs = append(fs, &cmdline.BoolFlag{Name: "all-namespaces", Aliases: []string{"A"}, Usage: "list the requested object(s) across all namespaces; the namespace in -n is ignored"})
	}
	return fs
}

// conn is a connection to the API server.
type conn struct {
	server string // as shown in messages, e.g. unix:///run/wasmpod.sock
	cfg    *rest.Config
	// contextNS is the kubeconfig context's namespace, the default of -n.
	contextNS string
	cs        kubernetes.Interface
	dyn       dynamic.Interface

	once   sync.Once
	mapper *discovery.Mapper
}

// serverConfig builds a rest.Config for server ("unix:///path",
// "http://host:port", "https://host:port") and token.
func serverConfig(server, token string) (*rest.Config, string, error) {
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
		return apiserver.TCPConfig(server, token), server, nil
	case "":
		if strings.HasPrefix(server, "/") {
			return unixConfig(server), "unix://" + server, nil
		}
	}
	return nil, server, fmt.Errorf("invalid --server %q: want unix:///path/to.sock or http(s)://host:port", server)
}

// unixConfig is apiserver.UnixSocketConfig plus exec support: client-go's
// WebSocket dialer (pods/exec) cannot be given a dial function, so it is
// pointed at an in-process HTTP CONNECT proxy on loopback that tunnels to
// the socket (started on first use, only by exec).
func unixConfig(path string) *rest.Config {
	cfg := apiserver.UnixSocketConfig(path)
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

var quietKlog sync.Once

// connect builds the clients for the server named by the flags.
func connect(c *cmdline.Context) (*conn, error) {
	quietKlog.Do(func() {
		// client-go logs discovery failures through klog; the CLI reports
		// errors itself, in kubectl's words.
		klog.SetLogger(logr.Discard())
	})
	cfg, server, contextNS, err := locateServer(c)
	if err != nil {
		var ce *cmdError
		if errors.As(err, &ce) {
			return nil, ce
		}
		return nil, usageErr(err.Error())
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &conn{server: server, cfg: cfg, cs: cs, dyn: dyn, contextNS: contextNS}, nil
}

// namespace is the namespace of a command: -n, else the kubeconfig
// context's namespace, else "default", as kubectl chooses it.
func (k *conn) namespace(c *cmdline.Context) string {
	if !c.IsSet("namespace") && k.contextNS != "" {
		return k.contextNS
	}
	return c.String("namespace")
}

// restMapper maps kinds and resource names through the server's discovery.
// categories expands a discovery category ("all") into its resources;
// false when typ names no category.
func (k *conn) categories(typ string) ([]schema.GroupResource, bool) {
	grs, err := k.restMapper().Categories(strings.ToLower(typ))
	return grs, err == nil && len(grs) > 0
}

func (k *conn) restMapper() *discovery.Mapper {
	k.once.Do(func() { k.mapper = discovery.NewMapper(k.discovery()) })
	return k.mapper
}

// discovery reads the server's discovery documents.
func (k *conn) discovery() *discovery.Client { return discovery.New(k.cs.CoreV1().RESTClient()) }

// cmdError is an error already worded for the user: Main prints it as is
// (no "error: " prefix) and exits with code.
type cmdError struct {
	msg  string
	code int
}

func (e *cmdError) Error() string { return e.msg }
func (e *cmdError) ExitCode() int { return e.code }

// usageErr is kubectl's "error: ..." for bad input, exit 1.
func usageErr(msg string) error { return &cmdError{msg: "error: " + msg, code: 1} }

// errorf is kubectl's "error: ..." for a failed command, exit 1.
func errorf(format string, a ...any) error { return usageErr(fmt.Sprintf(format, a...)) }

// message words err as kubectl's checkErr does.
func (k *conn) message(err error) string {
	if err == nil {
		return ""
	}
	var ce *cmdError
	if errors.As(err, &ce) {
		return ce.msg
	}
	if k != nil && isRefused(err) {
		return fmt.Sprintf("The connection to the server %s was refused - is \"wasmpod serve\" running?", k.server)
	}
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		s := st.Status()
		if s.Reason == "Invalid" && s.Details != nil {
			msg := "The request is invalid"
			if s.Details.Kind != "" || s.Details.Name != "" {
				msg = fmt.Sprintf("The %s %q is invalid", s.Details.Kind, s.Details.Name)
			}
			var causes []string
			for _, c := range s.Details.Causes {
				if c.Field != "" {
					causes = append(causes, c.Field+": "+c.Message)
				} else {
					causes = append(causes, c.Message)
				}
			}
			switch len(causes) {
			case 0:
				return msg
			case 1:
				return msg + ": " + causes[0]
			default:
				return msg + ": \n* " + strings.Join(causes, "\n* ")
			}
		}
		switch {
		case s.Reason == "Unauthorized":
			return fmt.Sprintf("error: You must be logged in to the server (%s)", s.Message)
		case s.Reason != "":
			return fmt.Sprintf("Error from server (%s): %s", s.Reason, err.Error())
		default:
			return "Error from server: " + err.Error()
		}
	}
	return "error: " + err.Error()
}

// fail turns err into the command's exit error.
func (k *conn) fail(err error) error {
	if err == nil {
		return nil
	}
	var ce *cmdError
	if errors.As(err, &ce) {
		return ce
	}
	return &cmdError{msg: k.message(err), code: 1}
}

func isRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || (errors.Is(err, syscall.ENOENT) && isDialErr(err))
}

func isDialErr(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// sourceErr adds the file to an API error as kubectl's AddSourceToErr does:
// `error when creating "pod.yaml": ...`.
func sourceErr(verb, source string, err error) error {
	if source == "" {
		return err
	}
	var se *apierrors.StatusError
	if errors.As(err, &se) {
		st := se.Status()
		st.Message = fmt.Sprintf("error when %s %q: %v", verb, source, st.Message)
		return &apierrors.StatusError{ErrStatus: st}
	}
	return err
}

// multiErr joins several worded errors, one per line.
func (k *conn) multiErr(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	var lines []string
	code := 1
	for _, e := range errs {
		lines = append(lines, k.message(e))
	}
	return &cmdError{msg: strings.Join(lines, "\n"), code: code}
}
