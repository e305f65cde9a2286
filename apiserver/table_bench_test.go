package apiserver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/store/memory"
)

// BenchmarkTableList: listing 200 pods as kubectl does (a Table with
// PartialObjectMetadata rows) against listing them as a PodList, over
// loopback HTTP, interleaved in the same run. Reports ns/list of each and
// the ratio.
func BenchmarkTableList(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := New(ctx, memory.New(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	pods := s.resources["/pods"]
	for i := 0; i < 200; i++ {
		p := httpPod(fmt.Sprintf("pod-%03d", i))
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIPs: []corev1.PodIP{{IP: "10.0.0.1"}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "main", Ready: true, RestartCount: 2,
				State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(time.Now())}}}}}
		if _, err := s.Create(ctx, pods, "default", p); err != nil {
			b.Fatal(err)
		}
	}
	srv := httptest.NewServer(s.Handler(HandlerOptions{}))
	defer srv.Close()
	url := srv.URL + "/api/v1/namespaces/default/pods"
	run := func(accept string, n int) time.Duration {
		start := time.Now()
		for i := 0; i < n; i++ {
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Accept", accept)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
		return time.Since(start)
	}
	const plain = "application/json"
	run(plain, 5)
	run(kubectlTableAccept, 5)
	b.ResetTimer()
	var tPlain, tTable time.Duration
	for done := 0; done < b.N; {
		n := min(10, b.N-done)
		tPlain += run(plain, n)
		tTable += run(kubectlTableAccept, n)
		done += n
	}
	b.ReportMetric(float64(tPlain.Nanoseconds())/float64(b.N), "podlist-ns/list")
	b.ReportMetric(float64(tTable.Nanoseconds())/float64(b.N), "table-ns/list")
	b.ReportMetric(float64(tTable)/float64(tPlain), "table/podlist")
}
