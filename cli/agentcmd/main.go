package agentcmd

// main.go: the agent alone as a program (cmd/wasmpod-agent), the same
// command as `wasmpod agent`, for a node that needs no control plane,
// kubectl verbs or run.

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
)

// App builds the wasmpod-agent application: `wasmpod agent` as the root
// command (its flags, help and action), writing to stdout and stderr.
func App(stdout, stderr io.Writer) *cmdline.App {
	agent := Command()
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

// Main runs wasmpod-agent on args and returns the process exit status, as
// `wasmpod agent` with the same arguments would (the full CLI's runApp:
// an error is printed once, "error: " first unless it is worded already).
func Main(args []string, stdout, stderr io.Writer) int {
	return App(stdout, stderr).RunMain(context.Background(), args)
}

// usageError words a flag-parsing error as kubectl does (the full CLI's
// usageError): pflag's message and where to look.
func usageError(c *cmdline.Context, err error) error {
	return cmdline.Worded(fmt.Sprintf("error: %s\nSee '%s --help' for usage.", err, c.Cobra().CommandPath()), 1)
}
