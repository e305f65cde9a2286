package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestAgentLinksNoControlPlane: the agent's binary links no part of the
// control plane (the API server, the store backends and their databases,
// the controllers, the scheduler, the control plane's root package) nor the
// rest of the CLI, which is what keeps it small (issue 15's footprint;
// BenchmarkAgentFootprint measures it). A new import that pulls one in
// fails here, naming the chain that brought it.
func TestAgentLinksNoControlPlane(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/wasmpod/wasmpod"
	forbidden := func(p string) bool {
		switch p {
		case mod, mod + "/apiserver", mod + "/cli", mod + "/scheduler":
			return true
		}
		for _, prefix := range []string{mod + "/store", mod + "/controllers/", mod + "/internal/controllerutil", mod + "/internal/leaderelect",
			"go.etcd.io/bbolt", "go.etcd.io/etcd/", "k8s.io/apiserver/pkg/server"} {
			if strings.HasPrefix(p, prefix) {
				return true
			}
		}
		return false
	}
	importers := map[string]string{} // package -> a package that imports it
	var pkgs []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkgs = append(pkgs, f[0])
		for _, imp := range f[1:] {
			if _, ok := importers[imp]; !ok {
				importers[imp] = f[0]
			}
		}
	}
	linked := map[string]bool{}
	for _, p := range pkgs {
		linked[p] = true
	}
	for _, want := range []string{mod + "/nodeagent", mod + "/pods", mod + "/cli/agentcmd"} {
		if !linked[want] {
			t.Fatalf("go list -deps does not list %s: the check below would be vacuous", want)
		}
	}
	for _, p := range pkgs {
		if !forbidden(p) {
			continue
		}
		chain := []string{p}
		for q := importers[p]; q != "" && len(chain) < 20; q = importers[q] {
			chain = append(chain, q)
		}
		t.Errorf("cmd/wasmpod-agent links %s, imported through %s", p, strings.Join(chain[1:], " <- "))
	}
}

// TestAgentNodeGroupsOnly: built as `just agent` builds it (the tag
// wasmpod_node), the agent imports no k8s.io/api group but those a node
// uses: each such package registers all its kinds in its init, which links
// their code (internal/kube/gen.sh's *_node.go files). The build itself is
// the check that nothing in the agent asks the clientset or the informer
// factory for another group.
func TestAgentNodeGroupsOnly(t *testing.T) {
	if out, err := exec.Command("go", "build", "-tags", "grpcnotrace,wasmpod_node", "-o", os.DevNull, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags wasmpod_node: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "list", "-tags", "grpcnotrace,wasmpod_node", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := map[string]bool{
		"core/v1": true, "coordination/v1": true, "discovery/v1": true, "node/v1": true,
		"authentication/v1": true, "authorization/v1": true,
		// the core/v1 typed client's eviction and scale subresources
		"policy/v1": true, "autoscaling/v1": true,
	}
	seen := 0
	for _, p := range strings.Fields(string(out)) {
		gv, ok := strings.CutPrefix(p, "k8s.io/api/")
		if !ok {
			continue
		}
		seen++
		if !allowed[gv] {
			t.Errorf("the node build imports %s", p)
		}
	}
	if seen < 6 {
		t.Fatalf("go list -deps lists %d k8s.io/api packages: the check would be vacuous", seen)
	}
}
