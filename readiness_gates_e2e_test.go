package wasmpod_test

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// TestReadinessGatesKubectl: a pod with a readiness gate, a real toolbox
// container and the real kubectl v1.37 with default flags. The pod is not
// Ready until the gate's condition is set through pods/status (kubectl
// patch --subresource=status, a JSON merge patch that replaces the whole
// condition list, and a strategic one that merges by type); the agent's
// conditions come back after the merge patch, a label set meanwhile stays,
// and a gate turned False makes the pod unready again.
func TestReadinessGatesKubectl(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c, err := wasmpod.New(context.Background(), wasmpod.Config{CacheDir: testwasm.CacheDir(), DataDir: t.TempDir(),
		EvictionHard: map[string]string{"nodefs.available": "1Mi"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c.SetAPIServerAddress(netip.MustParseAddrPort(u.Host))
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: w\n  cluster:\n    server: "+srv.URL+
		"\ncontexts:\n- name: w\n  context:\n    cluster: w\n    user: me\n    namespace: default\ncurrent-context: w\nusers:\n- name: me\n  user: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(want int, args ...string) string {
		t.Helper()
		out, errOut, code := kubectlWith(t, kc, "", args...)
		if code != want {
			t.Fatalf("kubectl %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out, errOut)
		}
		return out + errOut
	}
	expect := func(out, want string) {
		t.Helper()
		if !strings.Contains(out, want) {
			t.Fatalf("want %q in:\n%s", want, out)
		}
	}
	out, errOut, code := kubectlWith(t, kc, `apiVersion: v1
kind: Pod
metadata:
  name: gated
spec:
  terminationGracePeriodSeconds: 1
  readinessGates:
  - conditionType: www.example.com/gate-1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "sleep 3600"]
`, "apply", "-f", "-")
	if code != 0 {
		t.Fatalf("apply: %d %s%s", code, out, errOut)
	}
	expect(run(0, "wait", "--for=condition=ContainersReady", "pod/gated", "--timeout=90s"), "pod/gated condition met")

	// Containers ready, the gate unset: not Ready, with the kubelet's reason.
	wide := regexp.MustCompile(`(?m)^gated\s+1/1\s+Running\s+0\s+\S+\s+\S+\s+\S+\s+<none>\s+0/1\s*$`)
	if out := run(0, "get", "pod", "gated", "-o", "wide"); !wide.MatchString(out) {
		t.Fatalf("get -o wide:\n%s", out)
	}
	expect(run(0, "get", "pod", "gated", "-o", `jsonpath={range .status.conditions[?(@.type=="Ready")]}{.status} {.reason}: {.message}{end}`),
		`False ReadinessGatesNotReady: corresponding condition of pod readiness gate "www.example.com/gate-1" does not exist.`)
	expect(run(1, "wait", "--for=condition=Ready", "pod/gated", "--timeout=2s"), "timed out waiting for the condition on pods/gated")

	// The merge patch replaces the list: Ready, and the agent's own
	// conditions written back next to the gate.
	expect(run(0, "patch", "pod", "gated", "--subresource=status", "--type=merge", "-p",
		`{"status":{"conditions":[{"type":"www.example.com/gate-1","status":"True"}]}}`), "pod/gated patched")
	expect(run(0, "wait", "--for=condition=Ready", "pod/gated", "--timeout=60s"), "pod/gated condition met")
	expect(run(0, "wait", "--for=condition=Initialized", "pod/gated", "--timeout=60s"), "pod/gated condition met")
	if out := run(0, "get", "pod", "gated", "-o", "wide"); !strings.Contains(out, " 1/1") || wide.MatchString(out) {
		t.Fatalf("get -o wide after the gate:\n%s", out)
	}

	// A label, then the gate False (kubectl's default strategic patch):
	// unready again; the label and the gate condition stay.
	expect(run(0, "label", "pod", "gated", "later=yes"), "pod/gated labeled")
	expect(run(0, "patch", "pod", "gated", "--subresource=status", "-p",
		`{"status":{"conditions":[{"type":"www.example.com/gate-1","status":"False","reason":"Drained"}]}}`), "pod/gated patched")
	expect(run(0, "wait", "--for=condition=Ready=false", "pod/gated", "--timeout=60s"), "pod/gated condition met")
	expect(run(0, "get", "pod", "gated", "-o", `jsonpath={.metadata.labels.later} {range .status.conditions[?(@.type=="www.example.com/gate-1")]}{.status}/{.reason}{end} {range .status.conditions[?(@.type=="Ready")]}{.message}{end}`),
		`yes False/Drained the status of pod readiness gate "www.example.com/gate-1" is not "True", but False`)
	out = run(0, "describe", "pod", "gated")
	for _, want := range []string{"Readiness Gates:", "www.example.com/gate-1   False", "Ready                       False"} {
		expect(out, want)
	}
}
