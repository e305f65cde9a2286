package wasmpod

// BenchmarkReplicaSetScale (issue 13): a ReplicaSet scaled 0 → N → 0 on a
// cluster of 10 nodes (N = 1,000 unless $WASMPOD_RS_BENCH_PODS says
// otherwise), with a small C guest that sleeps until stopped:
//
//   - to-created-s: from the scale to N until the controller has created
//     all N pods (the watch saw them);
//   - to-running-s: from the scale to N until all N pods are Running;
//   - to-gone-s: from the scale to 0 until all N pods are gone from the API;
//   - direct-s: the yardstick measured in the same run, N × the mean direct
//     pod start (a pod worker without control plane, submission to
//     Running) ÷ cores;
//   - x-direct: to-running-s / direct-s.
//
//	go test -run '^$' -bench BenchmarkReplicaSetScale -benchtime 1x -timeout 30m .

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// sleeperC sleeps for argv[1] seconds (forever without it).
const sleeperC = `#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
	if (argc > 1) { sleep(atoi(argv[1])); return 0; }
	for (;;) sleep(3600);
}
`

func sleeperWasm(b *testing.B, dir string) []byte {
	src := filepath.Join(dir, "sleeper.c")
	if err := os.WriteFile(src, []byte(sleeperC), 0o644); err != nil {
		b.Fatal(err)
	}
	return testwasm.BuildForeign(b, testwasm.Foreign{
		Name: "c-sleeper", Tool: "clang", Version: []string{"--version"}, Inputs: []string{src},
		Args: func(out string) []string {
			return []string{"--target=wasm32-wasi", "-O2", "-Wall", "-Werror", "sleeper.c", "-o", out}
		},
		Install: "apt-get install clang lld wasi-libc libclang-rt-dev-wasm32",
	})
}

// directToRunning is the mean time from submission to Running of a pod on
// a pod worker without control plane (the sleeper told to exit at once).
func directToRunning(b *testing.B, ctx context.Context, dir, wasmPath string, runs int) time.Duration {
	d := newDirectStarter(b, ctx, dir)
	defer d.eng.Close(ctx)
	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name)},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "sleeper", Image: wasmPath, Args: []string{"0"}}}}}
	}
	d.start(b, ctx, pod("warm"))
	var total time.Duration
	for i := range runs {
		total += d.start(b, ctx, pod(fmt.Sprintf("direct-%d", i)))
	}
	return total / time.Duration(runs)
}

func BenchmarkReplicaSetScale(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("WASMPOD_RS_BENCH_PODS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	dir := b.TempDir()
	wasm := sleeperWasm(b, dir)
	wasmPath := filepath.Join(dir, "sleeper.wasm")
	if err := os.WriteFile(wasmPath, wasm, 0o644); err != nil {
		b.Fatal(err)
	}
	direct := directToRunning(b, ctx, dir, wasmPath, 20)
	yardstick := time.Duration(int64(direct) * int64(n) / int64(goruntime.NumCPU()))

	store := images.NewMemoryStore()
	digest, _, err := store.Put(ctx, "", bytes.NewReader(wasm))
	if err != nil {
		b.Fatal(err)
	}
	if err := store.Tag("sleeper", "v1", digest); err != nil {
		b.Fatal(err)
	}
	c, err := New(ctx, Config{CacheDir: filepath.Join(dir, "cache"), Modules: store, Nodes: 10})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	cs := c.Client()
	grace := int64(1)
	zero := int32(0)
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "bench", Namespace: "default"},
		Spec: appsv1.ReplicaSetSpec{Replicas: &zero, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "bench"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "bench"}},
				Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &grace,
					Containers: []corev1.Container{{Name: "sleeper", Image: "wasmpod.local/sleeper:v1"}}}}}}
	if _, err := cs.AppsV1().ReplicaSets("default").Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	scale := func(to int32) {
		s, err := cs.AppsV1().ReplicaSets("default").GetScale(ctx, "bench", metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		s.Spec.Replicas = to
		if _, err := cs.AppsV1().ReplicaSets("default").UpdateScale(ctx, "bench", s, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	var toCreated, toRunning, toGone time.Duration
	b.ResetTimer()
	for range b.N {
		w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: "app=bench"})
		if err != nil {
			b.Fatal(err)
		}
		running, seen := map[string]bool{}, map[string]bool{}
		t0 := time.Now()
		scale(int32(n))
		deadline := time.After(30 * time.Minute)
		for len(running) < n {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					b.Fatalf("watch closed at %d running", len(running))
				}
				if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type != watch.Deleted {
					if !seen[p.Name] {
						if seen[p.Name] = true; len(seen) == n {
							toCreated += time.Since(t0)
						}
					}
					if p.Status.Phase == corev1.PodRunning {
						running[p.Name] = true
					}
				}
			case <-deadline:
				b.Fatalf("%d of %d running after 30 min", len(running), n)
			}
		}
		toRunning += time.Since(t0)
		gone := map[string]bool{}
		t0 = time.Now()
		scale(0)
		for len(gone) < n {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					b.Fatalf("watch closed at %d gone", len(gone))
				}
				if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type == watch.Deleted {
					gone[p.Name] = true
				}
			case <-deadline:
				b.Fatalf("%d of %d gone after 30 min", len(gone), n)
			}
		}
		toGone += time.Since(t0)
		w.Stop()
	}
	b.StopTimer()
	b.ReportMetric(float64(n), "pods")
	b.ReportMetric(toCreated.Seconds()/float64(b.N), "to-created-s")
	b.ReportMetric(toRunning.Seconds()/float64(b.N), "to-running-s")
	b.ReportMetric(toGone.Seconds()/float64(b.N), "to-gone-s")
	b.ReportMetric(yardstick.Seconds(), "direct-s")
	b.ReportMetric(toRunning.Seconds()/float64(b.N)/yardstick.Seconds(), "x-direct")
}
