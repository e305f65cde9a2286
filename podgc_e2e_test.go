package wasmpod_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// The pod GC in the control plane (upstream's gcOrphaned, as the e2e
// node-deletion behaviour of test/e2e/node and the podgc integration
// tests): a node deleted with the real kubectl leaves its bound pod
// behind until the 40 s quarantine on the cluster's (fake) clock passes;
// then the pod is marked Failed with DisruptionTarget/DeletionByPodGC and
// force-deleted, so kubectl get reports it NotFound. Without the pod GC
// the pod stays for ever.
func TestPodGCNodeDeletedThroughKubectl(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	clk := clocktesting.NewFakeClock(time.Now())
	c, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: testwasm.CacheDir(), Clock: clk,
		EvictionHard: map[string]string{"nodefs.available": "1Mi"}})
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
	e := &streamEnv{c: c, dir: dir, kc: kc}
	cs := c.Client()
	// A node without an agent (as one whose machine is gone) and a pod
	// bound to it.
	if _, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "lost"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "stranded"},
		Spec: corev1.PodSpec{NodeName: "lost", Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sleep", "3600"}}}}}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=stranded"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if out := e.must(t, "delete", "node", "lost"); out != "node \"lost\" deleted\n" {
		t.Fatalf("kubectl delete node: %q", out)
	}
	// Inside the quarantine the pod stays.
	time.Sleep(200 * time.Millisecond)
	clk.Step(20 * time.Second)
	time.Sleep(300 * time.Millisecond)
	if out := e.must(t, "get", "pod", "stranded", "-o", "jsonpath={.status.phase}"); out != "Pending" {
		t.Fatalf("inside the quarantine: phase %q", out)
	}
	// After it, the live GET confirms the node is gone.
	stepper := time.NewTicker(100 * time.Millisecond)
	defer stepper.Stop()
	timeout := time.After(15 * time.Second)
	var marked bool
	for deleted := false; !deleted; {
		select {
		case ev := <-w.ResultChan():
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			if ev.Type == watch.Deleted {
				deleted = true
				break
			}
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.DisruptionTarget && cond.Status == corev1.ConditionTrue && cond.Reason == "DeletionByPodGC" &&
					cond.Message == "PodGC: node no longer exists" && p.Status.Phase == corev1.PodFailed {
					marked = true
				}
			}
		case <-stepper.C:
			clk.Step(20 * time.Second)
		case <-timeout:
			t.Fatal("the pod on the deleted node is still there")
		}
	}
	if !marked {
		t.Error("the pod was not marked Failed with DisruptionTarget/DeletionByPodGC before its deletion")
	}
	out, errOut, code := e.run(t, "", "get", "pod", "stranded")
	if code != 1 || out != "" || errOut != "Error from server (NotFound): pods \"stranded\" not found\n" {
		t.Errorf("kubectl get pod stranded: exit %d %q %q", code, out, errOut)
	}
}
