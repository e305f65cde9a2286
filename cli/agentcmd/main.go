package agentcmd

// main.go: the agent alone as a program (cmd/wasmpod-agent), the same
// command as `wasmpod agent`, for a node that needs no control plane,
// kubectl verbs or run.

import (
	"context"
	"errors"
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
	app := App(stdout, stderr)
	err := app.RunContext(context.Background(), args)
	if err == nil {
		return 0
	}
	var we *wordedError
	if errors.As(err, &we) {
		fmt.Fprintln(stderr, we.msg)
		return we.code
	}
	var ec cmdline.ExitCoder
	if errors.As(err, &ec) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(stderr, "error:", msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintln(stderr, "error:", err)
	return 1
}

// usageError words a flag-parsing error as kubectl does (the full CLI's
// usageError): pflag's message and where to look.
func usageError(c *cmdline.Context, err error) error {
	return &wordedError{msg: fmt.Sprintf("error: %s\nSee '%s --help' for usage.", err, c.Cobra().CommandPath()), code: 1}
}

// wordedError is an error already worded for the user, printed as is.
type wordedError struct {
	msg  string
	code int
}

func (e *wordedError) Error() string { return e.msg }
func (e *wordedError) ExitCode() int { return e.code }
