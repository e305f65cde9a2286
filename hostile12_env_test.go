package wasmpod_test

// The environment of the issue-12 attack tests (hostile12_*_test.go): a
// cluster served over HTTP with real kubectl, whose module store holds the
// hostile guest wasm-examples/hostile12/h12 as wasmpod.local/h12:v1 and
// the toolbox (the busybox alias and exec's applets).

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

func newH12Env(t *testing.T) *streamEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store := moduleStore(t, map[string][]byte{"toolbox:latest": exampleModule(t, "toolbox"), "h12:v1": exampleModule(t, "hostile12/h12")})
	c, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: testwasm.CacheDir(), Modules: store,
		// Not the default 10%: the shared test machine's disk is nearly full.
		EvictionHard: map[string]string{"nodefs.available": "1%"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: w\n  cluster:\n    server: "+srv.URL+
		"\ncontexts:\n- name: w\n  context:\n    cluster: w\n    user: me\n    namespace: default\ncurrent-context: w\nusers:\n- name: me\n  user: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &streamEnv{c: c, dir: dir, kc: kc, guestImage: "wasmpod.local/h12:v1"}
}

// startH12Pod creates pod and waits (3 min: a cold compile on a loaded
// 2-core machine) for it to run.
func startH12Pod(t *testing.T, e *streamEnv, pod *corev1.Pod) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.c.Client().CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if _, err := e.c.WaitPod(wctx, "default", pod.Name, wasmpod.PodRunning); err != nil {
		out, _, _ := e.run(t, "", "describe", "pod", pod.Name)
		t.Fatalf("pod %s: %v\n%s", pod.Name, err, out)
	}
}
