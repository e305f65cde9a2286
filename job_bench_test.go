//go:build unix

package wasmpod

// BenchmarkJobCompletions (issue 13): a Job of N short completions (N =
// 1,000 unless $WASMPOD_JOB_BENCH_COMPLETIONS says otherwise) with
// parallelism 50 (or $WASMPOD_JOB_BENCH_PARALLELISM) on a cluster of 4
// nodes, the small C sleeper told to exit at once (sleep 0). The Job
// controller syncs a Job at most once a second on pod events (upstream's
// syncJobBatchPeriod), so a Job of short pods completes at most about
// parallelism pods a second:
//
//   - job-completions/s: N ÷ the time from the Job's creation until its
//     Complete condition (every completion counted through the finalizer
//     tracking);
//   - raw-completions/s: the yardstick measured in the same run on the same
//     cluster: the same guest as bare pods created through the API, 50 in
//     flight (a new one as each succeeds), N ÷ the time until N succeeded;
//   - x-raw: job-completions/s ÷ raw-completions/s;
//   - job-/raw-cpu-ms/completion and job-/raw-cores: the process's CPU time
//     per completion, and the cores it kept busy (CPU time ÷ wall time);
//   - job-writes/completion: the Job's writes (its watch's MODIFIED
//     events: the controller's status writes) per completion;
//   - job-/raw-requests/completion: the API server's requests per
//     completion (apiserver_request_total), each half's;
//     $WASMPOD_JOB_BENCH_REQUESTS=1 logs them by verb, resource and code;
//   - idle-cores: the cores the cluster keeps busy with nothing to run
//     (3 s after the warm-up), what a slower Job pays for its extra time.
//
// $WASMPOD_JOB_BENCH_CPUPROFILE=PREFIX writes each half's CPU profile to
// PREFIX-raw-0.prof and PREFIX-job-0.prof.
//
//	go test -run '^$' -bench BenchmarkJobCompletions -benchtime 1x -timeout 30m .

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"github.com/wasmpod/wasmpod/images"
)

