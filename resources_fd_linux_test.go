package wasmpod_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/proctest"
	wruntime "github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/wasi"
	"github.com/wasmpod/wasmpod/runtime/wasi/wasisock"
	"github.com/wasmpod/wasmpod/runtime/wazero"
)

// TestHostileFDHoardingBounded: pods whose guest opens files until it
// fails cannot take the process's file descriptors. Under a small
// RLIMIT_NOFILE, with the guests' host fd budget derived from it, the
// hoarders get EMFILE while the API, served over HTTP on loopback by the
// same process, still accepts connections. Without the budget, the
// hoarders (1024 fds each) used up the limit and the server stopped
// accepting.
func TestHostileFDHoardingBounded(t *testing.T) {
	ctx := context.Background()
	low := proctest.FDLimitAbove(t, 900)
	wasm := hostileWasm(t)
	budget := wruntime.NewBudget("guest fds", wasi.FDBudgetSize(low))
	eng, err := wazero.New(ctx, wazero.Config{CacheDir: filepath.Join(t.TempDir(), "compiled"), Extensions: wasisock.Functions(), HostFDs: budget})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(ctx)
	c, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: t.TempDir(), Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()

	defer proctest.LowerFDLimit(t, low)()

	const pods = 8
	for i := 0; i < pods; i++ {
		applyYAML(t, c, wasm, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: hoard-%d}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  volumes: [{name: data, emptyDir: {}}]
  containers:
  - name: hoard
    image: WASM
    args: ["fdhoard", "/data", "0"]
    volumeMounts: [{name: data, mountPath: /data}]
`, i))
	}
	// Every hoarder has opened what it could (or failed to start: a
	// container error, not the host's).
	emfile := 0
	deadline := time.Now().Add(2 * time.Minute)
	for i := 0; i < pods; i++ {
		name := fmt.Sprintf("hoard-%d", i)
		for {
			var b bytes.Buffer
			_ = c.Logs(ctx, "default", name, &corev1.PodLogOptions{}, &b)
			if strings.Contains(b.String(), "fdhoard: errno") {
				if strings.Contains(b.String(), "fdhoard: errno EMFILE") {
					emfile++
				}
				break
			}
			obj, err := c.Get(ctx, "pods", "default", name)
			if err != nil {
				t.Fatal(err)
			}
			if p := obj.(*corev1.Pod); p.Status.Phase == corev1.PodFailed ||
				(len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
					p.Status.ContainerStatuses[0].State.Waiting.Reason == "CreateContainerError") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no result; log %q", name, b.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if emfile == 0 {
		t.Error("no hoarder got EMFILE")
	}
	if u := budget.Used(); u > budget.Limit() {
		t.Errorf("guests hold %d host fds, over the budget of %d", u, budget.Limit())
	}
	// The API still accepts: 100 connections held at once, each a request.
	var held []io.Closer
	defer func() {
		for _, b := range held {
			b.Close()
		}
	}()
	for i := 0; i < 100; i++ {
		cl := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
		resp, err := cl.Get(srv.URL + "/api/v1/namespaces/default/pods")
		if err != nil {
			t.Fatalf("connection %d to the API while pods hoard fds: %v", i, err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("connection %d: %s", i, resp.Status)
		}
		_, _ = io.ReadAll(resp.Body)
		held = append(held, resp.Body)
	}
}
