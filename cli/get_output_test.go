package cli

import (
	"strings"
	"testing"
)

// TestGetSortByMissingField: a --sort-by path that no object has is an
// error with the table output too (kubectl drops it there and prints
// nothing, as if there were no objects).
func TestGetSortByMissingField(t *testing.T) {
	e := newEnv(t)
	seed(t, e)
	out, errOut, code := e.run("get", "pods", "--sort-by=.spec.nope")
	if code != 1 || out != "" || errOut != "error: couldn't find any field with path \"{.spec.nope}\" in the list of objects\n" {
		t.Errorf("get pods --sort-by=.spec.nope: exit %d\nstdout: %q\nstderr: %q", code, out, errOut)
	}
	// A path that some objects have sorts them after those without it.
	out = e.ok("get", "pods", "-A", "--sort-by=.spec.nodeName", "--no-headers", "-o", "custom-columns=N:.metadata.name")
	if got := strings.Fields(out); strings.Join(got, " ") != "sys web crash" {
		t.Errorf("sorted by nodeName: %q", got)
	}
}