func BenchmarkJobCompletions(b *testing.B) {
	n, jobBenchParallelism := 1000, 50
	if v, err := strconv.Atoi(os.Getenv("WASMPOD_JOB_BENCH_COMPLETIONS")); err == nil && v > 0 {
		n = v
	}
	if v, err := strconv.Atoi(os.Getenv("WASMPOD_JOB_BENCH_PARALLELISM")); err == nil && v > 0 {
		jobBenchParallelism = v
	}
	ctx := context.Background()
	dir := b.TempDir()
	wasm := sleeperWasm(b, dir)
	store := images.NewMemoryStore()
	digest, _, err := store.Put(ctx, "", bytes.NewReader(wasm))
	if err != nil {
		b.Fatal(err)
	}
	if err := store.Tag("sleeper", "v1", digest); err != nil {
		b.Fatal(err)
	}
	// The disk threshold is 1Gi rather than the default 10%: this shared
	// machine's disk runs under 10% free, and DiskPressure evictions would
	// fail the Job (backoffLimit 0); eviction is not what this measures.
	c, err := New(ctx, Config{CacheDir: filepath.Join(dir, "cache"), Modules: store, Nodes: 4,
		EvictionHard: map[string]string{"nodefs.available": "1Gi"}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	cs := c.Client()
	spec := corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, TerminationGracePeriodSeconds: ptr.To[int64](1),
		Containers: []corev1.Container{{Name: "sleeper", Image: "wasmpod.local/sleeper:v1", Args: []string{"0"}}}}

	// raw runs n bare pods, parallelism at a time, and returns the time
	// until all succeeded.
	raw := func(round, n int) time.Duration {
		sel := fmt.Sprintf("raw=r%d", round)
		w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			b.Fatal(err)
		}
		defer w.Stop()
		created := 0
		create := func() {
			p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "raw-", Namespace: "default", Labels: map[string]string{"raw": fmt.Sprintf("r%d", round)}}, Spec: spec}
			if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
			created++
		}
		t0 := time.Now()
		for range min(jobBenchParallelism, n) {
			create()
		}
		done := map[string]bool{}
		deadline := time.After(30 * time.Minute)
		for len(done) < n {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					b.Fatalf("watch closed at %d succeeded", len(done))
				}
				if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type != watch.Deleted && p.Status.Phase == corev1.PodSucceeded && !done[p.Name] {
					done[p.Name] = true
					if created < n {
						create()
					}
				}
			case <-deadline:
				b.Fatalf("%d of %d raw pods succeeded after 30 min", len(done), n)
			}
		}
		d := time.Since(t0)
		if err := cs.CoreV1().Pods("default").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: sel}); err != nil {
			b.Fatal(err)
		}
		for { // gone before the Job runs
			l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: sel})
			if err != nil {
				b.Fatal(err)
			}
			if len(l.Items) == 0 {
				return d
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// job runs a Job of n completions and returns the time until Complete;
	// it counts the Job's writes in jobWrites.
	jobWrites := 0
	job := func(round int) time.Duration {
		name := fmt.Sprintf("bench-%d", round)
		w, err := cs.BatchV1().Jobs("default").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
		if err != nil {
			b.Fatal(err)
		}
		defer w.Stop()
		j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: batchv1.JobSpec{
			Completions: ptr.To(int32(n)), Parallelism: ptr.To(int32(jobBenchParallelism)), BackoffLimit: ptr.To[int32](0),
			Template: corev1.PodTemplateSpec{Spec: spec}}}
		t0 := time.Now()
		if _, err := cs.BatchV1().Jobs("default").Create(ctx, j, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		deadline := time.After(30 * time.Minute)
		for {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					b.Fatal("job watch closed")
				}
				j, ok := ev.Object.(*batchv1.Job)
				if !ok {
					continue
				}
				if ev.Type == watch.Modified {
					jobWrites++
				}
				for _, c := range j.Status.Conditions {
					if c.Status != corev1.ConditionTrue {
						continue
					}
					switch c.Type {
					case batchv1.JobComplete:
						d := time.Since(t0)
						if j.Status.Succeeded != int32(n) {
							b.Fatalf("Complete with succeeded %d, want %d", j.Status.Succeeded, n)
						}
						if err := cs.BatchV1().Jobs("default").Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}); err != nil {
							b.Fatal(err)
						}
						return d
					case batchv1.JobFailed:
						pods, _ := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + name})
						for _, p := range pods.Items {
							if p.Status.Phase == corev1.PodFailed {
								b.Logf("failed pod %s: %s %s %+v", p.Name, p.Status.Reason, p.Status.Message, p.Status.ContainerStatuses)
							}
						}
						b.Fatalf("job failed: %s %s", c.Reason, c.Message)
					}
				}
			case <-deadline:
				b.Fatalf("job not complete after 30 min")
			}
		}
	}

	raw(-1, 2*jobBenchParallelism) // warm: the module compiled, the nodes' caches filled
	i0, t0 := processCPU(b), time.Now()
	time.Sleep(3 * time.Second)
	idle := (processCPU(b) - i0).Seconds() / time.Since(t0).Seconds()
	var tRaw, tJob, cpuRaw, cpuJob time.Duration
	reqRaw, reqJob := map[string]float64{}, map[string]float64{}
	b.ResetTimer()
	for i := range b.N {
		// The request counts are read outside the CPU measured (a
		// Gather of the cluster's registry is not the cluster's work).
		r0 := apiRequests(b, c)
		c0 := processCPU(b)
		stop := halfProfile(b, "raw", i)
		tRaw += raw(i, n)
		stop()
		cpuRaw += processCPU(b) - c0
		r1 := apiRequests(b, c)
		c1 := processCPU(b)
		stop = halfProfile(b, "job", i)
		tJob += job(i)
		stop()
		cpuJob += processCPU(b) - c1
		r2 := apiRequests(b, c)
		for k, v := range r1 {
			reqRaw[k] += v - r0[k]
		}
		for k, v := range r2 {
			reqJob[k] += v - r1[k]
		}
	}
	b.StopTimer()
	if os.Getenv("WASMPOD_JOB_BENCH_REQUESTS") != "" {
		// API requests a completion by verb, resource and code.
		for _, half := range []struct {
			name string
			m    map[string]float64
		}{{"raw", reqRaw}, {"job", reqJob}} {
			keys := slices.Sorted(maps.Keys(half.m))
			for _, k := range keys {
				if v := half.m[k] / float64(n*b.N); v >= 0.005 {
					b.Logf("%s %-50s %.3f", half.name, k, v)
				}
			}
		}
	}
	rawRate := float64(n*b.N) / tRaw.Seconds()
	jobRate := float64(n*b.N) / tJob.Seconds()
	b.ReportMetric(float64(n), "completions")
	b.ReportMetric(float64(jobBenchParallelism), "parallelism")
	b.ReportMetric(jobRate, "job-completions/s")
	b.ReportMetric(rawRate, "raw-completions/s")
	b.ReportMetric(jobRate/rawRate, "x-raw")
	// The process's CPU per completion, and the cores it kept busy: under
	// 2 on this 2-core machine means the path waits rather than computes.
	b.ReportMetric(float64(cpuJob.Microseconds())/1000/float64(n*b.N), "job-cpu-ms/completion")
	b.ReportMetric(float64(cpuRaw.Microseconds())/1000/float64(n*b.N), "raw-cpu-ms/completion")
	b.ReportMetric(float64(jobWrites)/float64(n*b.N), "job-writes/completion")
	sum := func(m map[string]float64) (t float64) {
		for _, v := range m {
			t += v
		}
		return t / float64(n*b.N)
	}
	b.ReportMetric(sum(reqJob), "job-requests/completion")
	b.ReportMetric(sum(reqRaw), "raw-requests/completion")
	b.ReportMetric(cpuJob.Seconds()/tJob.Seconds(), "job-cores")
	b.ReportMetric(cpuRaw.Seconds()/tRaw.Seconds(), "raw-cores")
	b.ReportMetric(idle, "idle-cores")
}

// halfProfile writes a CPU profile of one half of a round to
// $WASMPOD_JOB_BENCH_CPUPROFILE-HALF-ROUND.prof when that is set (without
// -cpuprofile, which covers the whole run), and returns what stops it.
func halfProfile(b *testing.B, half string, round int) func() {
	prefix := os.Getenv("WASMPOD_JOB_BENCH_CPUPROFILE")
	if prefix == "" {
		return func() {}
	}
	f, err := os.Create(fmt.Sprintf("%s-%s-%d.prof", prefix, half, round))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
