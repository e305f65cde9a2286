package apiserver

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BenchmarkAPICreatePod creates pods in the memory store three ways:
// directly (in-process), through client-go with the in-process transport,
// and through client-go over loopback TCP. The client-go sub-benchmarks
// also report their cost as a ratio to a short direct baseline measured
// in the same run (x-in-process; 1.0 = as fast as a direct s.Create).
func BenchmarkAPICreatePod(b *testing.B) {
	pod := func(i int) *corev1.Pod {
		p := httpPod(fmt.Sprintf("p-%d", i))
		return p
	}
	baseline := func(b *testing.B) time.Duration {
		e := newEnv(b, HandlerOptions{})
		r, _ := e.s.Resource("", "pods")
		const n = 2000
		start := time.Now()
		for i := 0; i < n; i++ {
			if _, err := e.s.Create(context.Background(), r, "default", pod(i)); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start) / n
	}
	report := func(b *testing.B, elapsed time.Duration, base time.Duration) {
		per := elapsed / time.Duration(b.N)
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "creates/s")
		if base > 0 {
			b.ReportMetric(float64(per)/float64(base), "x-in-process")
		}
	}
	b.Run("in-process", func(b *testing.B) {
		e := newEnv(b, HandlerOptions{})
		r, _ := e.s.Resource("", "pods")
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			if _, err := e.s.Create(ctx, r, "default", pod(i)); err != nil {
				b.Fatal(err)
			}
		}
		report(b, time.Since(start), 0)
	})
	for _, mode := range []string{"client-go-inprocess", "http"} {
		b.Run(mode, func(b *testing.B) {
			base := baseline(b)
			e := newEnv(b, HandlerOptions{})
			m := map[string]string{"client-go-inprocess": "in-process", "http": "http"}[mode]
			pods := e.client(b, m).CoreV1().Pods("default")
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if _, err := pods.Create(ctx, pod(i), metav1.CreateOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			report(b, time.Since(start), base)
		})
	}
}
