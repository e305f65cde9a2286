package wasmpod_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// hostileWasm writes the hostile test guest to a file for image: paths.
func hostileWasm(t *testing.T) string {
	t.Helper()
	wasm := filepath.Join(t.TempDir(), "hostile.wasm")
	if err := os.WriteFile(wasm, testwasm.Build(t, testwasm.GuestDir(t, "hostile")), 0o644); err != nil {
		t.Fatal(err)
	}
	return wasm
}

func applyYAML(t *testing.T, c *wasmpod.Cluster, wasm, doc string) {
	t.Helper()
	objs, err := wasmpod.LoadBytes([]byte(strings.ReplaceAll(doc, "WASM", wasm)), "pod.yaml", filepath.Dir(wasm), wasmpod.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if _, err := c.Apply(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
}

func podLogs(t *testing.T, c *wasmpod.Cluster, name, ctr string) string {
	t.Helper()
	var b bytes.Buffer
	if err := c.Logs(context.Background(), "default", name, &corev1.PodLogOptions{Container: ctr}, &b); err != nil {
		t.Fatalf("logs %s/%s: %v", name, ctr, err)
	}
	return b.String()
}

// TestSubPathEscapeThroughTheCluster is issue 8's escape as reported, on
// the cluster `wasmpod run` assembles (memory store) and on the one `serve`
// does (bbolt under a data dir): an init container plants a symlink that
// escapes only once renamed to the emptyDir's top; the app container
// mounts it with subPath and tries to read a secret and write outside.
// A pod with a name of 253 characters runs there too and its logs read.
func TestSubPathEscapeThroughTheCluster(t *testing.T) {
	wasm := hostileWasm(t)
	for _, store := range []string{wasmpod.StoreMemory, wasmpod.StoreBbolt} {
		t.Run(string(store), func(t *testing.T) {
			dir := t.TempDir()
			secret := filepath.Join(dir, "secret")
			outside := filepath.Join(dir, "outside")
			if err := os.WriteFile(secret, []byte("TOPSECRET\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(outside, 0o755); err != nil {
				t.Fatal(err)
			}
			cfg := wasmpod.Config{CacheDir: t.TempDir(), Store: store}
			if store == wasmpod.StoreBbolt {
				cfg.DataDir = t.TempDir()
			}
			ctx := context.Background()
			c, err := wasmpod.New(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			long := strings.Repeat("l", 200) + "." + strings.Repeat("m", 52)
			applyYAML(t, c, wasm, `apiVersion: v1
kind: Pod
metadata: {name: escape}
spec:
  restartPolicy: Never
  volumes: [{name: data, emptyDir: {}}]
  initContainers:
  - name: plant
    image: WASM
    args: [plant, /data, esc, "30", "30"]
    volumeMounts: [{name: data, mountPath: /data}]
  containers:
  - name: app
    image: WASM
    args: [do, cat, /x`+secret+`, --, write, /x`+outside+`/pwned, owned]
    volumeMounts: [{name: data, mountPath: /x, subPath: esc}]
---
apiVersion: v1
kind: Pod
metadata: {name: `+long+`}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: WASM
    args: [write, /tmp/x, "y"]
`)
			wctx, cancel := context.WithTimeout(ctx, 2*time.Minute) // a hang guard
			defer cancel()
			done := func(p *corev1.Pod) bool {
				return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
			}
			p, err := c.WaitPod(wctx, "default", "escape", done)
			if err != nil {
				t.Fatal(err)
			}
			if out := podLogs(t, c, "escape", "app"); strings.Contains(out, "TOPSECRET") || p.Status.Phase != corev1.PodSucceeded {
				t.Errorf("app: phase %s, logs %q", p.Status.Phase, out)
			}
			if out := podLogs(t, c, "escape", "plant"); !strings.Contains(out, "rename: errno EPERM") {
				t.Errorf("plant logs %q, want the rename refused", out)
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Errorf("a guest wrote outside: %v", ents)
			}
			p, err = c.WaitPod(wctx, "default", long, done)
			if err != nil {
				t.Fatal(err)
			}
			// The guest writes in its writable "/" (the layer under the
			// long-named pod's directory).
			if out := podLogs(t, c, long, "c"); p.Status.Phase != corev1.PodSucceeded || out != "write: ok\n" {
				t.Errorf("long-named pod: phase %s, logs %q", p.Status.Phase, out)
			}
		})
	}
}
