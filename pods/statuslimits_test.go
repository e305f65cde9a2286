package pods

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime/wazero"
	"github.com/wasmpod/wasmpod/store/memory"
)

// TestAgentStatusRefusedForGood: a pod whose status writes the API server
// refuses as too large (413) used to be retried every second forever. The
// agent now tries once without messages, then records FailedStatusUpdate
// and stops retrying that status; the pod's deletion still finishes.
// Real API server (memory store, in-process client-go), real wazero, a
// fake clock.
func TestAgentStatusRefusedForGood(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := apiserver.New(ctx, memory.New(), apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const limit = 32 << 10
	inner := s.Handler(apiserver.HandlerOptions{MaxBodyBytes: limit})
	var statusWrites atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/status") && strings.Contains(r.URL.Path, "/pods/") {
			statusWrites.Add(1)
		}
		inner.ServeHTTP(w, r)
	})
	cs, err := kubernetes.NewForConfig(s.InProcessConfig(h))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := wazero.New(ctx, wazero.Config{CacheDir: testwasm.CompileCacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	clk := clocktesting.NewFakeClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	a := NewAgent(AgentConfig{
		Client: cs, NodeName: "node-1", Clock: clk,
		Pods: &Config{Engine: eng, Images: testImages, RootDir: t.TempDir()},
	})
	stopped := make(chan error, 1)
	go func() { stopped <- a.Run(ctx) }()
	defer func() { cancel(); <-stopped }()

	// The Go API has no body limit: the pod is stored, but every status
	// write (the whole pod) is over the HTTP limit.
	pod := loadPod(t, "hello")
	pod.UID = ""
	pod.Annotations["big"] = strings.Repeat("x", limit)
	pod.Spec.NodeName = "node-1"
	podsRes, _ := s.Resource("", "pods")
	created, err := s.Create(ctx, podsRes, "default", pod)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitLimit)
	for !hasEvent(t, cs, "hello", "FailedStatusUpdate") {
		if time.Now().After(deadline) {
			t.Fatalf("no FailedStatusUpdate event; %d status writes", statusWrites.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// No retry loop: once the pod is terminal its status stops changing;
	// after the writes of its last status (once whole, once without
	// messages) have settled, time passes and no more writes come.
	var w *Worker
	for w == nil {
		if w, _ = a.worker(created.(*corev1.Pod)); w == nil && time.Now().After(deadline) {
			t.Fatal("the agent has no worker for the pod")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-w.Done():
	case <-time.After(time.Until(deadline)):
		t.Fatal("the pod's worker did not finish")
	}
	n := statusWrites.Load()
	for settled := time.Now(); time.Since(settled) < 500*time.Millisecond; time.Sleep(20 * time.Millisecond) {
		if m := statusWrites.Load(); m != n {
			n, settled = m, time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatal("status writes did not settle")
		}
	}
	for i := 0; i < 10; i++ {
		clk.Step(2 * time.Second)
		time.Sleep(20 * time.Millisecond)
	}
	if m := statusWrites.Load(); m != n {
		t.Fatalf("the refused status was retried: %d writes, then %d after 20 s", n, m)
	}
	// Deletion finishes although no status ever reached the API.
	if _, err := s.Delete(ctx, podsRes, "default", "hello", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := s.Get(ctx, podsRes, "default", "hello")
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pod's deletion did not finish: %v", err)
		}
		clk.Step(time.Second)
		time.Sleep(20 * time.Millisecond)
	}
}

func hasEvent(t *testing.T, cs kubernetes.Interface, pod, reason string) bool {
	t.Helper()
	list, err := cs.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list.Items {
		if e.InvolvedObject.Name == pod && e.Reason == reason && e.Type == corev1.EventTypeWarning {
			return true
		}
	}
	return false
}

// TestTruncateStatusMessages: messages are cut as the kubelet cuts
// termination messages, 12 KiB shared by the containers, at a character
// boundary.
func TestTruncateStatusMessages(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "i"}},
		Containers:     []corev1.Container{{Name: "a"}, {Name: "b"}},
	}}
	long := strings.Repeat("é", 10<<10) // 20 KiB
	st := &corev1.PodStatus{
		Message:               long,
		Conditions:            []corev1.PodCondition{{Type: corev1.PodReady, Message: long}},
		InitContainerStatuses: []corev1.ContainerStatus{{Name: "i", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Message: long}}}},
		ContainerStatuses: []corev1.ContainerStatus{
			{Name: "a", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Message: long}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Message: long}}},
			{Name: "b", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Message: "short"}}},
		},
	}
	truncateStatusMessages(pod, st)
	per := (12 << 10) / 3
	for what, m := range map[string]string{
		"init terminated": st.InitContainerStatuses[0].State.Terminated.Message,
		"a waiting":       st.ContainerStatuses[0].State.Waiting.Message,
		"a last":          st.ContainerStatuses[0].LastTerminationState.Terminated.Message,
	} {
		if len(m) > per || len(m) < per-1 || !strings.HasPrefix(long, m) {
			t.Errorf("%s: %d bytes, want %d (a prefix of the message, whole characters)", what, len(m), per)
		}
	}
	if st.ContainerStatuses[1].State.Terminated.Message != "short" {
		t.Errorf("a short message changed")
	}
	if len(st.Message) > 4<<10 || len(st.Conditions[0].Message) > 4<<10 {
		t.Errorf("pod message %d bytes, condition %d", len(st.Message), len(st.Conditions[0].Message))
	}
}
