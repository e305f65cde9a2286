// Command wasmpod runs Kubernetes pods of WebAssembly modules.
package main

import (
	"os"

	"github.com/wasmpod/wasmpod/cli"
)

func main() {
	os.Exit(run())
}

func run() int {
	// Under `go run` in a terminal, Ctrl-C must reach wasmpod alone, or the
	// go command exits 1 whatever wasmpod returns.
	restore := cli.ForegroundUnderGoRun()
	defer restore()
	return cli.Main(os.Args, os.Stdout, os.Stderr)
}
