package cli

import (
	"errors"
	"fmt"
	"net"
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

	"github.com/wasmpod/wasmpod/internal/kube/discovery"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
)

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
func (e *cmdError) Worded()       {}

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
