package wasmpod

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// BenchmarkPodStartServiceAccountToken: a pod's start through the control
// plane (apply to Running, and to Succeeded) on a cluster with a root CA,
// where the ServiceAccount admission mounts a kube-api-access volume (a
// TokenRequest, the kube-root-ca.crt ConfigMap and the namespace written
// before the container starts), against the same pod on a cluster without
// one, in the same run, pods alternating between the two; x-plain is the
// ratio of the times to Running.
func BenchmarkPodStartServiceAccountToken(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	wasmPath := helloWasm(b, dir)
	type side struct {
		c                *Cluster
		w                watch.Interface
		running, succeed time.Duration
	}
	mk := func(rootCA []byte) *side {
		c, err := New(ctx, Config{CacheDir: dir, RootCA: rootCA})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		// The warm-up pod also waits, on the token side, for the default
		// ServiceAccount and kube-root-ca.crt.
		if _, err := c.Apply(ctx, helloPod(b, wasmPath, "warm")); err != nil {
			b.Fatal(err)
		}
		if p, err := c.WaitPod(ctx, "default", "warm", PodTerminal); err != nil || p.Status.Phase != corev1.PodSucceeded {
			b.Fatalf("warm pod: %v", err)
		}
		w, err := c.Watch(ctx, "pods", "default", metav1.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(w.Stop)
		return &side{c: c, w: w}
	}
	plain := mk(nil)
	withSA := mk([]byte("-----BEGIN CERTIFICATE-----\nbench\n-----END CERTIFICATE-----\n"))
	if p, err := withSA.c.Client().CoreV1().Pods("default").Get(ctx, "warm", metav1.GetOptions{}); err != nil || len(p.Spec.Volumes) != 1 {
		b.Fatalf("the token side's pod has no kube-api-access volume: %v", err)
	}
	run := func(s *side, name string) {
		start := time.Now()
		if _, err := s.c.Apply(ctx, helloPod(b, wasmPath, name)); err != nil {
			b.Fatal(err)
		}
		sawRunning := false
		for ev := range s.w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || p.Name != name || ev.Type == watch.Deleted {
				continue
			}
			if !sawRunning && p.Status.Phase != corev1.PodPending {
				sawRunning = true
				s.running += time.Since(start)
			}
			if PodTerminal(p) {
				if p.Status.Phase != corev1.PodSucceeded {
					b.Fatalf("pod %s %s", p.Name, p.Status.Phase)
				}
				s.succeed += time.Since(start)
				return
			}
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run(plain, fmt.Sprintf("p-%d", i))
		run(withSA, fmt.Sprintf("p-%d", i))
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(withSA.running.Nanoseconds())/n, "sa-to-running-ns")
	b.ReportMetric(float64(plain.running.Nanoseconds())/n, "plain-to-running-ns")
	b.ReportMetric(float64(withSA.running)/float64(plain.running), "x-plain")
	b.ReportMetric(float64(withSA.succeed)/float64(plain.succeed), "x-plain-to-succeeded")
	// A volume that failed its first set-up (retried a second later) would
	// dominate the figures: count them.
	evs, err := withSA.c.Client().CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "reason=FailedMount"})
	if err != nil {
		b.Fatal(err)
	}
	failed := 0
	for _, ev := range evs.Items {
		if ev.InvolvedObject.Name != "warm" { // warm may wait for kube-root-ca.crt
			failed++
			b.Logf("%s: %s", ev.InvolvedObject.Name, ev.Message)
		}
	}
	b.ReportMetric(float64(failed), "failed-mounts")
}
