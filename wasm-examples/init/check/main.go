// Command check is the second init container of the init example: it fails
// (exit 1) unless /work/config.txt, written by prepare, exists, and then
// appends a line to it. Init containers run one at a time, in order, so
// check always runs after prepare has succeeded.
package main

import (
	"fmt"
	"os"
)

const config = "/work/config.txt"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "check:", err)
		os.Exit(1)
	}
	fmt.Println("check: config present, marked checked")
}

func run() error {
	if _, err := os.Stat(config); err != nil {
		return fmt.Errorf("config missing: %w", err)
	}
	f, err := os.OpenFile(config, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString("checked=true\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
