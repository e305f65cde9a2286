package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// completeFlag is the hidden last argument the shell scripts append to the
// words typed so far: "wasmpod get po --generate-bash-completion" prints
// the candidates for the next word, one a line (urfave/cli's protocol).
const completeFlag = "--generate-bash-completion"

// partialKey is the App.Metadata key holding the word being completed when
// it starts with "-" (the scripts pass it before completeFlag).
const partialKey = "wasmpod.completing"

func completionCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "completion",
		Usage:     "Output shell completion code for the specified shell (bash, zsh or fish)",
		ArgsUsage: "SHELL",
		Description: `Prints a script that makes the shell complete wasmpod's commands, flags,
resource types and, from the server the other commands would use, object names
(e.g. pod names after "wasmpod logs").

Examples:
  # Load completion into the current bash shell (needs the bash-completion package for best results)
  source <(wasmpod completion bash)

  # Install it for every new bash shell
  wasmpod completion bash > ~/.local/share/bash-completion/completions/wasmpod

  # zsh: load it now, or write it as _wasmpod in a directory of your $fpath
  source <(wasmpod completion zsh)

  # fish
  wasmpod completion fish > ~/.config/fish/completions/wasmpod.fish`,
		Action: func(c *ucli.Context) error {
			if c.NArg() != 1 {
				return errorf("Shell not specified.\nSee 'wasmpod completion -h' for help and examples")
			}
			w := c.App.Writer
			switch sh := c.Args().First(); sh {
			case "bash":
				_, err := io.WriteString(w, bashCompletion)
				return err
			case "zsh":
				_, err := io.WriteString(w, zshCompletion)
				return err
			case "fish":
				s, err := c.App.ToFishCompletion()
				if err != nil {
					return err
				}
				_, err = io.WriteString(w, s+fishDynamic)
				return err
			default:
				return errorf("Unsupported shell type %q.\nSee 'wasmpod completion -h' for help and examples", sh)
			}
		},
	}
}

// The scripts run the command line typed so far with completeFlag and offer
// what it prints; with nothing printed the shell completes file names.
const bashCompletion = `# bash completion for wasmpod
# Load it with: source <(wasmpod completion bash)

_wasmpod_complete() {
    local cur="${COMP_WORDS[COMP_CWORD]}"
    local -a words=("${COMP_WORDS[@]:0:COMP_CWORD}")
    local out
    if [[ "$cur" == -* ]]; then
        out=$("${words[@]}" "$cur" --generate-bash-completion 2>/dev/null)
    else
        out=$("${words[@]}" --generate-bash-completion 2>/dev/null)
    fi
    local IFS=$'\n'
    COMPREPLY=($(compgen -W "$out" -- "$cur"))
    return 0
}

complete -o bashdefault -o default -F _wasmpod_complete wasmpod
`

const zshCompletion = `#compdef wasmpod
# zsh completion for wasmpod
# Load it with: source <(wasmpod completion zsh), or save it as _wasmpod in $fpath

_wasmpod() {
    local -a opts
    local cur=${words[CURRENT]}
    if [[ "$cur" == -* ]]; then
        opts=("${(@f)$(${words[1,CURRENT-1]} "$cur" --generate-bash-completion 2>/dev/null)}")
    else
        opts=("${(@f)$(${words[1,CURRENT-1]} --generate-bash-completion 2>/dev/null)}")
    fi
    if [[ -n "${opts[1]}" ]]; then
        compadd -- "${opts[@]}"
    else
        _files
    fi
}

if [[ "${funcstack[1]}" == "_wasmpod" ]]; then
    _wasmpod "$@"
else
    compdef _wasmpod wasmpod
fi
`

// fishDynamic adds to urfave/cli's static fish completion the names the
// server knows (resource types, pods).
const fishDynamic = `
function __wasmpod_dynamic
    set -l words (commandline -opc)
    command $words[1] $words[2..-1] --generate-bash-completion 2>/dev/null
end
complete -c wasmpod -n '__fish_seen_subcommand_from get describe delete logs log exec port-forward completion' -f -a '(__wasmpod_dynamic)'
`

