// Package cli is the wasmpod command line, in kubectl's conventions.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"runtime/debug"

	ucli "github.com/urfave/cli/v2"
)

// Version is set at link time (-ldflags "-X github.com/wasmpod/wasmpod/cli.Version=v0.1.0").
var Version = "v0.1.0-dev"

// App builds the wasmpod application writing to stdout and stderr.
func App(stdout, stderr io.Writer) *ucli.App {
	return &ucli.App{
		Name:      "wasmpod",
		Usage:     "run Kubernetes pods of WebAssembly modules",
		UsageText: "wasmpod [global options] command [command options] [arguments...]",
		Reader:    os.Stdin,
		Writer:    stdout,
		ErrWriter: stderr,
		Flags:     connFlags(),
		Commands: []*ucli.Command{
			runCommand(),
			serveCommand(),
			getCommand(),
			describeCommand(),
			applyCommand(),
			createCommand(),
			deleteCommand(),
			logsCommand(),
			execCommand(),
			portForwardCommand(),
			backupCommand(),
			restoreCommand(),
			versionCommand(),
		},
		HideHelpCommand: false,
		ExitErrHandler:  func(*ucli.Context, error) {},
	}
}

// Main runs the command line and returns the process exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	return runApp(App(stdout, stderr), args)
}

// runApp runs app on args (kubectl-style commands may mix flags and
// arguments) and returns the exit status, having printed any error to the
// app's ErrWriter.
func runApp(app *ucli.App, args []string) int {
	return runAppContext(context.Background(), app, args)
}

func runAppContext(ctx context.Context, app *ucli.App, args []string) int {
	stderr := app.ErrWriter
	err := app.RunContext(ctx, reorderArgs(app, args))
	if err == nil {
		return 0
	}
	var ce *cmdError
	if errors.As(err, &ce) {
		if ce.msg != "" {
			fmt.Fprintln(stderr, ce.msg)
		}
		return ce.code
	}
	var ec ucli.ExitCoder
	if errors.As(err, &ec) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(stderr, "error:", msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintln(stderr, "error:", err)
	return 1
}

func versionCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "version",
		Usage: "Print the version of wasmpod and its runtime",
		Action: func(c *ucli.Context) error {
			wz := "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, d := range bi.Deps {
					if d.Path == "github.com/tetratelabs/wazero" {
						wz = d.Version
					}
				}
			}
			fmt.Fprintf(c.App.Writer, "wasmpod %s (%s, %s/%s, wazero %s)\n", Version, goruntime.Version(), goruntime.GOOS, goruntime.GOARCH, wz)
			return nil
		},
	}
}
