// Command kube-apiserver is upstream's cmd/kube-apiserver main, unmodified,
// built from the Go module proxy (k8s.io/kubernetes v1.37.2) for the tests
// of internal/realkube. It is a module of its own so that the wasmpod
// module never depends on k8s.io/kubernetes.
package main

import (
	"os"
	_ "time/tzdata" // for timeZone support in CronJob

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // for JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // load all the prometheus client-go plugins
	_ "k8s.io/component-base/metrics/prometheus/version"  // for version metric registration
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	command := app.NewAPIServerCommand()
	code := cli.Run(command)
	os.Exit(code)
}
