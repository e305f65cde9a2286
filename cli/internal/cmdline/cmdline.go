// Package cmdline declares wasmpod's commands as data (names, flags, help
// and an action) and runs them with github.com/spf13/cobra and
// github.com/spf13/pflag, kubectl's command-line libraries: kubectl's flag
// syntax (flags anywhere among the arguments, -it, -owide, --), its help
// layout, its flag errors and cobra's shell completion.
//
// Cobra's default help and usage functions are plain Go (since cobra
// 1.9); this package never sets a help, usage or version template, so
// text/template stays out of the binary (see hack/reflectroots).
package cmdline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// App is the root command and where its commands read and write.
type App struct {
	Name        string
	Usage       string // one line
	Description string // the rest of the root's help
	Reader      io.Reader
	Writer      io.Writer
	ErrWriter   io.Writer
	// Flags may be given before the command name or, for the commands
	// that do not declare them too, after it (cobra's persistent flags).
	Flags []Flag
	// LocalFlags are the root's alone (e.g. --version).
	LocalFlags []Flag
	Commands   []*Command
	// Action runs when no command is named (args are the words given).
	Action ActionFunc
	// FlagError turns a flag-parsing error of cmd into the error returned.
	FlagError func(c *Context, err error) error
}

// ActionFunc is a command's action.
type ActionFunc func(*Context) error

// Command is one command: Usage is its one-line summary; Description its
// help, whose "Examples:" part (if any) becomes cobra's examples section.
type Command struct {
	Name        string
	Aliases     []string
	Usage       string
	UsageText   string // the "Usage:" lines of the help, each "PROG NAME ..."
	ArgsUsage   string
	Description string
	// Flags of a command with subcommands may also be given after a
	// subcommand's name (between the two, as with urfave/cli, too).
	Flags       []Flag
	Subcommands []*Command
	Action      ActionFunc
	Hidden      bool
	// Complete offers the candidates for the next positional argument
	// (none: the shell completes file names).
	Complete func(c *Context) []string
}

// HasName reports whether name is the command's name or an alias.
func (c *Command) HasName(name string) bool {
	if c.Name == name {
		return true
	}
	for _, a := range c.Aliases {
		if a == name {
			return true
		}
	}
	return false
}

// Context is what an action sees: the parsed flags and arguments.
type Context struct {
	Context context.Context
	App     *App
	Command *Command // nil for the root
	cmd     *cobra.Command
	args    Args
}

// Cobra is the cobra command being run.
func (c *Context) Cobra() *cobra.Command { return c.cmd }

// Args are the positional arguments; a "--" on the command line stays in
// them, where it was (exec's POD -- COMMAND).
func (c *Context) Args() Args { return c.args }

// NArg is the number of positional arguments.
func (c *Context) NArg() int { return len(c.args) }

func (c *Context) flags() *pflag.FlagSet { return c.cmd.Flags() }

// IsSet reports whether the flag was given (or set from its environment
// variable).
func (c *Context) IsSet(name string) bool {
	f := c.flags().Lookup(name)
	return f != nil && f.Changed
}

// Set sets a flag as if given on the command line.
func (c *Context) Set(name, value string) error { return c.flags().Set(name, value) }

// String is a string flag's value, or another flag's value as text ("" if
// the command has no such flag).
func (c *Context) String(name string) string {
	f := c.flags().Lookup(name)
	if f == nil {
		return ""
	}
	return f.Value.String()
}

// Bool is a boolean flag's value.
func (c *Context) Bool(name string) bool {
	v, _ := c.flags().GetBool(name)
	return v
}

// Int is an int flag's value.
func (c *Context) Int(name string) int {
	v, _ := c.flags().GetInt(name)
	return v
}

// Int64 is an int64 flag's value.
func (c *Context) Int64(name string) int64 {
	v, _ := c.flags().GetInt64(name)
	return v
}

// Duration is a duration flag's value.
func (c *Context) Duration(name string) time.Duration {
	v, _ := c.flags().GetDuration(name)
	return v
}

// StringSlice is a repeatable, comma-separated flag's values (nil if not
// given).
func (c *Context) StringSlice(name string) []string {
	v, _ := c.flags().GetStringSlice(name)
	if len(v) == 0 {
		return nil
	}
	return v
}

