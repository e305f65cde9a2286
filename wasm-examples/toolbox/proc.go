package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// proc is one applet's process: its streams, working directory and
// environment. Inside the shell every command gets its own proc, so `cd`
// and redirections apply without an OS process.
type proc struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	dir    string
	env    []string
}

func (p *proc) run(name string, args []string) (code int) {
	f := applets[name]
	if f == nil {
		fmt.Fprintf(p.stderr, "%s: applet not found\n", name)
		return 127
	}
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(exitCode); ok {
				code = int(e)
				return
			}
			panic(r)
		}
	}()
	return f(p, args)
}

// exitCode, panicked, ends an applet early with that code.
type exitCode int

// abs resolves name against the proc's working directory.
func (p *proc) abs(name string) string {
	if filepath.IsAbs(name) || p.dir == "" {
		return name
	}
	return filepath.Join(p.dir, name)
}

func (p *proc) getenv(k string) string {
	for i := len(p.env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(p.env[i], k+"="); ok {
			return v
		}
	}
	return ""
}

// errf prints "applet: message" to stderr and returns 1.
func (p *proc) errf(applet, format string, args ...any) int {
	fmt.Fprintf(p.stderr, applet+": "+format+"\n", args...)
	return 1
}

// usage prints a usage error and returns 2, as busybox does.
func (p *proc) usage(applet, msg string) int {
	fmt.Fprintf(p.stderr, "%s: %s\nUsage: %s\n", applet, msg, usages[applet])
	return 2
}

// pathErr formats err as busybox does: "applet: name: No such file or directory".
func (p *proc) pathErr(applet, name string, err error) int {
	return p.errf(applet, "%s: %s", name, errText(err))
}

func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		err = le.Err
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "No such file or directory"
	case errors.Is(err, fs.ErrPermission):
		return "Permission denied"
	case errors.Is(err, fs.ErrExist):
		return "File exists"
	}
	s := err.Error()
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

// flags parses busybox-style short options: "-abc" and "-n 5"/"-n5" for
// those in withArg. It stops at "--" or the first operand. Unknown
// options are a usage error.
func flags(args []string, known, withArg string) (set map[byte]string, rest []string, bad string) {
	set = map[byte]string{}
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			switch {
			case strings.IndexByte(withArg, c) >= 0:
				v := a[j+1:]
				if v == "" {
					if i+1 >= len(args) {
						return nil, nil, "option requires an argument -- " + string(c)
					}
					i++
					v = args[i]
				}
				set[c] = v
				j = len(a)
			case strings.IndexByte(known, c) >= 0:
				set[c] = ""
			default:
				return nil, nil, "unrecognized option: " + string(c)
			}
		}
	}
	return set, args[i:], ""
}

func has(set map[byte]string, c byte) bool { _, ok := set[c]; return ok }

var usages = map[string]string{
	"cat": "cat [FILE]...", "ls": "ls [-1alA] [FILE]...", "mkdir": "mkdir [-p] DIRECTORY...",
	"rm": "rm [-rf] FILE...", "rmdir": "rmdir DIRECTORY...", "cp": "cp [-rfp] SOURCE... DEST",
	"mv": "mv [-f] SOURCE... DEST", "touch": "touch [-c] FILE...", "sleep": "sleep SECONDS",
	"date": "date [-u] [+FORMAT]", "env": "env [-i] [NAME=VALUE]... [COMMAND [ARG]...]",
	"grep": "grep [-ivcnlqE] [-e PATTERN] PATTERN [FILE]...", "wc": "wc [-lwc] [FILE]...",
	"head": "head [-n N] [FILE]...", "tail": "tail [-n N] [FILE]...",
	"tar": "tar -[cxt][vzmf] [-f TARFILE] [-C DIR] [FILE]...",
	"sed": "sed [-n] [-i] [-e SCRIPT]... [SCRIPT] [FILE]...", "find": "find [PATH]... [-name PATTERN] [-type f|d] [-maxdepth N] [-print]",
	"wget": "wget [-q] [-O FILE] URL", "tee": "tee [-a] [FILE]...", "sh": "sh [-c SCRIPT [NAME [ARG]...]] | [FILE [ARG]...]",
	"hostname": "hostname", "exit": "exit [CODE]", "basename": "basename PATH [SUFFIX]", "dirname": "dirname PATH",
	"httpd": "httpd [-f] [-S] [-p [IP:]PORT] [-h HOME] (-S: HTTPS, self-signed certificate)",
}
