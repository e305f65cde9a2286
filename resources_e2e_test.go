package wasmpod_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/proctest"
)

// TestHostileMemoryBounded: pods without limits.memory that allocate
// forever are bounded by their node's memory (they end OOMKilled or
// Evicted), the host's RSS stays within the node's memory plus a margin,
// and the API answers throughout. Before the node memory budget, each such
// guest grew to the wasm32 maximum (4 GiB, and 2-4x that in host memory
// with the copying allocator): the test stops as soon as RSS passes its
// bound.
func TestHostileMemoryBounded(t *testing.T) {
	ctx := context.Background()
	wasm := hostileWasm(t)
	const nodeMemory = 256 << 20
	c, err := wasmpod.New(ctx, wasmpod.Config{
		CacheDir:     t.TempDir(),
		NodeCapacity: corev1.ResourceList{corev1.ResourceMemory: *resource.NewQuantity(nodeMemory, resource.BinarySI)},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	base := proctest.RSS(t)
	bound := base + nodeMemory + 128<<20
	for i := 0; i < 2; i++ {
		applyYAML(t, c, wasm, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: hog-%d}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: hog
    image: WASM
    args: ["memhog"]
`, i))
	}
	var peak int64
	deadline := time.Now().Add(3 * time.Minute)
	for done := 0; done < 2; {
		if rss := proctest.RSS(t); rss > peak {
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
