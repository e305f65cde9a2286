// Command wasmpod runs Kubernetes pods of WebAssembly modules.
package main

import (
	"os"

	"github.com/wasmpod/wasmpod/cli"
)

func main() {
	os.Exit(cli.Main(os.Args, os.Stdout, os.Stderr))
}