// Args are positional arguments.
type Args []string

// First is the first argument, or "".
func (a Args) First() string { return a.Get(0) }

// Get is argument n, or "".
func (a Args) Get(n int) string {
	if n < len(a) {
		return a[n]
	}
	return ""
}

// Tail is every argument but the first.
func (a Args) Tail() []string {
	if len(a) < 2 {
		return nil
	}
	return append([]string(nil), a[1:]...)
}

// Len is the number of arguments.
func (a Args) Len() int { return len(a) }

// Present reports whether there is any argument.
func (a Args) Present() bool { return len(a) > 0 }

// Slice is the arguments.
func (a Args) Slice() []string { return append([]string(nil), a...) }

// Flag is a flag declaration.
type Flag interface {
	Names() []string
	add(fs *pflag.FlagSet)
	env() []string
}

func names(name string, aliases []string) []string { return append([]string{name}, aliases...) }

// shorthand is the one-letter alias (pflag has one per flag).
func shorthand(name string, aliases []string) string {
	for _, a := range aliases {
		if len(a) == 1 {
			return a
		}
	}
	return ""
}

// finish applies what every kind of flag shares: the default's text in
// the help ("(default: TEXT)", for a default computed at run time), and
// hiding.
func finish(fs *pflag.FlagSet, name, defaultText string, hidden bool) {
	f := fs.Lookup(name)
	if defaultText != "" {
		// pflag prints "(default X)" unless DefValue is its type's zero
		// value; the text in the usage replaces it.
		f.DefValue = zeroText(f.Value.Type())
		f.Usage += " (default: " + defaultText + ")"
	}
	if hidden {
		f.Hidden = true
	}
}

// zeroText is how pflag writes the zero value of a flag of type typ.
func zeroText(typ string) string {
	switch typ {
	case "bool":
		return "false"
	case "duration":
		return "0s"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64", "count":
		return "0"
	}
	return ""
}

// StringFlag is --NAME VALUE.
type StringFlag struct {
	Name        string
	Aliases     []string
	Usage       string
	Value       string
	DefaultText string // the default as the help shows it
	EnvVars     []string
	Hidden      bool
	Required    bool
}

func (f *StringFlag) Names() []string { return names(f.Name, f.Aliases) }
func (f *StringFlag) env() []string   { return f.EnvVars }
func (f *StringFlag) add(fs *pflag.FlagSet) {
	fs.StringP(f.Name, shorthand(f.Name, f.Aliases), f.Value, f.Usage)
	finish(fs, f.Name, f.DefaultText, f.Hidden)
	if f.Required {
		fs.SetAnnotation(f.Name, cobra.BashCompOneRequiredFlag, []string{"true"})
	}
}

// BoolFlag is --NAME (or --NAME=false).
type BoolFlag struct {
	Name        string
	Aliases     []string
	Usage       string
	Value       bool
	DefaultText string
	EnvVars     []string
	Hidden      bool
}

func (f *BoolFlag) Names() []string { return names(f.Name, f.Aliases) }
func (f *BoolFlag) env() []string   { return f.EnvVars }
func (f *BoolFlag) add(fs *pflag.FlagSet) {
	fs.BoolP(f.Name, shorthand(f.Name, f.Aliases), f.Value, f.Usage)
	finish(fs, f.Name, f.DefaultText, f.Hidden)
}

// IntFlag is --NAME N.
type IntFlag struct {
	Name        string
	Aliases     []string
	Usage       string
	Value       int
	DefaultText string
	EnvVars     []string
	Hidden      bool
}

func (f *IntFlag) Names() []string { return names(f.Name, f.Aliases) }
func (f *IntFlag) env() []string   { return f.EnvVars }
func (f *IntFlag) add(fs *pflag.FlagSet) {
	fs.IntP(f.Name, shorthand(f.Name, f.Aliases), f.Value, f.Usage)
	finish(fs, f.Name, f.DefaultText, f.Hidden)
}

// Int64Flag is --NAME N.
type Int64Flag struct {
	Name        string
	Aliases     []string
	Usage       string
	Value       int64
	DefaultText string
	EnvVars     []string
	Hidden      bool
}

