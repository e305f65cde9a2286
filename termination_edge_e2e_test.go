package wasmpod_test

// Termination messages in the cases where the message file meets volumes
// (issue 12, section 4). Upstream the kubelet bind-mounts a fresh host
// file at terminationMessagePath whatever the volumes, so the message is
// collected when a volume covers the file's directory and when the file
// is directly under "/"; a path that is a directory fails the container's
// start (runc cannot mount a file over a directory); the message is the
// file's last 4096 bytes; and the guest can only write the file, never
// replace it with a link that would make the node read another file.
// Checked with the real kubectl v1.37.2 and the toolbox (image busybox).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestTerminationMessageEdges(t *testing.T) {
	t.Parallel()
	e := newSubPathFileEnv(t)
	host := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("TOPSECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(host, "msg")); err != nil {
		t.Fatal(err)
	}
	var long strings.Builder
	for i := 0; i < 60; i++ {
		fmt.Fprintf(&long, "line %02d %s\n", i, strings.Repeat(".", 90))
	}
	wantLong := long.String()[long.Len()-4096:]

	pod := func(name, path, script string, extra string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", %q]
    terminationMessagePath: %s
%s`, name, script, path, extra)
	}
	logsVolume := `    volumeMounts: [{name: logs, mountPath: /logs}]
  volumes: [{name: logs, emptyDir: {}}]
`
	manifest := strings.Join([]string{
		pod("in-volume", "/logs/msg", "echo in-volume > /logs/msg; exit 3", logsVolume),
		pod("under-root", "/msg", "echo at-root > /msg", ""),
		pod("default-path", "/dev/termination-log", "echo default > /dev/termination-log", ""),
		pod("long", "/dev/termination-log", `i=0; while [ $i -lt 60 ]; do printf 'line %02d %s\n' $i `+strings.Repeat(".", 90)+`; i=$((i+1)); done > /dev/termination-log`, ""),
		// The guest cannot remove or replace the file: rm fails (the mount
		// point is busy) and what it writes is what the node reads.
		pod("replace", "/logs/msg", "rm /logs/msg && echo removed; mv /logs/msg /logs/old && echo moved; echo kept > /logs/msg; exit 1", logsVolume),
		// A directory at the path: the start fails, as runc's file mount
		// over a directory does.
		pod("dir-mount", "/logs", "echo never", logsVolume),
		// A link on the host at the path, leading out of the volume: never
		// followed (the start fails), the linked file never read.
		pod("host-link", "/host/msg", "echo never", fmt.Sprintf(`    volumeMounts: [{name: host, mountPath: /host}]
  volumes: [{name: host, hostPath: {path: %s, type: Directory}}]
`, host)),
	}, "---\n")
	if _, errOut, code := e.run(t, manifest, "apply", "-f", "-"); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	message := func(name string) string {
		return e.must(t, "get", "pod", name, "-o", "jsonpath={.status.containerStatuses[0].state.terminated.message}")
	}
	wait := func(name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		p, err := e.c.WaitPod(ctx, "default", name, cond)
		if err != nil {
			t.Fatalf("pod %s: waiting for %s: %v", name, what, err)
		}
		return p
	}
	for name, want := range map[string]string{
		"in-volume": "in-volume\n", "under-root": "at-root\n", "default-path": "default\n", "long": wantLong, "replace": "kept\n",
	} {
		wait(name, "the end", podFinished)
		if got := message(name); got != want {
			t.Errorf("%s: message %q, want %q", name, got, want)
		}
	}
	if logs := e.must(t, "logs", "replace"); strings.Contains(logs, "removed") || strings.Contains(logs, "moved") {
		t.Errorf("the guest removed or moved its termination-message file: %q", logs)
	}
	for name, want := range map[string]string{"dir-mount": "not a directory", "host-link": "leads outside"} {
		p := wait(name, "CreateContainerError", func(p *corev1.Pod) bool {
			w := waitingState(p)
			return w != nil && w.Reason == "CreateContainerError"
		})
		if w := waitingState(p); !strings.Contains(w.Message, want) {
			t.Errorf("%s: waiting message %q, want it to say %q", name, w.Message, want)
		}
		b, _ := json.Marshal(p)
		if strings.Contains(string(b), "TOPSECRET") {
			t.Errorf("%s: the host file behind the link reached the status: %s", name, b)
		}
	}
}
