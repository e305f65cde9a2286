package pods

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The `logs --tail 100` benchmark of issue 8: Worker.Logs (what the API
// server's pods/log calls on the node) with TailLines 100 on a 1 GB log,
// against coreutils `tail -n 100` on the same file, in the same run.

// benchLogEnv makes the test binary a child that prints the tail of the
// log under the root dir it names (or, with "noop:" in front, does
// nothing), for the RSS measurement.
const benchLogEnv = "WASMPOD_BENCH_LOGS_TAIL_CHILD"

// benchLogWorker is a worker of a finished pod with one container whose
// log is under root (no engine: Logs only reads files).
func benchLogWorker(root string) *Worker {
	pod := &corev1.Pod{}
	pod.Namespace, pod.Name, pod.UID = "default", "big", types.UID("uid-big")
	pod.Spec.Containers = []corev1.Container{{Name: "app", Image: "x.wasm"}}
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Status = corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{
		Name:  "app",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}},
	}}}
	return NewWorker(&Config{RootDir: root}, pod)
}

// TestLogsTailChild is the child process of BenchmarkLogsTail100On1GB; it
// does nothing otherwise.
func TestLogsTailChild(t *testing.T) {
	root := os.Getenv(benchLogEnv)
	if root == "" {
		t.Skip("only a child of BenchmarkLogsTail100On1GB")
	}
	if strings.HasPrefix(root, "noop:") {
		return
	}
	tail := int64(100)
	if err := benchLogWorker(root).Logs(context.Background(), &corev1.PodLogOptions{TailLines: &tail}, os.Stdout); err != nil {
		t.Fatal(err)
	}
}

// writeBigLog writes about size bytes of CRI records to path.
func writeBigLog(b *testing.B, path string, size int64) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var written int64
	pad := strings.Repeat("x", 150)
	for i := 0; written < size; i++ {
		n, _ := fmt.Fprintf(w, "%s stdout F line %d %s\n", ts.Add(time.Duration(i)).Format(time.RFC3339Nano), i, pad)
		written += int64(n)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// runMeasured runs argv with its output to out and returns its wall time
// and peak RSS in bytes. The RSS comes from GNU time (/usr/bin/time -f
// %M), which forks for real: a child exec'd straight from this process
// (vfork) would report this process's RSS as its own. Without GNU time the
// RSS is -1.
func runMeasured(b *testing.B, out io.Writer, env []string, argv ...string) (time.Duration, int64) {
	rssFile := filepath.Join(b.TempDir(), "rss")
	gnuTime, err := exec.LookPath("/usr/bin/time")
	var cmd *exec.Cmd
	if err == nil {
		cmd = exec.Command(gnuTime, append([]string{"-f", "%M", "-o", rssFile}, argv...)...)
	} else {
		cmd = exec.Command(argv[0], argv[1:]...)
	}
	cmd.Env = env
	cmd.Stdout = out
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%v: %v\n%s", cmd.Args, err, stderr.String())
	}
	d := time.Since(t0)
	rss := int64(-1)
	if data, err := os.ReadFile(rssFile); err == nil {
		if kib, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64); err == nil {
			rss = kib * 1024
		}
	}
	return d, rss
}

func BenchmarkLogsTail100On1GB(b *testing.B) {
	if testing.Short() {
		b.Skip("writes a 1 GB log")
	}
	tailBin, err := exec.LookPath("tail")
	if err != nil {
		b.Skip("no tail:", err)
	}
	root := b.TempDir()
	w := benchLogWorker(root)
	path := w.LogPath("app", 0)
	writeBigLog(b, path, 1<<30)

	// The baseline: coreutils tail, exec'd.
	const runs = 5
	var tailOut bytes.Buffer
	var tailTime time.Duration
	var tailRSS int64
	for i := 0; i < runs; i++ {
		tailOut.Reset()
		d, rss := runMeasured(b, &tailOut, nil, tailBin, "-n", "100", path)
		tailTime += d
		tailRSS = max(tailRSS, rss)
	}
	tailTime /= runs
	// The same lines, without the CRI prefix.
	var want strings.Builder
	for _, l := range strings.SplitAfter(tailOut.String(), "\n") {
		if parts := strings.SplitN(l, " ", 4); len(parts) == 4 {
			want.WriteString(parts[3])
		}
	}

	// wasmpod's tail as a process of its own (this test binary as a
	// child), and the same child doing nothing, for RSS.
	child := func(env string) (time.Duration, int64, string) {
		var out bytes.Buffer
		var total time.Duration
		var rss int64
		for i := 0; i < runs; i++ {
			out.Reset()
			d, r := runMeasured(b, &out, append(os.Environ(), benchLogEnv+"="+env),
				os.Args[0], "-test.run=^TestLogsTailChild$", "-test.count=1")
			total += d
			rss = max(rss, r)
		}
		return total / runs, rss, out.String()
	}
	childTime, childRSS, childOut := child(root)
	_, noopRSS, _ := child("noop:")
	if !strings.HasPrefix(childOut, want.String()) {
		b.Fatalf("the child's tail differs from tail -n 100:\n%.300s\nwant\n%.300s", childOut, want.String())
	}

	// In process: time and bytes allocated per call.
	var ms0, ms1 goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&ms0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var out bytes.Buffer
		tail := int64(100)
		if err := w.Logs(context.Background(), &corev1.PodLogOptions{TailLines: &tail}, &out); err != nil {
			b.Fatal(err)
		}
		if i == 0 && out.String() != want.String() {
			b.Fatalf("Logs --tail 100 differs from tail -n 100:\n%.300s\nwant\n%.300s", out.String(), want.String())
		}
	}
	b.StopTimer()
	goruntime.ReadMemStats(&ms1)
	perOp := time.Duration(b.Elapsed().Nanoseconds() / int64(b.N))
	alloc := float64(ms1.TotalAlloc-ms0.TotalAlloc) / float64(b.N)

	b.ReportMetric(float64(perOp)/float64(tailTime), "time/tail")
	b.ReportMetric(float64(childTime)/float64(tailTime), "proc-time/tail")
	b.ReportMetric(alloc, "alloc-B/op")
	if tailRSS > 0 && childRSS > 0 {
		b.ReportMetric(alloc/float64(tailRSS), "alloc/tail-rss")
		b.ReportMetric(float64(tailRSS)/(1<<20), "tail-rss-MiB")
		b.ReportMetric(float64(childRSS)/(1<<20), "proc-rss-MiB")
		b.ReportMetric(float64(childRSS)/float64(tailRSS), "proc-rss/tail-rss")
		b.ReportMetric(float64(childRSS-noopRSS)/float64(tailRSS), "(proc-noop)-rss/tail-rss")
	}
}
