// Command wasmpod-agent is `wasmpod agent` alone: a node agent that joins a
// wasmpod control plane over HTTPS, built without the control plane and the
// kubectl verbs (issue 15: the agent's binary size and idle RSS).
package main

import (
	"os"

	"github.com/wasmpod/wasmpod/cli"
)

func main() {
	os.Exit(cli.AgentMain(os.Args, os.Stdout, os.Stderr))
}
