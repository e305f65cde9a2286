// Command toolbox is a small multi-call guest for `wasmpod exec`: run with
// no arguments it serves as a pod's long-running container (it prints
// "toolbox ready" and waits for TERM); `exec` then starts new instances of
// the same module with a command as argv:
//
//	wasmpod exec toolbox -- toolbox ls /data
//	wasmpod exec toolbox -- toolbox cat /data/notes.txt
//	echo hi | wasmpod exec -i toolbox -- toolbox tee /data/notes.txt
//
// Commands: ls [DIR], cat FILE..., echo ARGS..., env, tee FILE,
// hostname, exit CODE.
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/wasmpod/wasmpod/wasm-examples/term"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Println("toolbox ready")
		<-term.Notify()
		fmt.Println("toolbox: TERM received, bye")
		return
	}
	if err := run(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "toolbox:", err)
		os.Exit(1)
	}
}

func run(cmd string, args []string) error {
	switch cmd {
	case "ls":
		dir := "."
		if len(args) > 0 {
			dir = args[0]
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			suffix := ""
			if e.IsDir() {
				suffix = "/"
			}
			fmt.Println(e.Name() + suffix)
		}
	case "cat":
		for _, f := range args {
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			os.Stdout.Write(b)
		}
	case "echo":
		fmt.Println(strings.Join(args, " "))
	case "env":
		for _, kv := range os.Environ() {
			fmt.Println(kv)
		}
	case "tee":
		if len(args) != 1 {
			return fmt.Errorf("usage: tee FILE")
		}
		f, err := os.Create(args[0])
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(io.MultiWriter(f, os.Stdout), os.Stdin)
		return err
	case "hostname":
		h, err := os.Hostname()
		if err != nil {
			h = os.Getenv("HOSTNAME")
		}
		fmt.Println(h)
	case "exit":
		code, err := strconv.Atoi(strings.Join(args, ""))
		if err != nil {
			return fmt.Errorf("usage: exit CODE")
		}
		os.Exit(code)
	default:
		return fmt.Errorf("unknown command %q (ls, cat, echo, env, tee, hostname, exit)", cmd)
	}
	return nil
}