func (f *Int64Flag) Names() []string { return names(f.Name, f.Aliases) }
func (f *Int64Flag) env() []string   { return f.EnvVars }
func (f *Int64Flag) add(fs *pflag.FlagSet) {
	fs.Int64P(f.Name, shorthand(f.Name, f.Aliases), f.Value, f.Usage)
	finish(fs, f.Name, f.DefaultText, f.Hidden)
}

// DurationFlag is --NAME DURATION (e.g. 30s).
type DurationFlag struct {
	Name        string
	Aliases     []string
	Usage       string
	Value       time.Duration
	DefaultText string
	EnvVars     []string
	Hidden      bool
}

func (f *DurationFlag) Names() []string { return names(f.Name, f.Aliases) }
func (f *DurationFlag) env() []string   { return f.EnvVars }
func (f *DurationFlag) add(fs *pflag.FlagSet) {
	fs.DurationP(f.Name, shorthand(f.Name, f.Aliases), f.Value, f.Usage)
	finish(fs, f.Name, f.DefaultText, f.Hidden)
}

// StringSliceFlag is --NAME A,B (repeatable).
type StringSliceFlag struct {
	Name        string
	Aliases     []string
	Usage       string
	DefaultText string
	EnvVars     []string
	Hidden      bool
}

func (f *StringSliceFlag) Names() []string { return names(f.Name, f.Aliases) }
func (f *StringSliceFlag) env() []string   { return f.EnvVars }
func (f *StringSliceFlag) add(fs *pflag.FlagSet) {
	fs.StringSliceP(f.Name, shorthand(f.Name, f.Aliases), nil, f.Usage)
	finish(fs, f.Name, f.DefaultText, f.Hidden)
}

// ExitCoder is an error that sets the process's exit status.
type ExitCoder interface {
	error
	ExitCode() int
}

type exitError struct {
	msg  string
	code int
}

func (e *exitError) Error() string { return e.msg }
func (e *exitError) ExitCode() int { return e.code }

// Exit is an error that makes the process exit with code, after printing
// msg (if not empty).
func Exit(msg string, code int) ExitCoder { return &exitError{msg: msg, code: code} }

// WordedError is an error already worded for the user, as kubectl words
// its own: RunMain prints its message as is, with no "error: " before it.
type WordedError interface {
	ExitCoder
	Worded()
}

type wordedError struct{ exitError }

func (*wordedError) Worded() {}

// Worded is an error already worded for the user: RunMain prints msg as
// is (nothing if empty) and the process exits with code.
func Worded(msg string, code int) WordedError {
	return &wordedError{exitError{msg: msg, code: code}}
}

// RunMain runs app with args and returns the process's exit status,
// printing the error to app.ErrWriter as kubectl does: a WordedError as
// is, any other after "error: "; an ExitCoder sets the status, anything
// else exits 1.
func (app *App) RunMain(ctx context.Context, args []string) int {
	err := app.RunContext(ctx, args)
	if err == nil {
		return 0
	}
	var we WordedError
	if errors.As(err, &we) {
		if msg := we.Error(); msg != "" {
			fmt.Fprintln(app.ErrWriter, msg)
		}
		return we.ExitCode()
	}
	var ec ExitCoder
	if errors.As(err, &ec) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(app.ErrWriter, "error:", msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintln(app.ErrWriter, "error:", err)
	return 1
}

// Cobra builds the cobra command tree of app.
func (app *App) Cobra() *cobra.Command {
	root := &cobra.Command{
		Use:           app.Name,
		Short:         app.Usage,
		Long:          strings.TrimSpace(app.Usage + "\n\n" + app.Description),
		Args:          cobra.ArbitraryArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		// The commands' own "completion" replaces cobra's.
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
	}
	root.SetIn(app.Reader)
	root.SetOut(app.Writer)
	root.SetErr(app.ErrWriter)
	addFlags(root.PersistentFlags(), app.Flags)
	addFlags(root.Flags(), app.LocalFlags)
	if app.Action != nil {
		root.RunE = app.runE(nil, append(append([]Flag{}, app.Flags...), app.LocalFlags...), app.Action)
	}
	if app.FlagError != nil {
		root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
			return app.FlagError(&Context{Context: cmd.Context(), App: app, Command: lookup(app, cmd), cmd: cmd}, err)
		})
	}
	for _, c := range app.Commands {
		root.AddCommand(app.cobraCommand(c, app.Flags))
	}
	return root
}

