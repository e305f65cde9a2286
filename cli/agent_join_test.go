package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/bootstrap"
)

// TestAgentJoinBadInput: `agent --join` and the other new agent flags
// refuse bad input with exit 2 and a message naming the flag, before the
// agent reaches any server.
func TestAgentJoinBadInput(t *testing.T) {
	isolate(t)
	const tok = "abcdef.0123456789abcdef"
	hash := "sha256:" + strings.Repeat("ab", 32)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	join := []string{"agent", "--data-dir", t.TempDir(), "--node-name", "n1", "--join", "https://127.0.0.1:1"}
	server := []string{"agent", "--data-dir", t.TempDir(), "--node-name", "n1", "--address", "127.0.0.1", "--server", "https://127.0.0.1:1", "--token", "0123456789abcdef0123456789abcdef"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"agent", "--join", "http://127.0.0.1:1", "--token", tok, "--discovery-token-ca-cert-hash", hash}, `--join "http://127.0.0.1:1": want the API server's address as https://HOST:PORT`},
		{[]string{"agent", "--join", "https://127.0.0.1:1/api", "--token", tok, "--discovery-token-ca-cert-hash", hash}, `--join "https://127.0.0.1:1/api"`},
		{join, "--join needs --token"},
		{append(join, "--token", "0123456789abcdef0123456789abcdef"), "--token: with --join, a bootstrap token of the form [a-z0-9]{6}.[a-z0-9]{16}"},
		{append(join, "--token", tok), "--join needs --discovery-token-ca-cert-hash"},
		{append(join, "--token", tok, "--discovery-token-ca-cert-hash", "sha256:zz"), `--discovery-token-ca-cert-hash "sha256:zz": want sha256:<64 hex digits>`},
		{append(join, "--token", tok, "--discovery-token-ca-cert-hash", hash+",md5:00"), `--discovery-token-ca-cert-hash "md5:00"`},
		{append(join, "--token", tok, "--kubeconfig", kc), "--join and --kubeconfig exclude each other"},
		{append(join, "--token", tok, "--server", "https://127.0.0.1:2"), "--join and --server exclude each other"},
		{append(join, "--token", tok, "--certificate-authority", kc), "--join and --certificate-authority exclude each other"},
		{append(server, "--discovery-token-ca-cert-hash", hash), "--discovery-token-ca-cert-hash needs --join"},
		{append(server, "--discovery-token-unsafe-skip-ca-verification"), "--discovery-token-unsafe-skip-ca-verification needs --join"},
		{append(server, "--reverse-tunnel", "--kubelet-port", "10251"), "--kubelet-port and --reverse-tunnel exclude each other"},
		{append(server, "--tunnel-port", "70000"), "--tunnel-port 70000: must be between 0 and 65535"},
		{append(server, "--tunnel-port", "0"), "--tunnel-port needs the node's own certificate"},
		{append(join, "--token", tok, "--discovery-token-unsafe-skip-ca-verification", "--address", "x"), `--address "x"`},
		{append(server, "--tls-cert-file", kc), "--tls-cert-file and --tls-private-key-file go together"},
		{append(server, "--failover-server", "https://127.0.0.1:2,http://127.0.0.1:3"), `--failover-server "http://127.0.0.1:3": want another API server as https://HOST:PORT`},
		{append(server, "--failover-server", "127.0.0.1:3"), `--failover-server "127.0.0.1:3"`},
		{append(server, "--tls-cert-file", kc, "--tls-private-key-file", kc), "--tls-cert-file/--tls-private-key-file: tls: failed to find any PEM data"},
	} {
		var stderr bytes.Buffer
		code := runServe(t, append([]string{"wasmpod"}, tc.args...), &stderr) // serve_token_test.go
		if code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
	t.Setenv("WASMPOD_SERVER", "https://127.0.0.1:3")
	var stderr bytes.Buffer
	if code := runServe(t, append([]string{"wasmpod"}, append(join, "--token", tok)...), &stderr); code != 2 || !strings.Contains(stderr.String(), "--join and --server (or $WASMPOD_SERVER) exclude each other") {
		t.Errorf("--join with WASMPOD_SERVER set: exit %d, stderr %q", code, stderr.String())
	}
}

// TestAgentJoinRetriesUnreachable: an API server that does not answer yet
// is retried with a message (and SIGINT/ctx ends the wait); a joined
// agent's credential file makes the token unnecessary.
func TestAgentJoinRetriesUnreachable(t *testing.T) {
	isolate(t)
	var stderr bytes.Buffer
	args := []string{"wasmpod", "agent", "--data-dir", t.TempDir(), "--node-name", "n1", "--address", "127.0.0.1", "--kubelet-port", "0",
		"--join", "https://127.0.0.1:1", "--token", "abcdef.0123456789abcdef", "--discovery-token-unsafe-skip-ca-verification"}
	start := time.Now()
	code := runServe(t, args, &stderr) // stopped after 5 s
	if code != 0 || !strings.Contains(stderr.String(), "wasmpod agent: waiting for the API server https://127.0.0.1:1 to join:") ||
		!strings.Contains(stderr.String(), "connection refused") || strings.Count(stderr.String(), "waiting for") < 2 {
		t.Errorf("unreachable server: exit %d after %v, stderr %q", code, time.Since(start), stderr.String())
	}
}

func TestTokenRow(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	got := tokenRow(bootstrap.TokenInfo{ID: "abcdef", Expires: now.Add(23 * time.Hour), Usages: []string{"signing", "authentication"},
		Groups: []string{"system:bootstrappers", bootstrap.ExtraGroup}}, now)
	want := []string{"abcdef", "23h", "2026-01-03T02:04:05Z", "authentication,signing", "<none>", bootstrap.ExtraGroup}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("tokenRow = %q, want %q", got, want)
	}
	got = tokenRow(bootstrap.TokenInfo{ID: "ghijkl", Expires: now.Add(-time.Minute), Expired: true, Description: "old"}, now)
	if got[1] != "<invalid>" || got[4] != "old" {
		t.Errorf("expired token row = %q", got)
	}
	if got = tokenRow(bootstrap.TokenInfo{ID: "mnopqr"}, now); got[1] != "<forever>" || got[2] != "<never>" {
		t.Errorf("token without expiry = %q", got)
	}
}

// TestTokenCommandErrors: the token commands refuse bad input, and a server
// without HTTPS, naming what is wrong.
func TestTokenCommandErrors(t *testing.T) {
	home := isolate(t)
	sock := filepath.Join(home, "api.sock")
	addr, _, _ := apiOn(t, sock, "0123456789abcdef0123456789abcdef") // discover_test.go
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"token", "create", "--ttl", "0s", "--server", "unix://" + sock}, "--ttl 0s: must be positive"},
		{[]string{"token", "create", "extra", "--server", "unix://" + sock}, "token create takes no arguments"},
		{[]string{"token", "delete", "--server", "unix://" + sock}, "token delete needs the ID or the whole token"},
		{[]string{"token", "create", "--server", "unix://" + sock}, "has no HTTPS address for nodes to join: start 'wasmpod serve' with --listen"},
		{[]string{"token", "list", "--server", "http://" + addr, "--token", "0123456789abcdef0123456789abcdef"}, "is not HTTPS: nodes join over HTTPS"},
	} {
		out, errOut, code := runMain(tc.args...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 1 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
}
