package testkubectl

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestPathRunsKubectl builds (or finds) kubectl and runs it: its client
// version is the k8s.io/kubectl release of testdata/kubectl/go.mod, and a
// second call finds the same binary.
func TestPathRunsKubectl(t *testing.T) {
	p := Path(t)
	out, err := exec.Command(p, "version", "--client", "-o", "yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("%s version --client: %v\n%s", p, err, out)
	}
	if !strings.Contains(string(out), "clientVersion:") {
		t.Errorf("kubectl version --client printed no client version:\n%s", out)
	}
	mod, err := os.ReadFile(SourceDir(t) + "/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "k8s.io/kubectl v0.37.2") {
		t.Errorf("testdata/kubectl/go.mod does not pin k8s.io/kubectl v0.37.2:\n%s", mod)
	}
	if again := Path(t); again != p {
		t.Errorf("second Path = %s, want %s", again, p)
	}
}