// lookup finds the Command that cmd was built from (nil for the root).
func lookup(app *App, cmd *cobra.Command) *Command {
	var path []string
	for x := cmd; x.HasParent(); x = x.Parent() {
		path = append([]string{x.Name()}, path...)
	}
	var cur *Command
	cmds := app.Commands
	for _, name := range path {
		found := false
		for _, c := range cmds {
			if c.Name == name {
				cur, cmds, found = c, c.Subcommands, true
				break
			}
		}
		if !found {
			return nil
		}
	}
	return cur
}

func addFlags(fs *pflag.FlagSet, flags []Flag) {
	fs.SortFlags = false
	for _, f := range flags {
		f.add(fs)
	}
}

// cobraCommand builds c; inherited are the flags its ancestors let it
// take.
func (app *App) cobraCommand(c *Command, inherited []Flag) *cobra.Command {
	long, example := c.Description, ""
	if i := strings.Index(long, "Examples:\n"); i >= 0 {
		long, example = strings.TrimSpace(long[:i]), strings.TrimRight(long[i+len("Examples:\n"):], "\n")
	}
	if long == "" {
		long = c.Usage
	}
	use := c.Name
	if c.ArgsUsage != "" {
		use += " " + c.ArgsUsage
	}
	cc := &cobra.Command{
		Use:     use,
		Aliases: c.Aliases,
		Short:   c.Usage,
		Long:    long,
		Example: example,
		Hidden:  c.Hidden,
		// Flags may come anywhere; the usage line says "[flags]" last.
		DisableFlagsInUseLine: c.UsageText != "",
	}
	if c.UsageText != "" {
		// "PROG [PARENT...] NAME ARGS" lines: cobra prints the command's
		// path, then Use from the name on.
		lines := strings.Split(c.UsageText, "\n")
		for i, l := range lines {
			lines[i] = strings.TrimSpace(l)
		}
		if i := strings.Index(lines[0]+" ", " "+c.Name+" "); i >= 0 {
			lines[0] = lines[0][i+1:]
		}
		cc.Use = strings.Join(lines, "\n  ")
	}
	if len(c.Subcommands) > 0 {
		addFlags(cc.PersistentFlags(), c.Flags)
	} else {
		addFlags(cc.Flags(), c.Flags)
	}
	all := append(append([]Flag{}, c.Flags...), inherited...)
	if c.Action != nil {
		cc.Args = cobra.ArbitraryArgs
		cc.RunE = app.runE(c, all, c.Action)
	}
	if c.Complete != nil {
		cc.ValidArgsFunction = func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			ctx := &Context{Context: cmd.Context(), App: app, Command: c, cmd: cmd, args: args}
			if out := c.Complete(ctx); len(out) > 0 {
				return out, cobra.ShellCompDirectiveNoFileComp
			}
			return nil, cobra.ShellCompDirectiveDefault
		}
	}
	for _, sub := range c.Subcommands {
		cc.AddCommand(app.cobraCommand(sub, all))
	}
	return cc
}

// runE runs action with the flags' environment variables applied (a flag
// given on the command line wins) and "--" kept among the arguments.
func (app *App) runE(c *Command, flags []Flag, action ActionFunc) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		fs := cmd.Flags()
		for _, f := range flags {
			name := f.Names()[0]
			if fs.Lookup(name) == nil || fs.Changed(name) {
				continue
			}
			for _, e := range f.env() {
				if v, ok := os.LookupEnv(e); ok {
					if err := fs.Set(name, v); err != nil {
						return fmt.Errorf("invalid value %q for $%s (--%s): %v", v, e, name, err)
					}
					break
				}
			}
		}
		if n := cmd.ArgsLenAtDash(); n >= 0 {
			args = append(append(append([]string{}, args[:n]...), "--"), args[n:]...)
		}
		return action(&Context{Context: cmd.Context(), App: app, Command: c, cmd: cmd, args: args})
	}
}

// Run runs the command line args (args[0] is the program).
func (app *App) Run(args []string) error { return app.RunContext(context.Background(), args) }

// RunContext runs the command line args (args[0] is the program).
func (app *App) RunContext(ctx context.Context, args []string) error {
	root := app.Cobra()
	root.SetArgs(args[1:])
	return root.ExecuteContext(ctx)
}
