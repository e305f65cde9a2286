// Command wasmpod-agent is `wasmpod agent` alone: a node agent that joins a
// wasmpod control plane over HTTPS, built without the control plane and the
// kubectl verbs (issue 15: the agent's binary size and idle RSS).
// TestAgentLinksNoControlPlane holds it to that.
package main

import (
	"os"

	"github.com/wasmpod/wasmpod/cli/agentcmd"
)

func main() {
	os.Exit(agentcmd.Main(os.Args, os.Stdout, os.Stderr))
}
