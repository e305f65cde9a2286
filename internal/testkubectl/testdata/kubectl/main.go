// Command kubectl is upstream kubectl, built from the k8s.io/kubectl library
// for the golden tests of package internal/testkubectl. It lives in its own
// module under testdata so that the main module never depends on kubectl.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	if err := cli.RunNoErrOutput(cmd.NewDefaultKubectlCommand()); err != nil {
		cmdutil.CheckErr(err)
		os.Exit(1)
	}
}
