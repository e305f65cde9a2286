// Package cli is the wasmpod command line, in kubectl's conventions.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"strings"

	"github.com/wasmpod/wasmpod/cli/agentcmd"
	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
)

// Version is set at link time (-ldflags "-X github.com/wasmpod/wasmpod/cli.Version=v0.1.0").
var Version = "v0.1.0-dev"

// App builds the wasmpod application writing to stdout and stderr.
func App(stdout, stderr io.Writer) *cmdline.App {
	app := &cmdline.App{
		Name:        "wasmpod",
		Usage:       "run Kubernetes pods of WebAssembly modules",
		Description: serverLookupHelp,
		Reader:      os.Stdin,
		Writer:      stdout,
		ErrWriter:   stderr,
		Flags:       connFlags(),
		LocalFlags:  []cmdline.Flag{&cmdline.BoolFlag{Name: "version", Aliases: []string{"v"}, Usage: "print the version (as 'wasmpod version' does)"}},
		Commands: []*cmdline.Command{
			runCommand(),
			serveCommand(),
			agentcmd.Command(),
			tokenCommand(), // token.go
			getCommand(),
			describeCommand(),
			applyCommand(),
			withCreateJob(createCommand()), // createjob.go
			deleteCommand(),
			withLogsSelector(logsCommand()), // describe_workloads_logs.go
			execCommand(),
			cpCommand(),
			portForwardCommand(),
			backupCommand(),
			restoreCommand(),
			scaleCommand(),
			topCommand(),   // top.go
			imageCommand(), // image.go
			imagesCommand(),
			rmiCommand(),
			rolloutCommand(),
			versionCommand(),
			completionCommand(),
		},
		Action:    rootAction,
		FlagError: usageError,
	}
	setCompletions(app)
	return app
}

// Main runs the command line and returns the process exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	return runApp(App(stdout, stderr), args)
}

// runApp runs app on args (kubectl-style: flags may come anywhere among
// the arguments) and returns the exit status, having printed any error to
// the app's ErrWriter.
func runApp(app *cmdline.App, args []string) int {
	return runAppContext(context.Background(), app, args)
}

func runAppContext(ctx context.Context, app *cmdline.App, args []string) int {
	return app.RunMain(ctx, args)
}

func versionCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:  "version",
		Usage: "Print the version of wasmpod and its runtime",
		Flags: []cmdline.Flag{
			&cmdline.BoolFlag{Name: "client", Usage: "accepted for kubectl's habit: wasmpod prints only its own version"},
		},
		Action: func(c *cmdline.Context) error {
			fmt.Fprintln(c.App.Writer, versionString())
			return nil
		},
	}
}

// versionString is "wasmpod VERSION (GO, OS/ARCH, wazero VERSION)".
func versionString() string {
	wz := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/tetratelabs/wazero" {
				wz = d.Version
			}
		}
	}
	return fmt.Sprintf("wasmpod %s (%s, %s/%s, wazero %s)", Version, goruntime.Version(), goruntime.GOOS, goruntime.GOARCH, wz)
}

// rootAction runs when no command matched: with no arguments it prints the
// help, as kubectl does ("--version" prints the version); a word that
// names no command is kubectl's unknown-command error, with its
// suggestions.
func rootAction(c *cmdline.Context) error {
	if c.Bool("version") {
		fmt.Fprintln(c.App.Writer, versionString())
		return nil
	}
	if !c.Args().Present() {
		return c.Cobra().Help()
	}
	return unknownCommand(c.App, c.Args().First())
}

// unknownCommand is kubectl's (cobra's) message for a word that names no
// command: `error: unknown command "foo" for "wasmpod"`, then the commands
// it may have meant.
func unknownCommand(app *cmdline.App, name string) error {
	msg := fmt.Sprintf("error: unknown command %q for %q", name, app.Name)
	if s := suggestCommands(app, name); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t") + "\n"
	}
	msg += "\nRun '" + app.Name + " --help' for usage."
	return &cmdError{msg: msg, code: 1}
}

// suggestCommands lists the commands name may be a typo of, as cobra's
// SuggestionsFor does: a Levenshtein distance of at most 2 (case-insensitive)
// or a prefix.
func suggestCommands(app *cmdline.App, name string) []string {
	var out []string
	lower := strings.ToLower(name)
	for _, cmd := range app.Commands {
		if cmd.Hidden || cmd.Name == "help" {
			continue
		}
		n := strings.ToLower(cmd.Name)
		if levenshtein(lower, n) <= 2 || (lower != "" && strings.HasPrefix(n, lower)) {
			out = append(out, cmd.Name)
		}
	}
	return out
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// usageError words a flag-parsing error as kubectl does: pflag's message
// ("unknown flag: --foo") and where to look; runApp prints it once.
func usageError(c *cmdline.Context, err error) error {
	return &cmdError{msg: fmt.Sprintf("error: %s\nSee '%s --help' for usage.", err, c.Cobra().CommandPath()), code: 1}
}