// isCompletion reports whether args ask for completions (the last
// argument is completeFlag), and the partial flag being completed if any.
func isCompletion(args []string) (bool, string) {
	if len(args) < 2 || args[len(args)-1] != completeFlag {
		return false, ""
	}
	for _, a := range args {
		if a == "--" {
			return false, ""
		}
	}
	if p := args[len(args)-2]; len(args) > 2 && strings.HasPrefix(p, "-") {
		return true, p
	}
	return true, ""
}

// setCompletions gives every command a completer: flags when the word
// starts with "-", else the command's own candidates (resource types,
// object names, shells).
func setCompletions(app *ucli.App) {
	app.BashComplete = func(c *ucli.Context) {
		if flagCompletion(c, app.Flags) {
			return
		}
		for _, cmd := range app.Commands {
			if !cmd.Hidden {
				fmt.Fprintln(c.App.Writer, cmd.Name)
			}
		}
	}
	for _, cmd := range app.Commands {
		cmd := cmd
		var names func(c *ucli.Context) []string
		switch cmd.Name {
		case "get", "describe", "delete":
			names = resourceCandidates
		case "logs", "exec", "port-forward":
			names = func(c *ucli.Context) []string {
				if c.NArg() > 0 {
					return nil
				}
				return objectNames(c, "pods")
			}
		case "completion":
			names = func(c *ucli.Context) []string {
				if c.NArg() > 0 {
					return nil
				}
				return []string{"bash", "zsh", "fish"}
			}
		}
		cmd.BashComplete = func(c *ucli.Context) {
			if flagCompletion(c, cmd.Flags) {
				return
			}
			if names != nil {
				for _, n := range names(c) {
					fmt.Fprintln(c.App.Writer, n)
				}
			}
		}
	}
}

// flagCompletion prints the flags matching the partial "-..." word being
// completed, if that is what is being completed.
func flagCompletion(c *ucli.Context, flags []ucli.Flag) bool {
	partial, _ := c.App.Metadata[partialKey].(string)
	if partial == "" {
		return false
	}
	var out []string
	for _, f := range append(flags, ucli.HelpFlag) {
		if vf, ok := f.(ucli.VisibleFlag); ok && !vf.IsVisible() {
			continue
		}
		for _, n := range f.Names() {
			name := "--" + n
			if len(n) == 1 {
				name = "-" + n
			}
			if strings.HasPrefix(name, partial) {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	for _, n := range out {
		fmt.Fprintln(c.App.Writer, n)
	}
	return true
}

// resourceCandidates: for get/describe/delete, the server's resource types
// as the first word, then names of objects of that type.
func resourceCandidates(c *ucli.Context) []string {
	switch c.NArg() {
	case 0:
		return resourceTypes(c)
	default:
		typ := c.Args().First()
		if strings.Contains(typ, "/") {
			return nil
		}
		return objectNames(c, typ)
	}
}

// completionTimeout bounds a completion's requests: a shell waits on it.
const completionTimeout = 3 * time.Second

func resourceTypes(c *ucli.Context) []string {
	k, err := connect(c)
	if err != nil {
		return nil
	}
	lists, err := k.discovery().ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, l := range lists {
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || seen[r.Name] {
				continue
			}
			canGet := false
			for _, v := range r.Verbs {
				canGet = canGet || v == "get" || v == "list"
			}
			if canGet {
				seen[r.Name] = true
				out = append(out, r.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

func objectNames(c *ucli.Context, typ string) []string {
	k, err := connect(c)
	if err != nil {
		return nil
	}
	m, err := k.mappingFor(typ)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(c.Context, completionTimeout)
	defer cancel()
	l, err := k.resourceClient(m, k.namespace(c)).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(l.Items))
	for _, o := range l.Items {
		out = append(out, o.GetName())
	}
	sort.Strings(out)
	return out
}
