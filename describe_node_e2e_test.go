package wasmpod_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/cli"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// TestDescribeNodeMatchesKubectl: `wasmpod describe node` prints what the
// real kubectl prints, byte for byte, for a node of a running agent (its
// labels, annotations, lease, conditions, capacity, system info, pod CIDR
// and events) with pods whose requests and limits kubectl sums as upstream
// does (an init container's larger request, ephemeral storage, a
// BestEffort pod; a completed pod left out). Usage is not part of it,
// upstream neither.
func TestDescribeNodeMatchesKubectl(t *testing.T) {
	ctx := context.Background()
	store := moduleStore(t, map[string][]byte{"graceful:v1": exampleModule(t, "graceful"), "hello:v1": exampleModule(t, "hello")})
	c, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: testwasm.CacheDir(), Modules: store,
		EvictionHard: map[string]string{"nodefs.available": "1Mi"},
		NodeCapacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	kubectl, url := serveKubectl(t, c)
	cs := c.Client()
	rl := func(kv ...string) corev1.ResourceList {
		l := corev1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		return l
	}
	zero := int64(0)
	mk := func(name, image string, init []corev1.Container, res corev1.ResourceRequirements, never bool) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &zero, InitContainers: init,
			Containers: []corev1.Container{{Name: "main", Image: image, Resources: res}}}}
		if never {
			p.Spec.RestartPolicy = corev1.RestartPolicyNever
		}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk("sized", "wasmpod.local/graceful:v1", []corev1.Container{{Name: "init", Image: "wasmpod.local/hello:v1",
		Resources: corev1.ResourceRequirements{Requests: rl("cpu", "500m", "memory", "16Mi")}}},
		corev1.ResourceRequirements{Requests: rl("cpu", "100m", "memory", "32Mi", "ephemeral-storage", "1Gi"), Limits: rl("cpu", "250m", "memory", "64Mi")}, false)
	mk("besteffort", "wasmpod.local/graceful:v1", nil, corev1.ResourceRequirements{}, false)
	mk("done", "wasmpod.local/hello:v1", nil, corev1.ResourceRequirements{Requests: rl("cpu", "1")}, true)
	waitFor(t, "pods Running and done Succeeded", 90*time.Second, func() bool {
		want := map[string]corev1.PodPhase{"sized": corev1.PodRunning, "besteffort": corev1.PodRunning, "done": corev1.PodSucceeded}
		for n, ph := range want {
			p, err := cs.CoreV1().Pods("default").Get(ctx, n, metav1.GetOptions{})
			if err != nil || p.Status.Phase != ph {
				return false
			}
		}
		return true
	})
	// Events about the node, by its UID and (as the kubelet records them)
	// by its name as UID: describe shows both.
	node, err := cs.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, uid := range []types.UID{node.UID, "node-1"} {
		at := metav1.NewTime(time.Now().Add(time.Duration(i-5) * time.Minute))
		if _, err := cs.CoreV1().Events("default").Create(ctx, &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-1.%d", i)},
			InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: "node-1", UID: uid}, Type: corev1.EventTypeNormal,
			Reason: []string{"RegisteredNode", "NodeHasSufficientMemory"}[i], Message: fmt.Sprintf("event %d about node-1", i),
			Source:         corev1.EventSource{Component: []string{"node-controller", "kubelet"}[i], Host: []string{"", "node-1"}[i]},
			FirstTimestamp: at, LastTimestamp: at, Count: int32(1 + 2*i)}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var kout, wout string
	for try := 0; try < 5; try++ {
		var code int
		kout, code = kubectl("describe", "node", "node-1")
		if code != 0 {
			t.Fatalf("kubectl describe node: exit %d\n%s", code, kout)
		}
		var wb, werr bytes.Buffer
		if code := cli.Main([]string{"wasmpod", "describe", "--server", url, "node", "node-1"}, &wb, &werr); code != 0 {
			t.Fatalf("wasmpod describe node: exit %d\n%s%s", code, wb.String(), werr.String())
		}
		wout = wb.String()
		if kout == wout {
			t.Logf("same output:\n%s", wout)
			return
		}
		time.Sleep(300 * time.Millisecond) // a clock tick (an age, a lease renewal) between the two
	}
	t.Errorf("wasmpod describe node differs from kubectl's:\nkubectl:\n%s\nwasmpod:\n%s", kout, wout)
}
