package wasmpod_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	wruntime "github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/wasi"
	"github.com/wasmpod/wasmpod/runtime/wasi/wasisock"
	"github.com/wasmpod/wasmpod/runtime/wazero"
)

// vmRSS is this process's resident set (VmRSS of /proc/self/status).
func vmRSS(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Skip("no VmRSS")
	return 0
}

// TestHostileMemoryBounded: pods without limits.memory that allocate
// forever are bounded by their node's memory (they end OOMKilled or
// Evicted), the host's RSS stays within the node's memory plus a margin,
// and the API answers throughout. Before the node memory budget, each such
// guest grew to the wasm32 maximum (4 GiB, and 2-4x that in host memory
// with the copying allocator): the test stops as soon as RSS passes its
// bound.
func TestHostileMemoryBounded(t *testing.T) {
	ctx := context.Background()
	wasm := filepath.Join(t.TempDir(), "hostile.wasm")
	if err := os.WriteFile(wasm, testwasm.Build(t, testwasm.GuestDir(t, "hostile")), 0o644); err != nil {
		t.Fatal(err)
	}
	const nodeMemory = 256 << 20
	c, err := wasmpod.New(ctx, wasmpod.Config{
		CacheDir:     t.TempDir(),
		NodeCapacity: corev1.ResourceList{corev1.ResourceMemory: *resource.NewQuantity(nodeMemory, resource.BinarySI)},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	base := vmRSS(t)
	bound := base + nodeMemory + 128<<20
	for i := 0; i < 2; i++ {
		ps, err := wasmpod.LoadBytes([]byte(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: hog-%d}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: hog
    image: %s
    args: ["memhog"]
`, i, wasm)), "hog.yaml", filepath.Dir(wasm), wasmpod.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Apply(ctx, ps[0]); err != nil {
			t.Fatal(err)
		}
	}
	var peak int64
	deadline := time.Now().Add(3 * time.Minute)
	for done := 0; done < 2; {
		if rss := vmRSS(t); rss > peak {
			peak = rss
			if rss > bound {
				t.Fatalf("host RSS %d MiB, over the node's %d MiB plus margin (baseline %d MiB)", rss>>20, nodeMemory>>20, base>>20)
			}
		}
		// A hang guard, not a speed assertion.
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		done = 0
		for i := 0; i < 2; i++ {
			obj, err := c.Get(qctx, "pods", "default", fmt.Sprintf("hog-%d", i))
			if err != nil {
				cancel()
				t.Fatalf("the API did not answer: %v", err)
			}
			p := obj.(*corev1.Pod)
			if p.Status.Phase == corev1.PodFailed {
				done++
				st := p.Status.ContainerStatuses
				oom := len(st) == 1 && st[0].State.Terminated != nil && st[0].State.Terminated.Reason == "OOMKilled"
				if !oom && p.Status.Reason != "Evicted" {
					t.Errorf("hog-%d failed, but not OOMKilled or Evicted: %s %+v", i, p.Status.Reason, st)
				}
			}
		}
		cancel()
		if time.Now().After(deadline) {
			t.Fatal("the hogs did not end")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("host RSS peaked %d MiB over the baseline (node memory %d MiB)", (peak-base)>>20, nodeMemory>>20)
}

// TestHostileFDHoardingBounded: pods whose guest opens files until it
// fails cannot take the process's file descriptors. Under a small
// RLIMIT_NOFILE, with the guests' host fd budget derived from it, the
// hoarders get EMFILE while the API, served over HTTP on loopback by the
// same process, still accepts connections. Without the budget, the
// hoarders (1024 fds each) used up the limit and the server stopped
// accepting.
func TestHostileFDHoardingBounded(t *testing.T) {
	ctx := context.Background()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skip(err)
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	low := uint64(len(ents) + 900)
	if low > lim.Max {
		t.Skipf("hard RLIMIT_NOFILE %d too low", lim.Max)
	}
	wasm := filepath.Join(t.TempDir(), "hostile.wasm")
	if err := os.WriteFile(wasm, testwasm.Build(t, testwasm.GuestDir(t, "hostile")), 0o644); err != nil {
		t.Fatal(err)
	}
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

	lowered := lim
	lowered.Cur = low
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered); err != nil {
		t.Skip(err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)

	const pods = 8
	for i := 0; i < pods; i++ {
		ps, err := wasmpod.LoadBytes([]byte(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: hoard-%d}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  volumes: [{name: data, emptyDir: {}}]
  containers:
  - name: hoard
    image: %s
    args: ["fdhoard", "/data", "0"]
    volumeMounts: [{name: data, mountPath: /data}]
`, i, wasm)), "hoard.yaml", filepath.Dir(wasm), wasmpod.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Apply(ctx, ps[0]); err != nil {
			t.Fatal(err)
		}
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
