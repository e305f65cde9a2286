package wasmpod_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// eventClock watches a pod's events and returns when the event with the
// given reason reached count n (ADDED, or MODIFIED by the aggregation of a
// repeat).
func eventClock(b *testing.B, cs kubernetes.Interface, pod string) (wait func(reason string, n int32) time.Time, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	w, err := cs.CoreV1().Events("default").Watch(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod})
	if err != nil {
		b.Fatal(err)
	}
	seen := map[string]int32{}
	wait = func(reason string, n int32) time.Time {
		timeout := time.After(60 * time.Second)
		for seen[reason] < n {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					b.Fatalf("event watch of %s ended", pod)
				}
				if ev.Type != watch.Added && ev.Type != watch.Modified {
					continue
				}
				e := ev.Object.(*corev1.Event)
				cnt := e.Count
				if cnt == 0 {
					cnt = 1
				}
				if ev.Type == watch.Added && seen[e.Reason] > 0 && cnt == 1 {
					cnt = seen[e.Reason] + 1 // a separate object for a repeat
				}
				if cnt > seen[e.Reason] {
					seen[e.Reason] = cnt
				}
			case <-timeout:
				b.Fatalf("%s: no %s event #%d in 60 s (seen %v)", pod, reason, n, seen)
			}
		}
		return time.Now()
	}
	return wait, func() { w.Stop(); cancel() }
}

// BenchmarkProbeLivenessRecovery — issue 12's recovery figure: the time
// from the first failed liveness probe (its Unhealthy event) to the
// container started again (its second Started event), minus the configured
// wait between the first failure and the kill ((failureThreshold-1) ×
// period; the guest exits at once on TERM so no grace is spent). Reported
// as recovery-ms, with plain-restart-ms, the same span for a container
// that exits by itself (first Started to second Started, restartPolicy
// Always), measured in the same run, and their ratio; fail-to-kill-ms and
// kill-to-start-ms split the recovery at the Killing event. The clock is
// the receipt of events by a watch, so the figures include the event
// recorder's delivery delay (with failureThreshold 1, the Unhealthy and
// Killing events emitted in one call arrived ~650 ms apart).
func BenchmarkProbeLivenessRecovery(b *testing.B) {
	image := filepath.Join(b.TempDir(), "probehttp.wasm")
	if err := os.WriteFile(image, testwasm.Build(b, testwasm.GuestDir(b, "probehttp")), 0o644); err != nil {
		b.Fatal(err)
	}
	c, err := wasmpod.New(context.Background(), wasmpod.Config{CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	cs := c.Client()
	ctx := context.Background()
	b.ResetTimer()
	const period, failures = 1, 2
	grace := int64(5)
	var recovery, plain, toKill, killToStart time.Duration
	for i := 0; i < b.N; i++ {
		// Liveness: healthy, then made unhealthy.
		name := fmt.Sprintf("live-%d", i)
		p := probePod(name, image, func(c *corev1.Container) {
			c.LivenessProbe = &corev1.Probe{ProbeHandler: httpGet("/healthz"), PeriodSeconds: period, FailureThreshold: failures, TerminationGracePeriodSeconds: &grace}
			c.StartupProbe = &corev1.Probe{ProbeHandler: httpGet("/healthz"), PeriodSeconds: 1, FailureThreshold: 30}
		})
		wait, stop := eventClock(b, cs, name)
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		wait("Started", 1)
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		if _, err := c.WaitPod(wctx, "default", name, func(p *corev1.Pod) bool {
			return len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].Started != nil && *p.Status.ContainerStatuses[0].Started
		}); err != nil {
			b.Fatal(err)
		}
		cancel()
		var out bytes.Buffer
		if code, err := c.Exec(ctx, "default", name, &corev1.PodExecOptions{Container: "probehttp", Stdout: true, Stderr: true, Command: []string{"probehttp", "touch", "/data/unhealthy"}},
			wasmpod.ExecStreams{Stdout: &out, Stderr: &out}); err != nil || code != 0 {
			b.Fatalf("exec touch: %d %v %s", code, err, out.String())
		}
		t0 := wait("Unhealthy", 1)
		tk := wait("Killing", 1)
		t1 := wait("Started", 2)
		stop()
		recovery += t1.Sub(t0) - time.Duration(failures-1)*period*time.Second
		toKill += tk.Sub(t0) - time.Duration(failures-1)*period*time.Second
		killToStart += t1.Sub(tk)

		// Plain restart: a container that exits 0 at once.
		name = fmt.Sprintf("plain-%d", i)
		wait, stop = eventClock(b, cs, name)
		if _, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image, Args: []string{"exit", "0"}}}}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		s0 := wait("Started", 1)
		s1 := wait("Started", 2)
		stop()
		plain += s1.Sub(s0)
		zero := int64(0)
		for _, n := range []string{fmt.Sprintf("live-%d", i), name} {
			if err := cs.CoreV1().Pods("default").Delete(ctx, n, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
				b.Fatal(err)
			}
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(recovery.Milliseconds())/n, "recovery-ms")
	b.ReportMetric(float64(plain.Milliseconds())/n, "plain-restart-ms")
	b.ReportMetric(float64(toKill.Milliseconds())/n, "fail-to-kill-ms")
	b.ReportMetric(float64(killToStart.Milliseconds())/n, "kill-to-start-ms")
	if plain > 0 {
		b.ReportMetric(float64(recovery)/float64(plain), "recovery/plain")
	}
}
