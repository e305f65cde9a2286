package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestRolloutBadInput: bad arguments are refused with kubectl-style
// errors before any request (no server is needed), never a panic.
func TestRolloutBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"rollout", "status"}, "error: required resource not specified"},
		{[]string{"rollout", "undo", "deployment"}, "error: required resource not specified"},
		{[]string{"rollout", "pause", "deployment/"}, "error: resource name may not be empty"},
		{[]string{"rollout", "history", "pod/x"}, `error: no history rollout support for "pod": only deployments and daemonsets`},
		{[]string{"rollout", "restart", "a", "b", "c"}, "error: required resource not specified"},
		{[]string{"rollout", "status", "deployment/x", "--revision=abc"}, `error: invalid argument "abc" for "--revision" flag`},
	} {
		var out, errOut bytes.Buffer
		code := Main(append([]string{"wasmpod", "--server", "unix:///nonexistent/wasmpod.sock"}, tc.args...), &out, &errOut)
		if code == 0 || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, errOut.String(), tc.want)
		}
	}
}
