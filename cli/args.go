package cli

import (
	"strings"

	ucli "github.com/urfave/cli/v2"
)

// kubectlCommands take kubectl-style arguments: flags may follow the
// positional arguments, short boolean flags combine (-it) and a short
// flag's value may be attached (-owide).
var kubectlCommands = map[string]bool{"get": true, "describe": true, "apply": true, "create": true, "delete": true, "logs": true, "log": true, "exec": true}

// reorderArgs rewrites args for urfave/cli, whose flag parsing stops at the
// first positional argument: for a kubectl-style command it moves every
// flag in front of the positionals, then emits "--", the positionals and,
// if the command line had a "--", that "--" and everything after it
// unchanged (so exec sees POD -- CMD ARGS...).
func reorderArgs(app *ucli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	appFlags := flagKinds(app.Flags)
	i := 1
	for ; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			break
		}
		out = append(out, a)
		if name, hasValue := flagName(a); !hasValue && appFlags[name] == kindValue {
			if i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
		}
	}
	if i >= len(args) || !kubectlCommands[args[i]] {
		return append(out, args[i:]...)
	}
	var cmd *ucli.Command
	for _, c := range app.Commands {
		if c.HasName(args[i]) {
			cmd = c
		}
	}
	if cmd == nil {
		return append(out, args[i:]...)
	}
	out = append(out, args[i])
	kinds := flagKinds(cmd.Flags)
	var pos, afterDash []string
	dash := false
	for i++; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			dash, afterDash = true, args[i+1:]
			i = len(args)
			continue
		case !strings.HasPrefix(a, "-") || a == "-":
			pos = append(pos, a)
			continue
		}
		name, hasValue := flagName(a)
		switch kinds[name] {
		case kindBool:
			out = append(out, a)
		case kindValue:
			out = append(out, a)
			if !hasValue && i+1 >= len(args) {
				// The value is missing: the flag last, so that the
				// parser says so (rather than take "--" as its value).
				return out
			}
			if !hasValue {
				i++
				out = append(out, args[i])
			}
		default:
			// -it (combined booleans) or -owide (attached value)?
			if strings.HasPrefix(a, "--") || hasValue {
				out = append(out, a)
				continue
			}
			letters := a[1:]
			if kinds[letters[:1]] == kindValue {
				out = append(out, "-"+letters[:1]+"="+letters[1:])
				continue
			}
			all := true
			for _, r := range letters {
				if kinds[string(r)] != kindBool {
					all = false
				}
			}
			if !all {
				out = append(out, a) // let the parser report it
				continue
			}
			for _, r := range letters {
				out = append(out, "-"+string(r))
			}
		}
	}
	out = append(out, "--")
	out = append(out, pos...)
	if dash {
		out = append(out, "--")
		out = append(out, afterDash...)
	}
	return out
}

const (
	kindUnknown = iota
	kindBool
	kindValue
)

func flagKinds(fs []ucli.Flag) map[string]int {
	m := map[string]int{"h": kindBool, "help": kindBool}
	for _, f := range fs {
		k := kindValue
		if _, ok := f.(*ucli.BoolFlag); ok {
			k = kindBool
		}
		for _, n := range f.Names() {
			m[n] = k
		}
	}
	return m
}

// flagName returns the name of "-x", "--xx", "--xx=v" and whether a value is attached.
func flagName(a string) (string, bool) {
	a = strings.TrimLeft(a, "-")
	if n, _, ok := strings.Cut(a, "="); ok {
		return n, true
	}
	return a, false
}
