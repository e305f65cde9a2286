package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestAgentAndServeNodesBadInput: `serve --nodes` and `agent` refuse bad
// flags with exit 2 and a message naming the flag, before they open
// anything or reach a server.
func TestAgentAndServeNodesBadInput(t *testing.T) {
	server := []string{"--server", "https://127.0.0.1:1", "--token", "0123456789abcdef0123456789abcdef"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--data-dir", t.TempDir(), "--nodes", "-1"}, "--nodes must not be negative"},
		{[]string{"serve", "--data-dir", t.TempDir(), "--nodes", "0"}, "--nodes 0 needs --listen"},
		{[]string{"agent", "--server", "http://127.0.0.1:1", "--token", "x"}, "an agent joins over HTTPS"},
		{append([]string{"agent", "--certificate-authority", "/nonexistent/ca.crt"}, server...), "--certificate-authority"},
		{append([]string{"agent", "--kubelet-port", "70000"}, server...), "--kubelet-port 70000"},
		{append([]string{"agent", "--address", "not-an-ip"}, server...), `--address "not-an-ip"`},
		{append([]string{"agent", "--address", "127.0.0.1", "--node-labels", "novalue"}, server...), `--node-labels "novalue": want KEY=VALUE`},
		{append([]string{"agent", "--address", "127.0.0.1", "--register-with-taints", "k=v:Sometimes"}, server...), `effect "Sometimes"`},
		{append([]string{"agent", "--address", "127.0.0.1", "--register-with-taints", "k=v"}, server...), "want KEY[=VALUE]:EFFECT"},
		{append([]string{"agent", "--address", "127.0.0.1", "--max-pods", "0"}, server...), "--max-pods 0"},
		{append([]string{"agent", "--address", "127.0.0.1", "--host-port-address", "x"}, server...), "--host-port-address"},
	} {
		var stderr bytes.Buffer
		code := runServe(t, append([]string{"wasmpod"}, tc.args...), &stderr) // serve_token_test.go
		if code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}
