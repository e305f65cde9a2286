package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BenchmarkGetPodsTable times `wasmpod get pods` of 1,000 pods (the
// server's Table, printed by cli-runtime's TablePrinter) against the same
// list as `-o name` (the plain JSON list, printed a line per pod) in the
// same run, interleaved, and reports the ratio (x-name).
func BenchmarkGetPodsTable(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sock := filepath.Join(b.TempDir(), "wasmpod.sock")
	_, cs := serveUnix(b, ctx, sock)
	for i := 0; i < 1000; i++ {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%04d", i), Labels: map[string]string{"app": "bench"}},
			Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "a", Image: "a.wasm"}, {Name: "b", Image: "b.wasm"}}}}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	run := func(args ...string) time.Duration {
		start := time.Now()
		var out, errb syncBuffer
		full := append([]string{"wasmpod", args[0], "--server", "unix://" + sock}, args[1:]...)
		code := runAppContext(ctx, App(&out, &errb), full)
		if code != 0 || strings.Count(out.String(), "\n") < 1000 {
			b.Fatalf("wasmpod %s: exit %d, %d lines, %s", strings.Join(args, " "), code, strings.Count(out.String(), "\n"), errb.String())
		}
		return time.Since(start)
	}
	var table, name time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		table += run("get", "pods")
		name += run("get", "pods", "-o", "name")
	}
	b.ReportMetric(float64(table.Nanoseconds())/float64(b.N), "ns/table-get")
	b.ReportMetric(float64(table)/float64(name), "x-name")
}
