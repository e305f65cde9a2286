package cmdline

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// run runs args through an app with one command "cmd" (flags -n, --count,
// --server from $TEST_CMDLINE_SERVER) under a parent "grp" (flag --dir),
// and returns what the action saw.
func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	var got string
	app := &App{
		Name: "prog", Writer: &out, ErrWriter: &errb,
		Flags: []Flag{&StringFlag{Name: "server", Aliases: []string{"s"}, EnvVars: []string{"TEST_CMDLINE_SERVER"}}},
		Commands: []*Command{{
			Name: "grp", Usage: "a group",
			Flags: []Flag{&StringFlag{Name: "dir", Value: "/d", DefaultText: "somewhere"}},
			Subcommands: []*Command{{
				Name: "cmd", Aliases: []string{"c"}, Usage: "a command", UsageText: "prog grp cmd A\n   prog grp cmd B",
				Description: "What it does.\n\nExamples:\n  prog grp cmd x",
				Flags: []Flag{
					&StringFlag{Name: "server", Aliases: []string{"s"}, EnvVars: []string{"TEST_CMDLINE_SERVER"}},
					&StringFlag{Name: "namespace", Aliases: []string{"n"}, Value: "default"},
					&IntFlag{Name: "count", Value: 1},
					&BoolFlag{Name: "all", Aliases: []string{"A"}},
				},
				Action: func(c *Context) error {
					got = strings.Join([]string{c.String("server"), c.String("namespace"), c.String("count"), c.String("dir"),
						strings.Join(c.Args().Slice(), " ")}, "|")
					if c.Bool("all") {
						return Exit("all", 3)
					}
					return nil
				},
			}},
		}},
		FlagError: func(c *Context, err error) error { return errors.New("flag: " + err.Error()) },
	}
	err := app.Run(append([]string{"prog"}, args...))
	if got == "" {
		got = out.String()
	}
	return got, errb.String(), err
}

func TestFlagsArgsAndEnv(t *testing.T) {
	t.Setenv("TEST_CMDLINE_SERVER", "from-env")
	for _, c := range []struct{ args, want string }{
		{"grp cmd x", "from-env|default|1|/d|x"},
		{"grp cmd x -s flag", "flag|default|1|/d|x"},
		{"grp --dir /e c x -n ns --count=5", "from-env|ns|5|/e|x"},
		{"grp cmd --dir /f x -- y -z", "from-env|default|1|/f|x -- y -z"},
		{"-s before grp cmd", "before||"},
	} {
		got, _, err := run(t, strings.Fields(c.args)...)
		if c.args == "-s before grp cmd" {
			// A root flag before the command: the command's own --server
			// is what it reads, set by the same word.
			if err != nil || !strings.HasPrefix(got, "before|") {
				t.Errorf("%s: %q %v", c.args, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: %q, %v; want %q", c.args, got, err, c.want)
		}
	}
	if _, _, err := run(t, "grp", "cmd", "-A"); err == nil || err.Error() != "all" {
		t.Errorf("exit error: %v", err)
	} else if ec, ok := err.(ExitCoder); !ok || ec.ExitCode() != 3 {
		t.Errorf("exit code: %v", err)
	}
	if _, _, err := run(t, "grp", "cmd", "--count", "x"); err == nil || !strings.HasPrefix(err.Error(), `flag: invalid argument "x" for "--count" flag`) {
		t.Errorf("bad flag value: %v", err)
	}
	t.Setenv("TEST_CMDLINE_SERVER", "")
}

func TestHelp(t *testing.T) {
	help, _, err := run(t, "grp", "cmd", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"What it does.", "Usage:\n  prog grp cmd A\n  prog grp cmd B\n", "Aliases:\n  cmd, c", "Examples:\n  prog grp cmd x",
		"--dir string", "(default: somewhere)", "-n, --namespace string", `(default "default")`} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
}

// TestDefaultTextOfEveryType: a flag whose help gives its default as text
// shows only that text, whatever its type (pflag adds "(default X)" to a
// flag whose DefValue is not its type's zero value: for an int that was
// once "(default )").
func TestDefaultTextOfEveryType(t *testing.T) {
	var out bytes.Buffer
	app := &App{
		Name: "prog", Writer: &out, ErrWriter: &out,
		Commands: []*Command{{
			Name: "cmd", Usage: "a command",
			Flags: []Flag{
				&StringFlag{Name: "s", Value: "x", DefaultText: "text-s"},
				&IntFlag{Name: "i", Value: 24, DefaultText: "text-i"},
				&BoolFlag{Name: "b", Value: true, DefaultText: "text-b"},
				&DurationFlag{Name: "d", Value: time.Minute, DefaultText: "text-d"},
			},
			Action: func(*Context) error { return nil },
		}},
	}
	if err := app.Run([]string{"prog", "cmd", "--help"}); err != nil {
		t.Fatal(err)
	}
	help := out.String()
	for _, n := range []string{"s", "i", "b", "d"} {
		if !strings.Contains(help, "(default: text-"+n+")") {
			t.Errorf("--%s's default text missing:\n%s", n, help)
		}
	}
	if strings.Contains(help, "(default )") || strings.Contains(help, "(default 24)") || strings.Contains(help, "(default true)") || strings.Contains(help, "(default 1m0s)") {
		t.Errorf("pflag's own default shown beside the text:\n%s", help)
	}
}
