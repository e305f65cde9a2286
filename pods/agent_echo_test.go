package pods

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime/wazero"
	"github.com/wasmpod/wasmpod/store/memory"
)

// TestAgentIgnoresItsOwnEcho: the informer's copy of the agent's own
// status write, arriving after the worker moved on (a short task's
// Running seen once it has Succeeded), is not somebody else's change: the
// agent used to write its status again for it, an UpdateStatus that
// changed nothing. With nobody else writing the pods, every status write
// must change the pod. Real API server (memory store, in-process
// client-go), real wazero, the real clock.
func TestAgentIgnoresItsOwnEcho(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := apiserver.New(ctx, memory.New(), apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inner := s.Handler(apiserver.HandlerOptions{})
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
	a := NewAgent(AgentConfig{Client: cs, NodeName: "node-1", PodCIDR: "10.244.1.0/24",
		Pods: &Config{Engine: eng, Images: testImages, RootDir: t.TempDir()}})
	stopped := make(chan error, 1)
	go func() { stopped <- a.Run(ctx) }()
	defer func() { cancel(); <-stopped }()

	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	const n = 10
	for i := range n {
		pod := loadPod(t, "hello")
		pod.Name, pod.UID = fmt.Sprintf("hello-%d", i), ""
		pod.Spec.NodeName = "node-1"
		pod.Spec.RestartPolicy = corev1.RestartPolicyNever
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	modified, succeeded := 0, map[string]bool{}
	deadline := time.After(waitLimit)
	var settle <-chan time.Time
	for settle == nil || len(succeeded) < n {
		select {
		case ev := <-w.ResultChan():
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || ev.Type != watch.Modified {
				continue
			}
			modified++
			if p.Status.Phase == corev1.PodSucceeded {
				succeeded[p.Name] = true
			}
			if len(succeeded) == n && settle == nil {
				settle = time.After(time.Second) // late writes, if any
			}
		case <-deadline:
			t.Fatalf("%d of %d pods succeeded", len(succeeded), n)
		}
	}
	<-settle
	for drained := false; !drained; {
		select {
		case ev := <-w.ResultChan():
			if ev.Type == watch.Modified {
				modified++
			}
		default:
			drained = true
		}
	}
	if got := int(statusWrites.Load()); got != modified {
		t.Errorf("%d status writes for %d changes of the pods: the agent wrote statuses that changed nothing", got, modified)
	}
}
