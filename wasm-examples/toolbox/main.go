// Command toolbox is a busybox-like multi-call guest: a POSIX shell
// (mvdan.cc/sh's interpreter; WASI has no fork/exec, so the shell runs
// every command as an applet in the same instance) and the usual
// applets. The applet is argv[0]'s base name (`sh -c ...`, `ls /data`:
// how `wasmpod exec` and the busybox image alias start it) or, when
// argv[0] is not an applet (`toolbox`, a container's name), argv[1]:
//
//	wasmpod exec toolbox -- sh -c 'echo $HOSTNAME; ls /data'
//	wasmpod exec toolbox -- toolbox cat /data/notes.txt
//	echo hi | wasmpod exec -i toolbox -- tee /data/notes.txt
//
// Run with no applet it serves as a pod's long-running container: it
// prints "toolbox ready" and waits for TERM (stdin's EOF).
//
// Exit codes are busybox's: 127 for a command that is not found, 126 for
// one that cannot run, 2 for a usage error, 1 for a failure; messages go
// to stderr, prefixed with the applet's name.
package main

import (
	"context"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/wasmpod/wasmpod/wasm-examples/term"
)

func main() {
	name, args := appletArgs(os.Args)
	if name == "" {
		if len(os.Args) > 1 {
			fmt.Fprintf(os.Stderr, "toolbox: applet not found: %s\n", os.Args[1])
			os.Exit(127)
		}
		fmt.Println("toolbox ready")
		<-term.Notify()
		fmt.Println("toolbox: TERM received, bye")
		return
	}
	wd, _ := os.Getwd()
	a := &proc{ctx: context.Background(), stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, dir: wd, env: os.Environ()}
	os.Exit(a.run(name, args))
}

// appletArgs picks the applet: argv[0]'s base name when it is one, else
// argv[1]. It returns "" when neither is.
func appletArgs(argv []string) (string, []string) {
	if len(argv) == 0 {
		return "", nil
	}
	if n := path.Base(argv[0]); applets[n] != nil && n != "toolbox" {
		return n, argv[1:]
	}
	if len(argv) > 1 {
		if n := path.Base(argv[1]); applets[n] != nil && n != "toolbox" {
			return n, argv[2:]
		}
	}
	return "", nil
}

// Names lists the applets, sorted.
func Names() []string {
	var out []string
	for n := range applets {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

type applet func(p *proc, args []string) int

var applets map[string]applet

func init() {
	applets = map[string]applet{
		"sh": shMain, "ash": shMain, "echo": echoMain, "cat": catMain, "ls": lsMain,
		"mkdir": mkdirMain, "rm": rmMain, "rmdir": rmdirMain, "cp": cpMain, "mv": mvMain,
		"touch": touchMain, "sleep": sleepMain, "date": dateMain, "env": envMain,
		"grep": grepMain, "wc": wcMain, "head": headMain, "tail": tailMain, "tar": tarMain,
		"sed": sedMain, "find": findMain, "test": testMain, "[": testMain, "true": trueMain,
		"false": falseMain, "wget": wgetMain, "tee": teeMain, "hostname": hostnameMain,
		"exit": exitMain, "pwd": pwdMain, "printenv": printenvMain, "basename": basenameMain,
		"dirname": dirnameMain, "httpd": httpdMain, "toolbox": toolboxMain, "expr": exprMain,
	}
}

func toolboxMain(p *proc, args []string) int {
	if len(args) == 0 || applets[path.Base(args[0])] == nil || path.Base(args[0]) == "toolbox" {
		fmt.Fprintf(p.stderr, "Usage: toolbox APPLET [ARGS...]\nApplets: %s\n", strings.Join(Names(), ", "))
		if len(args) == 0 {
			return 0
		}
		return 127
	}
	return p.run(path.Base(args[0]), args[1:])
}
