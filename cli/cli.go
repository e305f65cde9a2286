// Package cli is the wasmpod command line, in kubectl's conventions.
package cli

import (
	"errors"
	"fmt"
	"io"
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
		Writer:    stdout,
		ErrWriter: stderr,
		Commands: []*ucli.Command{
			runCommand(),
			versionCommand(),
		},
		HideHelpCommand: false,
		ExitErrHandler:  func(*ucli.Context, error) {},
	}
}

// Main runs the command line and returns the process exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	err := App(stdout, stderr).Run(args)
	if err == nil {
		return 0
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
