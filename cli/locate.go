package cli

// locate.go: finding the API server (cli/internal/locate, which the node
// agent's own binary shares) under the names the commands use.

import (
	"errors"

	"k8s.io/client-go/rest"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	"github.com/wasmpod/wasmpod/cli/internal/locate"
)

// serverLookupHelp is the App's description: how the client commands find
// the server, in order of precedence.
const serverLookupHelp = locate.Help

// DefaultDataDir is where wasmpod keeps its state: $WASMPOD_DATA_DIR, else
// $XDG_DATA_HOME/wasmpod, else ~/.local/share/wasmpod.
func DefaultDataDir() string { return locate.DefaultDataDir() }

// DefaultSocketPath is the Unix socket the CLI connects to by default and
// "wasmpod serve" listens on: DefaultDataDir()/wasmpod.sock.
func DefaultSocketPath() string { return locate.DefaultSocketPath() }

// connFlags are the flags that locate the server; every client command
// carries them (so they may follow the command name, as with kubectl) and
// so does the App.
func connFlags() []cmdline.Flag { return locate.ConnFlags() }

// kubeconfigFlags are --kubeconfig and --context (part of connFlags).
func kubeconfigFlags() []cmdline.Flag { return locate.KubeconfigFlags() }

// locateServer finds the server as serverLookupHelp says: its config, its
// address as shown in messages and the kubeconfig context's namespace.
func locateServer(c *cmdline.Context) (*rest.Config, string, string, error) {
	cfg, addr, ns, err := locate.Server(c)
	return cfg, addr, ns, worded(err)
}

// kubeconfigServer reads a kubeconfig (locate.KubeconfigServer).
func kubeconfigServer(explicit string, paths []string, context, token string) (*rest.Config, string, string, error) {
	cfg, addr, ns, err := locate.KubeconfigServer(explicit, paths, context, token)
	return cfg, addr, ns, worded(err)
}

// serverConfig builds a rest.Config for server and token
// (locate.ServerConfig).
func serverConfig(server, token string) (*rest.Config, string, error) {
	cfg, addr, err := locate.ServerConfig(server, token)
	return cfg, addr, worded(err)
}

// serveRecord is what a running "wasmpod serve" records about itself.
type serveRecord = locate.ServeRecord

func serversDir() string                        { return locate.ServersDir() }
func recordServe(r serveRecord) (func(), error) { return locate.RecordServe(r) }
func liveServers() (live, dead []serveRecord)   { return locate.LiveServers() }

// worded makes locate's errors worded for the user (locate.Error) the
// CLI's own (cmdError: printed as is).
func worded(err error) error {
	var le *locate.Error
	if errors.As(err, &le) {
		return &cmdError{msg: le.Msg, code: le.Code}
	}
	return err
}
