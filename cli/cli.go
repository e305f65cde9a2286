// Package cli is the wasmpod command line, in kubectl's conventions.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	goruntime "runtime"
	"runtime/debug"
	"strings"

	ucli "github.com/urfave/cli/v2"
)

// Version is set at link time (-ldflags "-X github.com/wasmpod/wasmpod/cli.Version=v0.1.0").
var Version = "v0.1.0-dev"

// App builds the wasmpod application writing to stdout and stderr.
func App(stdout, stderr io.Writer) *ucli.App {
	app := &ucli.App{
		Name:        "wasmpod",
		Usage:       "run Kubernetes pods of WebAssembly modules",
		UsageText:   "wasmpod [global options] command [command options] [arguments...]",
		Description: serverLookupHelp,
		Version:     Version,
		Reader:      os.Stdin,
		Writer:      stdout,
		ErrWriter:   stderr,
		Flags:       connFlags(),
		Commands: []*ucli.Command{
			runCommand(),
			serveCommand(),
			agentCommand(), // agent.go
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
			imageCommand(), // image.go
			imagesCommand(),
			rmiCommand(),
			rolloutCommand(),
			versionCommand(),
			completionCommand(),
		},
		HideHelpCommand: false,
		// Errors are returned to runApp, which prints each exactly once.
		ExitErrHandler:       func(*ucli.Context, error) {},
		OnUsageError:         usageError,
		Action:               rootAction,
		CommandNotFound:      helpTopicNotFound,
		EnableBashCompletion: true,
	}
	setUsageErrors(app.Commands)
	setCompletions(app)
	return app
}

func init() {
	// "wasmpod --version" prints what "wasmpod version" prints.
	ucli.VersionPrinter = func(c *ucli.Context) { fmt.Fprintln(c.App.Writer, versionString()) }
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
	if complete, partial := isCompletion(args); complete {
		// The words typed so far, as typed: flags before positionals is
		// all completion needs, and reorderArgs' "--" would turn it off.
		if app.Metadata == nil {
			app.Metadata = map[string]any{}
		}
		app.Metadata[partialKey] = partial
		if partial != "" {
			args = append(append([]string{}, args[:len(args)-2]...), completeFlag)
		}
		if err := app.RunContext(ctx, args); err != nil && partial == "" {
			return 1
		}
		return 0
	}
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
		Flags: []ucli.Flag{
			&ucli.BoolFlag{Name: "client", Usage: "accepted for kubectl's habit: wasmpod prints only its own version"},
		},
		Action: func(c *ucli.Context) error {
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
// help, as kubectl does; a word that names no command is kubectl's
// unknown-command error, with its suggestions.
func rootAction(c *ucli.Context) error {
	if !c.Args().Present() {
		return ucli.ShowAppHelp(c)
	}
	return unknownCommand(c.App, c.Args().First())
}

// unknownCommand is kubectl's (cobra's) message for a word that names no
// command: `error: unknown command "foo" for "wasmpod"`, then the commands
// it may have meant.
func unknownCommand(app *ucli.App, name string) error {
	msg := fmt.Sprintf("error: unknown command %q for %q", name, app.Name)
	if s := suggestCommands(app, name); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t") + "\n"
	}
	msg += "\nRun '" + app.Name + " --help' for usage."
	return &cmdError{msg: msg, code: 1}
}

// helpTopicNotFound is "wasmpod help foo" for a command that does not exist.
func helpTopicNotFound(c *ucli.Context, name string) {
	fmt.Fprintln(c.App.ErrWriter, unknownCommand(c.App, name).Error())
}

// suggestCommands lists the commands name may be a typo of, as cobra's
// SuggestionsFor does: a Levenshtein distance of at most 2 (case-insensitive)
// or a prefix.
func suggestCommands(app *ucli.App, name string) []string {
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

// usageError words a flag-parsing error as kubectl does ("error: unknown
// flag: --foo" and where to look), instead of urfave/cli's "Incorrect
// Usage" plus the whole help; runApp prints it once.
func usageError(c *ucli.Context, err error, _ bool) error {
	msg := err.Error()
	dashes := func(name string) string {
		if len(name) == 1 {
			return "-" + name
		}
		return "--" + name
	}
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		if len(name) == 1 {
			msg = fmt.Sprintf("unknown shorthand flag: %q in -%s", rune(name[0]), name)
		} else {
			msg = "unknown flag: --" + name
		}
	} else if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		if len(name) == 1 {
			msg = fmt.Sprintf("flag needs an argument: %q in -%s", rune(name[0]), name)
		} else {
			msg = "flag needs an argument: --" + name
		}
	} else if m := invalidFlagValue.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("invalid argument %s for \"%s\" flag: %s", m[1], dashes(m[2]), m[3])
	}
	path := c.App.Name
	if c.Command != nil && c.Command.Name != "" && c.Command.Name != c.App.Name {
		path += " " + c.Command.Name
	}
	return &cmdError{msg: fmt.Sprintf("error: %s\nSee '%s --help' for usage.", msg, path), code: 1}
}

// invalidFlagValue is the flag package's `invalid value "x" for flag -n: why`.
var invalidFlagValue = regexp.MustCompile(`^invalid value (".*") for flag -([^:]+): (.*)$`)

func setUsageErrors(cmds []*ucli.Command) {
	for _, c := range cmds {
		if c.OnUsageError == nil {
			c.OnUsageError = usageError
		}
		setUsageErrors(c.Subcommands)
	}
}
