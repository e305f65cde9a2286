package wasmpod_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/pods"
)

// containerCPU is the cluster's account of one container.
func containerCPU(c *wasmpod.Cluster, pod, container string) (pods.ContainerCPU, bool) {
	for _, n := range c.CPUStats() {
		for _, cc := range n.Containers {
			if cc.Pod == pod && cc.Container == container {
				return cc, true
			}
		}
	}
	return pods.ContainerCPU{}, false
}

// TestCPURequestsShareANode: two spinning pods (wasm-examples/spin)
// requesting 50m and 100m on a node whose allocatable cpu is 150m share
// it about 1:2 and together stay within it, through the real API server
// and node agent (client-go); the node reports the contention and its
// usage; a pod that is being throttled is gone within a second of its
// deletion with a zero grace period.
func TestCPURequestsShareANode(t *testing.T) {
	if testing.Short() {
		t.Skip("measures for seconds")
	}
	ctx := context.Background()
	store := moduleStore(t, map[string][]byte{"spin:v1": exampleModule(t, "spin")})
	// 150m, not a core: on a loaded machine (CI's two cores, shared) two
	// spinning guests may get much less than a core between them, and
	// the shares would then be the OS's, not the node's.
	c, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: testwasm.CacheDir(), Modules: store,
		EvictionHard: map[string]string{"nodefs.available": "1Mi"},
		NodeCapacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("150m")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cs := c.Client()
	spin := func(name, request string) {
		zero := int64(0)
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &zero,
			Containers: []corev1.Container{{Name: "spin", Image: "wasmpod.local/spin:v1",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(request)}}}},
		}}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	spin("small", "50m")
	spin("large", "100m")
	for _, name := range []string{"small", "large"} {
		waitFor(t, name+" Running", 90*time.Second, func() bool {
			p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			return err == nil && p.Status.Phase == corev1.PodRunning
		})
	}
	time.Sleep(500 * time.Millisecond) // a few periods: the shares settle
	s0, _ := containerCPU(c, "small", "spin")
	l0, _ := containerCPU(c, "large", "spin")
	start := time.Now()
	time.Sleep(2 * time.Second)
	s1, ok1 := containerCPU(c, "small", "spin")
	l1, ok2 := containerCPU(c, "large", "spin")
	if !ok1 || !ok2 {
		t.Fatalf("the node has no CPU account of the pods: %+v", c.CPUStats())
	}
	wall := float64(time.Since(start))
	small, large := float64(s1.Usage-s0.Usage)/wall, float64(l1.Usage-l0.Usage)/wall
	node := c.CPUStats()[0]
	t.Logf("requests 50m: %.3f, 100m: %.3f of a core (ratio %.2f) on a node of %dm; contended %v; node usage %v",
		small, large, large/small, node.CapacityMilli, node.Contended, node.Usage)
	if r := large / small; r < 1.5 || r > 2.6 {
		t.Errorf("shares %.3f and %.3f: ratio %.2f, want about 2", small, large, r)
	}
	if sum := small + large; sum > 0.25 || sum < 0.08 {
		t.Errorf("together %.3f of a core on a node of 150m", sum)
	}
	if node.CapacityMilli != 150 || !node.Contended || node.Usage < l1.Usage+s1.Usage {
		t.Errorf("node account %+v", node)
	}

	began := time.Now()
	if err := cs.CoreV1().Pods("default").Delete(ctx, "small", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "small gone", 30*time.Second, func() bool {
		_, err := cs.CoreV1().Pods("default").Get(ctx, "small", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	took := time.Since(began)
	t.Logf("throttled pod deleted with grace 0: gone after %v", took)
	if took > time.Second {
		t.Errorf("a throttled pod took %v to go, want < 1 s", took)
	}
}
