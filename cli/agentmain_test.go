package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wasmpod/wasmpod/cli/agentcmd"
)

// TestAgentMainIsAgentCommand: wasmpod-agent takes `wasmpod agent`'s flags
// and answers bad input as it does (same exit code, same message).
func TestAgentMainIsAgentCommand(t *testing.T) {
	for _, args := range [][]string{
		{"--join", "http://127.0.0.1:6443", "--token", "abcdef.0123456789abcdef", "--node-name", "n1"},
		{"--join", "https://127.0.0.1:6443", "--node-name", "n1", "--data-dir", t.TempDir()},
		{"--kubelet-port", "70000", "--server", "https://127.0.0.1:1", "--token", "x", "--node-name", "n1", "--address", "127.0.0.1"},
		{"--bogus"},
	} {
		var aOut, aErr, fOut, fErr bytes.Buffer
		code := agentcmd.Main(append([]string{"wasmpod-agent"}, args...), &aOut, &aErr)
		want := Main(append([]string{"wasmpod", "agent"}, args...), &fOut, &fErr)
		if code == 0 || code != want {
			t.Errorf("%q: wasmpod-agent exits %d, wasmpod agent %d\n%s", args, code, want, aErr.String())
		}
		got, full := aErr.String(), strings.ReplaceAll(fErr.String(), "wasmpod agent", "wasmpod-agent")
		if first := strings.SplitN(got, "\n", 2)[0]; first == "" || !strings.Contains(full, first) {
			t.Errorf("%q: wasmpod-agent says %q; wasmpod agent says %q", args, got, fErr.String())
		}
	}
}
