package wasmpod

// BenchmarkControllersAtRest (issue 13): the CPU a cluster of 10 nodes
// burns at rest with 100 Deployments of 10 pods each (1,000 sleeping C
// guests, all Running), against the same cluster with no workloads,
// measured in the same run (process CPU from getrusage over a quiet 30 s
// window, in % of one core):
//
//   - rest-cpu-%: with the 1,000 pods, from a few seconds after the last
//     became Running and every Deployment reported them available;
//   - idle-cpu-%: the empty cluster;
//   - workload-cpu-%: rest - idle, what the workloads cost at rest
//     (controllers, scheduler, node agents and guests together; target
//     < 1% of a core);
//   - x-idle: rest / idle.
//
//	go test -run '^$' -bench ControllersAtRest -benchtime 1x -timeout 30m .
//
// $WASMPOD_REST_BENCH_DEPLOYMENTS sizes it (10 pods each); with
// $WASMPOD_REST_PROFILE=FILE the window with workloads is CPU-profiled
// into FILE.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/wasmpod/wasmpod/images"
)

func BenchmarkControllersAtRest(b *testing.B) {
	deployments, replicas := 100, int32(10)
	if v, err := strconv.Atoi(os.Getenv("WASMPOD_REST_BENCH_DEPLOYMENTS")); err == nil && v > 0 {
		deployments = v
	}
	const window = 30 * time.Second // the collector's rediscovery, three lease renewals
	ctx := context.Background()
	dir := b.TempDir()
	wasm := sleeperWasm(b, dir) // replicaset_bench_test.go
	store := images.NewMemoryStore()
	digest, _, err := store.Put(ctx, "", bytes.NewReader(wasm))
	if err != nil {
		b.Fatal(err)
	}
	if err := store.Tag("sleeper", "v1", digest); err != nil {
		b.Fatal(err)
	}
	cluster := func(name string) *Cluster {
		c, err := New(ctx, Config{CacheDir: filepath.Join(dir, "cache-"+name), Modules: store, Nodes: 10})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	quiet := func() float64 {
		before, t0 := processCPU(b), time.Now() // net_bench_test.go
		time.Sleep(window)
		return float64(processCPU(b)-before) / float64(time.Since(t0)) * 100
	}

	var idle, rest float64
	for range b.N {
		c := cluster("idle")
		time.Sleep(3 * time.Second) // registration, first leases, the system namespaces' objects
		idle += quiet()
		c.Close()

		c = cluster("rest")
		cs := c.Client()
		w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: "bench=rest"})
		if err != nil {
			b.Fatal(err)
		}
		grace := int64(1)
		for i := range deployments {
			labels := map[string]string{"bench": "rest", "app": fmt.Sprintf("d%d", i)}
			d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("d%d", i), Namespace: "default"},
				Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
					Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
						Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &grace,
							Containers: []corev1.Container{{Name: "sleeper", Image: "wasmpod.local/sleeper:v1"}}}}}}
			if _, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		n := deployments * int(replicas)
		running := map[string]bool{}
		deadline := time.After(20 * time.Minute)
		for len(running) < n {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					b.Fatalf("watch closed at %d running", len(running))
				}
				if p, ok := ev.Object.(*corev1.Pod); ok {
					if ev.Type != watch.Deleted && p.Status.Phase == corev1.PodRunning {
						running[p.Name] = true
					} else {
						delete(running, p.Name)
					}
				}
			case <-deadline:
				b.Fatalf("%d of %d pods running after 20 min", len(running), n)
			}
		}
		w.Stop()
		for {
			list, err := cs.AppsV1().Deployments("default").List(ctx, metav1.ListOptions{})
			if err != nil {
				b.Fatal(err)
			}
			ready := 0
			for _, d := range list.Items {
				if d.Status.ObservedGeneration == d.Generation && d.Status.AvailableReplicas == replicas && d.Status.UpdatedReplicas == replicas {
					ready++
				}
			}
			if ready == deployments {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		time.Sleep(3 * time.Second) // the last status writes and events
		if path := os.Getenv("WASMPOD_REST_PROFILE"); path != "" {
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				b.Fatal(err)
			}
			rest += quiet()
			pprof.StopCPUProfile()
			f.Close()
		} else {
			rest += quiet()
		}
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "bench=rest"})
		if err != nil {
			b.Fatal(err)
		}
		still := 0
		for _, p := range list.Items {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				still++
			}
		}
		if still != n || len(list.Items) != n {
			b.Fatalf("after the window %d of %d pods (%d listed) running", still, n, len(list.Items))
		}
		c.Close()
	}
	idle /= float64(b.N)
	rest /= float64(b.N)
	b.ReportMetric(float64(deployments*int(replicas)), "pods")
	b.ReportMetric(rest, "rest-cpu-%")
	b.ReportMetric(idle, "idle-cpu-%")
	b.ReportMetric(rest-idle, "workload-cpu-%")
	b.ReportMetric(rest/idle, "x-idle")
}
