package wasmpod_test

// RuntimeClasses on the node agents (pods/runtimeclass.go): nodes report
// their runtime handlers, a pod's runtimeClassName picks the engine by the
// class's handler, and a handler the node does not have fails the pod's
// sandbox as upstream's kubelet does (FailedCreatePodSandBox, the pod
// Pending with its containers in ContainerCreating, retried).

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime/wasmtime"
)

// runtimeClassCluster is a cluster whose module store holds hello:v1 and
// spin:v1, with RuntimeClasses named after each handler in classes.
func runtimeClassCluster(t *testing.T, classes map[string]string) (*wasmpod.Cluster, kubernetes.Interface) {
	t.Helper()
	store := moduleStore(t, map[string][]byte{"hello:v1": exampleModule(t, "hello"), "spin:v1": exampleModule(t, "spin")})
	c, err := wasmpod.New(context.Background(), wasmpod.Config{CacheDir: testwasm.CacheDir(), Modules: store,
		EvictionHard: map[string]string{"nodefs.available": "1Mi"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cs := c.Client()
	for name, handler := range classes {
		if _, err := cs.NodeV1().RuntimeClasses().Create(context.Background(),
			&nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Handler: handler}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return c, cs
}

func classPod(name, image, class string, args ...string) *corev1.Pod {
	grace := int64(1)
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{Name: "main", Image: image, Args: args}}}}
	if class != "" {
		p.Spec.RuntimeClassName = &class
	}
	return p
}

func TestRuntimeClassNodeHandlers(t *testing.T) {
	t.Parallel()
	_, cs := runtimeClassCluster(t, map[string]string{"default-engine": "wazero", "nowhere": "nosuch", "wasmtime": "wasmtime"})
	ctx := context.Background()
	node, err := cs.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v := node.Status.NodeInfo.ContainerRuntimeVersion; v != "wazero://v1.12.0" {
		t.Errorf("containerRuntimeVersion %q, want wazero://v1.12.0", v)
	}
	var handlers []string
	for _, h := range node.Status.RuntimeHandlers {
		handlers = append(handlers, h.Name)
		if h.Features == nil || h.Features.UserNamespaces == nil || *h.Features.UserNamespaces {
			t.Errorf("handler %q features %+v, want userNamespaces false", h.Name, h.Features)
		}
	}
	want := "wazero"
	if wasmtime.Built {
		want = "wazero,wasmtime"
	}
	if strings.Join(handlers, ",") != want {
		t.Errorf("runtimeHandlers %v, want %s", handlers, want)
	}

	// A class of the default handler runs the pod on wazero.
	if _, err := cs.CoreV1().Pods("default").Create(ctx, classPod("on-wazero", "wasmpod.local/hello:v1", "default-engine"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A handler no node has: the sandbox fails, retried.
	if _, err := cs.CoreV1().Pods("default").Create(ctx, classPod("nowhere", "wasmpod.local/hello:v1", "nowhere"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "on-wazero to succeed", 60*time.Second, func() bool { return getPod(t, cs, "on-wazero").Status.Phase == corev1.PodSucceeded })
	if id := getPod(t, cs, "on-wazero").Status.ContainerStatuses[0].ContainerID; !strings.HasPrefix(id, "wazero://") {
		t.Errorf("containerID %q, want wazero://…", id)
	}
	wantEvent := `Warning FailedCreatePodSandBox: Failed to create pod sandbox: RuntimeHandler "nosuch" not supported (node node-1 has ` + strings.ReplaceAll(want, ",", ", ") + ")"
	waitFor(t, "the FailedCreatePodSandBox event", 30*time.Second, func() bool { return strings.Contains(podEvents(t, cs, "nowhere"), wantEvent) })
	p := getPod(t, cs, "nowhere")
	if p.Status.Phase != corev1.PodPending || len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].State.Waiting == nil ||
		p.Status.ContainerStatuses[0].State.Waiting.Reason != "ContainerCreating" {
		t.Errorf("pod of an unknown handler: phase %s statuses %+v, want Pending, ContainerCreating", p.Status.Phase, p.Status.ContainerStatuses)
	}
	if wasmtime.Built {
		return
	}
	// This build has no wasmtime: a class of that handler fails the same way.
	if _, err := cs.CoreV1().Pods("default").Create(ctx, classPod("no-wasmtime", "wasmpod.local/hello:v1", "wasmtime"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the FailedCreatePodSandBox event", 30*time.Second, func() bool {
		return strings.Contains(podEvents(t, cs, "no-wasmtime"), `Failed to create pod sandbox: RuntimeHandler "wasmtime" not supported (node node-1 has wazero)`)
	})
}
