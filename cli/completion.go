package cli

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func completionCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:      "completion",
		Usage:     "Output shell completion code for the specified shell (bash, zsh or fish)",
		ArgsUsage: "SHELL",
		Description: `Prints a script that makes the shell complete wasmpod's commands, flags,
resource types and, from the server the other commands would use, object names
(e.g. pod names after "wasmpod logs"). The scripts are cobra's, as kubectl's
are: they ask "wasmpod __complete WORDS..." for the candidates.

Examples:
  # Load completion into the current bash shell (needs the bash-completion package for best results)
  source <(wasmpod completion bash)

  # Install it for every new bash shell
  wasmpod completion bash > ~/.local/share/bash-completion/completions/wasmpod

  # zsh: load it now, or write it as _wasmpod in a directory of your $fpath
  source <(wasmpod completion zsh)

  # fish
  wasmpod completion fish > ~/.config/fish/completions/wasmpod.fish`,
		Action: func(c *cmdline.Context) error {
			if c.NArg() != 1 {
				return errorf("Shell not specified.\nSee 'wasmpod completion -h' for help and examples")
			}
			w, root := c.App.Writer, c.Cobra().Root()
			switch sh := c.Args().First(); sh {
			case "bash":
				return root.GenBashCompletionV2(w, true)
			case "zsh":
				return root.GenZshCompletion(w)
			case "fish":
				return root.GenFishCompletion(w, true)
			default:
				return errorf("Unsupported shell type %q.\nSee 'wasmpod completion -h' for help and examples", sh)
			}
		},
	}
}

// setCompletions gives the commands that take names their candidates
// (resource types, object names, shells); cobra completes commands and
// flags itself.
func setCompletions(app *cmdline.App) {
	for _, cmd := range app.Commands {
		switch cmd.Name {
		case "get", "describe", "delete":
			cmd.Complete = resourceCandidates
		case "logs", "exec", "port-forward":
			cmd.Complete = func(c *cmdline.Context) []string {
				if c.NArg() > 0 {
					return nil
				}
				return objectNames(c, "pods")
			}
		case "completion":
			cmd.Complete = func(c *cmdline.Context) []string {
				if c.NArg() > 0 {
					return nil
				}
				return []string{"bash", "zsh", "fish"}
			}
		}
	}
}

// resourceCandidates: for get/describe/delete, the server's resource types
// as the first word, then names of objects of that type.
func resourceCandidates(c *cmdline.Context) []string {
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

func resourceTypes(c *cmdline.Context) []string {
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

func objectNames(c *cmdline.Context, typ string) []string {
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
