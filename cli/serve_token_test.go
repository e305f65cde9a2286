package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// runServe runs the command line, stopping a serve that did start (the
// defect) after a few seconds.
func runServe(t *testing.T, args []string, stderr *bytes.Buffer) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return runAppContext(ctx, App(&bytes.Buffer{}, stderr), args)
}

// TestServeRefusesWeakTokens: serve --listen refuses a blank, one-character
// or guessable token before it opens anything, naming the flag.
func TestServeRefusesWeakTokens(t *testing.T) {
	for _, tc := range []struct{ token, want string }{
		{" ", "blank"},
		{"x", "at least 16"},
		{"aaaaaaaaaaaaaaaaaaaa", "too easy to guess"},
	} {
		dir := t.TempDir()
		var stderr bytes.Buffer
		code := runServe(t, []string{"wasmpod", "serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--token", tc.token}, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "--token") || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("token %q: exit %d, stderr %q; want 2 and a message naming --token and %q", tc.token, code, stderr.String(), tc.want)
		}
	}
	// Through the environment too.
	t.Setenv("WASMPOD_TOKEN", "short")
	var stderr bytes.Buffer
	if code := runServe(t, []string{"wasmpod", "serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0"}, &stderr); code != 2 || !strings.Contains(stderr.String(), "WASMPOD_TOKEN") {
		t.Errorf("WASMPOD_TOKEN=short: exit %d, stderr %q", code, stderr.String())
	}
}
