package apiserver

import (
	"bytes"
	"strings"
	"testing"
)

// TestReadinessGateValidationRealKubectl: a readiness gate's conditionType
// must be a qualified name (upstream's validateReadinessGates); the real
// kubectl shows the server's Invalid error naming the field, and a valid
// gate is stored.
func TestReadinessGateValidationRealKubectl(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	dir := t.TempDir()
	pod := func(name, gate string) string {
		return writeFile(t, dir, name+".yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: "+name+
			"\nspec:\n  readinessGates:\n  - conditionType: "+gate+"\n  containers:\n  - name: c\n    image: app.wasm\n")
	}
	var stdout, stderr bytes.Buffer
	c := k.cmd("create", "-f", pod("bad", `"not a/valid/type"`))
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err == nil {
		t.Fatalf("created: %s", stdout.String())
	}
	for _, want := range []string{`The Pod "bad" is invalid`, `spec.readinessGates[0].conditionType: Invalid value: "not a/valid/type"`,
		"with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("want %q in:\n%s", want, stderr.String())
		}
	}
	if out := k.run(t, "create", "-f", pod("good", "www.example.com/gate-1")); out != "pod/good created\n" {
		t.Fatalf("create: %q", out)
	}
	if out := k.run(t, "get", "pod", "good", "-o", "jsonpath={.spec.readinessGates[0].conditionType}"); out != "www.example.com/gate-1" {
		t.Fatalf("stored gate %q", out)
	}
}
