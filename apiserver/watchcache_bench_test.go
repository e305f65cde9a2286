//go:build unix

package apiserver

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BenchmarkWatchFanout: the process CPU of pod status writes watched by 15
// client-go JSON watchers (the scheduler, controllers and node agents of a
// 10-node cluster watch pods), from the first write until every watcher has
// every event, against the same with each watcher decoding and encoding for
// itself (x-unshared: the watch cache off, the store serving every watch
// and each watcher decoding and encoding its events), in the same run.
//
//	go test -run '^$' -bench WatchFanout ./apiserver/
func BenchmarkWatchFanout(b *testing.B) {
	const watchers, writes = 15, 300
	run := func(off bool) time.Duration {
		e := newEnv(b, HandlerOptions{})
		if off {
			e.s.cache = nil
		}
		ctx := context.Background()
		cs := e.client(b, "in-process")
		pod, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p",
			Labels: map[string]string{"app": "bench", "tier": "web"}, Annotations: map[string]string{"note": strings.Repeat("n", 512)}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x.wasm",
				Env: []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}}}}}}, metav1.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range watchers {
			opts := metav1.ListOptions{ResourceVersion: pod.ResourceVersion}
			want := writes
			if i >= 5 { // node agents: a field selector that matches no event
				opts.FieldSelector = "spec.nodeName=node-" + strconv.Itoa(i)
				want = 0
			}
			w, err := cs.CoreV1().Pods("").Watch(ctx, opts)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Stop()
			if want > 0 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					collectEvents(b, w, want)
				}()
			}
		}
		time.Sleep(50 * time.Millisecond)
		cpu0 := processCPU(b)
		for i := range writes {
			pod.Status.Message = "write " + strconv.Itoa(i)
			pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
			if pod, err = cs.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		wg.Wait()
		return processCPU(b) - cpu0
	}
	var shared, unshared time.Duration
	for b.Loop() {
		unshared += run(true)
		shared += run(false)
	}
	b.ReportMetric(float64(shared.Microseconds())/float64(b.N*writes), "cpu-us/write")
	b.ReportMetric(float64(unshared.Microseconds())/float64(b.N*writes), "unshared-cpu-us/write")
	b.ReportMetric(float64(shared)/float64(unshared), "x-unshared")
}

// processCPU is the process's user and system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
