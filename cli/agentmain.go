package cli

// agentmain.go: the agent alone as a program (cmd/wasmpod-agent), the same
// command as `wasmpod agent` (agent.go: one implementation, one set of
// flags), for a node that needs no control plane, kubectl verbs or run.

import (
	"io"
	"os"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
)

// AgentApp builds the wasmpod-agent application: `wasmpod agent` as the
// root command (its flags, help and action), writing to stdout and stderr.
func AgentApp(stdout, stderr io.Writer) *cmdline.App {
	agent := agentCommand()
	return &cmdline.App{
		Name:        "wasmpod-agent",
		Usage:       agent.Usage,
		Description: agent.Description,
		Reader:      os.Stdin,
		Writer:      stdout,
		ErrWriter:   stderr,
		LocalFlags:  agent.Flags,
		Action:      agent.Action,
		FlagError:   usageError,
	}
}

// AgentMain runs wasmpod-agent on args and returns the process exit
// status, as `wasmpod agent` with the same arguments would.
func AgentMain(args []string, stdout, stderr io.Writer) int {
	return runApp(AgentApp(stdout, stderr), args)
}
