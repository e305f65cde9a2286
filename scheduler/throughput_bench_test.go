package scheduler_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/scheduler"
	"github.com/wasmpod/wasmpod/store"
	"github.com/wasmpod/wasmpod/store/bbolt"
	"github.com/wasmpod/wasmpod/store/memory"
)

// apiBinder binds through the in-process API server (the real Bind path:
// read the pod, check it, set spec.nodeName and PodScheduled, write it to
// the store) and counts completed bindings.
type apiBinder struct {
	s      *apiserver.Server
	want   int64
	bound  atomic.Int64
	failed atomic.Int64
	done   chan struct{}
	once   sync.Once
}

func (ab *apiBinder) Bind(ctx context.Context, pod *corev1.Pod, node string) error {
	err := ab.s.Bind(ctx, pod.Namespace, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	})
	if err != nil {
		ab.failed.Add(1)
		return err
	}
	if ab.bound.Add(1) == ab.want {
		ab.once.Do(func() { close(ab.done) })
	}
	return nil
}

func (ab *apiBinder) Unschedulable(ctx context.Context, pod *corev1.Pod, msg string) error {
	ab.failed.Add(1)
	return nil
}

func benchNode(i int) *corev1.Node {
	name := fmt.Sprintf("node-%05d", i)
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			"kubernetes.io/hostname": name, "kubernetes.io/os": "wasip1", "kubernetes.io/arch": "wasm32",
			"zone": fmt.Sprintf("z%d", i%4)}},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("32"),
				corev1.ResourceMemory: resource.MustParse("64Gi"),
				corev1.ResourcePods:   resource.MustParse("250"),
			},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
}

// lastMemoryPodsPerSec holds the memory figure per node count, so the bbolt
// sub-benchmark can report its ratio to memory measured in the same run.
var lastMemoryPodsPerSec = map[int]float64{}

// BenchmarkScheduler measures pods/s placed end to end by the Scheduler
// loop (queue → decision → assume → asynchronous Bind through the
// in-process API server, persisted in the store) against 1,000 and 5,000
// nodes, with the memory and the bbolt store. Pods are created through the
// API server before the timer starts; the timer covers feeding them to the
// scheduler (OnPodAdd) until every Bind has completed.
func BenchmarkScheduler(b *testing.B) {
	for _, numNodes := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("nodes=%d", numNodes), func(b *testing.B) {
			for _, backend := range []string{"memory", "bbolt"} {
				b.Run(backend, func(b *testing.B) { benchScheduler(b, numNodes, backend) })
			}
		})
	}
}

func benchScheduler(b *testing.B, numNodes int, backend string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var st store.Store
	switch backend {
	case "memory":
		st = memory.New()
	case "bbolt":
		bs, err := bbolt.Open(filepath.Join(b.TempDir(), "wasmpod.db"), bbolt.Options{})
		if err != nil {
			b.Fatal(err)
		}
		st = bs
	}
	defer st.Close()
	srv, err := apiserver.New(ctx, st, apiserver.Options{})
	if err != nil {
		b.Fatal(err)
	}
	podsRes, ok := srv.Resource("", "pods")
	if !ok {
		b.Fatal("no pods resource")
	}

	// Create b.N pending pods, concurrently so bbolt group-commits them.
	pods := make([]*corev1.Pod, b.N)
	var wg sync.WaitGroup
	var createErr atomic.Value
	const creators = 64
	for w := 0; w < creators; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < b.N; i += creators {
				p := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%06d", i), Namespace: "default"},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{
						Name: "app", Image: "hello.wasm",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}},
					}}},
				}
				obj, err := srv.Create(ctx, podsRes, "default", p)
				if err != nil {
					createErr.Store(err)
					return
				}
				pods[i] = obj.(*corev1.Pod)
			}
		}()
	}
	wg.Wait()
	if err, _ := createErr.Load().(error); err != nil {
		b.Fatal(err)
	}

	fw, err := scheduler.NewFramework(scheduler.Options{})
	if err != nil {
		b.Fatal(err)
	}
	binder := &apiBinder{s: srv, want: int64(b.N), done: make(chan struct{})}
	sched := scheduler.New(fw, binder, nil)
	var firstErr atomic.Value
	sched.OnError = func(_ *corev1.Pod, err error) { firstErr.CompareAndSwap(nil, err) }
	for i := 0; i < numNodes; i++ {
		sched.OnNodeAdd(benchNode(i))
	}

	b.ResetTimer()
	runDone := make(chan struct{})
	go func() { defer close(runDone); sched.Run(ctx) }()
	for _, p := range pods {
		sched.OnPodAdd(p)
	}
	<-binder.done
	b.StopTimer()
	cancel()
	<-runDone

	if f := binder.failed.Load(); f != 0 {
		b.Fatalf("%d bindings failed or unschedulable; first error: %v", f, firstErr.Load())
	}
	podsPerSec := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(podsPerSec, "pods/s")
	switch backend {
	case "memory":
		lastMemoryPodsPerSec[numNodes] = podsPerSec
	case "bbolt":
		if m := lastMemoryPodsPerSec[numNodes]; m > 0 {
			b.ReportMetric(podsPerSec/m, "x_memory")
		}
	}
}
