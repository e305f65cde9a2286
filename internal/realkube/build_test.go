package realkube

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBuildAPIServer builds (or finds) kube-apiserver and runs it: it
// reports the release its wrapper module pins. CI runs it early, in the
// background, to warm the cache for the tests that start the server.
func TestBuildAPIServer(t *testing.T) {
	p := APIServerPath(t)
	out, err := exec.Command(p, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", p, err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "Kubernetes "+Version {
		t.Errorf("kube-apiserver --version = %q, want %q", got, "Kubernetes "+Version)
	}
}
