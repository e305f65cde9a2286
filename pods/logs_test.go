package pods

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wasmpod/wasmpod/internal/proctest"
	"github.com/wasmpod/wasmpod/logs"
)

// TestWorkerLogsTailReadsFromTheEnd: --tail on a large log reads the end
// of the file, not the whole of it. Not parallel: rchar is the process's.
func TestWorkerLogsTailReadsFromTheEnd(t *testing.T) {
	w, t0 := logWorker(t)
	path := w.LogPath("app", 1)
	rec := []byte(t0.Format(time.RFC3339Nano) + " stdout F " + strings.Repeat("x", 1000) + "\n")
	block := bytes.Repeat(rec, 1024)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 64; i++ { // 64 MiB
		if _, err := f.Write(block); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Fprintf(f, "%s stdout F next to last\n%s stderr F last\n", t0.Format(time.RFC3339Nano), t0.Format(time.RFC3339Nano))
	f.Close()

	var out bytes.Buffer
	tail := int64(3)
	before := proctest.ReadBytes(t)
	if err := w.Logs(context.Background(), &corev1.PodLogOptions{TailLines: &tail}, &out); err != nil {
		t.Fatal(err)
	}
	read := proctest.ReadBytes(t) - before
	if want := strings.Repeat("x", 1000) + "\nnext to last\nlast\n"; out.String() != want {
		t.Fatalf("tail 3: %q", out.String())
	}
	if read > 4<<20 {
		t.Errorf("--tail 3 of a 64 MiB log read %d bytes of it", read)
	}
}

// writeLog writes CRI records to a file of a container instance's log.
func writeLog(t *testing.T, path string, t0 time.Time, texts ...string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i, s := range texts {
		fmt.Fprintf(&b, "%s stdout F %s\n", t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), s)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWorkerLogsReadRotatedFiles: logs, --tail and --previous see the
// rotated files of an instance, oldest first.
func TestWorkerLogsReadRotatedFiles(t *testing.T) {
	t.Parallel()
	w, t0 := logWorker(t)
	prev, cur := w.LogPath("app", 0), w.LogPath("app", 1)
	writeLog(t, prev+".20250301-120001", t0, "p1", "p2")
	writeLog(t, prev+".20250301-120001.000001", t0, "p3")
	writeLog(t, prev, t0, "p4")
	writeLog(t, cur+".20250301-120003", t0, "c1", "c2")
	writeLog(t, cur+".20250301-120004", t0, "c3")
	writeLog(t, cur, t0, "c4", "c5")
	i64 := func(n int64) *int64 { return &n }
	wantLogs(t, w, []logCase{
		{"all", corev1.PodLogOptions{}, "c1\nc2\nc3\nc4\nc5\n"},
		{"tail across files", corev1.PodLogOptions{TailLines: i64(4)}, "c2\nc3\nc4\nc5\n"},
		{"previous", corev1.PodLogOptions{Previous: true}, "p1\np2\np3\np4\n"},
		{"previous tail", corev1.PodLogOptions{Previous: true, TailLines: i64(2)}, "p3\np4\n"},
		{"limit bytes across files", corev1.PodLogOptions{LimitBytes: i64(8)}, "c1\nc2\nc3"},
	})
}

func TestRemoveOldInstanceLogs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, n := range []string{"0.log", "0.log.20250301-120000", "1.log", "1.log.20250301-120000.000001", "2.log", "3.log", "x.log", "10.log"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := removeOldInstanceLogs(dir, 2); err != nil {
		t.Fatal(err)
	}
	var left []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if got := strings.Join(left, " "); got != "10.log 2.log 3.log x.log" {
		t.Errorf("left %s", got)
	}
}

// floodPod is a pod whose container floods stdout with numbered lines of
// 200 bytes, forever.
func floodPod(t *testing.T) *corev1.Pod {
	pod := loadPod(t, "hello")
	pod.Name, pod.UID = "flood", types.UID("uid-flood")
	pod.Annotations[AnnotationManifestDir] = examplesDir(t)
	pod.Spec.Containers = []corev1.Container{{
		Name: "flood", Image: "go://./testguests/hostile", Args: []string{"logflood", "0", "200"},
	}}
	return pod
}

// dirSize is the bytes of the regular files under dir.
func dirSize(t *testing.T, dir string) (int64, int) {
	t.Helper()
	var total int64
	var n int
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if info, err := d.Info(); err == nil {
			total += info.Size()
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total, n
}

// TestLogFloodIsBounded: a guest that writes to stdout as fast as it can
// keeps its log within MaxSize × MaxFiles (plus one record), keeps
// running, and its log stays readable (tail and follow) while it floods.
func TestLogFloodIsBounded(t *testing.T) {
	t.Parallel()
	h := newHarness(t, floodPod(t))
	const maxSize, maxFiles = 256 << 10, 3
	h.cfg.ContainerLogMaxSize, h.cfg.ContainerLogMaxFiles = maxSize, maxFiles
	var lines atomic.Int64
	h.cfg.OnLog = func(_ *corev1.Pod, _ string, _ logs.Stream, _ string) { lines.Add(1) }
	h.run()
	h.waitFor("flood running", podRunning("flood"))
	logDir := filepath.Join(h.w.Dir(), "logs")
	bound := int64(maxSize*maxFiles + logs.MaxRecordSize)
	// 200-byte lines are ~240-byte records: 64 MiB of them is 256
	// rotations.
	deadline := time.Now().Add(5 * waitLimit)
	for lines.Load() < 64<<20/240 {
		if time.Now().After(deadline) {
			t.Fatalf("the guest wrote only %d lines", lines.Load())
		}
		checkBound(t, logDir, bound, maxFiles)
		// The log answers while the guest floods: the last lines, in
		// order.
		if lines.Load() >= 3 {
			var b bytes.Buffer
			tail := int64(3)
			if err := h.w.Logs(context.Background(), &corev1.PodLogOptions{TailLines: &tail}, &b); err != nil {
				t.Fatal(err)
			}
			checkFloodLines(t, b.String(), 3)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A follower reads on across rotations, in order.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr := &floodFollower{t: t, want: 2000, done: make(chan struct{})}
	errc := make(chan error, 1)
	tail := int64(0)
	go func() { errc <- h.w.Logs(ctx, &corev1.PodLogOptions{Follow: true, TailLines: &tail}, pr) }()
	select {
	case <-pr.done:
	case err := <-errc:
		t.Fatalf("follow ended: %v", err)
	case <-time.After(waitLimit):
		t.Fatalf("follower got only %d lines", pr.n)
	}
	cancel()
	<-errc
	if pr.err != "" {
		t.Fatal(pr.err)
	}
	h.w.Terminate(0)
	h.waitDone()
	checkBound(t, logDir, bound, maxFiles)
}

// checkBound fails when dir holds more than bound bytes or maxFiles
// files. A directory listing that races with a rotation can see a renamed
// file twice: only a violation seen in three listings in a row counts.
func checkBound(t *testing.T, dir string, bound int64, maxFiles int) {
	t.Helper()
	var size int64
	var n int
	for i := 0; i < 3; i++ {
		if size, n = dirSize(t, dir); size <= bound && n <= maxFiles {
			return
		}
	}
	t.Fatalf("log dir holds %d bytes in %d files; bound %d in %d", size, n, bound, maxFiles)
}

// checkFloodLines checks that out holds n consecutive flood lines.
func checkFloodLines(t *testing.T, out string, n int) {
	t.Helper()
	ls := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(ls) != n {
		t.Fatalf("want %d lines, got %q", n, out)
	}
	prev := -1
	for _, l := range ls {
		num, _, _ := strings.Cut(l, " ")
		k, err := strconv.Atoi(num)
		if err != nil || len(l) != 199 || (prev >= 0 && k != prev+1) {
			t.Fatalf("flood lines out of order or malformed: %q", out)
		}
		prev = k
	}
}

// floodFollower checks that the lines it is given are consecutive flood
// lines, and closes done after want of them.
type floodFollower struct {
	t       *testing.T
	want, n int
	prev    int
	partial string
	err     string
	done    chan struct{}
}

func (f *floodFollower) Write(p []byte) (int, error) {
	s := f.partial + string(p)
	ls := strings.Split(s, "\n")
	f.partial = ls[len(ls)-1]
	for _, l := range ls[:len(ls)-1] {
		num, _, _ := strings.Cut(l, " ")
		k, err := strconv.Atoi(num)
		// A follower that keeps up sees every line; one that falls
		// more than MaxFiles behind misses some, never reorders.
		if f.err == "" && (err != nil || len(l) != 199 || (f.n > 0 && k <= f.prev)) {
			f.err = fmt.Sprintf("followed line %d %.20q after %d", f.n, l, f.prev)
		}
		f.prev = k
		f.n++
		if f.n == f.want {
			close(f.done)
		}
	}
	return len(p), nil
}

// logCase is a request for the logs of a worker's container and the text
// it must return.
type logCase struct {
	name string
	opts corev1.PodLogOptions
	want string
}

// wantLogs checks that w.Logs returns each case's text.
func wantLogs(t *testing.T, w *Worker, cases []logCase) {
	t.Helper()
	for _, tc := range cases {
		var b bytes.Buffer
		if err := w.Logs(context.Background(), &tc.opts, &b); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if b.String() != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, b.String(), tc.want)
		}
	}
}
